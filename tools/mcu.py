"""The microcontroller check: a model in TensorFlow Lite for Microcontrollers' own interpreter
(common/tflm.py): its ops, tensor arena and flash, and its outputs beside LiteRT's kernels.

    python -m tools.mcu models/kws_a.tflite --data DIR --split kws_split_test.txt

Exit status 0: the model runs under TFLM; 2: it does not (docs/microcontroller.md).
"""

import sys

import common  # noqa: F401

import numpy as np

from common import cli, kws_data, modelfile, tflm
from common.frontend_np import NumpyFrontEnd
from common.litert import Model

KB = 1024
# (name, flash bytes, RAM bytes): e.g. an nRF52840 (Arduino Nano 33 BLE Sense) / an ESP32-S3
BOARDS = (
    ("1 MB flash / 256 KB RAM", 1024 * KB, 256 * KB),
    ("4 MB flash / 512 KB RAM", 4096 * KB, 512 * KB),
)
# LiteRT's kernels set beside TFLM's (common.litert.KERNELS), the reference ones first
COMPARED = ("reference", "default", "optimized")
RANDOM_INPUTS = 64


def split_inputs(described, data_dir, split):
    """(features, label ids, what) of a split file's wavs, through `described`'s front end."""
    folder = kws_data.resolve_data_dir(data_dir)
    one = kws_data.read_split_file(split, folder, list(described.labels), split_flag="--split")
    kws_data.load_waves({"split": one}, described.frontend.rate)
    features = np.stack(list(map(NumpyFrontEnd(described.frontend), one.waves)))
    return features, one.label_ids, f"{len(one.paths)} files of {split}"


def footprint(data):
    """What a board needs for the model `data`: flash, ops, TFLM arena (None if it cannot run)."""
    ops = tflm.coverage(data)
    arena = checked = None
    if all(covered for _, covered in ops.values()):
        interpreter = tflm.Interpreter(data)
        inp = interpreter.get_input_details()[0]
        interpreter.set_tensor(inp["index"], np.zeros(inp["shape"], inp["dtype"]))
        interpreter.invoke()
        arena = interpreter.arena_bytes()
        checked = tflm.loads(data, arena)
    return {
        "flash_bytes": len(data),
        "ops": ops,
        "arena_bytes": arena,
        "arena_checked": checked,
        "output_step": tflm.output_step(data),
        "tflm": tflm.package().__version__,
    }


def fit(flash, ram, board):
    """How the model fits `board`: 'fits (margin flash X B, RAM Y B)' or what is short."""
    flash_margin = board[1] - flash
    if ram is None:
        verdict = "fits" if flash_margin >= 0 else "does not fit"
        return f"flash {verdict} (margin {flash_margin:+,} B); RAM not measured"
    ram_margin = board[2] - ram
    verdict = "fits" if min(flash_margin, ram_margin) >= 0 else "does not fit"
    return f"{verdict} (margin flash {flash_margin:+,} B, RAM {ram_margin:+,} B)"


def compare(data, inputs, label_ids=None):
    """TFLM beside each of COMPARED on `inputs`: {kernels: equal labels, score diff, accuracy}."""
    outputs = {k: Model(data, kernels=k).run_all(inputs) for k in ("tflm", *COMPARED)}
    labels = {k: np.argmax(v, axis=1) for k, v in outputs.items()}
    return {
        k: {
            "equal_labels": float(np.mean(labels[k] == labels["tflm"])),
            "max_score_difference": float(np.max(np.abs(outputs[k] - outputs["tflm"]))),
            "accuracy": None if label_ids is None else float(np.mean(labels[k] == label_ids)),
        }
        for k in outputs
    }


def lines(model_path, fp, rows=None, what=""):
    """The check's report as text lines."""
    out = [f"Microcontroller check of {model_path} (TFLM: tflite-micro {fp['tflm']})", "ops:"]
    for name, (count, covered) in fp["ops"].items():
        out.append(f"  {name:<22} x{count:<3} {'TFLM kernel' if covered else 'NO TFLM KERNEL'}")
    out.append(f"flash: {fp['flash_bytes']:,} B (the .tflite; TFLM's own code not counted)")
    if fp["arena_bytes"] is None:
        out.append("arena: - (TFLM cannot run the model)")
    else:
        loads = "loads" if fp["arena_checked"] else "DOES NOT load"
        out.append(
            f"arena: {fp['arena_bytes']:,} B (TFLM's recording allocator, 64-bit host; "
            f"the model {loads} in exactly that arena)"
        )
    out += [f"  {b[0]:<24} {fit(fp['flash_bytes'], fp['arena_bytes'], b)}" for b in BOARDS]
    if not rows:
        return out
    step = fp["output_step"]
    scale = f" (score step of the int8 output: {step:.4f})" if step else ""
    out.append(f"TFLM against LiteRT on {what}{scale}:")
    row = "  {:<12}{:>14}{:>23}{:>17}{:>15}".format
    pct = lambda v: "-" if v is None else f"{100 * v:.2f} %"
    tflm = pct(rows["tflm"]["accuracy"])
    head = ("LiteRT kernels", "equal labels", "max score diff", "accuracy LiteRT", "accuracy TFLM")
    out.append(row(*head))
    for k in COMPARED:
        r = rows[k]
        diff = f"{r['max_score_difference']:.4f}"
        if step:
            steps = round(r["max_score_difference"] / step)
            diff += f" ({steps} step{'' if steps == 1 else 's'})"
        out.append(row(k, pct(r["equal_labels"]), diff, pct(r["accuracy"]), tflm))
    return out


def run(argv=None):
    p = cli.Parser(prog="python -m tools.mcu", description=__doc__.split("\n\n")[0])
    p.add_argument("model", help=".tflite or .tflite.zip")
    p.add_argument("--data", help="folder of <label>/<file>.wav (with --split)")
    p.add_argument("--split", help="split file of the wavs to compare the interpreters on")
    args = p.parse_args(argv)
    if bool(args.data) != bool(args.split):
        raise cli.UsageError("python -m tools.mcu: --data and --split go together")
    described = modelfile.open_model(args.model, kind="kws" if args.data else "any")
    data, shape = described.data, Model(described.data, name=args.model).input_shape[1:]
    tflm.package()  # installed, before any long work
    if args.data:
        inputs, label_ids, what = split_inputs(described, args.data, args.split)
    else:
        inputs = np.random.RandomState(0).normal(0, 4, (RANDOM_INPUTS, *shape)).astype(np.float32)
        label_ids, what = None, f"{RANDOM_INPUTS} random inputs (no --data)"
    fp = footprint(data)
    rows = compare(data, inputs, label_ids) if fp["arena_bytes"] is not None else None
    print("\n".join(lines(args.model, fp, rows, what)))
    return 0 if rows else 2


if __name__ == "__main__":
    sys.exit(cli.exit_status(run))
