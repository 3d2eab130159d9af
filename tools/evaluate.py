"""Re-evaluate a written model on data: the accuracy of a keyword spotter on a split file (its
front end and labels from the model's metadata), or the MAE of a forecaster on a Jena CSV
beside persistence's on the same windows (its normalization from its JSON). The model is read
and checked by common.modelfile, as every reader reads it.

    python -m tools.evaluate models/kws_a.tflite.zip --data DIR --split kws_split_test.txt
    python -m tools.evaluate models/th_a.tflite --data jena.csv              # its test split
    python -m tools.evaluate models/th_a.tflite --data other.csv --all-windows  # every window
"""

import sys

import common  # noqa: F401

import numpy as np

from common import cli, modelfile
from common.errors import DataError
from common.litert import Model


def evaluate_kws(described, data, split):
    """Accuracy of a keyword spotter on the files of one split file."""
    from common import kws, kws_data

    cfg, labels = described.frontend, list(described.labels)
    one = kws_data.read_split_file(
        split, kws_data.resolve_data_dir(data), labels, split_flag="--split"
    )
    kws_data.load_waves({"split": one}, cfg.rate)
    runner = Model(described.data, cfg, name=described.path)
    acc = kws.accuracy(kws.predict_labels(runner, one.waves), one.label_ids)
    print(f"accuracy {100 * acc:.2f} % on {len(one.paths)} files of {split}")
    return acc


def evaluate_forecast(described, data, all_windows=False):
    """MAE (T, RH) of a forecaster and of persistence on the same windows of a CSV."""
    from common import forecast, jena

    norm = jena.Normalization(
        np.float32(described.normalization["mean"]), np.float32(described.normalization["std"])
    )
    series = jena.load_series(jena.resolve_csv(data))
    if all_windows:
        windows, which = jena.make_windows(series), "every window"
        if len(windows) == 0:
            raise DataError(f"{series.path}: no window without a gap")
    else:
        windows, which = jena.split_windows(series)["test"], "the test split (last 10 %)"
    runner = Model(described.data, name=described.path)
    model_mae = forecast.forecast_mae(runner, norm(windows.inputs), windows.labels)
    base = forecast.persistence_mae(windows)
    print(
        f"{len(windows):,} windows ({which} of {series.path}; {windows.dropped:,} dropped for gaps)"
    )
    print(f"model       MAE T {model_mae[0]:.4f} °C, RH {model_mae[1]:.4f} %")
    print(f"persistence MAE T {base[0]:.4f} °C, RH {base[1]:.4f} %")
    print(
        f"ratio       T {model_mae[0] / base[0]:.3f}, RH {model_mae[1] / base[1]:.3f} (model / persistence)"
    )
    return model_mae, base


def run(argv=None):
    p = cli.Parser(prog="python -m tools.evaluate", description=__doc__.split("\n\n")[0])
    p.add_argument("model", help=".tflite or .tflite.zip (a forecaster with its JSON beside it)")
    p.add_argument(
        "--data",
        required=True,
        help="keyword spotting: a folder of <label>/<file>.wav "
        "(or one holding mini_speech_commands/); forecasting: a Jena CSV (or a folder "
        "holding jena_climate_2009_2016.csv)",
    )
    p.add_argument(
        "--split",
        help="keyword spotting (required): the split file listing the files to score, e.g. kws_split_test.txt",
    )
    p.add_argument(
        "--all-windows",
        action="store_true",
        help="forecast: score every window of the CSV, not its test split",
    )
    args = p.parse_args(argv)
    described = modelfile.open_model(args.model)
    if described.frontend is not None:
        if not args.split:
            raise cli.UsageError(
                "python -m tools.evaluate: --split is required for a keyword-spotting model"
            )
        evaluate_kws(described, args.data, args.split)
    else:
        evaluate_forecast(described, args.data, args.all_windows)
    return 0


if __name__ == "__main__":
    sys.exit(cli.exit_status(run))
