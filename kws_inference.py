"""Keyword-spotting latency and predictions on a Raspberry Pi (no TensorFlow needed).

    python kws_inference.py --model kws_b.tflite.zip         # latency, as the course script
    python kws_inference.py --model kws_c.tflite --wav DIR   # label every wav under DIR
    python kws_inference.py --model kws_c.tflite --wav DIR --split kws_split_test.txt  # score a split

The front end and labels come from the model's metadata, else the course's flags and defaults;
--json prints the run as one JSON object (docs/raspberry-pi.md).
"""

import argparse
import collections
import contextlib
import json
import os
import platform
import struct
import sys
from importlib import metadata

import common  # noqa: F401  (one BLAS thread, set before numpy loads; no TensorFlow)

import numpy as np

from common import cli, kws_data, modelfile, runtime
from common.litert import Model, interpreter_class, measure_latency
from common.errors import DataError
from common.macos_files import walk_files
from common.wav import WavError, read_wav

PI_LIMITS = {"pi_inference_ms": ("inference", "inference_ms"), "pi_total_ms": ("total", "total_ms")}
SPLIT_ADVICE = "; --split FILE scores only the files of a split (e.g. its test split)"
TRAINING = "the model's training split (by name)"
FLAG_TYPES = {"mfcc": None, "resize": int, "lower_frequency": float, "upper_frequency": float}


def machine(model_file="/proc/device-tree/model"):
    """(name, is a Raspberry Pi): the Pi's model from the device tree, else the platform."""
    with contextlib.suppress(OSError), open(model_file, "rb") as f:
        if model := f.read().rstrip(b"\0").decode(errors="replace").strip():
            return model, model.startswith("Raspberry Pi")
    return runtime.host(), False


def interpreter_words():
    """The interpreter's package and version, e.g. 'ai-edge-litert 2.3.0'."""
    origin = interpreter_class()[1]
    try:
        return f"{origin} {metadata.version(origin.split()[0])}"
    except metadata.PackageNotFoundError:
        return origin


def system(os_release="/etc/os-release"):
    """{'os': the OS, userland bits, kernel, Python and interpreter in words, 'bits': Python's}."""
    name = platform.system()
    with contextlib.suppress(OSError), open(os_release, encoding="utf-8", errors="replace") as f:
        fields = dict(ln.rstrip("\n").split("=", 1) for ln in f if "=" in ln)
        name = fields.get("PRETTY_NAME", name).strip().strip('"')
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
    """The measured latency against the version's Pi limit, and the machine and OS it ran on."""
    host, version = report["machine"], report["version"] or "this model"
    ran_on = f"ran on {host['name']}; {host['os']}"
    if not (rows := report["latency"]["pi_limits"]):
        return (
            f"Pi limit: none for {version} (limits only ex2_b inference and ex2_c total); {ran_on}"
        )
    off_pi = {"not assessable": "not assessable: not a Raspberry Pi, the limit is defined on one"}
    parts = [
        f"{PI_LIMITS[r['metric']][0]} {r['mean_ms']:.2f} ms (mean) < {r['limit']:g} ms: "
        + off_pi.get(r["verdict"], r["verdict"])
        for r in rows
    ]
    hint = ""
    if host["bits"] == 32 and any(r["verdict"] == "FAIL" for r in rows):
        hint = " (a 32-bit OS runs tflite-runtime 2.14; a 64-bit Raspberry Pi OS runs LiteRT: docs/raspberry-pi.md)"
    return f"Pi limit of {version}: " + "; ".join(parts) + f"; {ran_on}{hint}"


def wav_paths(wav, split, labels):
    """(the wavs to label, their true labels or None): `split`'s files in `wav`, else its wavs."""
    if split:
        log = lambda m: print(m, file=sys.stderr)
        folder = kws_data.resolve_data_dir(wav)
        one = kws_data.read_split_file(split, folder, labels, log=log, split_flag="--split")
        return one.paths, [labels[i] for i in one.label_ids]
    if os.path.isdir(wav):
        if not (found := walk_files(wav, ".wav")):
            raise FileNotFoundError(f"{wav}: no .wav file in this folder")
        return found, None
    if not os.path.isfile(wav):
        raise FileNotFoundError(f"{wav}: no such wav file or folder")
    return [wav], None


def label_wavs(model, described, paths, truth=None):
    """Label every readable wav: {'files': [{path, label, score, truth}], 'unreadable', 'scored',
    'right', 'accuracy', 'in_training'}; true labels: `truth`, else the folders' names."""
    labels, files, unreadable = described.labels, [], []
    if truth is None:  # the folders' names
        truth = [os.path.basename(os.path.dirname(os.path.abspath(p))) for p in paths]
    for i, path in enumerate(paths):
        try:
            y = model.classify(read_wav(path, rate=described.frontend.rate))
        except WavError as e:
            unreadable.append(str(e))
            continue
        e = np.exp(np.asarray(y, np.float64) - np.max(y))
        p, k = e / e.sum(), int(np.argmax(e))  # softmax
        true = truth[i] if truth[i] in labels else None
        files.append({"path": path, "label": labels[k], "score": float(p[k]), "truth": true})
    scored = [f for f in files if f["truth"] is not None]
    right = sum(f["label"] == f["truth"] for f in scored)
    record = (described.report or {}).get("data", {}).get("training_files")
    mask = kws_data.in_training(record, [f["path"] for f in scored]) if scored else None
    return {
        "files": files,
        "unreadable": unreadable,
        "scored": len(scored),
        "right": right,
        "accuracy": right / len(scored) if scored else None,
        "in_training": None if mask is None else int(mask.sum()),
    }


