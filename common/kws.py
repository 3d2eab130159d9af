"""Exercise 2 pipeline: wavs -> front end -> DS-CNN -> (prune) -> int8 -> files -> verdict.

An `ex2_*.py` script declares a `KWSVersion` and calls `main(versions, default)`.
"""
import dataclasses
import os
import time
from typing import Optional

import numpy as np

from . import cli, report, tflite_io
from .frontend_np import FrontEnd

HOST_NOTE = ("latency measured on this host (LiteRT, 1 thread), not on a Raspberry Pi: "
             "run kws_inference.py on the Pi for the figure the limit is about")


@dataclasses.dataclass
class KWSVersion:
    version: str                   # key of constraints.LIMITS, e.g. "ex2_a"
    name: str                      # output file stem, e.g. "kws_a"
    frontend: FrontEnd
    filters: tuple = (96, 64, 64)  # first Conv2D, then one depthwise-separable block each
    extra_depthwise: int = 0       # DepthwiseConv2D-BN-ReLU blocks after the first conv
    first_stride: tuple = (2, 1)   # (time, frequency) stride of the first conv
    epochs: int = 20
    learning_rate: float = 1e-3
    cosine_decay: bool = False     # cosine learning-rate decay to 0 over the epochs
    dropout: float = 0.0
    augment: Optional[dict] = None  # common.speech.Augment fields, train split only
    pruning: Optional[dict] = None  # compress.prune_and_finetune arguments
    per_channel: bool = True
    calibration_clips: int = 300

    @property
    def architecture(self):
        extra = f" + {self.extra_depthwise} DW" if self.extra_depthwise else ""
        stride = "" if tuple(self.first_stride) == (2, 1) else f", stride {tuple(self.first_stride)}"
        return f"DS-CNN {'-'.join(map(str, self.filters))}{extra}{stride}"


def build_model(spec):
    from .models import ds_cnn
    return ds_cnn(spec.frontend.input_shape, spec.filters, spec.extra_depthwise,
                  dropout=spec.dropout, first_stride=tuple(spec.first_stride))


def compile_kwargs(spec, steps_per_epoch, epochs):
    import tensorflow as tf
    lr = spec.learning_rate
    if spec.cosine_decay:
        lr = tf.keras.optimizers.schedules.CosineDecay(lr, steps_per_epoch * epochs)
    return dict(optimizer=tf.keras.optimizers.Adam(lr),
                loss=tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                metrics=[tf.keras.metrics.SparseCategoricalAccuracy()])


def keep_best(epochs):
    """Restore, at the end of training, the weights of the best validation-accuracy epoch."""
    import tensorflow as tf
    return tf.keras.callbacks.EarlyStopping(
        monitor="val_sparse_categorical_accuracy", mode="max", patience=epochs + 1,
        restore_best_weights=True)


def train(spec, train_ds, val_ds, epochs, verbose="auto"):
    """Train (and prune) `spec`'s DS-CNN; returns the Keras model with the best val weights."""
    from . import compress
    model = build_model(spec)
    steps = int(train_ds.cardinality())
    model.compile(**compile_kwargs(spec, steps, epochs))
    model.fit(train_ds, validation_data=val_ds, epochs=epochs, callbacks=[keep_best(epochs)],
              verbose=verbose)
    if spec.pruning:
        pruning = dict(spec.pruning)
        tune = pruning.pop("epochs", epochs)  # fine-tuning epochs, default: as many again
        # no best-epoch restore here: an early epoch would not have the final sparsity
        model = compress.prune_and_finetune(
            model, train_ds, val_ds, compile_kwargs(spec, steps, tune), epochs=tune,
            verbose=verbose, **pruning)
    return model


def evaluate_tflite(model, cfg, paths, label_ids, threads=1):
    """Accuracy of a .tflite (bytes or path) with LiteRT and the numpy front end, i.e. the
    code that runs on the Pi (kws_inference.Model)."""
    from kws_inference import Model
    from .wav import read_wav
    runner = Model(model, cfg, threads)
    predicted = np.array([int(np.argmax(runner(read_wav(p, rate=cfg.rate)))) for p in paths])
    return float(np.mean(predicted == np.asarray(label_ids)))


