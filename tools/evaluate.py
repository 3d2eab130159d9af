"""Re-evaluate a written forecaster: its MAE on a Jena CSV beside persistence's on the same windows
(read by common.modelfile). A keyword spotter: kws_inference.py --model M --wav DIR --split FILE.

    python -m tools.evaluate models/th_a.tflite --data jena.csv              # its test split
    python -m tools.evaluate models/th_a.tflite --data other.csv --all-windows  # every window
"""

import sys

import common  # noqa: F401

from common import cli, forecast, jena, modelfile
from common.errors import DataError
from common.litert import Model


def run(argv=None):
    p = cli.Parser(prog="python -m tools.evaluate", description=__doc__.split("\n\n")[0])
    p.add_argument("model", help=".tflite or .tflite.zip of a forecaster, its JSON beside it")
    p.add_argument("--data", required=True, help="a Jena CSV")
    p.add_argument("--all-windows", action="store_true", help="every window, not the test split")
    args = p.parse_args(argv)
    described = modelfile.open_model(args.model, kind="forecast")
    runner = Model(described.data, name=args.model)  # a model it cannot load: before the data
    norm = jena.Normalization.from_dict(described.normalization)
    series = jena.load_series(jena.resolve_csv(args.data))
    if args.all_windows:
        windows, which = jena.make_windows(series), "every window"
        if len(windows) == 0:
            raise DataError(f"{series.path}: no window without a gap")
    else:
        windows, which = jena.split_windows(series)["test"], "the test split (last 10 %)"
    mae = forecast.forecast_mae(runner, norm(windows.inputs), windows.labels)
    base = forecast.persistence_mae(windows)
    dropped = f"{windows.dropped:,} dropped for gaps"
    print(f"{len(windows):,} windows ({which} of {series.path}; {dropped})")
    print(f"model       MAE T {mae[0]:.4f} °C, RH {mae[1]:.4f} %")
    print(f"persistence MAE T {base[0]:.4f} °C, RH {base[1]:.4f} %")
    print(f"ratio       T {mae[0] / base[0]:.3f}, RH {mae[1] / base[1]:.3f} (model / persistence)")
    return 0


if __name__ == "__main__":
    sys.exit(cli.exit_status(run))
