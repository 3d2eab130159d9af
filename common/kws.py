"""Exercise 2 pipeline: check the data -> train a DS-CNN -> int8 -> evaluate -> one output set.

An `ex2_*.py` script declares a `KWSVersion` and calls `main(VERSION)`. Everything that can
be wrong with the input (flags, output folder, split files, every wav) is checked before
TensorFlow is imported; the output files are written together after all evaluation.
"""

import dataclasses
import os
import time

import numpy as np

from . import cli, constraints, kws_data, outputs, report, runtime
from .frontend_np import LABELS, FrontEnd

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
COURSE_SPLIT_DIR = ROOT  # the repository's kws_split_*.txt: the course's split
TIME_SHIFT = {"shift_ms": 100}  # augmentation preset: random shifts of up to ±100 ms
KERNELS_NOTE = (
    "every accuracy is measured with the interpreter's default kernels (LiteRT: the "
    "XNNPACK delegate), as kws_inference.py and a grader's interpreter run the model, "
    "and the limits are checked against it; accuracy_reference_kernels is the same "
    "file under the reference kernels, which TensorFlow Lite for Microcontrollers "
    "matches (docs/microcontroller.md)"
)
HOST_NOTE = (
    "measured on this host (LiteRT, 1 thread), not on a Raspberry Pi: run "
    "kws_inference.py on the Pi for the figure the limit is about"
)


@dataclasses.dataclass
class KWSVersion:
    version: str  # key of the version table, e.g. "ex2_a"
    frontend: FrontEnd
    filters: tuple = (96, 64, 64)  # first Conv2D, then one depthwise-separable block each
    extra_depthwise: int = 0  # DepthwiseConv2D-BN-ReLU blocks after the first conv
    first_stride: tuple = (2, 1)  # (time, frequency) stride of the first conv
    epochs: int = 20
    learning_rate: float = 1e-3
    augment: dict | None = None  # common.speech.Augment fields, train split only
    per_channel: bool = True
    # BatchNormalization: Keras' momentum (models.ds_cnn), and the moving statistics
    # re-estimated on the whole training split after training (compress.reestimate_batchnorm);
    # chosen on speaker-grouped folds over the course's 0.1 (docs/exercise2.md)
    bn_momentum: float = 0.99
    bn_reestimate: bool = True
    qat_epochs: int = 5  # quantization-aware fine-tuning after training (0: none)
    qat_learning_rate: float = 1e-4
    dropout: float = 0.0  # before the classifier's Dense layer (0: none)
    weight_decay: float = 0.0  # decoupled weight decay (AdamW) while training (0: Adam)
    padding: str = "valid"  # of the depthwise 3x3 convolutions; "same" keeps the map's size
    calibration_per_label: int = 125  # int8 calibration: a stratified random training sample
    stem: str | None = None  # output file stem; None: the version's (e.g. kws_a)
    entry: constraints.Entry = dataclasses.field(init=False, repr=False, compare=False)

    def __post_init__(self):
        self.entry = constraints.entry(self.version)  # its row of the table: name, limits

    @property
    def name(self):
        return self.stem or self.entry.name

    def epochs_for(self, override=None):
        """(training epochs, quantization-aware epochs): the version's own, or `override`
        (--epochs) epochs of training and at most as many quantization-aware ones."""
        if override:
            return override, min(self.qat_epochs, override)
        return self.epochs, self.qat_epochs

    @property
    def architecture(self):
        extra = f" + {self.extra_depthwise} DW" if self.extra_depthwise else ""
        stride = (
            "" if tuple(self.first_stride) == (2, 1) else f", stride {tuple(self.first_stride)}"
        )
        same = ", same padding" if self.padding != "valid" else ""
        return f"DS-CNN {'-'.join(map(str, self.filters))}{extra}{stride}{same}"


