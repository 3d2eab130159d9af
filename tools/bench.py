"""Benchmark: naive baselines and the original report's recipe beside the project's five
versions, in one run on the same data, as a markdown table with ratios to the baseline and a
picture.

    python -m tools.bench --seeds 0,1,2        # the data of ../shared/data, see --help

Rows per version: exercise 1, persistence (no model: the last step repeated) and the original
report's recipe ("seed recipe"); exercise 2, the original report's recipe (DS-CNN 96-64-64, 20
epochs, post-training int8).
Quality is measured with the written `.tflite` on the test split (and, for ex2, the
validation split, on which the versions were selected), mean (min-max) over the seeds.
Latency: this host, LiteRT, one thread, the one latency loop of common/litert.py, measured
after all training in interleaved rounds; kws "total" = 1 s of random 48 kHz signal ->
resample -> front end -> invoke, as kws_inference.py measures it, and the course way
(TensorFlow front end) for the baselines.
"""

import json
import os
import sys
import time

import common  # noqa: F401

import numpy as np

from common import cli, forecast, kws, outputs, plots, runtime
from common.frontend_np import FrontEnd
from common.litert import measure_latency
from common.constraints import VERSIONS

from . import declared

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SHARED = os.path.join(ROOT, "..", "shared", "data")


def run_once(spec, args, seed):
    """One pipeline run, in this process, into the work folder; its JSON."""
    out_dir = os.path.join(args.work_dir, f"seed{seed}")
    base = ["--out-dir", out_dir, "--seed", str(seed), "--quiet"]
    if spec.version.startswith("ex1"):
        argv = (
            base
            + ["--data", args.jena]
            + (["--epochs", str(args.epochs_ex1)] if args.epochs_ex1 else [])
        )
        status = forecast.main(spec, argv)
    else:
        argv = base + [
            "--data",
            args.kws_data,
            "--split-dir",
            args.split_dir,
            "--latency-runs",
            str(args.runs),
        ]
        status = kws.main(
            spec, argv + (["--epochs", str(args.epochs_ex2)] if args.epochs_ex2 else [])
        )
    if status not in (0, 2):
        raise RuntimeError(f"{spec.name} (seed {seed}) failed with exit status {status}")
    with open(os.path.join(out_dir, f"{spec.name}.json")) as f:
        return json.load(f)


def build_row(spec, args, role):
    """Run one pipeline once per seed: the first seed's model gives the latency, sizes are
    the largest over the seeds, quality the mean (with min and max)."""
    runs = [run_once(spec, args, seed) for seed in args.seeds]
    row = dict(runs[0], role=role)
    row["metrics"] = {k: [r["metrics"][k] for r in runs] for k in runs[0]["metrics"]}
    row["zip_bytes_max"] = max(r["zip_bytes"] for r in runs)
    row["model_path"] = os.path.join(args.work_dir, f"seed{args.seeds[0]}", f"{spec.name}.tflite")
    return row


def persistence_row(project_row):
    """Persistence on the same test windows (no model, no bytes)."""
    base = project_row["baseline"]["persistence"]
    return {
        "role": "persistence",
        "architecture": "last step repeated",
        "params": 0,
        "sparsity": None,
        "tflite_bytes": None,
        "zip_bytes_max": None,
        "metrics": {"mae_t": [base["mae_t"]], "mae_rh": [base["mae_rh"]]},
    }


def course_total_latency(model, cfg, runs):
    """Total latency the course way: the latency loop with TensorFlow's front end."""
    import tensorflow as tf
    from common.speech import tf_frontend

    tf_features = lambda x: tf_frontend(tf.constant(x), cfg).numpy()  # noqa: E731
    return measure_latency(model, cfg, runs, frontend=tf_features)["total_ms"]


def measure_latencies(rows, runs, rounds=3):
    """Latency of every row's model, after all training, in `rounds` interleaved rounds (each
    model once a round); each figure is the median over the rounds of the p50 (p90)."""
    rows = [r for r in rows if r.get("model_path")]
    samples = {id(row): [] for row in rows}
    for _ in range(rounds):
        for row in rows:
            sample = {"invoke_ms": measure_latency(row["model_path"], runs=runs)["inference_ms"]}
            if "frontend" in row:
                cfg = FrontEnd.from_dict(row["frontend"])
                sample["total_ms"] = measure_latency(row["model_path"], cfg, runs)["total_ms"]
                sample["course_total_ms"] = course_total_latency(row["model_path"], cfg, runs)
            samples[id(row)].append(sample)
    for row in rows:
        for key in samples[id(row)][0]:
            row[key] = {
                q: float(np.median([s[key][q] for s in samples[id(row)]])) for q in ("p50", "p90")
            }


def ratio(value, base):
    return f"{value / base:.2f}" if value is not None and base else "-"


