"""Keyword-spotting latency and predictions on a Raspberry Pi (no TensorFlow needed).

Copy this file, common/ and a model to the Pi (docs/raspberry-pi.md):

    python kws_inference.py --model kws_b.tflite.zip         # latency, as the course script
    python kws_inference.py --model kws_c.tflite --wav DIR   # label every wav under DIR
    python kws_inference.py --model kws_c.tflite --wav DIR --split kws_split_test.txt  # score a split

The front end and labels come from the model's own metadata (common/modelfile.py); a model
without them (the course's) runs on the course's flags and defaults. `--json` prints the run as
one JSON object instead of lines.
"""

import common  # noqa: F401  (one BLAS thread, set before numpy loads; no TensorFlow)

import argparse  # noqa: E402
import collections  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import platform  # noqa: E402
import struct  # noqa: E402
import sys  # noqa: E402
from importlib import metadata  # noqa: E402

import numpy as np  # noqa: E402

from common import cli, kws_data, modelfile, runtime  # noqa: E402
from common.litert import Model, interpreter_class, measure_latency  # noqa: E402
from common.macos_files import walk_files  # noqa: E402
from common.wav import WavError, read_wav  # noqa: E402

PI_LIMITS = {"pi_inference_ms": ("inference", "inference_ms"), "pi_total_ms": ("total", "total_ms")}


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
    """The OS side: {'os': distribution, userland bits and kernel, Python, interpreter in words;
    'bits': of the userland}. A Pi 4 or 5 runs a 64-bit kernel under a 32-bit Raspberry Pi OS
    too: the userland's bits are those of this Python, not `uname -m`."""
    name = platform.system()
    try:
        with open(os_release, encoding="utf-8", errors="replace") as f:
            fields = dict(ln.rstrip("\n").split("=", 1) for ln in f if "=" in ln)
        name = fields.get("PRETTY_NAME", name).strip().strip('"')
    except OSError:
        pass
    bits = struct.calcsize("P") * 8
    words = (
        f"{name}, {bits}-bit userland ({platform.machine()} kernel), Python "
        f"{platform.python_version()}, {interpreter_words()}"
    )
    return {"os": words, "bits": bits}


def pi_limits(described, latency, on_pi):
    """The version's Pi limits against the measured means: [{metric, limit, mean_ms, verdict}]."""
    rows = []
    for metric, limit in described.limits.items():
        if metric in PI_LIMITS:
            value = latency[PI_LIMITS[metric][1]]["mean"]
            verdict = ("pass" if value < limit else "FAIL") if on_pi else "not assessable"
            rows.append({"metric": metric, "limit": limit, "mean_ms": value, "verdict": verdict})
    return rows


def limit_line(report):
    """One line comparing the measured latency with the version's Pi limit, naming the
    machine and its OS."""
    host, version = report["machine"], report["version"] or "this model"
    ran_on = f"ran on {host['name']}; {host['os']}"
    rows = report["latency"]["pi_limits"]
    if not rows:
        return (
            f"Pi limit: none for {version} (limits only ex2_b inference and ex2_c total); {ran_on}"
        )
    parts = [
        f"{PI_LIMITS[r['metric']][0]} {r['mean_ms']:.2f} ms (mean) < {r['limit']:g} ms: "
        + (
            "not assessable: not a Raspberry Pi, the limit is defined on one"
            if r["verdict"] == "not assessable"
            else r["verdict"]
        )
        for r in rows
    ]
    hint = ""
    if host["bits"] == 32 and any(r["verdict"] == "FAIL" for r in rows):
        hint = " (a 32-bit OS runs tflite-runtime 2.14; a 64-bit Raspberry Pi OS runs LiteRT: docs/raspberry-pi.md)"
    return f"Pi limit of {version}: " + "; ".join(parts) + f"; {ran_on}{hint}"


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


def label_wavs(model, described, paths, truth=None):
    """Label and score every readable wav: {'files': [{path, label, score, truth}],
    'unreadable': [messages], 'accuracy', 'scored', 'in_training'}. The true label of a file
    is `truth[i]` (from a split file) or its folder's name when that is a label."""
    labels, rate = described.labels, described.frontend.rate
    files, unreadable = [], []
    for i, path in enumerate(paths):
        try:
            p = softmax(model.classify(read_wav(path, rate=rate)))
        except WavError as e:
            unreadable.append(str(e))
            continue
        k = int(np.argmax(p))
        true = (
            truth[i]
            if truth is not None
            else os.path.basename(os.path.dirname(os.path.abspath(path)))
        )
        files.append(
            {
                "path": path,
                "label": labels[k],
                "score": float(p[k]),
                "truth": true if true in labels else None,
            }
        )
    scored = [f for f in files if f["truth"] is not None]
    record = (described.report or {}).get("data", {}).get("training_files")
    mask = kws_data.in_training(record, [f["path"] for f in scored]) if scored else None
    return {
        "files": files,
        "unreadable": unreadable,
        "scored": len(scored),
        "right": sum(f["label"] == f["truth"] for f in scored),
        "accuracy": float(np.mean([f["label"] == f["truth"] for f in scored])) if scored else None,
        "in_training": None if mask is None else int(mask.sum()),
    }


