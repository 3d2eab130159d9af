"""`open_model`, the one reader of a model: bytes, metadata and JSON, checked (no TensorFlow)."""

import dataclasses
import json
import math
import os
import re
import struct

from .constraints import VERSIONS
from .errors import DataError, read_file
from .frontend_np import LABELS, FrontEnd, SHORT
from .tflite_io import MAX_MODEL_BYTES, ModelFileError, read_model_bytes, sha256

NAME = "keyword_spotting"  # the metadata entry; others (the converter's) are left alone
COURSE_DEFAULTS = FrontEnd(mfcc=False, resize=32)  # the course's script: STFT resized to 32x32
# kws_inference.py's front-end flags, as the course's script names them: (FrontEnd field, help)
FLAGS = {
    "rate": ("rate", "sample rate of the front end (Hz)"),
    "mfcc": ("mfcc", "MFCC front end, else STFT"),
    "resize": ("resize", "STFT path: resize to RxR (0: none)"),
    "length": ("frame_length", "frame length (samples)"),
    "stride": ("frame_step", "frame step (samples)"),
    "bins": ("num_mel_bins", "mel bins"),
    "coeff": ("num_coefficients", "MFCC coefficients"),
    "lower_frequency": ("lower_frequency", "lowest mel filter frequency (Hz)"),
    "upper_frequency": ("upper_frequency", "highest mel filter frequency (Hz)"),
}
MAX_JSON_BYTES = 4 * 2**20  # far above any model's JSON, its training history included
MAX_DEPTH = 16  # objects and lists within each other (a model's JSON has 5)
MAX_LABELS = 1000
SHA256_HEX = re.compile(r"[0-9a-f]{64}")
AGAIN = "run its script again, or remove the JSON"


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
    return os.path.splitext(os.fspath(model_path).removesuffix(".zip"))[0] + ".json"


def open_model(path, flags=None, ignore_metadata=False, kind=None):
    """The model at `path`, checked, with what describes it; a problem is one DataError. `flags`:
    {FrontEnd field: value} (resize <= 0: none); `kind`: "kws", "forecast", None (either), "any"."""
    data = read_model_bytes(path)
    input_shape, outputs = shapes(data, path)
    meta, report = metadata(data, path), read_report(path, data)
    found = Described(os.fspath(path), data, input_shape, outputs, report=report)
    flags = {k: v for k, v in (flags or {}).items() if v is not None}
    if flags.get("resize", 1) <= 0:
        flags["resize"] = None
    if meta is not None and report is not None:
        _check_agreement(path, meta, report)
    if kind == "any" and meta is None and report is None and not flags:
        return dataclasses.replace(found, source="nothing")
    forecaster = meta is None and report is not None and "normalization" in report
    if forecaster and kind == "kws":
        raise DataError(
            f"{path}: a forecaster (its JSON {json_path(path)} holds a normalization); "
            "expected a keyword spotter"
        )
    if kind == "forecast" or forecaster:
        if meta is not None:
            raise DataError(
                f"{path}: a keyword spotter (it carries a front end); expected a forecaster (score "
                f"it with kws_inference.py --model {path} --wav DIR --split FILE)"
            )
        if not forecaster:
            raise DataError(
                f"{json_path(path)}: no JSON with a 'normalization' beside {path}; expected the "
                "forecaster's JSON written with it (it holds the input normalization)"
            )
        version, norm = report["version"], report["normalization"]
        return dataclasses.replace(found, version=version, normalization=norm, source="its JSON")
    if meta is not None and not ignore_metadata:
        frontend = FrontEnd.from_dict(meta["frontend"])
        for field, value in flags.items():
            if getattr(frontend, field) != value and not (field == "resize" and frontend.mfcc):
                raise DataError(
                    f"{path}: {_as_flag(field, value)} contradicts the model's metadata ({field} "
                    f"{getattr(frontend, field)!r}); expected the flag left out, or "
                    "kws_inference.py --ignore-metadata to run the flags instead"
                )
        version, labels = meta["version"], tuple(meta["labels"])
        source = "front end from the model's metadata"
    else:
        frontend = dataclasses.replace(COURSE_DEFAULTS, fft_length=None, **flags)  # as its stft
        if problems := frontend.problems():
            raise DataError(f"front end {frontend.to_dict()} (flags): {problems[0]}")
        version, labels = None, tuple(LABELS)
        why = "the model's metadata ignored" if ignore_metadata else "no metadata in the model"
        what = "front end with the flags" if flags else "default front end"
        source = f"{why}: the course's {what}"
    if len(labels) != outputs:
        raise DataError(
            f"{path}: {len(labels)} labels for {outputs} outputs; expected one label per output "
            "of the model"
        )
    if input_shape != (1, *frontend.input_shape):
        raise DataError(
            f"{path}: model input shape {list(input_shape)} != the front end's "
            f"{[1, *frontend.input_shape]} ({source}); expected the front end the model was "
            "trained with"
        )
    return dataclasses.replace(
        found, version=version, frontend=frontend, labels=labels, source=source
    )


