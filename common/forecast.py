"""Exercise 1 pipeline: Jena windows -> train -> prune -> int8 -> strip -> files -> verdict.

An `ex1_*.py` script declares a `ForecastVersion` and calls `main(versions, default)`.
"""
import dataclasses
import os
from typing import Callable

import numpy as np

from . import cli, jena, report, tflite_io


@dataclasses.dataclass
class ForecastVersion:
    version: str                 # key of constraints.LIMITS, e.g. "ex1_a"
    name: str                    # output file stem, e.g. "th_a"
    architecture: str            # human-readable, goes into the JSON
    build: Callable              # () -> uncompiled Keras model
    epochs: int = 20
    learning_rate: float = 1e-3
    decay_from_epoch: int = 12   # lr x exp(-0.1) per epoch from here
    pruning: dict = dataclasses.field(default_factory=lambda: dict(
        initial_sparsity=0.3, final_sparsity=0.9, begin_epoch=5, end_epoch=15))
    calibration_windows: int = 1000
    normalize_labels: bool = False  # train on normalized labels, fold the scale back after
    per_channel: bool = True        # per-channel weight scales in the int8 model


def compile_kwargs(learning_rate, windows):
    import tensorflow as tf
    from .metrics import MultiOutputMAE
    scale = windows.std if windows.normalize_labels else None
    return dict(optimizer=tf.keras.optimizers.Adam(learning_rate), loss="mse",
                metrics=[MultiOutputMAE(scale=scale)])


def build(spec, windows, train_ds, val_ds, calibration, epochs, verbose="auto"):
    """Train, prune and quantize `spec`'s model; returns (tflite bytes, keras model)."""
    from . import compress
    model = spec.build()
    model.compile(**compile_kwargs(spec.learning_rate, windows))
    schedule = compress.decay_after(spec.decay_from_epoch)
    model.fit(train_ds, validation_data=val_ds, epochs=epochs, callbacks=[schedule], verbose=verbose)
    if spec.pruning:
        model = compress.prune_and_finetune(
            model, train_ds, val_ds, compile_kwargs(spec.learning_rate, windows), epochs=epochs,
            callbacks=[compress.decay_after(spec.decay_from_epoch)], verbose=verbose, **spec.pruning)
    if windows.normalize_labels:
        model = compress.fold_output_scale(model, windows.mean, windows.std, windows.label_width)
    tflite = compress.strip_container(compress.quantize_int8(model, calibration, spec.per_channel))
    return tflite, model


def evaluate_tflite(model, inputs, labels):
    """MAE per feature of a .tflite (bytes or path) with LiteRT, one window at a time."""
    from .metrics import mae_per_feature
    predictions = tflite_io.run_batches(tflite_io.make_interpreter(model), inputs)
    return mae_per_feature(labels, predictions)


def run(spec, csv, out_dir, epochs=None, seed=0, verbose="auto"):
    """The whole pipeline for one version; returns the exit status of the verdict."""
    from . import compress
    epochs = epochs or spec.epochs
    series = jena.load_series(csv)
    train, val, test = jena.split_series(series)
    windows = jena.WindowGenerator.from_train(train, normalize_labels=spec.normalize_labels)
    train_ds = windows.make_dataset(train, train=True, seed=seed)
    val_ds = windows.make_dataset(val, train=False)
    eval_windows = jena.WindowGenerator(windows.mean, windows.std)  # labels in original units
    test_x, test_y = eval_windows.to_numpy(eval_windows.make_dataset(test, train=False))
    calibration = windows.to_numpy(windows.make_dataset(train, train=False))[0][:spec.calibration_windows]

    tflite, model = build(spec, windows, train_ds, val_ds, calibration, epochs, verbose)
    files = tflite_io.write_model_files(tflite, out_dir, spec.name)
    mae_t, mae_rh = evaluate_tflite(files["tflite_path"], test_x, test_y)
    summary = {
        **compress.describe(spec, model, files),
        "metrics": {"mae_t": float(mae_t), "mae_rh": float(mae_rh)},
        "normalization": {"mean": windows.mean.tolist(), "std": windows.std.tolist()},
        "input_shape": [1, windows.input_width, 2],
        "data": {"path": os.path.abspath(csv), "rows": int(len(series)),
                 "test_windows": int(len(test_x))},
        "epochs": epochs,
        "seed": seed,
    }
    print(f"{spec.name}: {files['zip_path']} {files['zip_bytes']} B, "
          f"test MAE T {mae_t:.4f} degC, RH {mae_rh:.4f} %")
    measured = {"mae_t": mae_t, "mae_rh": mae_rh, "zip_bytes": files["zip_bytes"]}
    notes = []
    if len(series) != 420_551:
        notes.append(f"measured on {len(series):,} rows of {csv}; the limits are defined "
                     "on the full 420,551-row dataset")
    return report.finish(spec.version, summary, measured, out_dir, spec.name, notes)


def main(versions, default, argv=None):
    """Entry point of ex1_a.py / ex1_b.py: `versions` maps a letter to a ForecastVersion."""
    def _main(argv):
        p = cli.parser("Exercise 1: multi-step temperature and humidity forecasting",
                       sorted(versions), default)
        p.add_argument("--data", default="data",
                       help="the Jena CSV, or a folder holding jena_climate_2009_2016.csv "
                            "(default: ./data, downloaded when absent)")
        args = p.parse_args(argv)
        cli.set_seed(args.seed)
        csv = jena.resolve_csv(args.data)
        return run(versions[args.version], csv, args.out_dir, args.epochs, args.seed,
                   verbose=0 if args.quiet else "auto")
    return cli.run(_main, argv)
