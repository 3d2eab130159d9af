"""Re-evaluate a written model: a keyword spotter's accuracy on a split file, or a forecaster's
MAE on a Jena CSV beside persistence's on the same windows (read by common.modelfile).

    python -m tools.evaluate models/kws_a.tflite.zip --data DIR --split kws_split_test.txt
    python -m tools.evaluate models/th_a.tflite --data jena.csv              # its test split
    python -m tools.evaluate models/th_a.tflite --data other.csv --all-windows  # every window
"""

import sys

import common  # noqa: F401

import numpy as np

from common import cli, modelfile
from common.errors import DataError
from common.frontend_np import NumpyFrontEnd
from common.litert import Model


def split_inputs(described, data_dir, split):
    """(features, label ids, what) of a split file's wavs, through `described`'s front end."""
    from common import kws_data

    labels, cfg = list(described.labels), described.frontend
    folder = kws_data.resolve_data_dir(data_dir)
    one = kws_data.read_split_file(split, folder, labels, split_flag="--split")
    kws_data.load_waves({"split": one}, cfg.rate)
    features = np.stack([NumpyFrontEnd(cfg)(w) for w in one.waves])
    return features, one.label_ids, f"{len(one.paths)} files of {split}"


def evaluate_kws(described, runner, data, split):
    """Accuracy of a keyword spotter on the files of one split file."""
    features, label_ids, what = split_inputs(described, data, split)
    scores = runner.run_all(features)
    acc = float(np.mean(np.argmax(scores, axis=1) == label_ids))
    print(f"accuracy {100 * acc:.2f} % on {what}")


def evaluate_forecast(described, runner, data, all_windows=False):
    """MAE (T, RH) of a forecaster and of persistence on the same windows of a CSV."""
    from common import forecast, jena

    stats = described.normalization
    norm = jena.Normalization(np.float32(stats["mean"]), np.float32(stats["std"]))
    series = jena.load_series(jena.resolve_csv(data))
    if all_windows:
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


def run(argv=None):
    p = cli.Parser(prog="python -m tools.evaluate", description=__doc__.split("\n\n")[0])
    p.add_argument("model", help=".tflite or .tflite.zip (a forecaster with its JSON beside it)")
    p.add_argument("--data", required=True, help="a folder of <label>/<file>.wav, or a Jena CSV")
    p.add_argument("--split", help="keyword spotting: the split file of the files to score")
    p.add_argument("--all-windows", action="store_true", help="forecasting: every window")
    args = p.parse_args(argv)
    described = modelfile.open_model(args.model)
    runner = Model(described.data, name=args.model)  # a model it cannot load: before the data
    if described.frontend is None:
        evaluate_forecast(described, runner, args.data, args.all_windows)
    elif not args.split:
        raise cli.UsageError("python -m tools.evaluate: --split is required for a keyword spotter")
    else:
        evaluate_kws(described, runner, args.data, args.split)
    return 0


if __name__ == "__main__":
    sys.exit(cli.exit_status(run))
