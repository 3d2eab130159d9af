"""A model file and what describes it, read and checked in one place: every reader of a model
(kws_inference.py, tools.evaluate, tools.mcu, tools.c_export, the ARM check) calls `open_model`.

- A keyword spotter's `.tflite` carries its version, front end and labels in one entry of the
  TFLite model metadata (NAME, compact JSON): the one truth of how to feed it. Flags that agree
  with it are accepted; flags that contradict it are refused unless the caller ignores the
  metadata. A model without the entry (the course's) runs on the course's flags and defaults.
- The JSON beside a model (`X.tflite[.zip]` -> `X.json`) is its run's report and the commit
  record of its output set (common/outputs.py): it lists the sha256 of every other file of the
  set. A JSON that names other bytes, or says another version, front end or labels than the
  model carries, is refused, by every reader alike. Forecasters travel with their JSON: their
  input normalization is in it.

No TensorFlow import for reading, and no TFLite schema module: tflite-runtime (the 32-bit
Raspberry Pi OS interpreter) ships none, so a minimal flatbuffer reader does it here, checked in
the tests against the schema module that ai-edge-litert generates. Writing the entry (`embed`,
training side) uses TensorFlow's flatbuffer_utils.
"""

import dataclasses
import hashlib
import json
import math
import os
import re
import reprlib
import struct

from .constraints import VERSIONS
from .errors import DataError
from .frontend_np import LABELS, FrontEnd
from .tflite_io import MAX_MODEL_BYTES, ModelFileError, read_model_bytes, sha256

NAME = "keyword_spotting"  # the metadata entry; others (the converter's) are left alone
COURSE_DEFAULTS = FrontEnd(mfcc=False, resize=32)  # the course's script: STFT resized to 32x32
# the course's front-end flags (kws_inference.py) -> FrontEnd fields
FLAGS = {
    "rate": "rate",
    "mfcc": "mfcc",
    "resize": "resize",
    "length": "frame_length",
    "stride": "frame_step",
    "bins": "num_mel_bins",
    "coeff": "num_coefficients",
    "lower_frequency": "lower_frequency",
    "upper_frequency": "upper_frequency",
}
MAX_JSON_BYTES = 4 * 2**20  # far above any model's JSON, its training history included
MAX_DEPTH = 16  # objects and lists within each other (a model's JSON has 5)
MAX_LABELS = 1000
SHA256_HEX = re.compile(r"[0-9a-f]{64}")
_short = reprlib.Repr()
_short.maxstring = _short.maxother = 60


@dataclasses.dataclass(frozen=True)
class Described:
    """A model file, read and checked: its bytes, what it is and how to feed it."""

    path: str
    data: bytes  # the .tflite (inflated, for a .tflite.zip)
    input_shape: tuple
    outputs: int
    version: str | None = None
    frontend: FrontEnd | None = None  # keyword spotters
    labels: tuple = ()
    normalization: dict | None = None  # forecasters: {"mean": [T, RH], "std": [T, RH]}
    source: str = ""  # where the front end comes from, in words
    report: dict | None = None  # the JSON beside the model, checked

    @property
    def limits(self):
        return dict(VERSIONS[self.version].limits) if self.version in VERSIONS else {}


def json_path(model_path):
    """`X.tflite` / `X.tflite.zip` -> `X.json`."""
    path = os.fspath(model_path)
    for suffix in (".tflite.zip", ".tflite"):
        if path.endswith(suffix):
            return path[: -len(suffix)] + ".json"
    return os.path.splitext(path)[0] + ".json"


