"""Run the five scripts one after the other, summarize their verdicts, write a results page.

    python -m tools.run_all --shared ../shared/data   # the real data of this project's machines
    python -m tools.run_all                           # ./data, downloaded when absent

Before the first script, every data path is checked (with no --shared or --jena, the
official data are downloaded into ./data once, here) and so are the output folders: a bad
path is one error line, exit status 1, before any training. Each script then runs as its own
process, exactly as `python ex1_a.py ...` would. The results page records the machine, the
library versions, the date, the command and every figure of the run; it goes beside the
models (`<out-dir>/RESULTS.md`, not tracked by git) unless --results says where: the
committed docs/results/RESULTS.md, which the README quotes, is written by
`python -m tools.run_all --shared ../shared/data --results docs/results/RESULTS.md`. A run in which a
script failed with an error writes no results page (the previous one stays as it was).
Exit status: 1 if a script failed with an error, else 2 if a limit was missed, else 0.
"""

import datetime
import json
import os
import platform
import subprocess
import sys
import time

from common import cli, constraints, outputs, runtime
from common.errors import DataError
from common.constraints import TABLE

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SHARED_JENA = "jena_mpi_roof_2024_jun_sep.csv"  # the larger real export (16,346 rows, summer)


def offline_hint():
    from common.download import local_copies

    here = local_copies(".")
    return (
        "without internet, pass a copy of the data with --shared DIR (a folder laid out as "
        "../shared/data)" + (f"; on this machine: --shared {here[0]}" if here else "")
    )


def check_data(args):
    """The data paths of the five scripts, checked (and the official data downloaded into
    ./data when no copy is given) before the first script: {exercise: script options}."""
    from common import jena, kws, kws_data

    shared = args.shared
    if shared is not None and not os.path.isdir(shared):
        what = "no such folder" if not os.path.exists(shared) else "not a folder"
        raise DataError(
            f"{shared}: --shared: {what}; expected a folder laid out as ../shared/data "
            f"({SHARED_JENA}, mini_speech_commands/, mini_speech_commands_split/)"
        )
    jena_csv = args.jena or (os.path.join(shared, SHARED_JENA) if shared else None)
    if shared and not args.jena and not os.path.isfile(jena_csv):
        raise DataError(
            f"{jena_csv}: no such file in the --shared folder; expected {SHARED_JENA} "
            "there, or a Jena CSV given with --jena FILE"
        )
    jena_csv = jena.resolve_csv(jena_csv, offline_hint())
    if shared:
        kws_dir = kws_data.resolve_data_dir(os.path.join(shared, "mini_speech_commands"))
        split_dir = os.path.join(shared, "mini_speech_commands_split")
    else:
        kws_dir, split_dir = kws_data.resolve_data_dir(None, offline_hint()), kws.COURSE_SPLIT_DIR
    kws_data.read_splits(split_dir, kws_dir, log=lambda _: None)  # every listed wav is there
    return {
        "ex1": ["--data", str(jena_csv)],
        "ex2": ["--data", str(kws_dir), "--split-dir", str(split_dir)],
    }


def script_args(e, args, data):
    """Options of one script: the run's own, then the checked data paths."""
    extra = ["--out-dir", args.out_dir, "--seed", str(args.seed)] + (
        ["--quiet"] if args.quiet else []
    )
    if args.epochs:
        extra += ["--epochs", str(args.epochs)]
    return extra + data[e.exercise]


def library_versions():
    from importlib import metadata

    found = []
    for package in (
        "tensorflow",
        "tf_keras",
        "tensorflow-model-optimization",
        "ai-edge-litert",
        "numpy",
    ):
        try:
            found.append(f"{package} {metadata.version(package)}")
        except metadata.PackageNotFoundError:
            pass
    return f"Python {platform.python_version()}, " + ", ".join(found)


def figures(summary):
    """The run's figures in the verdict table's units."""
    m = summary.get("metrics", {})
    if "mae_t" in m:
        base = summary.get("baseline", {}).get("persistence", {})
        text = f"MAE T {constraints.fmt('mae_t', m['mae_t'])}, RH {constraints.fmt('mae_rh', m['mae_rh'])}"
        if base:
            text += (
                f" (persistence {constraints.fmt('mae_t', base['mae_t'])}, "
                f"{constraints.fmt('mae_rh', base['mae_rh'])})"
            )
        return text
    if "accuracy" in m:
        text = f"test {constraints.fmt('accuracy', m['accuracy'])}, val {constraints.fmt('accuracy', m['val_accuracy'])}"
        if m.get("accuracy_unseen_speakers") is not None:
            text += (
                f", unseen speakers {constraints.fmt('accuracy', m['accuracy_unseen_speakers'])}"
            )
        return text
    return "-"