def build_model(spec):
    from .models import ds_cnn

    return ds_cnn(
        spec.frontend.input_shape,
        spec.filters,
        spec.extra_depthwise,
        dropout=spec.dropout,
        first_stride=tuple(spec.first_stride),
        bn_momentum=spec.bn_momentum,
        padding=spec.padding,
    )


def classifier_compile_args(learning_rate, weight_decay=0.0):
    import tensorflow as tf

    optimizer = (
        tf.keras.optimizers.AdamW(learning_rate, weight_decay=weight_decay)
        if weight_decay
        else tf.keras.optimizers.Adam(learning_rate)
    )
    return dict(
        optimizer=optimizer,
        loss=tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=[tf.keras.metrics.SparseCategoricalAccuracy(name="accuracy")],
    )


def keep_best(epochs):
    """Restore, at the end of training, the weights of the best validation-accuracy epoch
    (the first one, on ties)."""
    import tensorflow as tf

    return tf.keras.callbacks.EarlyStopping(
        monitor="val_accuracy", mode="max", patience=epochs + 1, restore_best_weights=True
    )


def train(spec, train_ds, val_ds, epochs, verbose="auto", callbacks=(), train_features=None):
    """Train `spec`'s DS-CNN `epochs` epochs: (Keras model, history, kept epoch); the model
    holds the weights of the best validation epoch and, when the version says so,
    BatchNormalization statistics re-estimated on `train_features` (the training split, no
    augmentation). `callbacks`: more Keras callbacks (the search's pruner)."""
    from . import compress

    model = build_model(spec)
    model.compile(**classifier_compile_args(spec.learning_rate, spec.weight_decay))
    fit = model.fit(
        train_ds,
        validation_data=val_ds,
        epochs=epochs,
        callbacks=[keep_best(epochs), *callbacks],
        verbose=verbose,
    )
    history = {k: list(v) for k, v in fit.history.items()}
    if spec.bn_reestimate:
        if train_features is None:
            raise ValueError(f"{spec.version}: bn_reestimate needs the training split's features")
        compress.reestimate_batchnorm(model, train_features)
    return model, history, 1 + int(np.argmax(history["val_accuracy"]))


def calibration_indices(label_ids, per_label, seed):
    """A random sample of the training split, `per_label` files of each label (all of a label
    with fewer), in random order; fixed by `seed`."""
    rng = np.random.RandomState(seed)
    picked = [
        rng.choice(
            np.flatnonzero(label_ids == k),
            min(per_label, int(np.sum(label_ids == k))),
            replace=False,
        )
        for k in np.unique(label_ids)
    ]
    return rng.permutation(np.concatenate(picked))


def predict_labels(runner, waves):
    """Predicted label ids of waveforms with a litert.Model (numpy front end: the Pi's code)."""
    return np.array([int(np.argmax(runner.classify(w))) for w in waves], np.int64)


def accuracy(predicted, label_ids, mask=None):
    if mask is not None:
        predicted, label_ids = predicted[mask], np.asarray(label_ids)[mask]
    return float(np.mean(predicted == label_ids)) if len(predicted) else None


def confusion(predicted, label_ids, n=8):
    m = np.zeros((n, n), np.int64)
    np.add.at(m, (np.asarray(label_ids), predicted), 1)
    return m


@dataclasses.dataclass
class Trained:
    model: object  # the Keras model converted (quantization-aware when qat_span)
    float_model: object  # the float Keras model before any quantization
    history: dict  # {metric: [per epoch]}, quantization-aware epochs included
    kept: int  # the epoch whose weights were kept
    qat_span: tuple | None  # quantization-aware epochs (first, last), or None
    tflite: bytes  # the int8 model, container stripped
    calibration_files: int
    seconds: float  # training time, all phases