def wav_lines(report, split=None):
    """The --wav report as the course's lines: a line per file, the summary, notes."""
    w, n = report["wav"], len(report["wav"]["files"])
    total = n + len(w["unreadable"])
    lines = [f"{f['path']} {f['label']} {f['score']:.3f}" for f in w["files"]]
    counts = collections.Counter(f["label"] for f in w["files"])
    predicted = ", ".join(f"{lab} {counts[lab]}" for lab in report["labels"] if counts[lab])
    lines.append(f"Summary: {n} of {total} files labelled; predictions: {predicted}")
    if w["scored"]:
        where = f"files of {split}" if split else "files in label folders"
        lines.append(
            f"Accuracy {100 * w['accuracy']:.2f} % ({w['right']} of {w['scored']} {where})"
        )
        trained, advice = w["in_training"], "" if split else SPLIT_ADVICE
        if trained:
            note = f"{trained} of these {w['scored']} files are in {TRAINING}: the accuracy above counts them{advice}"
        elif trained == 0:
            note = f"none of these {w['scored']} files is in {TRAINING}"
        else:
            note = f"the model's JSON does not list its training files: some of these may have been trained on{advice}"
        if trained or not split:
            lines.append(f"note: {note}")
    return lines + [f"unreadable: {m}" for m in w["unreadable"]]


def parse_args(argv):
    p = cli.Parser(prog="kws_inference.py", description=__doc__.split("\n\n")[0])
    p.add_argument("--model", required=True, help=".tflite or .tflite.zip")
    for flag, (field, text) in modelfile.FLAGS.items():
        name = "--" + flag.replace("_", "-")
        if field == "mfcc":
            p.add_argument(name, action=argparse.BooleanOptionalAction, help=text)
        else:
            p.add_argument(name, type=FLAG_TYPES.get(field, cli.positive_int), help=text)
    p.add_argument(
        "--ignore-metadata", action="store_true", help="run the course's defaults and the flags"
    )
    for flag, what, top, default in (
        ("--threads", "interpreter threads", cli.MAX_THREADS, 1),
        ("--runs", "timed runs", cli.MAX_RUNS, 100),
    ):
        text = f"{what}, 1 to {top:,} (default {default})"
        p.add_argument(flag, type=cli.within(1, top), default=default, help=text)
    p.add_argument("--wav", help="a wav file or a folder (recursive): label every wav")
    p.add_argument("--split", help="with --wav DIR: score only the files this split file lists")
    p.add_argument("--json", action="store_true", help="print the run as one JSON object")
    p.add_argument("--verbose", action="store_true", help="keep the interpreter's own log lines")
    args = p.parse_args(argv)
    if args.split and not args.wav:
        p.error("--split needs --wav DIR, the folder the split's files are in")
    return args


def measure(args):
    """The run as one object (what --json prints) and its exit status."""
    flags = {field: getattr(args, flag) for flag, (field, _) in modelfile.FLAGS.items()}
    described = modelfile.open_model(args.model, flags, args.ignore_metadata, kind="kws")
    cfg = described.frontend
    model = Model(described.data, cfg, args.threads, verbose=args.verbose, name=args.model)
    name, on_pi = machine()
    report = {
        "model": args.model,
        "version": described.version,
        "source": described.source,
        "frontend": cfg.to_dict(),
        "input_shape": cfg.input_shape,
        "labels": list(described.labels),
        "interpreter": interpreter_words(),
        "machine": {"name": name, "raspberry_pi": on_pi, **system()},
    }
    if args.wav:
        paths, truth = wav_paths(args.wav, args.split, described.labels)
        report["wav"] = label_wavs(model, described, paths, truth)
        return report, 1 if report["wav"]["unreadable"] else 0
    r = measure_latency(model, cfg, args.runs, args.threads)
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
        if n := len(report["wav"]["unreadable"]):
            raise DataError(
                f"{args.wav}: {n} of {n + len(report['wav']['files'])} wav files unreadable "
                "(listed above); expected readable wav files"
            )
        return 0
    r = report["latency"]
    kinds = (("Inference", r["inference_ms"]), ("Total", r["total_ms"]))
    lines = [f"{what} Latency {ms['mean']:.2f}ms" for what, ms in kinds]
    lines += [f"{w} p50 {m['p50']:.2f}ms p90 {m['p90']:.2f}ms ({r['runs']} runs)" for w, m in kinds]
    print("\n".join([*lines, limit_line(report)]))
    return 0


def main(argv=None):
    return cli.exit_status(run, argv)


if __name__ == "__main__":
    sys.exit(main())
