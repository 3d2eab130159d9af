"""The JSON that travels beside each model (the sidecar): writing it, and reading it back with
checks. No TensorFlow import (kws_inference.py reads sidecars on the Pi).

A sidecar records the sha256 of the .tflite it describes and a checksum of what it says
about it (front end or normalization, labels): a sidecar of another model, or one edited by
hand, is refused with an error naming the JSON file.
"""
import hashlib
import json
import math
import os

from . import constraints, outputs
from .errors import DataError
from .frontend_np import FrontEnd
from .tflite_io import sha256

# what the checksum covers: what the model is and how to feed it
DESCRIBES = ("version", "tflite_sha256", "frontend", "labels", "normalization", "limits")


def sidecar_path(model_path):
    """`X.tflite` / `X.tflite.zip` -> `X.json`."""
    path = str(model_path)
    for suffix in (".tflite.zip", ".tflite"):
        if path.endswith(suffix):
            return path[: -len(suffix)] + ".json"
    return os.path.splitext(path)[0] + ".json"


def finite(obj):
    """`obj` with every NaN or infinite float replaced by None (JSON has no NaN)."""
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {k: finite(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [finite(v) for v in obj]
    return obj


def checksum(sidecar):
    described = {k: sidecar.get(k) for k in DESCRIBES}
    return hashlib.sha256(json.dumps(described, sort_keys=True).encode()).hexdigest()


def sidecar_bytes(summary):
    """The sidecar's bytes: valid JSON (no NaN), with the checksum of what it describes."""
    summary = finite(summary)
    summary["checksum"] = checksum(summary)
    return (json.dumps(summary, indent=2, allow_nan=False, ensure_ascii=False) + "\n").encode()


def finish(summary, files, picture, out_dir, also=()):
    """The end of every run: the output set (`files` + `<name>.json` + `<name>.png`) written
    as one unit, then the verdict table (`also`: rows measured without a limit); returns the
    exit status."""
    name = next(f for f in files if f.endswith(".tflite"))[: -len(".tflite")]
    written = outputs.write_set(out_dir, {**files, f"{name}.json": sidecar_bytes(summary),
                                          f"{name}.png": picture})
    print(constraints.format_verdict(summary["version"], summary["verdict"], also))
    print("wrote " + ", ".join(written))
    return constraints.exit_status(summary["verdict"])


def read_sidecar(model_path, model_bytes=None):
    """The checked sidecar of `model_path` as a dict, or None when there is none.

    With `model_bytes`, the sidecar must describe exactly that model (its sha256)."""
    path = sidecar_path(model_path)
    if not os.path.isfile(path):
        return None
    try:
        with open(path, encoding="utf-8") as f:
            sidecar = json.load(f)
    except (OSError, ValueError) as e:
        raise DataError(f"{path}: not a readable JSON file ({e}); expected the sidecar "
                        "written with the model") from None
    if not isinstance(sidecar, dict) or "tflite_sha256" not in sidecar:
        raise DataError(f"{path}: does not say which model it describes (no 'tflite_sha256'); "
                        "expected the sidecar written with the model: rebuild it, or remove it")
    if sidecar.get("checksum") != checksum(sidecar):
        raise DataError(f"{path}: edited after it was written (its checksum does not match its "
                        "contents); rebuild the model with its script (on the Pi, kws_inference.py "
                        "--no-sidecar ignores the JSON, with the front end given as flags)")
    if model_bytes is not None and sidecar["tflite_sha256"] != sha256(model_bytes):
        raise DataError(f"{path}: describes another model (tflite_sha256 "
                        f"{sidecar['tflite_sha256'][:12]}... != {sha256(model_bytes)[:12]}... "
                        f"of {model_path}); expected the sidecar written with this model")
    problems = check_contents(sidecar)
    if problems:
        raise DataError(f"{path}: {problems[0]}")
    return sidecar


def check_contents(sidecar):
    """What is wrong in a sidecar's front end / normalization (a list of messages)."""
    if "frontend" in sidecar:
        fe = sidecar["frontend"]
        if not isinstance(fe, dict):
            return [f"'frontend' is {fe!r}; expected an object of front-end settings"]
        problems = FrontEnd.problems_of(fe)
        labels = sidecar.get("labels")
        if not (isinstance(labels, list) and labels and all(isinstance(x, str) for x in labels)):
            problems.append(f"'labels' is {labels!r}; expected a list of label names")
        return problems
    if "normalization" in sidecar:
        norm = sidecar["normalization"]
        ok = isinstance(norm, dict) and all(
            isinstance(norm.get(k), list) and len(norm[k]) == 2
            and all(isinstance(v, (int, float)) and math.isfinite(v) for v in norm[k])
            for k in ("mean", "std"))
        if not ok or min(norm["std"]) <= 0:
            return [f"'normalization' is {norm!r}; expected {{'mean': [T, RH], 'std': [T, RH]}} "
                    "with finite values and std > 0"]
        return []
    return ["neither 'frontend' (keyword spotting) nor 'normalization' (forecasting)"]
