"""The JSON that travels beside each model (the sidecar): writing it, and reading it back with
checks. No TensorFlow import (kws_inference.py reads sidecars on the Pi).

A sidecar records the sha256 of the .tflite it describes and a checksum of what it says
about it (front end or normalization, labels, limits). Both are plain sha256 sums that anyone
can recompute: they catch a sidecar of another model and an accidental edit, not a deliberate
one (docs/robustness.md). Every field read is checked for its type and range, whatever the
checksum says; a file over MAX_SIDECAR_BYTES or nested deeper than MAX_DEPTH is refused.
Every refusal is one error naming the JSON file.
"""

import hashlib
import json
import math
import os
import re
import reprlib

from . import constraints, outputs
from .errors import DataError
from .frontend_np import FrontEnd
from .tflite_io import sha256
from .constraints import VERSIONS

# what the checksum covers: what the model is and how to feed it
DESCRIBES = ("version", "tflite_sha256", "frontend", "labels", "normalization", "limits")
MAX_SIDECAR_BYTES = 4 * 2**20  # far above any model's JSON, its training history included
MAX_DEPTH = 16  # objects and lists within each other (a sidecar has 5)
MAX_LABELS = 1000
SHA256_HEX = re.compile(r"[0-9a-f]{64}")
_short = reprlib.Repr()
_short.maxstring = _short.maxother = 60


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


def write_and_show(summary, files, picture, out_dir, also=()):
    """The end of every run: the output set (`files` + `<name>.json` + `<name>.png`) written
    as one unit, then the verdict table shown (`also`: rows measured without a limit)."""
    name = next(f for f in files if f.endswith(".tflite"))[: -len(".tflite")]
    written = outputs.write_set(
        out_dir, {**files, f"{name}.json": sidecar_bytes(summary), f"{name}.png": picture}
    )
    print(constraints.format_verdict(summary["version"], summary["verdict"], also))
    print("wrote " + ", ".join(written))


def read_sidecar(model_path, model_bytes=None):
    """The checked sidecar of `model_path` as a dict, or None when there is none.

    With `model_bytes`, the sidecar must describe exactly that model (its sha256)."""
    path = sidecar_path(model_path)
    if not os.path.isfile(path):
        return None
    sidecar = load_json(path, "the sidecar written with the model")
    if not isinstance(sidecar, dict) or "tflite_sha256" not in sidecar:
        raise DataError(
            f"{path}: does not say which model it describes (no 'tflite_sha256'); "
            "expected the sidecar written with the model: rebuild it, or remove it"
        )
    for key in ("tflite_sha256", "checksum"):
        value = sidecar.get(key)
        if not (isinstance(value, str) and SHA256_HEX.fullmatch(value)):
            raise DataError(
                f"{path}: '{key}' is {_short.repr(value)}; expected a sha256 as 64 "
                "lowercase hexadecimal digits, as written with the model"
            )
    if sidecar["checksum"] != checksum(sidecar):
        raise DataError(
            f"{path}: edited after it was written (its checksum does not match its "
            "contents); rebuild the model with its script (on the Pi, kws_inference.py "
            "--no-sidecar ignores the JSON, with the front end given as flags)"
        )
    if model_bytes is not None and sidecar["tflite_sha256"] != sha256(model_bytes):
        raise DataError(
            f"{path}: describes another model (tflite_sha256 "
            f"{sidecar['tflite_sha256'][:12]}... != {sha256(model_bytes)[:12]}... "
            f"of {model_path}); expected the sidecar written with this model"
        )
    problems = check_contents(sidecar)
    if problems:
        raise DataError(f"{path}: {problems[0]}")
    return sidecar