def _as_flag(field, value):
    """A front-end setting as kws_inference.py's flag would give it: '--rate 8000'."""
    if field == "mfcc":
        return "--mfcc" if value else "--no-mfcc"
    flag = next(f for f, (name, _) in FLAGS.items() if name == field)
    return f"--{flag.replace('_', '-')} {value}"


def _check_agreement(path, meta, report):
    """Refuse a JSON that says another version, front end or labels than the model carries."""
    if "frontend" not in report:
        pairs = [("a forecaster's fields (no 'frontend')", "-", "a keyword spotter")]
    else:
        carried = FrontEnd.from_dict(meta["frontend"]).to_dict()
        said = FrontEnd.from_dict(report["frontend"]).to_dict()
        pairs = [(f"frontend.{k}", v, carried[k]) for k, v in said.items()]
        pairs += [(k, report[k], meta[k]) for k in ("labels", "version")]
    for field, says, carries in pairs:
        if says != carries:
            raise DataError(
                f"{json_path(path)}: says {field} {says!r} where {path} carries {carries!r} in "
                "its metadata; expected the JSON written with this model (the model's metadata "
                f"is what runs): {AGAIN}"
            )


# ---------------------------------------------------------------- the JSON beside a model
def read_report(path, data):
    """The checked JSON beside the model at `path` (None: none), recording its bytes."""
    where, expected = json_path(path), "the JSON written with the model"
    if not os.path.lexists(where):  # anything else there is read (a FIFO: refused unopened)
        return None
    report = parse_json(read_file(where, MAX_JSON_BYTES, expected), where, expected)
    if not isinstance(report, dict):
        raise DataError(f"{where}: not a JSON object; expected {expected}")
    recorded = report.get("tflite_sha256")
    if not (isinstance(recorded, str) and SHA256_HEX.fullmatch(recorded)):
        raise DataError(
            f"{where}: 'tflite_sha256' is {SHORT.repr(recorded)}; expected a sha256 as 64 "
            "lowercase hexadecimal digits, as written with the model"
        )
    files, actual = report.get("files"), sha256(data)
    listed = files.get(os.path.basename(path)) if isinstance(files, dict) else None
    if recorded == actual and listed is not None:  # the file itself: a .tflite.zip's bytes
        recorded, actual = str(listed), sha256(read_file(path, MAX_MODEL_BYTES, "a model file"))
    if recorded != actual:
        raise DataError(
            f"{where}: describes other bytes than {path} (sha256 {recorded[:12]}... != "
            f"{actual[:12]}...): the set was cut short or mixed; expected the JSON written "
            f"with this model: {AGAIN}"
        )
    if problem := check_contents(report):
        raise DataError(f"{where}: {problem}")
    return report


def parse_json(raw, where, expected, what="JSON file"):
    """JSON bytes, strict (no NaN), at most MAX_JSON_BYTES long, MAX_DEPTH deep (else DataError)."""
    if len(raw) > MAX_JSON_BYTES:
        raise DataError(
            f"{where}: over the bound of {MAX_JSON_BYTES:,} bytes for a {what}; expected {expected}"
        )
    try:
        found = json.loads(raw.decode("utf-8"), parse_constant=_no_constant)
    except ValueError as e:  # UnicodeDecodeError and JSONDecodeError are ValueErrors
        raise DataError(f"{where}: not a readable {what} ({e}); expected {expected}") from None
    except RecursionError:
        raise DataError(f"{where}: nested too deep to parse; expected {expected}") from None
    if _depth(found) > MAX_DEPTH:
        raise DataError(
            f"{where}: arrays or objects nested more than {MAX_DEPTH} deep; expected {expected}"
        )
    return found


def _no_constant(name):
    raise ValueError(f"{name} is not a JSON number")


def _depth(obj, limit=MAX_DEPTH + 1):
    """How deep lists and dicts are nested in `obj` (0 for a plain value), counted to `limit`."""
    if limit == 0 or not isinstance(obj, (dict, list)):
        return 0
    children = obj.values() if isinstance(obj, dict) else obj
    return 1 + max((_depth(child, limit - 1) for child in children), default=0)