def spread(values, scale=1.0, digits=3):
    """'mean (min-max)' of a list, or the value alone for one value."""
    v = np.asarray(values, np.float64) * scale
    if len(v) == 1:
        return f"{v[0]:.{digits}f}"
    return f"{v.mean():.{digits}f} ({v.min():.{digits}f}-{v.max():.{digits}f})"


def quality(row, base):
    m, b = row["metrics"], base["metrics"]
    if "mae_t" in m:
        text = f"MAE T {spread(m['mae_t'])}, RH {spread(m['mae_rh'])}"
        if row is not base:
            text += (
                f"; ratio to persistence {np.mean(m['mae_t']) / np.mean(b['mae_t']):.2f} / "
                f"{np.mean(m['mae_rh']) / np.mean(b['mae_rh']):.2f}"
            )
        return text
    text = f"test {spread(m['accuracy'], 100, 2)} %, val {spread(m['val_accuracy'], 100, 2)} %"
    if row is not base:
        text += f"; diff {100 * (np.mean(m['accuracy']) - np.mean(b['accuracy'])):+.2f} pt"
    return text


def table(rows_by_version):
    """Markdown: one block of rows per version, baseline first, ratios to the baseline (ex1:
    sizes and latency to the seed recipe, quality to persistence)."""
    lines = [
        "| version | model | arch | params | sparsity | .tflite B | .tflite.zip B, max over "
        "seeds (ratio) | quality: mean (min-max) over seeds | invoke p50 / p90 ms (ratio) "
        "| total p50 / p90 ms, numpy front end (ratio to TF-FE baseline) | total p50 ms, "
        "TF front end |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for version, block in rows_by_version.items():
        base = block[0]
        sized = next(r for r in block if r.get("zip_bytes_max"))
        for row in block:
            inv, total, course = (
                row.get("invoke_ms"),
                row.get("total_ms"),
                row.get("course_total_ms"),
            )
            tot = "-" if total is None else f"{total['p50']:.3f} / {total['p90']:.3f}"
            if total is not None and row is not sized and "course_total_ms" in sized:
                tot += f" ({ratio(total['p50'], sized['course_total_ms']['p50'])})"
            size = (
                "-"
                if row["zip_bytes_max"] is None
                else f"{row['zip_bytes_max']:,} ({ratio(row['zip_bytes_max'], sized['zip_bytes_max'])})"
            )
            invoke = (
                "-"
                if inv is None
                else f"{inv['p50']:.4f} / {inv['p90']:.4f} ({ratio(inv['p50'], sized['invoke_ms']['p50'])})"
            )
            tflite = "-" if row["tflite_bytes"] is None else f"{row['tflite_bytes']:,}"
            course = "-" if course is None else f"{course['p50']:.3f}"
            sparsity = "-" if row["sparsity"] is None else f"{row['sparsity']:.2f}"
            lines.append(
                f"| {version} | {row['role']} | {row['architecture']} | {row['params']:,} "
                f"| {sparsity} | {tflite} | {size} | {quality(row, base)} | {invoke} "
                f"| {tot} | {course} |"
            )
    return "\n".join(lines)


def board_table(rows_by_version):
    """Markdown: flash (the .tflite) and tensor arena (TFLM) of each model beside the boards of
    tools.mcu; without tflite-micro installed, flash only, and the table says so."""
    from common import tflm
    from . import mcu
    from common.tflite_io import read_model_bytes

    try:
        tflm.package()
        missing = None
    except ValueError as e:
        missing = str(e)
    lines = [
        "| version | model | flash B (.tflite) | arena B (TFLM) | "
        + " | ".join(name for name, _, _ in mcu.BOARDS)
        + " |",
        "|---|---|---|---|" + "---|" * len(mcu.BOARDS),
    ]
    for version, block in rows_by_version.items():
        for row in block:
            if not row.get("model_path"):
                continue
            data = read_model_bytes(row["model_path"])
            fp = None if missing else mcu.footprint(data)
            arena = None if fp is None else fp["arena_bytes"]
            shown_arena = (
                f"{arena:,}"
                if arena is not None
                else "not measured"
                if fp is None
                else "no TFLM kernel for "
                + ", ".join(op for op, (_, ok) in fp["ops"].items() if not ok)
            )
            lines.append(
                f"| {version} | {row['role']} | {len(data):,} | {shown_arena} | "
                + " | ".join(mcu.fit(len(data), arena, board) for board in mcu.BOARDS)
                + " |"
            )
    if missing:
        lines += ["", f"Arena not measured: {missing}."]
    return "\n".join(lines)


def picture(rows_by_version):
    points = []
    for version, block in rows_by_version.items():
        for row in block:
            m = row["metrics"]
            mean = lambda k, m=m: float(np.mean(m[k])) if k in m else None
            points.append(
                {
                    "version": version,
                    "label": row["role"],
                    "zip_bytes": row["zip_bytes_max"],
                    "mae_t": mean("mae_t"),
                    "mae_rh": mean("mae_rh"),
                    "accuracy": mean("accuracy"),
                }
            )
    limits = {v: VERSIONS[v].limits for v in rows_by_version}
    return plots.bench_png(
        points,
        limits,
        title="Size against quality on the test split of each "
        "run's data, mean over seeds (limits dashed: defined on the official data)",
    )


def shown(path):
    """A path as the README would write it: relative to the repository root."""
    return os.path.relpath(os.path.abspath(path), ROOT)


def main(argv=None):
    p = cli.Parser(
        prog="python -m tools.bench", description="baselines vs project versions, side by side"
    )
    p.add_argument(
        "--jena",
        default=os.path.join(SHARED, "jena_mpi_roof_2024_jun_sep.csv"),
        help="the Jena CSV of exercise 1 (default: ../shared/data's summer 2024 export)",
    )
    p.add_argument(
        "--kws-data",
        default=os.path.join(SHARED, "mini_speech_commands"),
        help="exercise 2's folder of <label>/<file>.wav (default: ../shared/data's)",
    )
    p.add_argument(
        "--split-dir",
        default=os.path.join(SHARED, "mini_speech_commands_split"),
        help="exercise 2's split files (default: ../shared/data's speaker-disjoint split)",
    )
    p.add_argument(
        "--versions",
        default=",".join(VERSIONS),
        help=f"comma-separated versions to benchmark (default: all, {','.join(VERSIONS)})",
    )
    p.add_argument(
        "--out",
        default=os.path.join(ROOT, "docs", "results", "BENCHMARK.md"),
        help="the table (default: docs/results/BENCHMARK.md; the picture goes beside it, .png)",
    )
    p.add_argument(
        "--work-dir",
        default=os.path.join(ROOT, "bench_out"),
        help="where each run writes its models (default: bench_out/)",
    )
    p.add_argument(
        "--epochs-ex1",
        type=cli.positive_int,
        help="training epochs of every ex1 model (default: each one's own; 1 for a smoke run)",
    )
    p.add_argument(
        "--epochs-ex2",
        type=cli.positive_int,
        help="training epochs of every ex2 model (default: each one's own; 1 for a smoke run)",
    )
    p.add_argument(
        "--runs", type=cli.positive_int, default=200, help="latency runs per model (default: 200)"
    )
    p.add_argument(
        "--seeds",
        type=cli.seeds,
        default="0,1,2",
        help="comma-separated seeds to train each model with (default: 0,1,2)",
    )
    args = p.parse_args(argv)
    versions = args.versions.split(",")
    unknown = [v for v in versions if v not in VERSIONS]
    if unknown:
        raise cli.UsageError(
            f"python -m tools.bench: --versions {unknown[0]!r}: expected some of "
            f"{','.join(VERSIONS)}"
        )

    started = time.perf_counter()
    runtime.tensorflow()  # quietly, before the model builders import it
    baselines, ours = declared.seed_recipes(), declared.DECLARED
    rows, built = {}, {}  # built: one run per model, e.g. the 16 kHz baseline of ex2 a and b

    def row_of(spec, role):
        if spec.name not in built:
            built[spec.name] = build_row(spec, args, role)
        return built[spec.name]

    for version in versions:
        block = [row_of(baselines[version], "seed recipe"), row_of(ours[version], "this project")]
        if version.startswith("ex1"):
            block.insert(0, persistence_row(block[-1]))
        rows[version] = block
    measure_latencies(list(built.values()), args.runs)
    minutes = (time.perf_counter() - started) / 60
    png = os.path.splitext(args.out)[0] + ".png"
    text = "\n".join(
        [
            "# Benchmark: baselines vs this project",
            "",
            f"Command: `python -m tools.bench {' '.join(argv if argv is not None else sys.argv[1:])}`  ",
            f"Data: Jena `{shown(args.jena)}`; keyword spotting `{shown(args.kws_data)}` with the "
            f"splits of `{shown(args.split_dir)}`. Seeds {args.seeds}. Host: {os.cpu_count()} cores, LiteRT "
            f"1 thread, {args.runs} runs per latency. Ran in {minutes:.1f} min.",
            "",
            __doc__.split("\n\n")[2].replace("\n", " "),
            "",
            "Ratios: sizes and latency to the first row with a model (the seed recipe); ex1 quality "
            "also as a ratio to persistence on the same test windows.",
            "",
            table(rows),
            "",
            "Microcontroller: the flash the model takes and the tensor arena TensorFlow Lite for "
            "Microcontrollers needs for it (`python -m tools.mcu`, seed "
            f"{args.seeds[0]}'s model), beside two common boards; TFLM's own code and the audio "
            "buffers are not counted (docs/microcontroller.md).",
            "",
            board_table(rows),
            "",
            f"![size against quality]({os.path.basename(png)})",
            "",
        ]
    )
    outputs.write_set(
        os.path.dirname(os.path.abspath(args.out)),
        {os.path.basename(args.out): text.encode(), os.path.basename(png): picture(rows)},
    )
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(cli.exit_status(main))
