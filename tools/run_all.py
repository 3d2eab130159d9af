"""Run the five scripts one after the other, each in its own process, once every data path and
output folder is checked; sum up their verdicts and write a results page (<out-dir>/RESULTS.md),
the scripts that did not finish marked (a page given with --results is then left as it was).
Exit status: 1 if a script failed or could not be started, else 2 if a limit was missed, else 0.
Run it from the repository folder.

    python -m tools.run_all --shared ../shared/data   # the real data of this project's machines
    python -m tools.run_all                           # ./data, downloaded when absent
"""

import datetime
import json
import os
import platform
import subprocess
import sys
import time

from common import cli, constraints, outputs, runtime
from common.constraints import TABLE
from common.errors import DataError, no_such
from common.result import Result, exercise

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SHARED_JENA = "jena_mpi_roof_2024_jun_sep.csv"  # the larger real export (16,346 rows, summer)
RETRY_PAUSE_S = 10  # before the second try of a script that could not be started
LIBRARIES = ("tensorflow", "tf_keras", "tensorflow-model-optimization", "ai-edge-litert", "numpy")


def offline_hint():
    from common.download import local_copies

    here = local_copies(".")
    return (
        "without internet, pass a copy of the data with --shared DIR (a folder laid out as "
        "../shared/data)" + (f"; on this machine: --shared {here[0]}" if here else "")
    )


def check_data(args):
    """The scripts' data flags, {exercise: [flags]}, checked (or downloaded into ./data)."""
    from common import jena, kws, kws_data

    shared = args.shared
    if shared is not None and not os.path.isdir(shared):
        what = no_such(shared, "folder") if not os.path.exists(shared) else "not a folder"
        raise DataError(
            f"{shared}: --shared: {what}; expected a folder laid out as ../shared/data "
            f"({SHARED_JENA}, mini_speech_commands/, mini_speech_commands_split/)"
        )
    csv = args.jena
    if shared and not csv:
        csv = os.path.join(shared, SHARED_JENA)
        if not os.path.isfile(csv):
            raise DataError(
                f"{csv}: no such file in the --shared folder; expected {SHARED_JENA} there, or a "
                "Jena CSV given with --jena FILE"
            )
    csv = jena.resolve_csv(csv, offline_hint())
    if shared:
        kws_dir = kws_data.resolve_data_dir(os.path.join(shared, "mini_speech_commands"))
        split_dir = os.path.join(shared, "mini_speech_commands_split")
    else:
        kws_dir, split_dir = kws_data.resolve_data_dir(None, offline_hint()), kws.COURSE_SPLIT_DIR
    kws_data.read_splits(split_dir, kws_dir, log=lambda _: None)  # every listed wav is there
    return {
        "ex1": ["--data", str(csv)],
        "ex2": ["--data", str(kws_dir), "--split-dir", str(split_dir)],
    }


def run_script(e, args, data):
    """One script in its own process (tried twice): (exit status or why, its Result, seconds)."""
    argv = ["--out-dir", args.out_dir, "--seed", str(args.seed)]
    argv += ["--quiet"] if args.quiet else []
    argv += ["--epochs", str(args.epochs)] if args.epochs else []
    command = [sys.executable, os.path.join(ROOT, e.script), *argv, *data[e.exercise]]
    started = time.perf_counter()
    for retry in (True, False):
        try:
            status = subprocess.call(command)
            break
        except OSError as err:
            status = f"could not be started ({err})"
            if retry:
                print(f"{e.script}: {status}; trying again in {RETRY_PAUSE_S} s", flush=True)
                time.sleep(RETRY_PAUSE_S)
    seconds = time.perf_counter() - started
    path = os.path.join(args.out_dir, f"{e.name}.json")
    if status not in (0, 2) or not os.path.isfile(path):
        return status, None, seconds
    with open(path) as f:
        return status, Result.from_json(json.load(f)), seconds


def library_versions():
    from importlib import metadata

    found = [f"Python {platform.python_version()}"]
    for name in LIBRARIES:
        try:
            found.append(f"{name} {metadata.version(name)}")
        except metadata.PackageNotFoundError:
            pass
    return ", ".join(found)