def open_model(path, flags=None, ignore_metadata=False, kind=None):
    """The model at `path`, checked, with what describes it (see the module's docstring).

    `flags`: front-end settings given on a command line ({FrontEnd field: value}; resize <= 0:
    none); `kind`: what the caller needs, "kws" or "forecast", None for either, "any" for the
    bytes alone when nothing describes the model. Every problem is one DataError naming the
    file."""
    data = read_model_bytes(path)
    input_shape, outputs = shapes(data, path)
    meta, report = metadata(data, path), read_report(path, data)
    if report is not None and meta is not None:
        for field, says in disagreements(meta, report):
            raise DataError(
                f"{json_path(path)}: says {field} {says[0]!r} where {path} carries "
                f"{says[1]!r} in its metadata; expected the JSON written with this model "
                "(the model's metadata is what runs): run its script again, or remove the JSON"
            )
    forecaster = meta is None and report is not None and "normalization" in report
    if (
        kind == "any"
        and meta is None
        and report is None
        and not any(v is not None for v in (flags or {}).values())
    ):
        return Described(os.fspath(path), data, input_shape, outputs, source="nothing")
    if forecaster and kind == "kws":
        raise DataError(
            f"{path}: a forecaster (its JSON {json_path(path)} holds a normalization); "
            "expected a keyword spotter"
        )
    if kind == "forecast" or forecaster:
        if meta is not None:
            raise DataError(
                f"{path}: a keyword spotter (it carries a front end); expected a forecaster"
            )
        if not forecaster:
            raise DataError(
                f"{json_path(path)}: no JSON with a 'normalization' beside {path}; "
                "expected the forecaster's JSON written with it (it holds the input "
                "normalization)"
            )
        return Described(
            os.fspath(path),
            data,
            input_shape,
            outputs,
            report.get("version"),
            normalization=report["normalization"],
            source="its JSON",
            report=report,
        )
    carried = None if ignore_metadata else meta
    flags = {k: v for k, v in (flags or {}).items() if v is not None}
    if flags.get("resize") is not None and flags["resize"] <= 0:
        flags["resize"] = None
    if carried is not None:
        frontend = FrontEnd.from_dict(carried["frontend"])
        for field, value in flags.items():
            if getattr(frontend, field) != value and not (field == "resize" and frontend.mfcc):
                flag = next(f for f, name in FLAGS.items() if name == field).replace("_", "-")
                given = (
                    f"--{flag} {value}" if field != "mfcc" else "--mfcc" if value else "--no-mfcc"
                )
                raise DataError(
                    f"{path}: {given} contradicts the model's "
                    f"metadata ({field} {getattr(frontend, field)!r}); expected the flag "
                    "left out, or kws_inference.py --ignore-metadata to run the flags instead"
                )
        version, labels = carried["version"], tuple(carried["labels"])
        source = "front end from the model's metadata"
    else:
        frontend, version, labels = course_frontend(flags), None, tuple(LABELS)
        source = (
            "the model's metadata ignored: " if ignore_metadata else "no metadata in the model: "
        ) + ("the course's front end with the flags" if flags else "the course's default front end")
    if len(labels) != outputs:
        raise DataError(
            f"{path}: {len(labels)} labels for {outputs} outputs; expected one label per "
            "output of the model"
        )
    if tuple(input_shape) != (1, *frontend.input_shape):
        raise DataError(
            f"{path}: model input shape {list(input_shape)} != the front end's "
            f"{[1, *frontend.input_shape]} ({source}); expected the front end the model "
            "was trained with"
        )
    return Described(
        os.fspath(path),
        data,
        input_shape,
        outputs,
        version,
        frontend,
        labels,
        source=source,
        report=report,
    )


def course_frontend(flags):
    """The course's defaults with `flags` applied ({field: value}); an FFT as long as the frame,
    as the course's stft."""
    settings = {**COURSE_DEFAULTS.to_dict(), **flags}
    settings["fft_length"] = settings["frame_length"]
    cfg = FrontEnd.from_dict(settings)
    problems = cfg.problems()
    if problems:
        raise DataError(f"front end {cfg.to_dict()} (flags): {problems[0]}")
    return cfg


def disagreements(carried, report):
    """(field, (the JSON's, the model's)) where a JSON says otherwise than the model's metadata."""
    if "frontend" not in report:
        return [("a forecaster's fields (no 'frontend')", ("-", "a keyword spotter"))]
    pairs = [
        (f"frontend.{k}", v, FrontEnd.from_dict(carried["frontend"]).to_dict()[k])
        for k, v in FrontEnd.from_dict(report["frontend"]).to_dict().items()
    ]
    pairs += [(k, report.get(k), carried.get(k)) for k in ("labels", "version")]
    return [(name, (mine, theirs)) for name, mine, theirs in pairs if mine != theirs]


