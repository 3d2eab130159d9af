"""Run the five scripts one after the other and summarize their verdicts and times.

    python -m common.run_all --shared ../shared/data       # the data of this project's machines
    python -m common.run_all                                # ./data, downloaded when absent

Each script runs as its own process, exactly as `python ex1_a.py ...` would. Exit status:
1 if a script failed with an error, else 2 if a limit was missed, else 0.
"""
import argparse
import json
import os
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SCRIPTS = [("ex1_a.py", "th_a"), ("ex1_b.py", "th_b"), ("ex2_a.py", "kws_a"),
           ("ex2_b.py", "kws_b"), ("ex2_c.py", "kws_c")]


def script_args(script, args):
    """Data options of one script: the shared data folder's files, or the scripts' defaults."""
    extra = ["--out-dir", args.out_dir, "--seed", str(args.seed)] + (["--quiet"] if args.quiet else [])
    if not args.shared:
        return extra
    if script.startswith("ex1"):
        return extra + ["--data", os.path.join(args.shared, "jena_climate_2009_sample.csv")]
    return extra + ["--data", os.path.join(args.shared, "mini_speech_commands"),
                    "--split-dir", os.path.join(args.shared, "mini_speech_commands_split")]


def main(argv=None):
    p = argparse.ArgumentParser(description="all five versions, one after the other")
    p.add_argument("--shared", help="a folder laid out as ../shared/data (Jena sample CSV, "
                                    "mini_speech_commands/, mini_speech_commands_split/)")
    p.add_argument("--out-dir", default="models")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--quiet", action="store_true", help="no Keras progress bars")
    args = p.parse_args(argv)

    rows, statuses, started = [], [], time.perf_counter()
    for script, name in SCRIPTS:
        t0 = time.perf_counter()
        status = subprocess.call([sys.executable, os.path.join(ROOT, script),
                                  *script_args(script, args)])
        seconds = time.perf_counter() - t0
        statuses.append(status)
        summary_path = os.path.join(args.out_dir, f"{name}.json")
        summary = json.load(open(summary_path)) if status != 1 and os.path.isfile(summary_path) else {}
        metrics = ", ".join(f"{k} {v:.4f}" for k, v in summary.get("metrics", {}).items())
        verdict = {0: "PASS", 2: "FAIL (limit missed)"}.get(status, f"ERROR (status {status})")
        rows.append(f"{script:<9} {verdict:<20} {summary.get('zip_bytes', '-'):>7} B  "
                    f"{metrics}  [{seconds:.0f} s]")
    print("\nSummary (verdicts against the limits of common/constraints.py):")
    print("\n".join(rows))
    print(f"total {time.perf_counter() - started:.0f} s")
    return 1 if 1 in statuses or any(s not in (0, 2) for s in statuses) else max(statuses)


if __name__ == "__main__":
    sys.exit(main())