def fit_and_quantize(spec, gen, train_s, val_s, epochs, seed, verbose, callbacks=(), qat=None):
    """Train on `train_s` (selecting on `val_s`), fine-tune quantization-aware `qat` epochs
    (default: the version's), then int8 with a stratified calibration sample of `train_s`:
    a Trained. The test split is not touched."""
    from . import compress

    qat = spec.qat_epochs if qat is None else qat
    train_ds = gen.make_dataset(
        train_s.waves, train_s.label_ids, train=True, augment=spec.augment, seed=seed
    )
    val_ds = gen.make_dataset(val_s.waves, val_s.label_ids, train=False)
    calib = calibration_indices(train_s.label_ids, spec.calibration_per_label, seed)
    started = time.perf_counter()
    features = gen.features(train_s.waves) if spec.bn_reestimate else None
    model, history, kept = train(spec, train_ds, val_ds, epochs, verbose, callbacks, features)
    float_model, qat_span = model, None
    if qat:
        model, tuned = compress.quantization_aware(
            float_model,
            train_ds,
            val_ds,
            classifier_compile_args(spec.qat_learning_rate),
            qat,
            callbacks=[keep_best(qat)],
            verbose=verbose,
        )
        done = len(history["loss"])
        qat_span, kept = (done + 1, done + qat), done + 1 + int(np.argmax(tuned["val_accuracy"]))
        history = {k: history[k] + list(tuned.get(k, [])) for k in history}
    seconds = time.perf_counter() - started
    tflite = to_int8(
        spec, model, features[calib] if features is not None else gen.features(train_s.waves[calib])
    )
    return Trained(model, float_model, history, kept, qat_span, tflite, int(len(calib)), seconds)


def frontend_record(cfg):
    """A front end as the JSON and the model's metadata write it: its fields and input shape."""
    return {**cfg.to_dict(), "input_shape": cfg.input_shape}


def to_int8(spec, model, features):
    """The version's int8 .tflite of a Keras model, calibrated on `features`, container
    stripped, then carrying its version, front end and labels (common.model_metadata)."""
    from . import compress, model_metadata

    tflite = compress.strip_container(compress.quantize(model, features, "int8", spec.per_channel))
    return model_metadata.embed(
        tflite, model_metadata.description(spec.version, frontend_record(spec.frontend), LABELS)
    )


