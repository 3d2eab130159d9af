"""The JSON that travels beside each model, and the verdict printed at the end of a run."""
import json
import os

from . import constraints
from .tflite_io import write_atomic


def sidecar_path(model_path):
    """`X.tflite` / `X.tflite.zip` -> `X.json`."""
    path = str(model_path)
    for suffix in (".tflite.zip", ".tflite"):
        if path.endswith(suffix):
            return path[: -len(suffix)] + ".json"
    return os.path.splitext(path)[0] + ".json"


def read_sidecar(model_path):
    """The sidecar JSON of a model as a dict, or None when there is none."""
    path = sidecar_path(model_path)
    if not os.path.isfile(path):
        return None
    with open(path) as f:
        return json.load(f)


def finish(version, summary, measured, out_dir, name, notes=()):
    """Check the constraints, write `<out_dir>/<name>.json` (atomically), print the verdict;
    return the process exit status: 0 all limits met, 2 a limit missed."""
    rows = constraints.check(version, measured)
    ok = constraints.passed(rows)
    summary = {**summary, "limits": constraints.LIMITS[version], "passed": ok}
    path = os.path.join(out_dir, f"{name}.json")
    write_atomic(path, (json.dumps(summary, indent=2) + "\n").encode())
    print(constraints.format_verdict(version, rows, notes))
    print(f"wrote {path}")
    return 0 if ok else 2
