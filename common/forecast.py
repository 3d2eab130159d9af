"""Exercise 1, forecasting: `ForecastVersion`, training, pruning, folding the units into the
output layers, calibration, persistence, and the exercise's parts of a run (common/pipeline.py)."""

import dataclasses
import os
import time
from collections.abc import Callable

import numpy as np

from . import constraints, jena, runtime
from .pipeline import Version

PICTURE_WINDOWS = 168  # non-overlapping test windows drawn: one week of 6-step forecasts


@dataclasses.dataclass
class ForecastVersion(Version):
    """A forecasting version as a script declares it."""

    architecture: str  # human-readable, goes into the JSON
    build: Callable  # (mean, std, folded) -> Keras model: normalized in, °C/% out
    epochs: int = 20
    learning_rate: float = 1e-3
    decay_from_epoch: int = 12  # lr x exp(-0.1) per epoch from here (0-based)
    batch_size: int = 32
    loss: str = "mae"  # "mae" or "mse" ...
    loss_in_std_units: bool = True  # ... of the errors divided by the train std (T, RH alike)
    lstsq_init: bool = False  # start the "linear" layer at the least-squares solution
    pruning: dict | None = None  # compress.prune_and_finetune arguments (+ "epochs")
    fold_units: bool = False  # convert the folded twin of the model (models.residual_forecaster)
    quantization: str = "16x8"  # compress.quantize mode
    per_channel: bool = False
    calibration_windows: int = 1000  # random training windows, across the whole period
    calibration_plausible: bool = True  # + as many shifted to plausible levels (see below)

    def epochs_for(self, override=None):
        """(training, pruning fine-tuning) epochs: the version's (fine-tuning: `pruning["epochs"]`,
        else as many again), or `override` (--epochs) for both."""
        if override:
            return override, override
        return self.epochs, (self.pruning or {}).get("epochs", self.epochs)


def seed_recipe(version, architecture, build):
    """The original report's recipe (pruned, full-int8), calibrated as this project calibrates."""
    return ForecastVersion(
        version,
        architecture,
        lambda mean, std, folded=False: build(),
        loss="mse",
        loss_in_std_units=False,
        quantization="int8",
        per_channel=True,
        calibration_plausible=False,
        pruning=dict(initial_sparsity=0.3, final_sparsity=0.9, epochs=20),
        stem=f"seed_{constraints.entry(version).name}",
    )


def regression_compile_args(spec, std):
    """Adam; the loss: MAE or MSE of the errors in train-std units (T and RH weigh alike) or raw."""
    import tensorflow as tf
    from .models import MultiOutputMAE

    optimizer = tf.keras.optimizers.Adam(spec.learning_rate)
    scale = tf.constant(np.asarray(std if spec.loss_in_std_units else [1.0, 1.0], np.float32))

    def loss(y_true, y_pred):
        e = (y_pred - y_true) / scale
        return tf.reduce_mean(tf.abs(e) if spec.loss == "mae" else tf.square(e), axis=[1, 2])

    return dict(optimizer=optimizer, loss=loss, metrics=[MultiOutputMAE()])


def lstsq_init(model, inputs, labels, norm):
    """Set the "linear" Dense to the least-squares map from the (normalized) input differences
    to the normalized change of the labels from the last step."""
    last = inputs[:, -1:, :]
    features = (inputs - last).reshape(len(inputs), -1)  # the last step's columns are 0
    target = (norm(labels) - last).reshape(len(inputs), -1)
    a = np.concatenate([features, np.ones((len(inputs), 1), np.float32)], axis=1)
    w = np.linalg.lstsq(a.astype(np.float64), target.astype(np.float64), rcond=None)[0]
    model.get_layer("linear").set_weights([w[:-1].astype(np.float32), w[-1].astype(np.float32)])


def fold_units(spec, model, norm):
    """The folded twin of a trained residual forecaster: the same function, with std and mean
    in the output Dense layers (out = change in °C/% + last * std)."""
    folded = spec.build(norm.mean, norm.std, folded=True)
    scale, offset = np.tile(norm.std, 6), np.tile(norm.mean, 6)
    for layer in (layer for layer in folded.layers if layer.weights):
        weights = model.get_layer(layer.name).get_weights()
        if layer.name in ("linear", "out"):
            weights[0] = weights[0] * scale
            if len(weights) == 2:  # the one output layer with a bias holds the mean
                weights[1] = weights[1] * scale + offset
        layer.set_weights(weights)
    return folded


def plausible_levels(inputs, norm, rng, t_range=(-30.0, 42.0), rh_range=(5.0, 100.0)):
    """Training windows (normalized) moved to random plausible T and RH levels: calibrating on
    them too keeps the quantized ranges wide enough for seasons the training period lacks."""
    raw = inputs * norm.std + norm.mean
    level = np.stack([rng.uniform(*t_range, len(raw)), rng.uniform(*rh_range, len(raw))], axis=1)
    moved = raw - raw[:, -1:, :] + level[:, None, :]
    moved[..., 1] = np.clip(moved[..., 1], 0.0, 100.0)
    return norm(moved)