def _number(value):
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def check_contents(found):
    """The first thing wrong in the version, front end and labels or normalization (None: none)."""
    version = found.get("version")
    if not (isinstance(version, str) and version in VERSIONS):
        return f"'version' is {SHORT.repr(version)}; expected one of {', '.join(sorted(VERSIONS))}"
    exercise = "ex2" if "frontend" in found else "ex1" if "normalization" in found else None
    if exercise and VERSIONS[version].exercise != exercise:
        what = "keyword spotter's front end" if exercise == "ex2" else "forecaster's normalization"
        return f"'version' is {version!r} beside a {what}; expected a version of {exercise}"
    if "frontend" in found:
        fe, labels = found["frontend"], found.get("labels")
        if not isinstance(fe, dict):
            return f"'frontend' is {SHORT.repr(fe)}; expected an object of front-end settings"
        if problems := FrontEnd.problems_of(fe):
            return problems[0]
        if not (
            isinstance(labels, list)
            and 0 < len(labels) <= MAX_LABELS
            and all(isinstance(x, str) and x for x in labels)
            and len(set(labels)) == len(labels)
        ):
            return f"'labels' is {SHORT.repr(labels)}; expected a list of 1 to {MAX_LABELS} different label names"
        return None
    if "normalization" not in found:
        return "neither 'frontend' (keyword spotting) nor 'normalization' (forecasting)"
    norm = found["normalization"]
    ok = isinstance(norm, dict) and all(
        isinstance(norm.get(k), list) and len(norm[k]) == 2 and all(map(_number, norm[k]))
        for k in ("mean", "std")
    )
    if not ok or min(norm["std"]) <= 0:
        return (
            f"'normalization' is {SHORT.repr(norm)}; expected {{'mean': [T, RH], 'std': [T, RH]}} "
            "with finite values and std > 0"
        )
    return None


# ---------------------------------------------------------------- the flatbuffer
# field indices in the TFLite schema (tensorflow/compiler/mlir/lite/schema/schema.fbs)
MODEL_SUBGRAPHS, MODEL_BUFFERS, MODEL_METADATA = 2, 4, 6
SUBGRAPH_TENSORS, SUBGRAPH_INPUTS, SUBGRAPH_OUTPUTS, TENSOR_SHAPE = 0, 1, 2, 0
METADATA_NAME, METADATA_BUFFER = 0, 1
BUFFER_DATA = 0


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

    def vector(self, index, size=4):
        """The positions of a vector field's items (none when absent)."""
        if (at := self.field(index)) is None:
            return range(0)
        start = at + _unpack("<I", self.buf, at) + 4
        return range(start, start + size * _unpack("<I", self.buf, start - 4), size)

    def bytes(self, index):
        items = self.vector(index, size=1)
        if items.stop > len(self.buf):
            raise ValueError("vector past the end of the file")
        return bytes(self.buf[items.start : items.stop])

    def scalar(self, index, fmt):
        at = self.field(index)
        return 0 if at is None else _unpack(fmt, self.buf, at)

    def ints(self, index):
        return [_unpack("<i", self.buf, p) for p in self.vector(index)]

    def tables(self, index):
        return [_Table(self.buf, p + _unpack("<I", self.buf, p)) for p in self.vector(index)]


def _unpack(fmt, buf, pos):
    if pos < 0:
        raise ValueError("offset before the start of the file")
    return struct.unpack_from(fmt, buf, pos)[0]


def read_entries(tflite, path="the model"):
    """{name: bytes} of every metadata entry of a .tflite (empty when it has none)."""
    try:
        model = _Table(tflite, _unpack("<I", tflite, 0))
        buffers, entries = model.tables(MODEL_BUFFERS), {}
        for m in model.tables(MODEL_METADATA):
            data = buffers[m.scalar(METADATA_BUFFER, "<I")].bytes(BUFFER_DATA)
            entries[m.bytes(METADATA_NAME).decode("utf-8", "replace")] = data
        return entries
    except (struct.error, ValueError, IndexError) as e:
        raise ModelFileError(
            f"{path}: its metadata is unreadable ({e}); expected a .tflite written by the scripts"
        ) from None


def shapes(tflite, path="the model"):
    """(input shape, output size) of the first subgraph's first input and output."""
    try:
        graph = _Table(tflite, _unpack("<I", tflite, 0)).tables(MODEL_SUBGRAPHS)[0]
        tensors = graph.tables(SUBGRAPH_TENSORS)
        inputs = tensors[graph.ints(SUBGRAPH_INPUTS)[0]].ints(TENSOR_SHAPE)
        outputs = tensors[graph.ints(SUBGRAPH_OUTPUTS)[0]].ints(TENSOR_SHAPE)
        return tuple(inputs), math.prod(outputs[1:])
    except (struct.error, ValueError, IndexError) as e:
        raise ModelFileError(
            f"{path}: no readable input and output ({e}); expected a .tflite model"
        ) from None


def metadata(tflite, path="the model"):
    """The checked NAME entry of a .tflite as a dict, or None when it carries none."""
    if (raw := read_entries(tflite, path).get(NAME)) is None:
        return None
    where = f"{path}: metadata '{NAME}'"
    found = parse_json(raw, where, "the model's version, front end and labels", what="JSON")
    if not (isinstance(found, dict) and "frontend" in found):
        raise ModelFileError(f"{where}: no 'frontend' object")
    if problem := check_contents(found):
        raise ModelFileError(f"{where}: {problem}")
    return found
