"""Exercise 2, keyword spotting: the version's declaration (`KWSVersion`), the DS-CNN's training,
quantization-aware epochs and int8, and the exercise's parts of the run (common/pipeline.py)."""

import dataclasses
import functools
import os
import time

import numpy as np

from . import constraints, kws_data, modelfile, runtime
from .frontend_np import LABELS, FrontEnd
from .pipeline import Version

COURSE_SPLIT_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))  # the repository
TIME_SHIFT = {"shift_ms": 100}  # augmentation preset: random shifts of up to ±100 ms
percent = functools.partial(constraints.fmt, "accuracy")  # 0.9 -> "90.00 %"
# the limits are checked on the default kernels (XNNPACK), as a grader's interpreter runs the
# model; the reference kernels are those TFLM matches (docs/microcontroller.md)
KERNELS = {"accuracy": "default", "accuracy_reference_kernels": "reference"}


@dataclasses.dataclass
class KWSVersion(Version):
    """A keyword-spotting version as a script declares it."""

    frontend: FrontEnd
    filters: tuple = (96, 64, 64)  # first Conv2D, then one depthwise-separable block each
    extra_depthwise: int = 0  # DepthwiseConv2D-BN-ReLU blocks after the first conv
    first_stride: tuple = (2, 1)  # (time, frequency) stride of the first conv
    epochs: int = 20
    learning_rate: float = 1e-3
    augment: dict | None = None  # speech.augment_and_frontend keywords; train split only
    per_channel: bool = True
    bn_momentum: float = 0.99  # BatchNormalization's (models.ds_cnn)
    bn_reestimate: bool = True  # its statistics re-estimated on the training split after training
    qat_epochs: int = 5  # quantization-aware fine-tuning after training (0: none)
    qat_learning_rate: float = 1e-4
    dropout: float = 0.0  # before the classifier's Dense layer (0: none)
    weight_decay: float = 0.0  # decoupled weight decay (AdamW) while training (0: Adam)
    padding: str = "valid"  # of the depthwise 3x3 convolutions; "same" keeps the map's size
    calibration_per_label: int = 125  # int8 calibration: a stratified random training sample

    def epochs_for(self, override=None):
        """(training, quantization-aware) epochs: the version's, or `override` (--epochs) and at
        most as many quantization-aware ones."""
        if override:
            return override, min(self.qat_epochs, override)
        return self.epochs, self.qat_epochs

    @property
    def architecture(self):
        text = "DS-CNN " + "-".join(map(str, self.filters))
        if self.extra_depthwise:
            text += f" + {self.extra_depthwise} DW"
        if tuple(self.first_stride) != (2, 1):
            text += f", stride {tuple(self.first_stride)}"
        if self.padding != "valid":
            text += ", same padding"
        return text


@dataclasses.dataclass(frozen=True)
class Metrics:
    """Accuracies (0-1) of the int8 .tflite, default kernels, unless said otherwise."""

    accuracy: float  # test split
    accuracy_reference_kernels: float  # the same file under the reference kernels
    reference_kernels_same_labels: float  # share of test files labelled alike by both
    unseen_speaker_files: int | None  # test files whose speaker has no file in the train split
    accuracy_unseen_speakers: float | None
    val_accuracy: float
    float_val_accuracy: float  # the Keras model that is converted (quantization-aware or not)
    float_val_accuracy_before_qat: float | None  # before the quantization-aware epochs


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
    """Keeps the weights of the best validation-accuracy epoch (the first, on ties)."""
    import tensorflow as tf

    return tf.keras.callbacks.EarlyStopping(
        monitor="val_accuracy", mode="max", patience=epochs + 1, restore_best_weights=True
    )


def train(spec, train_ds, val_ds, epochs, verbose="auto", callbacks=(), train_features=None):
    """`spec`'s DS-CNN trained `epochs` epochs, best validation epoch kept, BatchNormalization
    re-estimated on `train_features` if the version says so: (model, history, kept epoch)."""
    from . import compress

    model = build_model(spec)
    compile_args = classifier_compile_args(spec.learning_rate, spec.weight_decay)
    callbacks = [keep_best(epochs), *callbacks]
    history = compress.fit(model, compile_args, train_ds, val_ds, epochs, callbacks, verbose)
    if spec.bn_reestimate:
        if train_features is None:
            raise ValueError(f"{spec.version}: bn_reestimate needs the training split's features")
        compress.reestimate_batchnorm(model, train_features)
    return model, history, 1 + int(np.argmax(history["val_accuracy"]))


