"""Exercise 1 across seasons: each version trained on each Jena CSV with several seeds, scored on
its own test split and on every window of the other CSVs, beside persistence; a markdown table.

    python -m tools.seasons --seeds 0,1,2        # ../shared/data's two real files, see --help
"""

import argparse
import os
import sys
import time

import numpy as np

from common import cli, forecast, jena, outputs, pipeline, runtime
from common.constraints import of_exercise
from common.litert import Model

from . import declared
from .bench import ROOT, SHARED

SEASONS = ("jena_mpi_roof_2024_jun_sep.csv", "jena_climate_2009_sample.csv")  # in ../shared/data


def cell(mae, base):
    """MAE T / RH and, in brackets, their ratios to persistence's."""
    return f"{mae[0]:.3f} / {mae[1]:.3f} ({mae[0] / base[0]:.2f}, {mae[1] / base[1]:.2f})"


def row(version, csv, results, norm, others):
    """The table row of a version trained on `csv` (a Result per seed), scored on `others` too."""
    test = [[r.metrics.mae_t, r.metrics.mae_rh] for r in results]
    base = [results[0].details["baseline"]["persistence"][k] for k in ("mae_t", "mae_rh")]
    models = [Model(r.files[f"{r.name}.tflite"]) for r in results]
    cross = []
    for other, windows in others.items():
        mae = [forecast.forecast_mae(m, norm(windows.inputs), windows.labels) for m in models]
        mean = cell(np.mean(mae, axis=0), forecast.persistence_mae(windows))
        worst = "highest over seeds {:.3f} / {:.3f}".format(*np.max(mae, axis=0))
        cross.append(f"{os.path.basename(other)}: {mean}, {worst}")
    sizes = [r.sizes["zip_bytes"] for r in results]
    return (
        f"| {version} | {os.path.basename(csv)} | {cell(test[0], base)} "
        f"| {cell(np.mean(test, axis=0), base)} | {cell(np.max(test, axis=0), base)} "
        f"| {'; '.join(cross)} | {min(sizes):,}-{max(sizes):,} |"
    )


def run(argv=None):
    p = cli.Parser(prog="python -m tools.seasons", description=__doc__.split("\n\n")[0])
    csvs = [os.path.join(SHARED, name) for name in SEASONS]
    what = "Jena CSVs, each a season (default: ../shared/data's two real files)"
    p.add_argument("--csv", nargs="+", default=csvs, help=what)
    p.add_argument("--seeds", type=cli.seeds, default="0,1,2", help="seeds (default: 0,1,2)")
    out = os.path.join(ROOT, "docs", "results", "SEASONS.md")
    p.add_argument("--out", default=out, help="the table (default: docs/results/SEASONS.md)")
    args = p.parse_args(argv)
    # every file read and checked before the first training
    loaded = {csv: forecast.load(None, argparse.Namespace(data=csv)) for csv in args.csv}
    every = {csv: jena.make_windows(data.series) for csv, data in loaded.items()}
    runtime.tensorflow()
    started, rows = time.perf_counter(), []
    for e in of_exercise("ex1"):
        spec = declared.DECLARED[e.version]
        for csv in args.csv:
            with runtime.quiet_native_stderr():
                results = [pipeline.build(spec, loaded[csv], None, seed) for seed in args.seeds]
            others = {o: every[o] for o in args.csv if o != csv}
            rows.append(row(e.version, csv, results, loaded[csv].norm, others))
    minutes = (time.perf_counter() - started) / 60
    command = " ".join(["python -m tools.seasons", *(sys.argv[1:] if argv is None else argv)])
    text = "\n".join(
        [
            "# Exercise 1 across seasons",
            "",
            f"Command: `{command}`  ",
            f"Seeds {args.seeds}; {runtime.host()}; ran in {minutes:.1f} min.",
            "",
            "MAE T (°C) / RH (%) of the written .tflite, and in brackets its ratio to persistence "
            "on the same windows. Test: the last 10 % of the file it was trained on. Other files: "
            "every window, with the training file's normalization (another season).",
            "",
            f"| version | trained on | test, seed {args.seeds[0]} | test, mean over seeds "
            "| test, highest over seeds | every window of the other files: mean over seeds "
            "| .tflite.zip B |",
            "|---|---|---|---|---|---|---|",
            *rows,
            "",
        ]
    )
    outputs.write_file(args.out, text.encode())
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(cli.exit_status(run))
