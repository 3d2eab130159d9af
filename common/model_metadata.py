"""What a keyword-spotting .tflite says about itself: its version, front end and labels, in
one entry of the TFLite model metadata (`Model.metadata`, name NAME, a buffer of compact JSON).

With it, kws_inference.py runs a .tflite copied alone, and the model's sha256 (in its JSON)
covers its front end. Writing (`embed`, training side) re-serializes the model with
TensorFlow's flatbuffer_utils; reading (`read_entries`, `carried`) needs no TensorFlow and no
TFLite schema module: tflite-runtime, the 32-bit Raspberry Pi OS interpreter, ships none, so
a minimal reader of the flatbuffer (the tables Model, Metadata and Buffer) does it here,
checked in the tests against the schema module that ai-edge-litert generates.
"""

import json
import struct

from . import report
from .tflite_io import ModelFileError

NAME = "keyword_spotting"  # the metadata entry; others (the converter's) are left alone
# field indices in the TFLite schema (tensorflow/compiler/mlir/lite/schema/schema.fbs)
MODEL_BUFFERS, MODEL_METADATA = 4, 6
METADATA_NAME, METADATA_BUFFER = 0, 1
BUFFER_DATA, BUFFER_OFFSET, BUFFER_SIZE = 0, 1, 2


def description(version, frontend, labels):
    """The entry's contents: `frontend` as the JSON writes it (FrontEnd fields + input_shape)."""
    return {"version": version, "frontend": frontend, "labels": list(labels)}


def embed(tflite, described):
    """`tflite` bytes with the NAME entry set to `described` (a dict; compact JSON)."""
    import numpy as np
    from tensorflow.lite.python import schema_py_generated as schema
    from tensorflow.lite.tools import flatbuffer_utils

    model = flatbuffer_utils.read_model_from_bytearray(bytearray(tflite))
    payload = json.dumps(described, sort_keys=True, separators=(",", ":")).encode()
    buffer = schema.BufferT()
    buffer.data = np.frombuffer(payload, np.uint8)
    model.buffers.append(buffer)
    entry = schema.MetadataT()
    entry.name, entry.buffer = NAME, len(model.buffers) - 1
    model.metadata = [m for m in (model.metadata or []) if m.name.decode() != NAME] + [entry]
    return bytes(flatbuffer_utils.convert_object_to_bytearray(model))


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


def carried(tflite, model_path="the model"):
    """The checked NAME entry of a .tflite as a dict, or None when it carries none (a model
    made before the entry existed)."""
    try:
        raw = read_entries(tflite).get(NAME)
    except ModelFileError as e:
        raise ModelFileError(
            f"{model_path}: {e}; expected a .tflite written by the scripts"
        ) from None
    if raw is None:
        return None
    found = report.parse_json(
        raw,
        f"{model_path}: metadata '{NAME}'",
        "the model's version, front end and labels",
        what="JSON",
    )
    problems = (
        report.check_contents(found)
        if isinstance(found, dict) and "frontend" in found
        else ["no 'frontend' object"]
    )
    if problems:
        raise ModelFileError(f"{model_path}: metadata '{NAME}': {problems[0]}")
    return found
