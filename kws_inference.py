"""Keyword-spotting latency and predictions on a Raspberry Pi (no TensorFlow needed).

Copy this file, common/ and a model to the Pi (docs/raspberry-pi.md):

    python kws_inference.py --model kws_b.tflite.zip         # latency, as the course script
    python kws_inference.py --model kws_c.tflite --wav DIR   # label every wav under DIR
    python kws_inference.py --model kws_c.tflite --wav DIR --split kws_split_test.txt  # score a split

The front end and labels come from the model's own metadata (common/model_metadata.py); a
model made before it carried them uses its sidecar JSON (`X.tflite[.zip]` -> `X.json`, which
must describe this very model), else the course defaults. When both are there they must
agree. Flags override the front end, saying so.
"""

import common  # noqa: F401  (one BLAS thread, set before numpy loads; no TensorFlow)

import argparse  # noqa: E402
import collections  # noqa: E402
import os  # noqa: E402
import platform  # noqa: E402
import struct  # noqa: E402
import sys  # noqa: E402
from importlib import metadata  # noqa: E402

import numpy as np  # noqa: E402

from common import cli, kws_data, model_metadata, runtime  # noqa: E402
from common.errors import DataError  # noqa: E402
from common.frontend_np import LABELS, FrontEnd  # noqa: E402
from common.litert import Model, interpreter_class, measure_latency  # noqa: E402
from common.macos_files import walk_files  # noqa: E402
from common.report import read_sidecar, sidecar_path  # noqa: E402
from common.tflite_io import read_model_bytes  # noqa: E402
from common.constraints import VERSIONS  # noqa: E402
from common.wav import WavError, read_wav  # noqa: E402

COURSE_DEFAULTS = FrontEnd(mfcc=False, resize=32)  # the course script: STFT resized to 32x32
FLAGS = {
    "rate": "rate",
    "mfcc": "mfcc",
    "resize": "resize",
    "length": "frame_length",
    "stride": "frame_step",
    "bins": "num_mel_bins",
    "coeff": "num_coefficients",
    "lower_frequency": "lower_frequency",
    "upper_frequency": "upper_frequency",
}
PI_LIMITS = {"pi_inference_ms": ("inference", "inference_ms"), "pi_total_ms": ("total", "total_ms")}


def described(carried, sidecar, model_path, json_path):
    """(what describes the model: a dict with 'frontend', 'labels', 'version', or None; where
    it comes from, in words). The model's metadata first; its sidecar JSON, when both exist,
    must say the same."""
    if sidecar is not None and sidecar.get("frontend") is None:
        raise DataError(
            f"{json_path}: describes a forecasting model (no 'frontend'); "
            "expected the sidecar of a keyword-spotting model"
        )
    if carried is None:
        if sidecar is None:
            return (
                None,
                "no front end in the model's metadata and no sidecar JSON: the course's default front end",
            )
        return sidecar, "front end from the sidecar JSON (the model carries none in its metadata)"
    if sidecar is not None:
        differences = disagreements(carried, sidecar)
        if differences:
            raise DataError(
                f"{json_path}: says another front end or labels than {model_path} carries in "
                f"its metadata ({'; '.join(differences)}); expected the sidecar written with "
                "this model (or use --no-sidecar)"
            )
        return carried, "front end from the model's metadata (its sidecar JSON agrees)"
    return carried, "front end from the model's metadata"


def disagreements(carried, sidecar):
    """What a sidecar says otherwise than the model's metadata: ['field: X in the JSON, Y in
    the model', ...] over the front end's settings, the labels and the version."""
    pairs = [
        (f"frontend.{k}", v, FrontEnd.from_dict(carried["frontend"]).to_dict()[k])
        for k, v in FrontEnd.from_dict(sidecar["frontend"]).to_dict().items()
    ]
    pairs += [(k, sidecar.get(k), carried.get(k)) for k in ("labels", "version")]
    return [
        f"{name}: {json!r} in the JSON, {model!r} in the model"
        for name, json, model in pairs
        if json != model
    ]