def load_json(path, expected):
    """The JSON file at `path`, strict (no NaN), at most MAX_SIDECAR_BYTES and MAX_DEPTH deep;
    a DataError naming the file otherwise (`expected`: what it should be)."""
    try:
        size = os.path.getsize(path)
        if size > MAX_SIDECAR_BYTES:
            raise DataError(
                f"{path}: {size:,} bytes, over the bound of {MAX_SIDECAR_BYTES:,} bytes "
                f"for a JSON file; expected {expected}"
            )
        with open(path, "rb") as f:
            raw = f.read()
    except OSError as e:
        raise DataError(f"{path}: not a readable JSON file ({e}); expected {expected}") from None
    return parse_json(raw, path, expected)


def parse_json(raw, where, expected, what="JSON file"):
    """JSON bytes (a file's, or a model's metadata), with load_json's checks and bounds; a
    DataError naming `where` otherwise."""
    if len(raw) > MAX_SIDECAR_BYTES:
        raise DataError(
            f"{where}: {len(raw):,} bytes, over the bound of {MAX_SIDECAR_BYTES:,} bytes "
            f"for a {what}; expected {expected}"
        )
    try:
        data = json.loads(raw.decode("utf-8"), parse_constant=_no_constant)
    except ValueError as e:  # UnicodeDecodeError and JSONDecodeError are ValueErrors
        raise DataError(f"{where}: not a readable {what} ({e}); expected {expected}") from None
    except RecursionError:
        raise DataError(f"{where}: nested too deep to parse; expected {expected}") from None
    if _depth(data) > MAX_DEPTH:
        raise DataError(
            f"{where}: arrays or objects nested more than {MAX_DEPTH} deep; expected {expected}"
        )
    return data


def _no_constant(name):
    raise ValueError(f"{name} is not a JSON number")


def _depth(obj):
    """How deep lists and dicts are nested in `obj` (0 for a plain value), without recursion."""
    deepest, todo = 0, [(obj, 1)]
    while todo:
        item, depth = todo.pop()
        children = (
            item.values() if isinstance(item, dict) else item if isinstance(item, list) else None
        )
        if children is not None:
            deepest = max(deepest, depth)
            if depth <= MAX_DEPTH:
                todo.extend((child, depth + 1) for child in children)
    return deepest


def _number(value):
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def check_contents(sidecar):
    """What is wrong in the fields of a sidecar that are read: version, limits, and the front
    end and labels or the normalization (a list of messages)."""
    version = sidecar.get("version")
    if not (isinstance(version, str) and version in VERSIONS):
        return [
            f"'version' is {_short.repr(version)}; expected one of {', '.join(sorted(VERSIONS))}"
        ]
    limits = sidecar.get("limits", {})
    if not (
        isinstance(limits, dict)
        and all(isinstance(k, str) and _number(v) for k, v in limits.items())
    ):
        return [
            f"'limits' is {_short.repr(limits)}; expected an object of limit names and finite numbers"
        ]
    if "frontend" in sidecar:
        fe = sidecar["frontend"]
        if not isinstance(fe, dict):
            return [f"'frontend' is {_short.repr(fe)}; expected an object of front-end settings"]
        problems = FrontEnd.problems_of(fe)
        labels = sidecar.get("labels")
        if not (
            isinstance(labels, list)
            and 0 < len(labels) <= MAX_LABELS
            and all(isinstance(x, str) and x for x in labels)
            and len(set(labels)) == len(labels)
        ):
            problems.append(
                f"'labels' is {_short.repr(labels)}; expected a list of 1 to "
                f"{MAX_LABELS} different label names"
            )
        return problems
    if "normalization" in sidecar:
        norm = sidecar["normalization"]
        ok = isinstance(norm, dict) and all(
            isinstance(norm.get(k), list) and len(norm[k]) == 2 and all(_number(v) for v in norm[k])
            for k in ("mean", "std")
        )
        if not ok or min(norm["std"]) <= 0:
            return [
                f"'normalization' is {_short.repr(norm)}; expected {{'mean': [T, RH], 'std': [T, RH]}} "
                "with finite values and std > 0"
            ]
        return []
    return ["neither 'frontend' (keyword spotting) nor 'normalization' (forecasting)"]