def wav_lines(report, split=None):
    """The --wav report as the course's lines: a line per file, the summary, notes."""
    w, labels = report["wav"], report["labels"]
    lines = [f"{f['path']} {f['label']} {f['score']:.3f}" for f in w["files"]]
    counts = collections.Counter(f["label"] for f in w["files"])
    lines.append(
        f"Summary: {len(w['files'])} of {len(w['files']) + len(w['unreadable'])} files labelled; "
        "predictions: " + ", ".join(f"{lab} {counts[lab]}" for lab in labels if counts[lab])
    )
    if w["scored"]:
        right = w["right"]
        where = f"files of {split}" if split else "files in label folders"
        lines.append(f"Accuracy {100 * w['accuracy']:.2f} % ({right} of {w['scored']} {where})")
        advice = "; --split FILE scores only the files of a split (e.g. its test split)"
        if w["in_training"] is None and not split:
            lines.append(
                "note: the model's JSON does not list its training files: some of these may have been trained on"
                + advice
            )
        elif w["in_training"] == 0 and not split:
            lines.append(
                f"note: none of these {w['scored']} files is in the model's training split (by name)"
            )
        elif w["in_training"]:
            lines.append(
                f"note: {w['in_training']} of these {w['scored']} files are in the model's training split "
                "(by name): the accuracy above counts them" + ("" if split else advice)
            )
    lines += [f"unreadable: {m}" for m in w["unreadable"]]
    return lines


def parse_args(argv):
    p = cli.Parser(prog="kws_inference.py", description=__doc__.split("\n\n")[0])
    p.add_argument("--model", required=True, help=".tflite or .tflite.zip")
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
        "--ignore-metadata",
        action="store_true",
        help="run the course's defaults and the flags, not the front end and labels the model carries",
    )
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
    p.add_argument("--json", action="store_true", help="print the run as one JSON object")
    p.add_argument("--verbose", action="store_true", help="keep the interpreter's own log lines")
    args = p.parse_args(argv)
    if args.split and not args.wav:
        p.error("--split needs --wav DIR, the folder the split's files are in")
    return args


def measure(args):
    """The run as one object (what --json prints) and its exit status."""
    flags = {field: getattr(args, flag) for flag, field in modelfile.FLAGS.items()}
    described = modelfile.open_model(args.model, flags, args.ignore_metadata, kind="kws")
    model = Model(
        described.data, described.frontend, args.threads, verbose=args.verbose, name=args.model
    )
    name, on_pi = machine()
    report = {
        "model": args.model,
        "version": described.version,
        "source": described.source,
        "frontend": described.frontend.to_dict(),
        "input_shape": described.frontend.input_shape,
        "labels": list(described.labels),
        "interpreter": interpreter_words(),
        "machine": {"name": name, "raspberry_pi": on_pi, **system()},
    }
    if args.wav:
        paths, truth = (
            split_files(args.split, args.wav, described.labels)
            if args.split
            else (wav_files(args.wav), None)
        )
        report["wav"] = label_wavs(model, described, paths, truth)
        return report, 1 if report["wav"]["unreadable"] else 0
    r = measure_latency(model, described.frontend, args.runs, args.threads)
    report["latency"] = {**r, "pi_limits": pi_limits(described, r, on_pi)}
    return report, 0


def run(argv):
    args = parse_args(argv)
    report, status = measure(args)
    if args.json:
        print(json.dumps(report, indent=1))
        return status
    print(f"{report['source']}: {report['frontend']} -> input {report['input_shape']}")
    print(f"interpreter: {report['interpreter']}")
    if "wav" in report:
        print("\n".join(wav_lines(report, args.split)))
        if status:
            n = len(report["wav"]["unreadable"])
            print(
                f"error: {args.wav}: {n} of {n + len(report['wav']['files'])} wav files unreadable "
                "(listed above); expected readable wav files",
                file=sys.stderr,
            )
        return status
    r = report["latency"]
    inf, tot = r["inference_ms"], r["total_ms"]
    print(f"Inference Latency {inf['mean']:.2f}ms")
    print(f"Total Latency {tot['mean']:.2f}ms")
    print(f"Inference p50 {inf['p50']:.2f}ms p90 {inf['p90']:.2f}ms ({r['runs']} runs)")
    print(f"Total p50 {tot['p50']:.2f}ms p90 {tot['p90']:.2f}ms ({r['runs']} runs)")
    print(limit_line(report))
    return 0


def main(argv=None):
    return cli.exit_status(run, argv)


if __name__ == "__main__":
    sys.exit(main())
