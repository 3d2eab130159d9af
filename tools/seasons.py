"""Exercise 1 across seasons: each version trained on each real CSV, several seeds, scored on
its own test split and on every window of the other CSVs, beside persistence on the same
windows. Writes a markdown table (docs/results/SEASONS.md by default).

    python -m tools.seasons --csv ../shared/data/jena_mpi_roof_2024_jun_sep.csv \\
        ../shared/data/jena_climate_2009_sample.csv --seeds 0,1,2

Ratios are model MAE / persistence MAE on the same windows (below 1: the model is worth its
bytes). Each run is the version's script with default settings (`ex1_a.py --data CSV --seed S`).
"""

import json
import os
import sys
import time

import common  # noqa: F401

import numpy as np

from common import cli, forecast, jena, outputs, runtime
from common.litert import Model
from common.constraints import of_exercise

from . import declared

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SHARED = os.path.join(ROOT, "..", "shared", "data")


def cross_season(model_path, sidecar, csv):
    """(model MAE, persistence MAE) on every window of `csv`, with the model's normalization."""
    norm = jena.Normalization(
        np.float32(sidecar["normalization"]["mean"]), np.float32(sidecar["normalization"]["std"])
    )
    windows = jena.make_windows(jena.load_series(csv))
    return forecast.forecast_mae(
        Model(model_path), norm(windows.inputs), windows.labels
    ), forecast.persistence_mae(windows)


def cell(mae, base):
    return f"{mae[0]:.3f} / {mae[1]:.3f} ({mae[0] / base[0]:.2f}, {mae[1] / base[1]:.2f})"


def run(argv=None):
    p = cli.Parser(prog="python -m tools.seasons", description=__doc__.split("\n\n")[0])
    p.add_argument(
        "--csv",
        nargs="+",
        default=[
            os.path.join(SHARED, "jena_mpi_roof_2024_jun_sep.csv"),
            os.path.join(SHARED, "jena_climate_2009_sample.csv"),
        ],
        help="Jena CSVs, each a season: every version is trained on each and scored on "
        "every window of the others (default: ../shared/data's two real files)",
    )
    p.add_argument(
        "--seeds", type=cli.seeds, default="0,1,2", help="comma-separated seeds (default: 0,1,2)"
    )
    p.add_argument(
        "--work-dir",
        default=os.path.join(ROOT, "seasons_out"),
        help="where each run writes its models (default: seasons_out/)",
    )
    p.add_argument(
        "--out",
        default=os.path.join(ROOT, "docs", "results", "SEASONS.md"),
        help="the table (default: docs/results/SEASONS.md)",
    )
    args = p.parse_args(argv)
    seeds = args.seeds
    for csv in args.csv:  # every file checked before the first training
        jena.split_windows(jena.load_series(csv))
    started, rows = time.perf_counter(), []
    for e in of_exercise("ex1"):
        spec = declared.DECLARED[e.version]
        for csv in args.csv:
            runs = []
            for seed in seeds:
                out_dir = os.path.join(
                    args.work_dir, os.path.splitext(os.path.basename(csv))[0], str(seed)
                )
                status = forecast.main(
                    spec, ["--data", csv, "--seed", str(seed), "--out-dir", out_dir, "--quiet"]
                )
                if status not in (0, 2):
                    raise RuntimeError(
                        f"{e.script} on {csv} (seed {seed}) failed: exit status {status}"
                    )
                with open(os.path.join(out_dir, f"{e.name}.json")) as f:
                    sidecar = json.load(f)
                path = os.path.join(out_dir, f"{e.name}.tflite")
                runs.append(
                    (
                        sidecar,
                        {
                            other: cross_season(path, sidecar, other)
                            for other in args.csv
                            if other != csv
                        },
                    )
                )
            test = [[r["metrics"]["mae_t"], r["metrics"]["mae_rh"]] for r, _ in runs]
            base = [runs[0][0]["baseline"]["persistence"][k] for k in ("mae_t", "mae_rh")]
            line = (
                f"| {e.version} | {os.path.basename(csv)} | {cell(test[0], base)} "
                f"| {cell(np.mean(test, axis=0), base)} | {cell(np.max(test, axis=0), base)} | "
            )
            cross = []
            for other in runs[0][1]:
                mae = np.mean([c[other][0] for _, c in runs], axis=0)
                worst = np.max([c[other][0] for _, c in runs], axis=0)
                cross.append(
                    f"{os.path.basename(other)}: {cell(mae, runs[0][1][other][1])}, highest over seeds "
                    f"{worst[0]:.3f} / {worst[1]:.3f}"
                )
            sizes = [r["zip_bytes"] for r, _ in runs]
            rows.append(line + "; ".join(cross) + f" | {min(sizes):,}-{max(sizes):,} |")
    text = "\n".join(
        [
            "# Exercise 1 across seasons",
            "",
            f"Command: `python -m tools.seasons {' '.join(argv if argv is not None else sys.argv[1:])}`  ",
            f"Seeds {seeds}; {runtime.host()}; ran in {(time.perf_counter() - started) / 60:.1f} min.",
            "",
            "MAE T (°C) / RH (%) of the written .tflite, and in brackets its ratio to persistence on the "
            "same windows. Test: the last 10 % of the file it was trained on. Other files: every window, "
            "with the training file's normalization (another season).",
            "",
            "| version | trained on | test, seed "
            + str(seeds[0])
            + " | test, mean over seeds | test, highest over seeds "
            "| every window of the other files: mean over seeds | .tflite.zip B |",
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