def parse_args(argv):
    p = cli.Parser(
        prog="python -m tools.run_all", description="all five versions, one after the other"
    )
    p.add_argument(
        "--shared",
        help="a folder laid out as ../shared/data (Jena CSVs, "
        "mini_speech_commands/, mini_speech_commands_split/); "
        "default: ./data, the official data downloaded there",
    )
    p.add_argument(
        "--jena", help=f"the Jena CSV for exercise 1 (default with --shared: {SHARED_JENA})"
    )
    p.add_argument(
        "--out-dir",
        default="models",
        help="where every script writes its output set (default: models)",
    )
    p.add_argument(
        "--results",
        help="the results page (default: <out-dir>/RESULTS.md; "
        "docs/results/RESULTS.md for the committed one)",
    )
    p.add_argument(
        "--seed", type=cli.seed, default=0, help="random seed of every script (default: 0)"
    )
    p.add_argument(
        "--epochs",
        type=cli.positive_int,
        help="training epochs of every script (default: each version's own; 1 for a smoke run)",
    )
    p.add_argument("--quiet", action="store_true", help="no Keras progress bars")
    args = p.parse_args(argv)
    args.results = args.results or os.path.join(args.out_dir, "RESULTS.md")
    return args


def run(argv=None):
    args = parse_args(argv)
    outputs.check_out_dir(args.out_dir)
    outputs.check_out_dir(os.path.dirname(os.path.abspath(args.results)), "--results' folder")
    data = check_data(args)

    rows, lines, statuses, started = [], [], [], time.perf_counter()
    for e in TABLE:
        t0 = time.perf_counter()
        status = subprocess.call(
            [sys.executable, os.path.join(ROOT, e.script), *script_args(e, args, data)]
        )
        seconds = time.perf_counter() - t0
        statuses.append(status)
        path = os.path.join(args.out_dir, f"{e.name}.json")
        summary = json.load(open(path)) if status in (0, 2) and os.path.isfile(path) else {}
        verdict = (
            constraints.summary_line(summary["verdict"])
            if summary
            else f"ERROR (exit status {status}): see the script's output above"
        )
        size = f"{summary['zip_bytes']:,} B" if summary else "-"
        lines.append(
            f"{e.script:<9} {size:>9}  {figures(summary)}  [{seconds:.0f} s]\n          {verdict}"
        )
        rows.append(f"| {e.script} | {size} | {figures(summary)} | {verdict} | {seconds:.0f} s |")
    total = time.perf_counter() - started
    print("\nSummary (limits: common/constraints.py):")
    print("\n".join(lines))
    print(f"total {total:.0f} s")
    failed = [e.script for e, s in zip(TABLE, statuses) if s not in (0, 2)]
    if failed:
        print(
            f"error: {', '.join(failed)} failed (see above); {args.results} not written "
            "(the previous one, if any, is unchanged)",
            file=sys.stderr,
        )
        return constraints.EXIT_ERROR
    command = "python -m tools.run_all " + " ".join(argv if argv is not None else sys.argv[1:])
    page = "\n".join(
        [
            "# Results of a run of the five scripts",
            "",
            "Generated by `tools/run_all.py`; do not edit by hand.",
            "",
            f"- Command: `{command.strip()}`",
            f"- Date: {datetime.datetime.now(datetime.UTC):%Y-%m-%d %H:%M} UTC",
            f"- Machine: {runtime.host()}",
            f"- Libraries: {library_versions()}",
            f"- Run time: {total:.0f} s for the five scripts",
            "",
            "| script | .tflite.zip | quality on this run's data | verdict | time |",
            "|---|---|---|---|---|",
            *rows,
            "",
            "Each model's picture (training curves, forecasts or confusion matrix) is "
            f"`{args.out_dir}/<name>.png`; its JSON holds every figure above.",
            "",
        ]
    )
    outputs.write_file(args.results, page.encode())
    print(f"wrote {args.results}")
    return max(statuses)


def main(argv=None):
    """The whole run; errors are one line on stderr and exit status 1."""
    return cli.exit_status(run, argv)


if __name__ == "__main__":
    sys.exit(main())