def train_and_export(spec, splits, epochs, seed, verbose, latency_runs, qat=None):
    """Train, quantize and evaluate; returns (model files, JSON fields, picture)."""
    counts = " / ".join(f"{len(s.paths):,}" for s in splits.values())
    data = f"data: {os.path.dirname(splits['train'].file)} split, {counts} train / val / test files"
    from . import compress, plots, speech, tflite_io
    from .litert import Model, interpreter_class, measure_latency

    train_s, val_s, test_s = splits["train"], splits["val"], splits["test"]
    cfg = spec.frontend
    gen = speech.SignalGenerator(cfg)
    t = fit_and_quantize(spec, gen, train_s, val_s, epochs, seed, verbose, qat=qat)
    history, kept, tflite = t.history, t.kept, t.tflite
    files, sizes = tflite_io.model_files(spec.name, tflite)

    runner = Model(tflite, cfg)
    test_pred = predict_labels(runner, test_s.waves)
    # the same file under the interpreter's reference kernels (see KERNELS_NOTE)
    test_pred_reference = predict_labels(Model(tflite, cfg, kernels="reference"), test_s.waves)
    val_pred = predict_labels(runner, val_s.waves)
    val_features = gen.features(val_s.waves)
    keras_val = np.argmax(t.model.predict(val_features, verbose=0), axis=1)
    before_qat = (
        np.argmax(t.float_model.predict(val_features, verbose=0), axis=1) if t.qat_span else None
    )
    unseen = kws_data.unseen_speaker_mask(train_s, test_s)
    latency = measure_latency(runner, runs=latency_runs)
    metrics = {
        "accuracy": accuracy(test_pred, test_s.label_ids),
        "accuracy_reference_kernels": accuracy(test_pred_reference, test_s.label_ids),
        "reference_kernels_same_labels": float(np.mean(test_pred == test_pred_reference)),
        "unseen_speaker_files": None if unseen is None else int(unseen.sum()),
        "accuracy_unseen_speakers": None
        if unseen is None
        else accuracy(test_pred, test_s.label_ids, unseen),
        "val_accuracy": accuracy(val_pred, val_s.label_ids),
        # the Keras model converted: quantization-aware (float, int8 rounding simulated) after
        # quantization-aware epochs, else the trained float model
        "float_val_accuracy": accuracy(keras_val, val_s.label_ids),
        "float_val_accuracy_before_qat": None
        if before_qat is None
        else accuracy(before_qat, val_s.label_ids),
    }
    fields = {
        **compress.describe(spec.architecture, t.float_model, pruned=False),
        **sizes,
        "metrics": metrics,
        "kernels": {
            "interpreter": interpreter_class()[1],
            "accuracy": "default",
            "accuracy_reference_kernels": "reference",
            "note": KERNELS_NOTE,
        },
        "frontend": frontend_record(cfg),
        "labels": LABELS,
        "host_latency_ms": {
            "inference": latency["inference_ms"],
            "total": latency["total_ms"],
            "runs": latency["runs"],
            "threads": 1,
            "note": HOST_NOTE,
        },
        "training": {
            "epochs": epochs,
            "qat_epochs": t.qat_span[1] - t.qat_span[0] + 1 if t.qat_span else 0,
            "qat_learning_rate": spec.qat_learning_rate if t.qat_span else None,
            "seed": seed,
            "augment": spec.augment,
            "batchnorm": {"momentum": spec.bn_momentum, "reestimated": spec.bn_reestimate},
            "kept_epoch": kept,
            "seconds": round(t.seconds, 1),
            "calibration_files": t.calibration_files,
            "history": history,
        },
    }
    picture = plots.kws_png(
        history,
        kept_epoch=kept,
        qat=t.qat_span,
        confusion=confusion(test_pred, test_s.label_ids),
        labels=LABELS,
        title=f"{spec.version} ({spec.name}): {spec.architecture}\n{data}",
    )
    return files, fields, picture


def is_course_split(splits):
    """True when the three splits list exactly the course's files (the repository's
    kws_split_*.txt), the split the accuracy limits are defined on."""
    for which, split in splits.items():
        course = kws_data.split_file(COURSE_SPLIT_DIR, which)
        names = {
            tuple(ln.strip().split("/")[-2:])
            for ln in course.read_text().splitlines()
            if ln.strip()
        }
        if names != {tuple(p.split(os.sep)[-2:]) for p in split.paths}:
            return False
    return True


def unassessable(spec, splits, latency):
    reasons = {}
    if not is_course_split(splits):
        counts = " / ".join(f"{len(s.paths):,}" for s in splits.values())
        reasons["accuracy"] = (
            "defined on the course's split of the official 8,000 files "
            f"(this repository's kws_split_*.txt); this run: {counts} files "
            f"of {os.path.dirname(splits['train'].file)}"
        )
    else:
        copies = kws_data.copies_of(splits["train"], splits["test"])
        if copies:
            reasons["accuracy"] = (
                f"defined on the official files; {copies:,} of the "
                f"{len(splits['test'].paths):,} test files of this folder are "
                "copies of training files (the same samples), so its score is "
                "no test accuracy"
            )
    for metric, key in (("pi_inference_ms", "inference"), ("pi_total_ms", "total")):
        if metric in spec.entry.limits:
            reasons[metric] = (
                f"defined on a Raspberry Pi; this host: {key} p50 "
                f"{latency[key]['p50']:.3f} ms (LiteRT, 1 thread): run "
                "kws_inference.py on the Pi"
            )
    return reasons


def offline_hint():
    """What to do when the official dataset cannot be downloaded: pass a copy (naming the
    real partial copy of this project's machines and its split, when present)."""
    from .download import local_copies

    here = local_copies("mini_speech_commands", "mini_speech_commands_split")
    return "without internet, pass a copy with --data DIR" + (
        f" (on this machine: --data {here[0]} --split-dir {here[1]})" if len(here) == 2 else ""
    )