# ---------------------------------------------------------------- the JSON beside a model
def read_report(path, data):
    """The checked JSON beside the model at `path` (None when there is none): it must record
    these very bytes (`tflite_sha256`, and the file's own sha256 in `files` where listed)."""
    where = json_path(path)
    if not os.path.isfile(where):
        return None
    report = load_json(where, "the JSON written with the model")
    if not isinstance(report, dict):
        raise DataError(f"{where}: not a JSON object; expected the JSON written with the model")
    recorded = report.get("tflite_sha256")
    if not (isinstance(recorded, str) and SHA256_HEX.fullmatch(recorded)):
        raise DataError(
            f"{where}: 'tflite_sha256' is {_short.repr(recorded)}; expected a sha256 "
            "as 64 lowercase hexadecimal digits, as written with the model"
        )
    name, files = os.path.basename(path), report.get("files")
    listed = files.get(name) if isinstance(files, dict) else None
    actual = sha256(data)
    if recorded == actual and listed is not None:  # the file itself: a .tflite.zip's bytes
        recorded, actual = listed, _file_sha256(path)
    if recorded != actual:
        raise DataError(
            f"{where}: describes other bytes than {path} (sha256 {recorded[:12]}... "
            f"!= {actual[:12]}...): the set was cut short or mixed; expected "
            "the JSON written with this model: run its script again, or remove the JSON"
        )
    problems = check_contents(report)
    if problems:
        raise DataError(f"{where}: {problems[0]}")
    return report


def _file_sha256(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read(MAX_MODEL_BYTES + 1)).hexdigest()


def load_json(path, expected, bound=MAX_JSON_BYTES):
    """The JSON file at `path`, strict (no NaN), read to at most `bound` bytes and MAX_DEPTH
    deep; a DataError naming the file otherwise (`expected`: what it should be)."""
    try:
        with open(path, "rb") as f:
            raw = f.read(bound + 1)
    except OSError as e:
        raise DataError(
            f"{path}: not a readable JSON file ({e.strerror}); expected {expected}"
        ) from None
    return parse_json(raw, path, expected, bound=bound)