def calibration_indices(label_ids, per_label, seed):
    """`per_label` random files of each label (all of a smaller label), in random order."""
    rng, picked = np.random.RandomState(seed), []
    for k in np.unique(label_ids):
        files = np.flatnonzero(label_ids == k)
        picked.append(rng.choice(files, min(per_label, len(files)), replace=False))
    return rng.permutation(np.concatenate(picked))


def predict_labels(runner, waves):
    """Predicted label ids of waveforms with a litert.Model (numpy front end: the Pi's code)."""
    return np.array([int(np.argmax(runner.classify(w))) for w in waves], np.int64)


def accuracy(predicted, label_ids):
    return float(np.mean(predicted == label_ids)) if len(predicted) else None


@dataclasses.dataclass
class Trained:
    pruned = False  # no keyword-spotting version prunes (pipeline.build)
    model: object  # the Keras model converted (quantization-aware when qat_span)
    float_model: object  # the float Keras model before any quantization
    history: dict  # {metric: [per epoch]}, quantization-aware epochs included
    kept: int  # the epoch whose weights were kept
    qat_span: tuple | None  # quantization-aware epochs (first, last), or None
    tflite: bytes  # the int8 model, container stripped
    calibration_files: int
    seconds: float  # training time, all phases
    seed: int
    epochs: int  # training epochs, quantization-aware ones not counted


def fit_and_quantize(spec, train_s, val_s, epochs, qat, seed, verbose, callbacks=()):
    """Train on `train_s` (selecting on `val_s`), `qat` quantization-aware epochs, int8
    calibrated on a stratified sample of `train_s`: a Trained."""
    from . import compress
    from .speech import features, make_dataset

    cfg = spec.frontend
    train_ds = make_dataset(
        cfg, train_s.waves, train_s.label_ids, train=True, augment=spec.augment, seed=seed
    )
    val_ds = make_dataset(cfg, val_s.waves, val_s.label_ids, train=False)
    calib = calibration_indices(train_s.label_ids, spec.calibration_per_label, seed)
    started = time.perf_counter()
    train_x = features(cfg, train_s.waves) if spec.bn_reestimate else None
    runtime.PHASE.info(f"training: {epochs} epochs")
    model, history, kept = train(spec, train_ds, val_ds, epochs, verbose, callbacks, train_x)
    float_model, qat_span = model, None
    if qat:
        runtime.PHASE.info(f"quantization-aware epochs: {qat}")
        compile_args = classifier_compile_args(spec.qat_learning_rate)
        model, tuned = compress.quantization_aware(
            float_model, train_ds, val_ds, compile_args, qat, [keep_best(qat)], verbose
        )
        done = len(history["loss"])
        qat_span, kept = (done + 1, done + qat), done + 1 + int(np.argmax(tuned["val_accuracy"]))
        history = {k: history[k] + tuned.get(k, []) for k in history}
    seconds = time.perf_counter() - started
    runtime.PHASE.info("conversion to int8")
    calibration = features(cfg, train_s.waves[calib]) if train_x is None else train_x[calib]
    tflite = to_int8(spec, model, calibration)
    return Trained(
        model, float_model, history, kept, qat_span, tflite, int(len(calib)), seconds, seed, epochs
    )


def to_int8(spec, model, features):
    """The version's int8 .tflite calibrated on `features`, stripped, with its metadata."""
    from . import compress

    tflite = compress.strip_container(compress.quantize(model, features, "int8", spec.per_channel))
    return modelfile.embed(tflite, spec.version, spec.frontend, LABELS)


# ---------------------------------------------------------------- the parts of a run
@dataclasses.dataclass
class Data:
    splits: dict  # train, val, test: kws_data.Split, waves loaded at the version's rate
    path: str  # the wav folder
    split_dir: str
    wavs_fixed: dict  # what was done to wavs that are not 16 kHz mono 1 s


