"""Benchmark: naive baselines and the original report's recipes beside the five versions, trained
in one run on the same data and seeds; a markdown page of tables.

    python -m tools.bench --seeds 0,1,2        # the data of ../shared/data, see --help
"""

import dataclasses
import os
import sys
import time

import numpy as np

from common import cli, forecast, outputs, pipeline, runtime
from common.constraints import VERSIONS
from common.litert import measure_latency
from common.result import exercise

from . import declared

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SHARED = os.path.join(ROOT, "..", "shared", "data")
METHOD = (
    "Rows per version: exercise 1, persistence (no model: the last step repeated) and the "
    'original report\'s recipe (the rows "original report"); exercise 2, the same '
    "(DS-CNN 96-64-64, 20 epochs, post-training int8). Quality is measured with the written "
    "`.tflite` on the test split (and, for ex2, the validation split, on which the versions "
    "were selected), mean (min-max) over the seeds. Latency: this host, LiteRT, one thread, the "
    "one latency loop of common/litert.py, measured after all training in interleaved rounds; "
    'kws "total" = 1 s of random 48 kHz signal -> resample -> front end -> invoke, as '
    "kws_inference.py measures it, and the course way (TensorFlow front end) for the baselines."
)


@dataclasses.dataclass
class Row:
    """One model (or persistence) over the seeds; `model`: the first seed's, for the latency."""

    role: str
    architecture: str
    params: int = 0
    sparsity: float | None = None
    tflite_bytes: int | None = None
    zip_bytes_max: int | None = None
    metrics: dict = dataclasses.field(default_factory=dict)  # name -> [value per seed]
    model: bytes | None = None
    frontend: object = None
    latency: dict = dataclasses.field(default_factory=dict)  # name -> {"p50", "p90"}


def build_row(spec, args, data, role):
    """One model, trained once per seed in this process (no file written)."""
    epochs = args.epochs_ex1 if spec.entry.exercise == "ex1" else args.epochs_ex2
    with runtime.quiet_native_stderr():
        runs = [pipeline.build(spec, data, args, seed, epochs) for seed in args.seeds]
    first = runs[0]
    return Row(
        role,
        first.architecture,
        first.params,
        first.sparsity,
        first.sizes["tflite_bytes"],
        max(r.sizes["zip_bytes"] for r in runs),
        {k: [getattr(r.metrics, k) for r in runs] for k in vars(first.metrics)},
        first.files[f"{first.name}.tflite"],
        getattr(spec, "frontend", None),
    )


def course_total_ms(model, cfg, runs):
    """Total latency the course way: with TensorFlow's front end."""
    import tensorflow as tf
    from common.speech import tf_frontend

    tf_features = lambda x: tf_frontend(tf.constant(x), cfg).numpy()
    return measure_latency(model, cfg, runs, frontend=tf_features)["total_ms"]


def measure_latencies(rows, runs, rounds=3):
    """The models' latencies after all training: medians over `rounds` interleaved rounds."""
    samples = {id(row): [] for row in rows}
    for _ in range(rounds):
        for row in rows:
            sample = {"invoke_ms": measure_latency(row.model, runs=runs)["inference_ms"]}
            if row.frontend is not None:
                sample["total_ms"] = measure_latency(row.model, row.frontend, runs)["total_ms"]
                sample["course_total_ms"] = course_total_ms(row.model, row.frontend, runs)
            samples[id(row)].append(sample)
    for row in rows:
        for key in samples[id(row)][0]:
            row.latency[key] = {
                q: float(np.median([s[key][q] for s in samples[id(row)]])) for q in ("p50", "p90")
            }


def ratio(value, base):
    return f"{value / base:.2f}" if value is not None and base else "-"


def dash(value, spec):
    return "-" if value is None else format(value, spec)


def spread(values, scale=1.0, digits=3):
    """'mean (min-max)' of a list, or the value alone for one value."""
    v = np.asarray(values, np.float64) * scale
    if len(v) == 1:
        return f"{v[0]:.{digits}f}"
    return f"{v.mean():.{digits}f} ({v.min():.{digits}f}-{v.max():.{digits}f})"


def quality(row, base):
    m, b = row.metrics, base.metrics
    if "mae_t" in m:
        text = f"MAE T {spread(m['mae_t'])}, RH {spread(m['mae_rh'])}"
        if row is not base:
            t, rh = (np.mean(m[k]) / np.mean(b[k]) for k in ("mae_t", "mae_rh"))
            text += f"; ratio to persistence {t:.2f} / {rh:.2f}"
        return text
    text = f"test {spread(m['accuracy'], 100, 2)} %, val {spread(m['val_accuracy'], 100, 2)} %"
    if row is not base:
        text += f"; diff {100 * (np.mean(m['accuracy']) - np.mean(b['accuracy'])):+.2f} pt"
    return text


def latency(row, key, digits, base=None):
    """'p50 / p90' of one latency of the row, with the ratio of its p50 to `base`'s."""
    if key not in row.latency:
        return "-"
    q = row.latency[key]
    text = f"{q['p50']:.{digits}f} / {q['p90']:.{digits}f}"
    return text if base is None else f"{text} ({ratio(q['p50'], base['p50'])})"