def frontend_config(description, overrides, note=None):
    """(FrontEnd, note): the description's front end (else the course defaults), flags applied."""
    overrides = {k: v for k, v in overrides.items() if v is not None}
    if "resize" in overrides and overrides["resize"] <= 0:
        overrides["resize"] = None
    if description:
        base, note = description["frontend"], note or "front end from the model's description"
    else:
        base, note = COURSE_DEFAULTS.to_dict(), note or "the course's default front end"
    if overrides:
        note += ", overridden by flags " + ", ".join(f"{k}={v}" for k, v in overrides.items())
    settings = {**base, **overrides}
    if "frame_length" in overrides:  # the course's stft: the FFT is as long as the frame
        settings["fft_length"] = overrides["frame_length"]
    cfg = FrontEnd.from_dict(settings)
    problems = cfg.problems()
    if problems:
        raise ValueError(f"front end {cfg.to_dict()}: {problems[0]}")
    return cfg, note


def machine(model_file="/proc/device-tree/model"):
    """(name, is a Raspberry Pi): the Pi's model from the device tree, else the platform."""
    try:
        with open(model_file, "rb") as f:
            model = f.read().rstrip(b"\0").decode(errors="replace").strip()
        if model:
            return model, model.startswith("Raspberry Pi")
    except OSError:
        pass
    return runtime.host(), False


def interpreter_words():
    """The interpreter's package and version, e.g. 'ai-edge-litert 2.3.0'."""
    origin = interpreter_class()[1]
    try:
        return f"{origin} {metadata.version(origin.split()[0])}"
    except metadata.PackageNotFoundError:
        return origin


def system(os_release="/etc/os-release"):
    """(the OS side in words: distribution, userland and kernel, Python, interpreter; bits of
    the userland). A Pi 4 or 5 runs a 64-bit kernel under a 32-bit Raspberry Pi OS too: the
    userland's bits are those of this Python, not `uname -m`."""
    name = platform.system()
    try:
        with open(os_release, encoding="utf-8", errors="replace") as f:
            fields = dict(ln.rstrip("\n").split("=", 1) for ln in f if "=" in ln)
        name = fields.get("PRETTY_NAME", name).strip().strip('"')
    except OSError:
        pass
    bits = struct.calcsize("P") * 8
    return (
        f"{name}, {bits}-bit userland ({platform.machine()} kernel), Python "
        f"{platform.python_version()}, {interpreter_words()}"
    ), bits


def limit_line(about, result, host=None, os_side=None):
    """One line comparing the measured latency with the version's Pi limit (`about`: the
    sidecar, or {'version', 'limits'}), naming the machine and its OS."""
    name, on_pi = host or machine()
    words, bits = os_side or system()
    ran_on = f"ran on {name}; {words}"
    limits = {k: v for k, v in (about or {}).get("limits", {}).items() if k in PI_LIMITS}
    version = (about or {}).get("version", "this model")
    if not limits:
        return (
            f"Pi limit: none for {version} (limits only ex2_b inference and ex2_c total); {ran_on}"
        )
    parts = []
    for metric, limit in limits.items():
        label, key = PI_LIMITS[metric]
        value = result[key]["mean"]
        verdict = (
            ("pass" if value < limit else "FAIL")
            if on_pi
            else "not assessable: not a Raspberry Pi, the limit is defined on one"
        )
        parts.append(f"{label} {value:.2f} ms (mean) < {limit:g} ms: {verdict}")
    hint = ""
    if on_pi and bits == 32 and any(p.endswith("FAIL") for p in parts):
        hint = " (a 32-bit OS runs tflite-runtime 2.14; a 64-bit Raspberry Pi OS runs LiteRT: docs/raspberry-pi.md)"
    return f"Pi limit of {version}: " + "; ".join(parts) + f"; {ran_on}{hint}"