def parse_json(raw, where, expected, what="JSON file", bound=MAX_JSON_BYTES):
    """JSON bytes with load_json's checks and bounds; a DataError naming `where` otherwise."""
    if len(raw) > bound:
        raise DataError(
            f"{where}: over the bound of {bound:,} bytes for a {what}; expected {expected}"
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


def check_contents(found):
    """What is wrong in the fields a reader uses: version, and the front end and labels or the
    normalization (a list of messages)."""
    version = found.get("version")
    if not (isinstance(version, str) and version in VERSIONS):
        return [
            f"'version' is {_short.repr(version)}; expected one of {', '.join(sorted(VERSIONS))}"
        ]
    exercise = "ex2" if "frontend" in found else "ex1" if "normalization" in found else None
    if exercise and VERSIONS[version].exercise != exercise:
        what = (
            "a keyword spotter's front end" if exercise == "ex2" else "a forecaster's normalization"
        )
        return [f"'version' is {version!r} beside {what}; expected a version of {exercise}"]
    if "frontend" in found:
        fe, labels = found["frontend"], found.get("labels")
        problems = (
            FrontEnd.problems_of(fe)
            if isinstance(fe, dict)
            else [f"'frontend' is {_short.repr(fe)}; expected an object of front-end settings"]
        )
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
    if "normalization" in found:
        norm = found["normalization"]
        ok = isinstance(norm, dict) and all(
            isinstance(norm.get(k), list) and len(norm[k]) == 2 and all(_number(v) for v in norm[k])
            for k in ("mean", "std")
        )
        if not ok or min(norm["std"]) <= 0:
            return [
                f"'normalization' is {_short.repr(norm)}; expected {{'mean': [T, RH], 'std': "
                "[T, RH]} with finite values and std > 0"
            ]
        return []
    return ["neither 'frontend' (keyword spotting) nor 'normalization' (forecasting)"]


# ---------------------------------------------------------------- the flatbuffer
# field indices in the TFLite schema (tensorflow/compiler/mlir/lite/schema/schema.fbs)
MODEL_SUBGRAPHS, MODEL_BUFFERS, MODEL_METADATA = 2, 4, 6
SUBGRAPH_TENSORS, SUBGRAPH_INPUTS, SUBGRAPH_OUTPUTS, TENSOR_SHAPE = 0, 1, 2, 0
METADATA_NAME, METADATA_BUFFER = 0, 1
BUFFER_DATA, BUFFER_OFFSET, BUFFER_SIZE = 0, 1, 2


def embed(tflite, version, frontend, labels):
    """`tflite` bytes with the NAME entry saying its version, front end (a FrontEnd) and labels."""
    import numpy as np
    from tensorflow.lite.python import schema_py_generated as schema
    from tensorflow.lite.tools import flatbuffer_utils

    described = {"version": version, "frontend": frontend_record(frontend), "labels": list(labels)}
    model = flatbuffer_utils.read_model_from_bytearray(bytearray(tflite))
    buffer = schema.BufferT()
    payload = json.dumps(described, sort_keys=True, separators=(",", ":")).encode()
    buffer.data = np.frombuffer(payload, np.uint8)
    model.buffers.append(buffer)
    entry = schema.MetadataT()
    entry.name, entry.buffer = NAME, len(model.buffers) - 1
    model.metadata = [m for m in (model.metadata or []) if m.name.decode() != NAME] + [entry]
    return bytes(flatbuffer_utils.convert_object_to_bytearray(model))


def frontend_record(cfg):
    """A front end as the metadata and the JSON write it: its fields and input shape."""
    return {**cfg.to_dict(), "input_shape": cfg.input_shape}


class _Table:
    """A flatbuffer table at `pos` of `buf`: its fields through its vtable."""

    def __init__(self, buf, pos):
        self.buf, self.pos = buf, pos
        self.vtable = pos - _unpack("<i", buf, pos)
        self.vtable_size = _unpack("<H", buf, self.vtable)

    def field(self, index):
        """Absolute position of field `index`, or None when absent."""
        entry = 4 + 2 * index
        if entry + 2 > self.vtable_size:
            return None
        offset = _unpack("<H", self.buf, self.vtable + entry)
        return self.pos + offset if offset else None

    def scalar(self, index, fmt, default=0):
        at = self.field(index)
        return default if at is None else _unpack(fmt, self.buf, at)

    def vector(self, index):
        """(start, length) of a vector field, or (0, 0) when absent."""
        at = self.field(index)
        if at is None:
            return 0, 0
        start = at + _unpack("<I", self.buf, at)
        return start + 4, _unpack("<I", self.buf, start)

    def bytes(self, index):
        start, length = self.vector(index)
        if start + length > len(self.buf):
            raise ValueError("vector past the end of the file")
        return bytes(self.buf[start : start + length])

    def ints(self, index):
        start, length = self.vector(index)
        return [_unpack("<i", self.buf, p) for p in range(start, start + 4 * length, 4)]

    def tables(self, index):
        start, length = self.vector(index)
        return [
            _Table(self.buf, p + _unpack("<I", self.buf, p))
            for p in range(start, start + 4 * length, 4)
        ]


def _unpack(fmt, buf, pos):
    if pos < 0:
        raise ValueError("offset before the start of the file")
    return struct.unpack_from(fmt, buf, pos)[0]


def read_entries(tflite):
    """{name: bytes} of every metadata entry of a .tflite (empty when it has none)."""
    try:
        model = _Table(tflite, _unpack("<I", tflite, 0))
        buffers = model.tables(MODEL_BUFFERS)
        entries = {}
        for m in model.tables(MODEL_METADATA):
            buffer = buffers[m.scalar(METADATA_BUFFER, "<I")]
            offset = buffer.scalar(BUFFER_OFFSET, "<Q")
            if offset > 1:  # data stored after the flatbuffer (models over 2 GB)
                data = bytes(tflite[offset : offset + buffer.scalar(BUFFER_SIZE, "<Q")])
            else:
                data = buffer.bytes(BUFFER_DATA)
            entries[m.bytes(METADATA_NAME).decode("utf-8", "replace")] = data
        return entries
    except (struct.error, ValueError, IndexError) as e:
        raise ModelFileError(f"its metadata is unreadable ({e})") from None


def shapes(tflite, path="the model"):
    """(input shape, output size) of the first subgraph's first input and output."""
    try:
        graph = _Table(tflite, _unpack("<I", tflite, 0)).tables(MODEL_SUBGRAPHS)[0]
        tensors = graph.tables(SUBGRAPH_TENSORS)
        inputs, outputs = (
            tensors[graph.ints(i)[0]].ints(TENSOR_SHAPE)
            for i in (SUBGRAPH_INPUTS, SUBGRAPH_OUTPUTS)
        )
        return tuple(inputs), math.prod(outputs[1:])
    except (struct.error, ValueError, IndexError) as e:
        raise ModelFileError(
            f"{path}: no readable input and output ({e}); expected a .tflite model"
        ) from None


def metadata(tflite, path="the model"):
    """The checked NAME entry of a .tflite as a dict, or None when it carries none."""
    try:
        raw = read_entries(tflite).get(NAME)
    except ModelFileError as e:
        raise ModelFileError(f"{path}: {e}; expected a .tflite written by the scripts") from None
    if raw is None:
        return None
    where = f"{path}: metadata '{NAME}'"
    found = parse_json(raw, where, "the model's version, front end and labels", what="JSON")
    problems = (
        check_contents(found)
        if isinstance(found, dict) and "frontend" in found
        else ["no 'frontend' object"]
    )
    if problems:
        raise ModelFileError(f"{where}: {problems[0]}")
    return found