def calibration_set(spec, train_inputs, norm, seed):
    """Random (normalized) training windows across the whole period, in time order (+ as many
    moved to plausible levels); and the indices of the sampled windows."""
    rng, n = np.random.default_rng(seed), len(train_inputs)
    picked = np.sort(rng.choice(n, min(spec.calibration_windows, n), replace=False))
    calib = train_inputs[picked]
    if spec.calibration_plausible:
        calib = np.concatenate([calib, plausible_levels(calib, norm, rng)])
    return calib, picked


def history_of(fit_history):
    """Keras history -> {loss, val_loss, mae_t, val_mae_t, mae_rh, val_mae_rh}: lists."""
    out = {}
    for key, values in fit_history.items():
        if key.endswith("mean_absolute_error"):
            prefix = key[: -len("mean_absolute_error")]
            out[prefix + "mae_t"] = [float(v[0]) for v in values]
            out[prefix + "mae_rh"] = [float(v[1]) for v in values]
        else:
            out[key] = [float(v) for v in values]
    return out


def train(spec, windows, norm, epochs, tune, seed, verbose):
    """`spec`'s model trained `epochs` epochs, then pruned while fine-tuning `tune` if the
    version prunes: (Keras model, history, pruning span in epochs)."""
    import tensorflow as tf
    from . import compress

    x, y = norm(windows["train"].inputs), windows["train"].labels
    train_ds = (
        tf.data.Dataset.from_tensor_slices((x, y))
        .shuffle(len(x), seed=seed, reshuffle_each_iteration=True)
        .batch(spec.batch_size)
    )
    val = windows["val"]
    val_ds = tf.data.Dataset.from_tensor_slices((norm(val.inputs), val.labels)).batch(1024)
    model = spec.build(norm.mean, norm.std)
    if spec.lstsq_init:
        lstsq_init(model, x, y, norm)
    callbacks = [compress.decay_after(spec.decay_from_epoch)]
    runtime.PHASE.info(f"training: {epochs} epochs")
    compile_args = regression_compile_args(spec, norm.std)
    history = compress.fit(model, compile_args, train_ds, val_ds, epochs, callbacks, verbose)
    span = None
    if spec.pruning:
        pruning = {k: v for k, v in spec.pruning.items() if k != "epochs"}
        runtime.PHASE.info(f"pruning while fine-tuning: {tune} epochs")
        compile_args = regression_compile_args(spec, norm.std)
        model, tuned = compress.prune_and_finetune(
            model, train_ds, val_ds, compile_args, tune, list(callbacks), verbose, **pruning
        )
        history = {k: history[k] + tuned.get(k, []) for k in history}
        span = (epochs + 1, epochs + tune)
    return model, history_of(history), span


def mae_per_feature(labels, predictions):
    """[N, steps, features] -> mean absolute error per feature over windows and steps."""
    return np.abs(np.asarray(predictions, np.float64) - labels).mean(axis=(0, 1))


def forecast_mae(runner, inputs, labels):
    """(MAE T, MAE RH) of a litert.Model on normalized inputs against labels in °C/%."""
    return mae_per_feature(labels, runner.run_all(inputs))


def persistence_mae(windows):
    return mae_per_feature(windows.labels, windows.persistence)


def picture_windows(test):
    """Non-overlapping test windows (every 6th) covering about a week, contiguous in time."""
    idx = np.arange(0, len(test), jena.LABEL_STEPS)
    breaks = np.flatnonzero(np.diff(test.starts[idx]) != jena.LABEL_STEPS)  # keep the first run
    return (idx[: breaks[0] + 1] if breaks.size else idx)[:PICTURE_WINDOWS]


@dataclasses.dataclass(frozen=True)
class Metrics:
    """MAE of the written .tflite, °C and %: test split, and validation split."""

    mae_t: float
    mae_rh: float
    val_mae_t: float
    val_mae_rh: float


@dataclasses.dataclass
class Trained:
    float_model: object  # the trained (and pruned) Keras model
    history: dict
    span: tuple | None  # pruning epochs (first, last), or None
    tflite: bytes
    picked: np.ndarray  # indices of the calibration windows
    seconds: float
    epochs: int
    seed: int

    @property
    def pruned(self):
        return self.span is not None


# ---------------------------------------------------------------- the parts of a run
@dataclasses.dataclass
class Data:
    series: jena.Series
    windows: dict  # train, val, test: jena.Windows
    norm: jena.Normalization  # of the train split
    gaps: dict  # jena.gap_report


def offline_hint():
    """What to do without internet (naming this machine's copies, when present)."""
    from .download import local_copies

    here = local_copies("jena_mpi_roof_2024_jun_sep.csv", "jena_climate_2009_sample.csv")
    hint = "without internet, pass a Jena CSV with --data FILE"
    if len(here) > 1:
        return f"{hint} (on this machine: --data {here[0]}; also {', '.join(here[1:])})"
    return f"{hint} (on this machine: --data {here[0]})" if here else hint


