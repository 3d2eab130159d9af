"""The description a keyword-spotting .tflite carries in its metadata: written with
TensorFlow's flatbuffer tools, read back by common.model_metadata's own reader (no
TensorFlow, no schema module), checked against the schema module ai-edge-litert generates."""

import json
import subprocess
import sys

import numpy as np
import pytest

from conftest import ROOT

tf = pytest.importorskip("tensorflow")
from ai_edge_litert import schema_py_generated as litert_schema  # noqa: E402
from tensorflow.lite.python import schema_py_generated as tf_schema  # noqa: E402
from tensorflow.lite.tools import flatbuffer_utils  # noqa: E402

from common import kws, model_metadata  # noqa: E402
from common.frontend_np import LABELS, MFCC_8K  # noqa: E402
from common.tflite_io import ModelFileError  # noqa: E402
from test_kws_inference import tiny_model  # noqa: E402

DESCRIPTION = model_metadata.description("ex2_c", kws.frontend_record(MFCC_8K), LABELS)


@pytest.fixture(scope="module")
def converted(tmp_path_factory):
    """A converter's .tflite (its own metadata entries, none of ours)."""
    return open(tiny_model(tmp_path_factory.mktemp("tiny"), "ex2_a")["tflite_path"], "rb").read()


def entries_by_the_schema_module(tflite):
    """{name: bytes} of the metadata, through ai-edge-litert's generated schema module."""
    model = litert_schema.Model.GetRootAs(tflite, 0)
    found = {}
    for i in range(model.MetadataLength()):
        entry = model.Metadata(i)
        found[entry.Name().decode()] = model.Buffers(entry.Buffer()).DataAsNumpy().tobytes()
    return found


def with_entry(tflite, name, payload):
    """`tflite` with one more raw metadata entry (written here, not by the code under test)."""
    model = flatbuffer_utils.read_model_from_bytearray(bytearray(tflite))
    buffer = tf_schema.BufferT()
    buffer.data = np.frombuffer(payload, np.uint8)
    model.buffers.append(buffer)
    entry = tf_schema.MetadataT()
    entry.name, entry.buffer = name, len(model.buffers) - 1
    model.metadata = (model.metadata or []) + [entry]
    return bytes(flatbuffer_utils.convert_object_to_bytearray(model))


def test_the_reader_agrees_with_the_schema_module(converted):
    before = model_metadata.read_entries(converted)
    assert sorted(before) == ["CONVERSION_METADATA", "min_runtime_version"]
    assert before == entries_by_the_schema_module(converted)
    assert model_metadata.carried(converted) is None  # an old model: nothing of ours
    written = model_metadata.embed(converted, DESCRIPTION)
    after = model_metadata.read_entries(written)
    assert after == entries_by_the_schema_module(written)
    assert json.loads(after[model_metadata.NAME]) == DESCRIPTION
    assert {k: v for k, v in after.items() if k != model_metadata.NAME} == before
    # written again: one entry, the new one
    again = model_metadata.embed(written, {**DESCRIPTION, "version": "ex2_b"})
    names = [
        litert_schema.Model.GetRootAs(again, 0).Metadata(i).Name().decode()
        for i in range(litert_schema.Model.GetRootAs(again, 0).MetadataLength())
    ]
    assert names.count(model_metadata.NAME) == 1
    assert model_metadata.carried(again)["version"] == "ex2_b"


def test_written_then_read_back_without_tensorflow(converted, tmp_path):
    path = tmp_path / "kws_c.tflite"
    path.write_bytes(model_metadata.embed(converted, DESCRIPTION))
    code = (
        "import json, sys; from common import model_metadata; "
        f"print(json.dumps(model_metadata.carried(open({str(path)!r}, 'rb').read()))); "
        "assert 'tensorflow' not in sys.modules and 'ai_edge_litert' not in sys.modules"
    )
    r = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    read = json.loads(r.stdout)
    assert read == DESCRIPTION
    assert read["frontend"]["fft_length"] == MFCC_8K.fft_length  # every FrontEnd field, as written
    assert set(read["frontend"]) == set(MFCC_8K.to_dict()) | {"input_shape"}


def test_a_model_the_interpreter_runs_the_same(converted):
    """The metadata changes nothing the interpreter computes."""
    from common.litert import Model

    written = model_metadata.embed(converted, DESCRIPTION)
    x = np.random.RandomState(0).normal(size=[49, 10, 1]).astype(np.float32)
    assert np.array_equal(Model(converted)(x), Model(written)(x))


@pytest.mark.parametrize(
    "payload, expected",
    [
        (b"\xff not json", "metadata 'keyword_spotting': not a readable JSON ("),
        (b"[" * 100_000 + b"]" * 100_000, "metadata 'keyword_spotting': nested too deep to parse"),
        (b'{"labels": ["a"]}', "metadata 'keyword_spotting': no 'frontend' object"),
        (
            json.dumps(
                {**DESCRIPTION, "frontend": {**DESCRIPTION["frontend"], "frame_step": 0}}
            ).encode(),
            "metadata 'keyword_spotting': 'frame_step' is 0; expected a whole number in [1, ",
        ),
        (
            json.dumps({**DESCRIPTION, "labels": []}).encode(),
            "metadata 'keyword_spotting': 'labels' is []",
        ),
    ],
)
def test_wrong_metadata_is_one_clear_error(converted, payload, expected):
    tflite = with_entry(converted, model_metadata.NAME, payload)
    with pytest.raises(ValueError) as e:  # DataError or ModelFileError: one line, exit status 1
        model_metadata.carried(tflite, "m.tflite")
    assert str(e.value).startswith("m.tflite: " + expected) and "\n" not in str(e.value)


def test_a_damaged_flatbuffer_is_one_clear_error(converted):
    written = model_metadata.embed(converted, DESCRIPTION)
    for damaged in (written[:8], written[: len(written) // 2], b"\xff\xff\xff\x7f" + written[4:]):
        with pytest.raises(ModelFileError, match=r"^m\.tflite: its metadata is unreadable"):
            model_metadata.carried(damaged, "m.tflite")
