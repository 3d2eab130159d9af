"""The microcontroller check: a model in TensorFlow Lite for Microcontrollers' own interpreter
(TFLM, common/tflm.py; pip install -r requirements-mcu.txt), beside LiteRT's kernels.

    python -m tools.mcu models/kws_a.tflite --data DIR --split kws_split_test.txt

It lists the model's ops and whether TFLM has a kernel for each, measures the tensor arena the
model needs (TFLM's recording allocator, checked by loading it again in exactly that arena) and
the flash it takes (the .tflite's bytes), sets both beside two common boards, then compares TFLM
with LiteRT's reference kernels, its default kernels (XNNPACK delegate) and its optimized ones
without that delegate: the share of equal labels, the largest score difference and, on a
split's files, each accuracy. The front end and labels are those the model carries (read by
common.modelfile, as in kws_inference.py). Without --data: random inputs of the model's input shape.
Exit status 0: the model runs under TFLM; 2: it does not (an op TFLM has no kernel for).
"""

import sys

import common  # noqa: F401

import numpy as np

from common import cli, modelfile, tflm
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


def footprint(data):
    """What a board needs for the model bytes `data`: {'flash_bytes', 'ops' {name: [count,
    covered]}, 'arena_bytes' (None when TFLM cannot run it), 'arena_checked' (it loads in
    exactly that arena), 'output_step' (tflm.output_step), 'tflm' (the build)}."""
    covered = tflm.coverage(data)
    ops = {name: [count, covered[name]] for name, count in tflm.operators(data).items()}
    arena = checked = None
    if all(covered.values()):
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
        "tflm": tflm.version(),
    }


def fit(flash, ram, board):
    """How the model fits `board`: 'fits (margin flash X B, RAM Y B)' or what is short; RAM
    unknown (None) is said so."""
    _, board_flash, board_ram = board
    flash_margin = board_flash - flash
    if ram is None:
        return (
            f"flash {'fits' if flash_margin >= 0 else 'does not fit'} (margin {flash_margin:+,} B); "
            "RAM not measured"
        )
    ram_margin = board_ram - ram
    verdict = "fits" if min(flash_margin, ram_margin) >= 0 else "does not fit"
    return f"{verdict} (margin flash {flash_margin:+,} B, RAM {ram_margin:+,} B)"


def compare(data, inputs, label_ids=None):
    """TFLM beside each of COMPARED on `inputs` [N, ...] (features): {kernels: {'equal_labels',
    'max_score_difference', 'accuracy' (None without `label_ids`)}}, 'tflm' for TFLM's own."""
    outputs = {k: Model(data, kernels=k).run_all(inputs) for k in ("tflm", *COMPARED)}
    labels = {k: np.argmax(v, axis=1) for k, v in outputs.items()}
    rows = {}
    for k in ("tflm", *COMPARED):
        rows[k] = {
            "equal_labels": float(np.mean(labels[k] == labels["tflm"])),
            "max_score_difference": float(np.max(np.abs(outputs[k] - outputs["tflm"]))),
            "accuracy": None if label_ids is None else float(np.mean(labels[k] == label_ids)),
        }
    return rows


def split_inputs(described, data_dir, split):
    """(features [N, ...], label ids, what they are) of a split file's wavs through the numpy
    front end the model carries."""
    from common import kws_data

    cfg = described.frontend
    one = kws_data.read_split_file(
        split, kws_data.resolve_data_dir(data_dir), list(described.labels)
    )
    kws_data.load_waves({"split": one}, cfg.rate)
    frontend = NumpyFrontEnd(cfg)
    return (
        np.stack([frontend(w) for w in one.waves]),
        one.label_ids,
        f"{len(one.paths)} files of {split}",
    )


def random_inputs(data, n=RANDOM_INPUTS, seed=0):
    shape = Model(data).input_shape[1:]
    return np.random.RandomState(seed).normal(0, 4, size=(n, *shape)).astype(np.float32)


def lines(model_path, fp, rows=None, what=""):
    """The check's report as text lines."""
    out = [f"Microcontroller check of {model_path} (TFLM: tflite-micro {fp['tflm']})", "ops:"]
    for name, (count, covered) in fp["ops"].items():
        out.append(f"  {name:<22} x{count:<3} {'TFLM kernel' if covered else 'NO TFLM KERNEL'}")
    out.append(f"flash: {fp['flash_bytes']:,} B (the .tflite; TFLM's own code not counted)")
    if fp["arena_bytes"] is None:
        out.append("arena: - (TFLM cannot run the model)")
    else:
        out.append(
            f"arena: {fp['arena_bytes']:,} B (TFLM's recording allocator, 64-bit host; "
            f"the model {'loads' if fp['arena_checked'] else 'DOES NOT load'} in exactly that arena)"
        )
    for board in BOARDS:
        out.append(f"  {board[0]:<24} {fit(fp['flash_bytes'], fp['arena_bytes'], board)}")
    if rows:
        step = fp["output_step"]
        out.append(
            f"TFLM against LiteRT on {what}"
            + (f" (score step of the int8 output: {step:.4f}):" if step else ":")
        )
        out.append(
            f"  {'LiteRT kernels':<12}{'equal labels':>14}{'max score diff':>23}"
            f"{'accuracy LiteRT':>17}{'accuracy TFLM':>15}"
        )
        pct = lambda v: "-" if v is None else f"{100 * v:.2f} %"  # noqa: E731
        for k in COMPARED:
            r = rows[k]
            steps = round(r["max_score_difference"] / step) if step else None
            diff = f"{r['max_score_difference']:.4f}" + (
                "" if steps is None else f" ({steps} step{'' if steps == 1 else 's'})"
            )
            out.append(
                f"  {k:<12}{pct(r['equal_labels']):>14}{diff:>23}"
                f"{pct(r['accuracy']):>17}{pct(rows['tflm']['accuracy']):>15}"
            )
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
    data = described.data
    tflm.package()  # installed, before any long work
    if args.data:
        inputs, label_ids, what = split_inputs(described, args.data, args.split)
    else:
        inputs, label_ids, what = (
            random_inputs(data),
            None,
            f"{RANDOM_INPUTS} random inputs (no --data)",
        )
    fp = footprint(data)
    rows = compare(data, inputs, label_ids) if fp["arena_bytes"] is not None else None
    print("\n".join(lines(args.model, fp, rows, what)))
    return 0 if rows else 2


if __name__ == "__main__":
    sys.exit(cli.exit_status(run))
