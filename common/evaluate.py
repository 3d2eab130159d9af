"""Re-evaluate a written model: accuracy of a keyword spotter on a split file, or MAE of a
forecaster on a Jena CSV's test split. The front end / normalization come from the sidecar
JSON beside the model (`X.tflite[.zip]` -> `X.json`).

    python -m common.evaluate models/kws_a.tflite.zip --data DIR --split kws_split_test.txt
    python -m common.evaluate models/th_a.tflite --data jena_climate_2009_2016.csv
"""
import argparse
import sys

import common  # noqa: F401

from . import cli, report


def evaluate_kws(model, sidecar, data, split):
    from . import kws, speech
    from .frontend_np import FrontEnd
    cfg = FrontEnd.from_dict(sidecar["frontend"])
    paths, ids = speech.read_split_file(split, speech.resolve_data_dir(data),
                                        sidecar.get("labels", speech.LABELS))
    accuracy = kws.evaluate_tflite(model, cfg, paths, ids)
    print(f"{model}: accuracy {100 * accuracy:.2f} % on {len(paths)} files of {split}")
    return accuracy


def evaluate_forecast(model, sidecar, data):
    from . import forecast, jena
    norm = sidecar["normalization"]
    windows = jena.WindowGenerator(norm["mean"], norm["std"])
    _, _, test = jena.split_series(jena.load_series(jena.resolve_csv(data)))
    mae_t, mae_rh = forecast.evaluate_tflite(model, *windows.to_numpy(
        windows.make_dataset(test, train=False)))
    print(f"{model}: test MAE T {mae_t:.4f} degC, RH {mae_rh:.4f} %")
    return mae_t, mae_rh


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("model", help=".tflite or .tflite.zip with its sidecar .json")
    p.add_argument("--data", required=True, help="wav folder (kws) or Jena CSV (forecast)")
    p.add_argument("--split", help="split file of the keyword-spotting files to evaluate")
    args = p.parse_args(argv)
    sidecar = report.read_sidecar(args.model)
    if sidecar is None:
        raise FileNotFoundError(f"{report.sidecar_path(args.model)}: no sidecar JSON for "
                                f"{args.model}; it holds the front end / normalization")
    if "frontend" in sidecar:
        if not args.split:
            p.error("--split is required for a keyword-spotting model")
        evaluate_kws(args.model, sidecar, args.data, args.split)
    else:
        evaluate_forecast(args.model, sidecar, args.data)
    return 0


if __name__ == "__main__":
    sys.exit(cli.run(main))