def table(rows_by_version):
    """Markdown: a block of rows per version, with ratios to its first row with a model."""
    lines = [
        "| version | model | arch | params | sparsity | .tflite B | .tflite.zip B, max over "
        "seeds (ratio) | quality: mean (min-max) over seeds | invoke p50 / p90 ms (ratio) "
        "| total p50 / p90 ms, numpy front end (ratio to TF-FE baseline) | total p50 ms, "
        "TF front end |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for version, block in rows_by_version.items():
        sized = next(r for r in block if r.zip_bytes_max)
        for row in block:
            z = row.zip_bytes_max
            size = "-" if z is None else f"{z:,} ({ratio(z, sized.zip_bytes_max)})"
            invoke = latency(row, "invoke_ms", 4, sized.latency.get("invoke_ms"))
            course = None if row is sized else sized.latency.get("course_total_ms")
            total = latency(row, "total_ms", 3, course)
            course_p50 = dash(row.latency.get("course_total_ms", {}).get("p50"), ".3f")
            lines.append(
                f"| {version} | {row.role} | {row.architecture} | {row.params:,} "
                f"| {dash(row.sparsity, '.2f')} | {dash(row.tflite_bytes, ',')} | {size} "
                f"| {quality(row, block[0])} | {invoke} | {total} | {course_p50} |"
            )
    return "\n".join(lines)


def shown(path):
    """`path` relative to the repository root, as the README writes it."""
    return os.path.relpath(path, ROOT)


def parse_args(argv):
    p = cli.Parser(prog="python -m tools.bench", description=__doc__.split("\n\n")[0])
    for flag, name, what in (
        ("--jena", "jena_mpi_roof_2024_jun_sep.csv", "the Jena CSV of exercise 1"),
        ("--kws-data", "mini_speech_commands", "exercise 2's folder of <label>/<file>.wav"),
        ("--split-dir", "mini_speech_commands_split", "exercise 2's split files"),
    ):
        default = os.path.join(SHARED, name)
        p.add_argument(flag, default=default, help=f"{what} (default: ../shared/data/{name})")
    p.add_argument("--versions", default=",".join(VERSIONS), help="e.g. ex1_b,ex2_c (default: all)")
    page = "the page (default: docs/results/BENCHMARK.md)"
    out = os.path.join(ROOT, "docs", "results", "BENCHMARK.md")
    p.add_argument("--out", default=out, help=page)
    for ex in ("ex1", "ex2"):
        what = f"training epochs of every {ex} model (default: each one's own; 1 for a smoke run)"
        p.add_argument(f"--epochs-{ex}", type=cli.positive_int, help=what)
    p.add_argument("--runs", type=cli.positive_int, default=200, help="latency runs (default: 200)")
    p.add_argument("--seeds", type=cli.seeds, default="0,1,2", help="seeds (default: 0,1,2)")
    args = p.parse_args(argv)
    args.versions = args.versions.split(",")
    unknown = [v for v in args.versions if v not in VERSIONS]
    if unknown:
        p.error(f"--versions {unknown[0]!r}: expected some of {','.join(VERSIONS)}")
    args.latency_runs = args.runs  # for the keyword spotters' own latency
    return args


def main(argv=None):
    args = parse_args(argv)
    started = time.perf_counter()
    runtime.tensorflow()  # quietly, before the model builders import it
    baselines, loaded, built = declared.seed_recipes(), {}, {}

    def data_of(spec):  # loaded (and checked) once an exercise and a sample rate
        key = (spec.entry.exercise, getattr(getattr(spec, "frontend", None), "rate", None))
        if key not in loaded:
            args.data = args.jena if spec.entry.exercise == "ex1" else args.kws_data
            loaded[key] = exercise(spec.version).load(spec, args)
        return loaded[key]

    def row_of(spec, role):  # built once a model: ex2 a and b share the 16 kHz recipe
        if spec.name not in built:
            built[spec.name] = build_row(spec, args, data_of(spec), role)
        return built[spec.name]

    rows = {}
    for version in args.versions:
        ours = declared.DECLARED[version]
        roles = [(baselines[version], "original report"), (ours, "this project")]
        rows[version] = [row_of(spec, role) for spec, role in roles]
        if ours.entry.exercise == "ex1":  # persistence on the same test windows
            mae = forecast.persistence_mae(data_of(ours).windows["test"])
            metrics = {"mae_t": [float(mae[0])], "mae_rh": [float(mae[1])]}
            rows[version].insert(0, Row("persistence", "last step repeated", metrics=metrics))
    measure_latencies(list(built.values()), args.runs)
    minutes = (time.perf_counter() - started) / 60
    command = " ".join(["python -m tools.bench", *(sys.argv[1:] if argv is None else argv)])
    text = "\n".join(
        [
            "# Benchmark: baselines vs this project",
            "",
            f"Command: `{command}`  ",
            f"Data: Jena `{shown(args.jena)}`; keyword spotting `{shown(args.kws_data)}` with the "
            f"splits of `{shown(args.split_dir)}`. Seeds {args.seeds}. Host: {os.cpu_count()} "
            f"cores, LiteRT 1 thread, {args.runs} runs per latency. Ran in {minutes:.1f} min.",
            "",
            METHOD,
            "",
            "Ratios: sizes and latency to the first row with a model (the original report's recipe); ex1 quality "
            "also as a ratio to persistence on the same test windows.",
            "",
            table(rows),
            "",
        ]
    )
    outputs.write_set(
        os.path.dirname(os.path.abspath(args.out)), {os.path.basename(args.out): text.encode()}
    )
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(cli.exit_status(main))