def parse_args(spec, argv):
    p = cli.parser(spec.entry, f"Exercise 2, keyword spotting: version {spec.entry.letter}")
    p.add_argument(
        "--data",
        help="folder of <label>/<file>.wav, or one holding "
        "mini_speech_commands/ (default: ./data, downloaded when absent)",
    )
    p.add_argument(
        "--split-dir",
        default=COURSE_SPLIT_DIR,
        help="folder of kws_split_{train,val,test}.txt or the course's "
        "kws_{train,val,test}_split.txt (default: the repository's, i.e. the "
        "course's split; splits/speaker_disjoint for unseen speakers)",
    )
    p.add_argument(
        "--latency-runs",
        type=cli.positive_int,
        default=100,
        help="runs of the host latency measurement (default: 100)",
    )
    return cli.parse(p, spec.entry, argv)


def run(spec, argv=None):
    """The whole run of one script: its output set written and its verdict shown; returns
    the exit status of the verdict."""
    args = parse_args(spec, argv)
    out_dir = outputs.check_out_dir(args.out_dir)
    data_dir = kws_data.resolve_data_dir(args.data, offline_hint())
    splits = kws_data.read_splits(args.split_dir, data_dir, split_flag="--split-dir")
    wav_report = kws_data.load_waves(splits, spec.frontend.rate)
    runtime.tensorflow(args.verbose)
    with runtime.quiet_native_stderr(args.verbose):
        runtime.set_seed(args.seed)
        epochs, qat = spec.epochs_for(args.epochs)
        files, fields, picture = train_and_export(
            spec, splits, epochs, args.seed, 0 if args.quiet else "auto", args.latency_runs, qat
        )
    m = fields["metrics"]
    rows = constraints.verdict(
        spec.entry,
        {"accuracy": m["accuracy"], "zip_bytes": fields["zip_bytes"]},
        unassessable(spec, splits, fields["host_latency_ms"]),
    )
    summary = {
        "version": spec.version,
        **fields,
        "verdict": rows,
        "passed": constraints.passed(rows),
        "limits": spec.entry.limits,
        "data": {
            "path": os.path.abspath(str(data_dir)),
            "split_dir": os.path.abspath(args.split_dir),
            **{f"{w}_files": len(s.paths) for w, s in splits.items()},
            "wavs_fixed": wav_report,
            # lets kws_inference.py --wav tell which files the model was trained on
            "training_files": kws_data.training_files(splits["train"]),
        },
    }
    unseen = (
        "- (no test file of an unseen speaker)"
        if m["accuracy_unseen_speakers"] is None
        else f"{100 * m['accuracy_unseen_speakers']:.2f} % of {m['unseen_speaker_files']} files"
    )
    also = [
        (
            "accuracy_reference_kernels",
            f"{100 * m['accuracy_reference_kernels']:.2f} % "
            f"({100 * (m['accuracy_reference_kernels'] - m['accuracy']):+.2f} pt)",
        ),
        (
            "  same labels as default",
            f"{100 * m['reference_kernels_same_labels']:.2f} % of {len(splits['test'].paths)}",
        ),
        ("accuracy_unseen_speakers", unseen),
        ("val_accuracy (int8)", f"{100 * m['val_accuracy']:.2f} %"),
        ("float_val_accuracy", f"{100 * m['float_val_accuracy']:.2f} %"),
    ]
    if m["float_val_accuracy_before_qat"] is not None:
        also.append(
            ("  before the QAT epochs", f"{100 * m['float_val_accuracy_before_qat']:.2f} %")
        )
    report.write_and_show(summary, files, picture, out_dir, also)
    return constraints.exit_status(rows)


def main(spec, argv=None):
    """Entry point of an ex2_*.py script."""
    return cli.exit_status(lambda a: run(spec, a), argv)