def limits_of(description, sidecar):
    """What limit_line needs: the sidecar, else the version the model carries and its limits
    (common/constraints.py)."""
    if sidecar:
        return sidecar
    version = (description or {}).get("version")
    if version in VERSIONS:
        return {"version": version, "limits": VERSIONS[version].limits}
    return {"version": version} if version else None


def wav_files(path):
    """The wavs to label: `path` itself, or every wav under the folder (macOS metadata, e.g.
    `._yes.wav` or `__MACOSX/`, left out)."""
    if os.path.isdir(path):
        found = walk_files(path, ".wav")
        if not found:
            raise FileNotFoundError(f"{path}: no .wav file in this folder")
        return found
    if not os.path.isfile(path):
        raise FileNotFoundError(f"{path}: no such wav file or folder")
    return [path]


def split_files(split, folder, labels):
    """The files of a split file, found under `folder` (`<label>/<file>.wav`), with their
    labels: (paths, true label of each)."""
    if not os.path.isdir(folder):
        what = "a file" if os.path.exists(folder) else "no such folder"
        raise ValueError(
            f"{folder}: {what}; with --split, --wav names the folder of "
            "<label>/<file>.wav that the split's lines are in"
        )
    one = kws_data.read_split_file(
        split,
        kws_data.resolve_data_dir(folder),
        labels,
        log=lambda m: print(m, file=sys.stderr),
        split_flag="--split",
    )
    return one.paths, [labels[i] for i in one.label_ids]


def softmax(y):
    e = np.exp(np.asarray(y, np.float64) - np.max(y))
    return e / e.sum()


def training_note(sidecar, scored, split=None):
    """A line saying how many of the scored files the model was trained on (from the
    fingerprints of its training files in the JSON), or that the JSON cannot tell; with a
    `split` file, only when some were."""
    mask = kws_data.in_training((sidecar or {}).get("data", {}).get("training_files"), scored)
    advice = "; --split FILE scores only the files of a split (e.g. its test split)"
    if mask is None:
        return (
            None
            if split
            else (
                "note: the model's JSON does not list its training files: some "
                "of these may have been trained on" + advice
            )
        )
    if not mask.any():
        return (
            None
            if split
            else (
                f"note: none of these {len(scored)} files is in the model's "
                "training split (by name)"
            )
        )
    return (
        f"note: {int(mask.sum())} of these {len(scored)} files are in the model's training split "
        "(by name): the accuracy above counts them" + ("" if split else advice)
    )


def label_wavs(model, cfg, paths, labels, folder_or_file, truth=None, split=None, sidecar=None):
    """Print the label and score of every readable wav, then a summary; returns the exit
    status: 1 when a file was unreadable (listed at the end), else 0. The true label of a
    file is `truth[i]` (from a split file) or its folder's name when that is a label."""
    unreadable, predicted, right, scored = [], collections.Counter(), 0, []
    for i, path in enumerate(paths):
        try:
            p = softmax(model.classify(read_wav(path, rate=cfg.rate)))
        except WavError as e:
            unreadable.append(str(e))
            continue
        k = int(np.argmax(p))
        label = labels[k] if k < len(labels) else str(k)
        print(f"{path} {label} {p[k]:.3f}")
        predicted[label] += 1
        true = (
            truth[i]
            if truth is not None
            else os.path.basename(os.path.dirname(os.path.abspath(path)))
        )
        if true in labels:
            scored.append(path)
            right += true == label
    labelled = sum(predicted.values())
    print(
        f"Summary: {labelled} of {len(paths)} files labelled; predictions: "
        + ", ".join(f"{lab} {predicted[lab]}" for lab in labels if predicted[lab])
    )
    if scored:
        where = f"files of {split}" if split else "files in label folders"
        print(f"Accuracy {100 * right / len(scored):.2f} % ({right} of {len(scored)} {where})")
        note = training_note(sidecar, scored, split)
        if note:
            print(note)
    for message in unreadable:
        print(f"unreadable: {message}")
    if unreadable:
        print(
            f"error: {folder_or_file}: {len(unreadable)} of {len(paths)} wav files unreadable "
            "(listed above); expected readable wav files",
            file=sys.stderr,
        )
    return 1 if unreadable else 0