def add_flags(p):
    p.add_argument("--data", help="the Jena CSV or its folder (default: ./data, downloaded)")


def load(spec, args):
    """The CSV read and checked, its windows, and the train split's normalization."""
    series = jena.load_series(jena.resolve_csv(args.data, offline_hint()))
    windows = jena.split_windows(series)
    gaps = jena.gap_report(series, windows)
    if gaps["windows_dropped"]:
        total = gaps["windows_dropped"] + gaps["windows_kept"]
        counts = ", ".join(f"{k}: {v:,}" for k, v in gaps["counts"].items())
        print(
            f"note: {series.path}: {gaps['windows_dropped']:,} of {total:,} windows dropped "
            f"for touching a gap ({counts})"
        )
    return Data(series, windows, jena.Normalization.of(jena.split_series(series)[0]), gaps)


def fit(spec, data, epochs, tune, seed, verbose):
    """Train on the train windows (validation shown, not selected on), then the version's .tflite
    (folded, calibrated, stripped): a Trained."""
    from . import compress

    started = time.perf_counter()
    model, history, span = train(spec, data.windows, data.norm, epochs, tune, seed, verbose)
    seconds = time.perf_counter() - started
    runtime.PHASE.info("conversion to 16x8 (int8 weights, int16 activations)")
    calib, picked = calibration_set(spec, data.norm(data.windows["train"].inputs), data.norm, seed)
    converted = fold_units(spec, model, data.norm) if spec.fold_units else model
    tflite = compress.strip_container(
        compress.quantize(converted, calib, spec.quantization, spec.per_channel)
    )
    return Trained(model, history, span, tflite, picked, seconds, epochs, seed)


def evaluate(spec, data, t, args=None):
    """The .tflite on the test and validation windows beside persistence (pipeline's parts)."""
    from . import plots
    from .litert import Model

    windows, norm, series = data.windows, data.norm, data.series
    runner, test, val = Model(t.tflite), windows["test"], windows["val"]
    predictions = runner.run_all(norm(test.inputs))
    mae, base = mae_per_feature(test.labels, predictions), persistence_mae(test)
    val_mae = forecast_mae(runner, norm(val.inputs), val.labels)
    shown = picture_windows(test)
    picture = plots.forecast_png(
        t.history,
        kept_epoch=len(t.history["loss"]),
        pruning=t.span,
        times=None if test.times is None else test.times[shown],
        truth=test.labels[shown],
        forecast=predictions[shown],
        persistence=test.persistence[shown],
        split_mae={"model": list(mae), "persistence": list(base), "windows": len(test)},
        title=f"{spec.version} ({spec.name}): {spec.architecture}\ndata: "
        f"{os.path.basename(series.path)}, {len(series):,} rows, split 70/20/10 in time order",
    )
    details = {
        "baseline": {"persistence": {"mae_t": float(base[0]), "mae_rh": float(base[1])}},
        "normalization": norm.to_dict(),
        "input_shape": [1, jena.INPUT_STEPS, 2],
        "quantization": {
            "mode": spec.quantization,
            "per_channel": spec.per_channel,
            "calibration_windows": int(len(t.picked)),
            "calibration_span": [int(t.picked.min()), int(t.picked.max())],
            "plausible_levels": spec.calibration_plausible,
        },
        "training": {
            "epochs": t.epochs,
            "pruning_epochs": t.span[1] - t.span[0] + 1 if t.pruned else 0,
            "seed": t.seed,
            "loss": spec.loss,
            "pruning": spec.pruning,
            "seconds": round(t.seconds, 1),
        },
        "data": {
            "path": os.path.abspath(series.path),
            "rows": len(series),
            "gaps": data.gaps,
            **{f"{k}_windows": len(w) for k, w in windows.items()},
        },
    }
    metrics = Metrics(float(mae[0]), float(mae[1]), float(val_mae[0]), float(val_mae[1]))
    return metrics, details, picture, unassessable(series)


def unassessable(series):
    """The MAE limits are assessable on the official file only (its sha256)."""
    if jena.is_official(series.path):
        return {}
    reason = (
        f"defined on the official {jena.JENA_CSV} ({jena.JENA_ROWS:,} rows, 2009-2016); "
        f"this run: {len(series):,} rows of {os.path.basename(series.path)}"
    )
    return {"mae_t": reason, "mae_rh": reason}


def also(result):
    """The verdict table's rows measured without a limit: persistence, and the model's ratio."""
    base, fmt = result.details["baseline"]["persistence"], constraints.fmt
    return [
        (f"persistence {k}", f"{fmt(k, base[k])} ({getattr(result.metrics, k) / base[k]:.2f}x)")
        for k in ("mae_t", "mae_rh")
        if base[k]
    ]


def figures(result):
    m, base, fmt = result.metrics, result.details["baseline"]["persistence"], constraints.fmt
    return (
        f"MAE T {fmt('mae_t', m.mae_t)}, RH {fmt('mae_rh', m.mae_rh)} "
        f"(persistence {fmt('mae_t', base['mae_t'])}, {fmt('mae_rh', base['mae_rh'])})"
    )
