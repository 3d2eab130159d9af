"""Run the five scripts one after the other, summarize their verdicts, write a results page.

    python -m common.run_all --shared ../shared/data   # the real data of this project's machines
    python -m common.run_all                           # ./data, downloaded when absent

Each script runs as its own process, exactly as `python ex1_a.py ...` would. The results page
(RESULTS.md by default) records the machine, the library versions, the date, the command and
every figure of the run: the README quotes it instead of hand-typed numbers. Exit status:
1 if a script failed with an error, else 2 if a limit was missed, else 0.
"""
import datetime
import json
import os
import platform
import subprocess
import sys
import time

from . import cli, constraints, outputs
from .versions import TABLE

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SHARED_JENA = "jena_mpi_roof_2024_jun_sep.csv"  # the larger real export (16,346 rows, summer)


def script_args(e, args):
    """Data options of one script: the shared data folder's files, or the scripts' defaults."""
    extra = ["--out-dir", args.out_dir, "--seed", str(args.seed)] + (["--quiet"] if args.quiet else [])
    if e.exercise == "ex1":
        jena = args.jena or (os.path.join(args.shared, SHARED_JENA) if args.shared else None)
        return extra + (["--data", jena] if jena else [])
    if not args.shared:
        return extra
    return extra + ["--data", os.path.join(args.shared, "mini_speech_commands"),
                    "--split-dir", os.path.join(args.shared, "mini_speech_commands_split")]


def machine():
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next((ln.split(":", 1)[1].strip() for ln in f if ln.startswith("model name")), cpu)
    except OSError:
        pass
    try:
        memory = f", {os.sysconf('SC_PAGE_SIZE') * os.sysconf('SC_PHYS_PAGES') / 2**30:.0f} GiB"
    except (ValueError, OSError, AttributeError):
        memory = ""
    return f"{platform.system()} {platform.machine()}, {cpu}, {os.cpu_count()} cores{memory}"


def library_versions():
    from importlib import metadata
    found = []
    for package in ("tensorflow", "tf_keras", "tensorflow-model-optimization", "ai-edge-litert", "numpy"):
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
            text += (f" (persistence {constraints.fmt('mae_t', base['mae_t'])}, "
                     f"{constraints.fmt('mae_rh', base['mae_rh'])})")
        return text
    if "accuracy" in m:
        text = f"test {constraints.fmt('accuracy', m['accuracy'])}, val {constraints.fmt('accuracy', m['val_accuracy'])}"
        if m.get("accuracy_unseen_speakers") is not None:
            text += f", unseen speakers {constraints.fmt('accuracy', m['accuracy_unseen_speakers'])}"
        return text
    return "-"


def main(argv=None):
    p = cli.Parser(prog="python -m common.run_all", description="all five versions, one after the other")
    p.add_argument("--shared", help="a folder laid out as ../shared/data (Jena CSVs, "
                                    "mini_speech_commands/, mini_speech_commands_split/)")
    p.add_argument("--jena", help=f"the Jena CSV for exercise 1 (default with --shared: {SHARED_JENA})")
    p.add_argument("--out-dir", default="models")
    p.add_argument("--results", default=os.path.join(ROOT, "RESULTS.md"), help="the results page")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--quiet", action="store_true", help="no Keras progress bars")
    args = p.parse_args(argv)

    rows, lines, statuses, started = [], [], [], time.perf_counter()
    for e in TABLE:
        t0 = time.perf_counter()
        status = subprocess.call([sys.executable, os.path.join(ROOT, e.script), *script_args(e, args)])
        seconds = time.perf_counter() - t0
        statuses.append(status)
        path = os.path.join(args.out_dir, f"{e.name}.json")
        summary = json.load(open(path)) if status in (0, 2) and os.path.isfile(path) else {}
        verdict = (constraints.summary_line(summary["verdict"]) if summary
                   else f"ERROR (exit status {status}): see the script's output above")
        size = f"{summary['zip_bytes']:,} B" if summary else "-"
        lines.append(f"{e.script:<9} {size:>9}  {figures(summary)}  [{seconds:.0f} s]\n          {verdict}")
        rows.append(f"| {e.script} | {size} | {figures(summary)} | {verdict} | {seconds:.0f} s |")
    total = time.perf_counter() - started
    print("\nSummary (limits: common/versions.py):")
    print("\n".join(lines))
    print(f"total {total:.0f} s")
    command = "python -m common.run_all " + " ".join(argv if argv is not None else sys.argv[1:])
    page = "\n".join([
        "# Results of a run of the five scripts", "",
        "Generated by `common/run_all.py`; do not edit by hand.", "",
        f"- Command: `{command.strip()}`",
        f"- Date: {datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC",
        f"- Machine: {machine()}", f"- Libraries: {library_versions()}",
        f"- Run time: {total:.0f} s for the five scripts", "",
        "| script | .tflite.zip | quality on this run's data | verdict | time |",
        "|---|---|---|---|---|", *rows, "",
        "Each model's picture (training curves, forecasts or confusion matrix) is "
        f"`{args.out_dir}/<name>.png`; its JSON holds every figure above.", ""])
    outputs.write_file(args.results, page.encode())
    print(f"wrote {args.results}")
    if any(s not in (0, 2) for s in statuses):
        return 1
    return max(statuses)


if __name__ == "__main__":
    sys.exit(cli.exit_status(main))