def parse_args(argv):
    p = cli.Parser(prog="kws_inference.py", description=__doc__.split("\n\n")[0])
    p.add_argument("--model", required=True, help=".tflite or .tflite.zip")
    p.add_argument(
        "--no-sidecar",
        action="store_true",
        help="ignore the sidecar JSON (the model's metadata and the flags still apply)",
    )
    p.add_argument("--rate", type=cli.positive_int, help="sample rate of the front end (Hz)")
    p.add_argument(
        "--mfcc",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="MFCC front end (--no-mfcc: STFT)",
    )
    p.add_argument("--resize", type=int, help="STFT path: resize to RxR (0: none)")
    p.add_argument("--length", type=cli.positive_int, help="frame length (samples)")
    p.add_argument("--stride", type=cli.positive_int, help="frame step (samples)")
    p.add_argument("--bins", type=cli.positive_int, help="mel bins")
    p.add_argument("--coeff", type=cli.positive_int, help="MFCC coefficients")
    p.add_argument("--lower-frequency", type=float, help="lowest mel filter frequency (Hz)")
    p.add_argument("--upper-frequency", type=float, help="highest mel filter frequency (Hz)")
    p.add_argument(
        "--threads",
        type=cli.positive_int,
        default=1,
        help="interpreter threads (default: 1, as the JSON's host latency)",
    )
    p.add_argument(
        "--runs", type=cli.positive_int, default=100, help="latency mode: timed runs (default: 100)"
    )
    p.add_argument("--wav", help="a wav file or a folder (recursive): label every wav")
    p.add_argument(
        "--split",
        help="with --wav DIR: score only the files this split file lists "
        "(lines ending in <label>/<file>.wav, found under DIR), e.g. kws_split_test.txt",
    )
    p.add_argument("--verbose", action="store_true", help="keep the interpreter's own log lines")
    args = p.parse_args(argv)
    if args.split and not args.wav:
        p.error("--split needs --wav DIR, the folder the split's files are in")
    return args


def run(argv):
    args = parse_args(argv)
    data = read_model_bytes(args.model)
    carried = model_metadata.carried(data, args.model)
    sidecar = None if args.no_sidecar else read_sidecar(args.model, data)
    description, note = described(carried, sidecar, args.model, sidecar_path(args.model))
    cfg, note = frontend_config(description, {f: getattr(args, a) for a, f in FLAGS.items()}, note)
    print(f"{note}: {cfg.to_dict()} -> input {cfg.input_shape}")
    print(f"interpreter: {interpreter_words()}")
    model = Model(data, cfg, args.threads, verbose=args.verbose, name=args.model)
    if args.wav:
        labels = description["labels"] if description else LABELS
        if args.split:
            paths, truth = split_files(args.split, args.wav, labels)
            return label_wavs(model, cfg, paths, labels, args.wav, truth, args.split, sidecar)
        return label_wavs(model, cfg, wav_files(args.wav), labels, args.wav, sidecar=sidecar)
    r = measure_latency(model, cfg, args.runs, args.threads)
    inf, tot = r["inference_ms"], r["total_ms"]
    print(f"Inference Latency {inf['mean']:.2f}ms")
    print(f"Total Latency {tot['mean']:.2f}ms")
    print(f"Inference p50 {inf['p50']:.2f}ms p90 {inf['p90']:.2f}ms ({r['runs']} runs)")
    print(f"Total p50 {tot['p50']:.2f}ms p90 {tot['p90']:.2f}ms ({r['runs']} runs)")
    print(limit_line(limits_of(description, sidecar), r))
    return 0


def main(argv=None):
    return cli.exit_status(run, argv)


if __name__ == "__main__":
    sys.exit(main())