def run(spec, data, split_dir, out_dir, epochs=None, seed=0, verbose="auto", latency_runs=100):
    """The whole pipeline for one version; returns the exit status of the verdict."""
    from . import compress, speech
    from kws_inference import measure_latency
    epochs = epochs or spec.epochs
    data_dir = speech.resolve_data_dir(data)
    splits = {w: speech.read_split(split_dir, w, data_dir) for w in ("train", "val", "test")}
    generator = speech.SignalGenerator(spec.frontend)
    train_ds = generator.make_dataset(*splits["train"], train=True, augment=spec.augment, seed=seed)
    val_ds = generator.make_dataset(*splits["val"], train=False)
    plain_train = generator.make_dataset(*splits["train"], train=False)

    started = time.perf_counter()
    model = train(spec, train_ds, val_ds, epochs, verbose)
    train_seconds = time.perf_counter() - started
    calibration = np.concatenate([x.numpy() for x, _ in plain_train])[:spec.calibration_clips]
    tflite = compress.strip_container(
        compress.quantize_int8(model, calibration, spec.per_channel))
    files = tflite_io.write_model_files(tflite, out_dir, spec.name)

    accuracy = evaluate_tflite(files["tflite_path"], spec.frontend, *splits["test"])
    val_accuracy = evaluate_tflite(tflite, spec.frontend, *splits["val"])
    latency = measure_latency(tflite, spec.frontend, runs=latency_runs, threads=1)
    summary = {
        **compress.describe(spec, model, files),
        "metrics": {"accuracy": accuracy, "val_accuracy": val_accuracy},
        "frontend": {**spec.frontend.to_dict(), "input_shape": spec.frontend.input_shape},
        "labels": speech.LABELS,
        "host_latency_ms": {"inference": latency["inference_ms"], "total": latency["total_ms"],
                            "runs": latency["runs"], "threads": 1, "note": HOST_NOTE},
        "data": {"path": os.path.abspath(str(data_dir)), "split_dir": os.path.abspath(split_dir),
                 **{f"{w}_files": len(splits[w][0]) for w in splits}},
        "training": {"epochs": epochs, "seed": seed, "augment": spec.augment,
                     "pruning": spec.pruning, "seconds": round(train_seconds, 1)},
    }
    print(f"{spec.name}: {files['zip_path']} {files['zip_bytes']} B, test accuracy "
          f"{100 * accuracy:.2f} % (val {100 * val_accuracy:.2f} %), host inference p50 "
          f"{latency['inference_ms']['p50']:.3f} ms, total p50 {latency['total_ms']['p50']:.3f} ms")
    measured = {"accuracy": accuracy, "zip_bytes": files["zip_bytes"]}
    notes = [HOST_NOTE + f" (inference p50 {latency['inference_ms']['p50']:.3f} ms, "
             f"total p50 {latency['total_ms']['p50']:.3f} ms)"]
    if len(splits["train"][0]) < 6000:
        notes.append(f"trained on {len(splits['train'][0]):,} files; the accuracy limit is "
                     "defined on the full 8,000-file mini_speech_commands")
    return report.finish(spec.version, summary, measured, out_dir, spec.name, notes)


def main(versions, default, argv=None):
    """Entry point of ex2_a.py / ex2_b.py / ex2_c.py."""
    def _main(argv):
        p = cli.parser("Exercise 2: keyword spotting", sorted(versions), default)
        p.add_argument("--data", default="data",
                       help="folder of <label>/<file>.wav, or one holding mini_speech_commands/ "
                            "(default: ./data, downloaded when absent)")
        p.add_argument("--split-dir", default=os.path.dirname(os.path.dirname(
                           os.path.abspath(__file__))),
                       help="folder of kws_split_{train,val,test}.txt (or the course's "
                            "kws_{train,val,test}_split.txt); default: the repository's")
        p.add_argument("--latency-runs", type=int, default=100,
                       help="runs of the host latency measurement (default: 100)")
        args = p.parse_args(argv)
        cli.set_seed(args.seed)
        return run(versions[args.version], args.data, args.split_dir, args.out_dir, args.epochs,
                   args.seed, verbose=0 if args.quiet else "auto", latency_runs=args.latency_runs)
    return cli.run(_main, argv)