def offline_hint():
    """What to do without internet (naming this machine's partial copy, when present)."""
    from .download import local_copies

    here = local_copies("mini_speech_commands", "mini_speech_commands_split")
    hint = "without internet, pass a copy with --data DIR"
    if len(here) == 2:
        hint += f" (on this machine: --data {here[0]} --split-dir {here[1]})"
    return hint


def add_flags(p):
    from .cli import MAX_RUNS, within

    p.add_argument(
        "--data", help="the <label>/<file>.wav folder or its parent (default: ./data, downloaded)"
    )
    p.add_argument(
        "--split-dir",
        default=COURSE_SPLIT_DIR,
        help="folder of the kws_split_*.txt files (default: the course's split, this repository)",
    )
    p.add_argument(
        "--latency-runs",
        type=within(1, MAX_RUNS),
        default=100,
        help=f"host latency runs, 1 to {MAX_RUNS:,} (default: 100)",
    )


def load(spec, args):
    """The split files and every wav they list, checked and read at the version's rate."""
    data_dir = kws_data.resolve_data_dir(args.data, offline_hint())
    splits = kws_data.read_splits(args.split_dir, data_dir, split_flag="--split-dir")
    fixed = kws_data.load_waves(splits, spec.frontend.rate)
    return Data(splits, os.path.abspath(str(data_dir)), os.path.abspath(args.split_dir), fixed)


def fit(spec, data, epochs, qat, seed, verbose):
    """`spec` trained on the train split, its epochs chosen on the validation split."""
    splits = data.splits
    return fit_and_quantize(spec, splits["train"], splits["val"], epochs, qat, seed, verbose)


def evaluate(spec, data, t, args):
    """The .tflite on the test and validation splits (default and reference kernels), the Keras
    model on validation, host latency: (metrics, details, picture, the limits not assessable)."""
    from . import plots, speech
    from .litert import Model, interpreter_class, measure_latency

    train_s, val_s, test_s = (data.splits[w] for w in kws_data.SPLITS)
    cfg = spec.frontend
    runner = Model(t.tflite, cfg)
    test_pred = predict_labels(runner, test_s.waves)
    test_pred_reference = predict_labels(Model(t.tflite, cfg, kernels="reference"), test_s.waves)
    val_pred = predict_labels(runner, val_s.waves)
    val_features = speech.features(cfg, val_s.waves)
    keras_val = lambda model: np.argmax(model.predict(val_features, verbose=0), axis=1)
    unseen = kws_data.unseen_speaker_mask(train_s, test_s)
    latency = measure_latency(runner, runs=getattr(args, "latency_runs", 100))
    metrics = Metrics(
        accuracy(test_pred, test_s.label_ids),
        accuracy(test_pred_reference, test_s.label_ids),
        float(np.mean(test_pred == test_pred_reference)),
        None if unseen is None else int(unseen.sum()),
        None if unseen is None else accuracy(test_pred[unseen], test_s.label_ids[unseen]),
        accuracy(val_pred, val_s.label_ids),
        accuracy(keras_val(t.model), val_s.label_ids),
        accuracy(keras_val(t.float_model), val_s.label_ids) if t.qat_span else None,
    )
    matrix = np.zeros((len(LABELS), len(LABELS)), np.int64)  # the test confusion matrix
    np.add.at(matrix, (np.asarray(test_s.label_ids), test_pred), 1)
    counts = " / ".join(f"{len(s.paths):,}" for s in data.splits.values())
    split = "the course's" if data.split_dir == COURSE_SPLIT_DIR else data.split_dir
    title = (
        f"{spec.version} ({spec.name}): {spec.architecture}\ndata: {os.path.basename(data.path)}, "
        f"split: {os.path.basename(split)}, {counts} train / val / test files"
    )
    picture = plots.kws_png(
        t.history, kept_epoch=t.kept, qat=t.qat_span, confusion=matrix, labels=LABELS, title=title
    )
    details = {
        "kernels": {"interpreter": interpreter_class()[1], **KERNELS},
        "frontend": modelfile.frontend_record(cfg),
        "labels": LABELS,
        "host_latency_ms": {  # this host, not a Raspberry Pi
            "inference": latency["inference_ms"],
            "total": latency["total_ms"],
            "runs": latency["runs"],
            "threads": 1,
        },
        "training": {
            "epochs": t.epochs,
            "qat_epochs": t.qat_span[1] - t.qat_span[0] + 1 if t.qat_span else 0,
            "qat_learning_rate": spec.qat_learning_rate if t.qat_span else None,
            "seed": t.seed,
            "augment": spec.augment,
            "batchnorm": {"momentum": spec.bn_momentum, "reestimated": spec.bn_reestimate},
            "dropout": spec.dropout,
            "weight_decay": spec.weight_decay,
            "kept_epoch": t.kept,
            "seconds": round(t.seconds, 1),
            "calibration_files": t.calibration_files,
        },
        "data": {
            "path": data.path,
            "split_dir": data.split_dir,
            **{f"{w}_files": len(s.paths) for w, s in data.splits.items()},
            "wavs_fixed": data.wavs_fixed,
            # lets kws_inference.py --wav tell which files the model was trained on
            "training_files": kws_data.training_files(train_s),
        },
    }
    return metrics, details, picture, unassessable(spec, data, latency)


