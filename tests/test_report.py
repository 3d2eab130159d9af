"""The sidecar: valid JSON, what it describes (checksum, model hash), the checks on reading;
the output set written as one unit."""

import json
import os
import stat

import pytest

from common import outputs, report
from common.errors import DataError
from common.frontend_np import LABELS, FrontEnd
from common.tflite_io import sha256

MODEL = b"\0\0\0\0TFL3 a model"


def write_pair(tmp_path, sidecar, model=MODEL):
    (tmp_path / "m.tflite").write_bytes(model)
    (tmp_path / "m.json").write_bytes(
        report.sidecar_bytes(sidecar) if isinstance(sidecar, dict) else sidecar
    )
    return str(tmp_path / "m.tflite")


def kws_sidecar(**frontend):
    return {
        "version": "ex2_a",
        "tflite_sha256": sha256(MODEL),
        "labels": LABELS,
        "frontend": {**FrontEnd().to_dict(), **frontend},
        "metrics": {"accuracy": float("nan")},
    }


def test_sidecar_is_strict_json_and_round_trips(tmp_path):
    path = write_pair(tmp_path, kws_sidecar())
    text = (tmp_path / "m.json").read_text()
    json.loads(text, parse_constant=lambda c: pytest.fail(c))
    side = report.read_sidecar(path, MODEL)
    assert side["metrics"]["accuracy"] is None and side["frontend"]["rate"] == 16000
    assert report.read_sidecar(str(tmp_path / "other.tflite")) is None


@pytest.mark.parametrize(
    "edit, message",
    [
        (lambda s: {}, "does not say which model"),
        (
            lambda s: {**s, "frontend": {**s["frontend"], "num_mel_bins": 80}},
            "edited after it was written",
        ),
        (lambda s: {**s, "tflite_sha256": "0" * 64}, "edited after it was written"),
    ],
)
def test_edited_sidecars_are_refused(tmp_path, edit, message):
    side = json.loads(report.sidecar_bytes(kws_sidecar()))
    path = write_pair(tmp_path, json.dumps(edit(side)).encode())
    with pytest.raises(DataError, match=f"{tmp_path / 'm.json'}: {message}"):
        report.read_sidecar(path, MODEL)


def test_sidecar_of_another_model_is_refused(tmp_path):
    path = write_pair(tmp_path, kws_sidecar(), model=b"\0\0\0\0TFL3 another")
    with pytest.raises(DataError, match="m.json: describes another model"):
        report.read_sidecar(path, b"\0\0\0\0TFL3 another")


@pytest.mark.parametrize(
    "frontend, message", [(None, "'frontend' is None"), ({"frame_step": 0}, "'frame_step' is 0")]
)
def test_bad_contents_named(tmp_path, frontend, message):
    side = kws_sidecar()
    side["frontend"] = frontend if frontend is None else {**side["frontend"], **frontend}
    path = write_pair(tmp_path, side)
    with pytest.raises(DataError, match=f"m.json: {message}"):
        report.read_sidecar(path, MODEL)


def test_not_json(tmp_path):
    path = write_pair(tmp_path, b"{not json")
    with pytest.raises(DataError, match="m.json: not a readable JSON file"):
        report.read_sidecar(path)


def test_output_set_is_written_as_a_unit_with_the_umask_mode(tmp_path, monkeypatch):
    old = {"a.tflite": b"old a", "a.json": b"old j"}
    outputs.write_set(tmp_path, old)
    real = os.replace
    calls = []

    def failing(src, dst):
        calls.append(dst)
        if len(calls) == 2 and not str(src).endswith(".previous"):
            raise OSError("disk full")
        return real(src, dst)

    monkeypatch.setattr(outputs.os, "replace", failing)
    with pytest.raises(OSError, match="disk full"):
        outputs.write_set(tmp_path, {"a.tflite": b"new a", "a.json": b"new j", "a.png": b"new p"})
    monkeypatch.setattr(outputs.os, "replace", real)
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir()} == old  # nothing else left
    saved = os.umask(0o022)
    try:
        outputs.write_set(tmp_path, {"a.tflite": b"new a"})
    finally:
        os.umask(saved)
    assert stat.S_IMODE(os.stat(tmp_path / "a.tflite").st_mode) == 0o644


def test_the_umask_is_left_as_it_was(tmp_path, monkeypatch):
    """The test above sets the umask for its write; the process keeps its own after it."""
    saved = os.umask(0o077)
    try:
        test_output_set_is_written_as_a_unit_with_the_umask_mode(tmp_path, monkeypatch)
        assert os.umask(0o077) == 0o077
    finally:
        os.umask(saved)


def test_out_dir_checks(tmp_path):
    f = tmp_path / "file"
    f.write_text("x")
    with pytest.raises(DataError, match="--out-dir is a file"):
        outputs.check_out_dir(f)
    with pytest.raises(DataError, match="lies under the file"):
        outputs.check_out_dir(f / "sub")
    assert outputs.check_out_dir(tmp_path / "new" / "deeper") == str(tmp_path / "new" / "deeper")
    assert not (tmp_path / "new").exists() and os.listdir(tmp_path) == ["file"]