def parse_args(argv):
    p = cli.Parser(prog="python -m tools.run_all", description=__doc__.split("\n\n")[0])
    data = (
        "a folder laid out as ../shared/data (default: ./data, the official data downloaded there)"
    )
    p.add_argument("--shared", help=data)
    p.add_argument("--jena", help=f"exercise 1's Jena CSV (default with --shared: {SHARED_JENA})")
    p.add_argument("--out-dir", default="models", help="the scripts' output (default: models)")
    p.add_argument("--results", help="the results page (default: <out-dir>/RESULTS.md)")
    incomplete = "write an existing --results page even when a script did not finish"
    p.add_argument("--write-incomplete", action="store_true", help=incomplete)
    p.add_argument("--seed", type=cli.seed, default=0, help="every script's seed (default: 0)")
    epochs = "training epochs of every script (default: each version's own; 1 for a smoke run)"
    p.add_argument("--epochs", type=cli.positive_int, help=epochs)
    p.add_argument("--quiet", action="store_true", help="no Keras progress bars")
    args = p.parse_args(argv)
    args.keep = bool(args.results) and not args.write_incomplete  # a page of the repository
    args.results = args.results or os.path.join(args.out_dir, "RESULTS.md")
    return args


def run(argv=None):
    args = parse_args(argv)
    outputs.check_out_dir(args.out_dir)
    outputs.check_out_dir(os.path.dirname(os.path.abspath(args.results)), "--results' folder")
    data = check_data(args)
    lines, rows, failed, statuses, started = [], [], [], [], time.perf_counter()
    for k, e in enumerate(TABLE, 1):
        print(f"[{k}/{len(TABLE)}] {e.script} ...", flush=True)
        status, result, seconds = run_script(e, args, data)
        if result is None:
            size = figures = "-"
            why = status if isinstance(status, str) else f"exit status {status}, see above"
            failed.append(f"{e.script}: {why}")
            verdict = f"ERROR: {why}"
        else:
            statuses.append(status)
            size, figures = f"{result.sizes['zip_bytes']:,} B", exercise(e.version).figures(result)
            verdict = result.verdict.headline()
        lines.append(f"{e.script:<9} {size:>9}  {figures}  [{seconds:.0f} s]\n          {verdict}")
        rows.append(f"| {e.script} | {size} | {figures} | {verdict} | {seconds:.0f} s |")
    total = time.perf_counter() - started
    print("\nSummary (limits: common/constraints.py):", *lines, f"total {total:.0f} s", sep="\n")
    kept = failed and args.keep and os.path.exists(args.results)
    if failed:
        page = "not written (--write-incomplete writes it)" if kept else "marks them"
        print(f"error: {'; '.join(failed)}; {args.results} {page}", file=sys.stderr)
    if kept:
        return constraints.EXIT_ERROR
    command = " ".join(["python -m tools.run_all", *(sys.argv[1:] if argv is None else argv)])
    page = [
        "# Results of a run of the five scripts",
        "",
        "Generated by `tools/run_all.py`; do not edit by hand.",
        "",
        f"- Command: `{command}`",
        f"- Date: {datetime.datetime.now(datetime.UTC):%Y-%m-%d %H:%M} UTC",
        f"- Machine: {runtime.host()}",
        f"- Libraries: {library_versions()}",
        f"- Run time: {total:.0f} s for the five scripts"
        + (f" ({len(failed)} did not finish: marked ERROR)" if failed else ""),
        "",
        "| script | .tflite.zip | quality on this run's data | verdict | time |",
        "|---|---|---|---|---|",
        *rows,
        "",
        "Each model's picture (training curves, forecasts or confusion matrix) is "
        f"`{args.out_dir}/<name>.png`; its JSON holds every figure above.",
        "",
    ]
    outputs.write_file(args.results, "\n".join(page).encode())
    print(f"wrote {args.results}")
    return constraints.EXIT_ERROR if failed else max(statuses)


if __name__ == "__main__":
    sys.exit(cli.exit_status(run))