def is_course_split(splits):
    """Whether the splits list exactly the course's files, those the accuracy limits assume."""
    names = lambda paths, sep: {tuple(p.split(sep)[-2:]) for p in paths}
    course = lambda which: kws_data.split_file(COURSE_SPLIT_DIR, which).read_text().split()
    return all(names(s.paths, os.sep) == names(course(w), "/") for w, s in splits.items())


def unassessable(spec, data, latency):
    """The limits this run cannot assess and why: accuracy off the course's split, Pi latency."""
    reasons, splits = {}, data.splits
    if not is_course_split(splits):
        counts = " / ".join(f"{len(s.paths):,}" for s in splits.values())
        reasons["accuracy"] = (
            "defined on the course's split of the official 8,000 files (this repository's "
            f"kws_split_*.txt); this run: {counts} files of {os.path.dirname(splits['train'].file)}"
        )
    elif copies := kws_data.copies_of(splits["train"], splits["test"]):
        reasons["accuracy"] = (
            f"defined on the official files; {copies:,} of the {len(splits['test'].paths):,} "
            "test files of this folder are copies of training files (the same samples), so "
            "its score is no test accuracy"
        )
    for key in ("inference", "total"):
        if f"pi_{key}_ms" in spec.entry.limits:
            reasons[f"pi_{key}_ms"] = (
                f"defined on a Raspberry Pi; this host: {key} p50 {latency[f'{key}_ms']['p50']:.3f}"
                " ms (LiteRT, 1 thread): run kws_inference.py on the Pi"
            )
    return reasons


def also(result):
    """The verdict table's rows measured without a limit."""
    m, test_files = result.metrics, result.details["data"]["test_files"]
    drift = f"{100 * (m.accuracy_reference_kernels - m.accuracy):+.2f} pt"
    unseen = "- (no test file of an unseen speaker)"
    if m.accuracy_unseen_speakers is not None:
        unseen = f"{percent(m.accuracy_unseen_speakers)} of {m.unseen_speaker_files} files"
    rows = [
        ("accuracy_reference_kernels", f"{percent(m.accuracy_reference_kernels)} ({drift})"),
        ("  same labels as default", f"{percent(m.reference_kernels_same_labels)} of {test_files}"),
        ("accuracy_unseen_speakers", unseen),
        ("val_accuracy (int8)", percent(m.val_accuracy)),
        ("float_val_accuracy", percent(m.float_val_accuracy)),
    ]
    if m.float_val_accuracy_before_qat is not None:
        rows.append(("  before the QAT epochs", percent(m.float_val_accuracy_before_qat)))
    return rows


def figures(result):
    m = result.metrics
    text = f"test {percent(m.accuracy)}, val {percent(m.val_accuracy)}"
    if m.accuracy_unseen_speakers is not None:
        text += f", unseen speakers {percent(m.accuracy_unseen_speakers)}"
    return text
