"""common.modelfile, the one reader of a model: the metadata entry (read without TensorFlow,
checked against the schema module of ai-edge-litert), the shapes, the JSON beside a model
(strict, bounded, typed, recording these bytes, agreeing with the metadata), a forecaster's
normalization, and every reader refusing a problem with the same line. The models: `tiny`."""

import functools
import json
import math
import os
import sys
import zipfile
from dataclasses import replace

import numpy as np
import pytest

from common import cli, modelfile, outputs, tflite_io
from common.frontend_np import LABELS, MFCC_8K, MFCC_16K
from common.litert import Model
from common.tflite_io import ModelFileError, sha256

tf = pytest.importorskip("tensorflow")
from ai_edge_litert import schema_py_generated as litert_schema  # noqa: E402
from tensorflow.lite.python import schema_py_generated as tf_schema  # noqa: E402
from tensorflow.lite.tools import flatbuffer_utils  # noqa: E402

import kws_inference  # noqa: E402
from tools import arm_check, c_export, evaluate, mcu  # noqa: E402

NAME, embed = modelfile.NAME, modelfile.embed
NORM = {"mean": [9.5, 75.0], "std": [8.0, 16.0]}
fc = lambda sha: {"version": "ex1_a", "tflite_sha256": sha, "normalization": NORM}  # a forecaster's
AGAIN = "expected the JSON written with this model"
RUNS = AGAIN + " (the model's metadata is what runs): run its script again, or remove the JSON"


@functools.cache
def tiny():
    """Model bytes, built once a session: 'a' an untrained tiny DS-CNN converted by kws.to_int8
    (int8, carrying ex2_a, its 16 kHz MFCC front end and the labels); 'b' / 'c8' the same
    carrying ex2_b / ex2_c's 8 kHz front end (the same 49 x 10 input); 'two' 2 labels for its 8
    outputs; 'bare' no metadata (as the course's); 'th' a tiny float forecaster."""
    from common import compress, kws, models

    tf.keras.utils.set_random_seed(0)
    spec = kws.KWSVersion("ex2_a", MFCC_16K, filters=(8, 8))
    features = np.random.RandomState(0).normal(0, 4, [16, 49, 10, 1]).astype(np.float32)
    a = kws.to_int8(spec, kws.build_model(spec), features)
    th = tf.lite.TFLiteConverter.from_keras_model(models.forecast_mlp(units=(4,))).convert()
    return {
        "a": a,
        "b": embed(a, "ex2_b", MFCC_16K, LABELS),
        "c8": embed(a, "ex2_c", MFCC_8K, LABELS),
        "two": embed(a, "ex2_a", MFCC_16K, LABELS[:2]),
        "bare": compress.strip_container(a),
        "th": th,
    }


def kws_report(tflite, cfg=MFCC_16K, name="kws_a", **fields):
    """The JSON a script writes beside a keyword spotter, the fields the readers read."""
    files = {n: sha256(b) for n, b in tflite_io.model_files(name, tflite)[0].items()}
    report = {"version": "ex2_a", "tflite_sha256": sha256(tflite), "files": files}
    frontend = {**cfg.to_dict(), "input_shape": cfg.input_shape}
    return {**report, "frontend": frontend, "labels": LABELS, **fields}


def write_set(folder, tflite, report=None, name="kws_a"):
    """`name`.tflite, .tflite.zip and, given (a dict, or bytes as they are), .json in `folder`:
    the .tflite's path."""
    folder.mkdir(parents=True, exist_ok=True)
    for n, b in tflite_io.model_files(name, tflite)[0].items():
        (folder / n).write_bytes(b)
    if report is not None:
        raw = report if isinstance(report, bytes) else json.dumps(report).encode()
        (folder / f"{name}.json").write_bytes(raw)
    return folder / f"{name}.tflite"


def refused(*args, **kwargs):
    """The message, one line, of what open_model(*args, **kwargs) raises."""
    with pytest.raises(ValueError) as e:  # DataError or ModelFileError: exit status 1
        modelfile.open_model(*args, **kwargs)
    assert "\n" not in str(e.value) and len(str(e.value)) < 600, str(e.value)
    return str(e.value)


# ---------------------------------------------------------------- the flatbuffer and its metadata
def by_the_schema_module(tflite):
    """({name: bytes} of the metadata entries, input shape, output size) through ai-edge-litert's
    generated schema module."""
    model = litert_schema.Model.GetRootAs(tflite, 0)
    entries = {}
    for i in range(model.MetadataLength()):
        m = model.Metadata(i)
        entries[m.Name().decode()] = model.Buffers(m.Buffer()).DataAsNumpy().tobytes()
    graph = model.Subgraphs(0)
    inp, out = (tuple(graph.Tensors(t).ShapeAsNumpy()) for t in (graph.Inputs(0), graph.Outputs(0)))
    return entries, inp, math.prod(out[1:])


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


def test_the_reader_agrees_with_the_schema_module():
    t = tiny()
    converter = ["CONVERSION_METADATA", "min_runtime_version"]
    assert sorted(by_the_schema_module(t["th"])[0]) == converter
    once = with_entry(embed(t["th"], "ex2_c", MFCC_8K, LABELS), "x", b"\0\1")
    again = embed(once, "ex2_b", MFCC_16K, LABELS[:3])
    for tflite in (t["a"], t["bare"], t["th"], again):
        entries, inp, out = by_the_schema_module(tflite)
        assert (modelfile.read_entries(tflite), modelfile.shapes(tflite)) == (entries, (inp, out))
    assert [modelfile.shapes(t[k]) for k in ("a", "th")] == [((1, 49, 10, 1), 8), ((1, 6, 2), 12)]
    assert by_the_schema_module(t["bare"])[0] == {} and modelfile.metadata(t["bare"]) is None
    frontend = {**MFCC_16K.to_dict(), "input_shape": [49, 10, 1]}
    carried = json.loads(by_the_schema_module(t["a"])[0][NAME])
    assert carried == dict(version="ex2_a", frontend=frontend, labels=LABELS)
    # written twice: the converter's and another entry kept, one entry of ours, the last one
    entries = by_the_schema_module(again)[0]
    assert sorted(entries) == sorted([*converter, NAME, "x"])
    assert json.loads(entries[NAME])["labels"] == LABELS[:3] == modelfile.metadata(again)["labels"]
    model = litert_schema.Model.GetRootAs(again, 0)
    names = [model.Metadata(i).Name() for i in range(model.MetadataLength())]
    assert names.count(NAME.encode()) == 1
    # and changes nothing the interpreter computes
    x = np.random.RandomState(0).normal(size=[49, 10, 1]).astype(np.float32)
    assert np.array_equal(Model(t["bare"])(x), Model(t["a"])(x))
    assert np.array_equal(Model(t["a"])(x), Model(t["c8"])(x))


DESCRIPTION = {"version": "ex2_c", "frontend": MFCC_8K.to_dict(), "labels": LABELS}
meta = lambda **f: json.dumps({**DESCRIPTION, **f}).encode()


@pytest.mark.parametrize(
    "payload, expected",
    [
        (b"\xff not json", "not a readable JSON ("),
        (b"[" * 100_000 + b"]" * 100_000, "nested too deep to parse"),
        (b'{"labels": ["a"]}', "no 'frontend' object"),
        (meta(version="ex3"), "'version' is 'ex3'; expected"),
        (meta(frontend={**MFCC_8K.to_dict(), "frame_step": 0}), "'frame_step' is 0; expected a"),
        (meta(labels=[]), "'labels' is []"),
    ],
)
def test_wrong_metadata_is_one_clear_error(payload, expected):
    tflite = with_entry(tiny()["bare"], NAME, payload)
    with pytest.raises(ValueError) as e:  # DataError or ModelFileError: exit status 1
        modelfile.metadata(tflite, "m.tflite")
    assert str(e.value).startswith(f"m.tflite: metadata '{NAME}': {expected}")


def test_a_damaged_flatbuffer_is_one_clear_error():
    a = tiny()["a"]
    for damaged in (a[:8], a[: len(a) // 2], b"\xff\xff\xff\x7f" + a[4:]):
        with pytest.raises(ModelFileError, match=r"^m\.tflite: its metadata is unreadable \("):
            modelfile.metadata(damaged, "m.tflite")
        with pytest.raises(ModelFileError, match=r"^m\.tflite: no readable input and output \("):
            modelfile.shapes(damaged, "m.tflite")


# ---------------------------------------------------------------- the model and its JSON
def test_open_model_describes_the_model_by_its_metadata_and_checked_json(tmp_path):
    b = tiny()["b"]
    report = kws_report(b, name="kws_b", version="ex2_b")
    model = write_set(tmp_path, b, report, name="kws_b")
    source = "front end from the model's metadata"
    for path in (model, f"{model}.zip"):
        d = modelfile.Described(str(path), b, (1, 49, 10, 1), 8, "ex2_b", MFCC_16K, tuple(LABELS))
        assert modelfile.open_model(path) == replace(d, source=source, report=report)
    assert d.limits == {"accuracy": 0.9, "zip_bytes": 35 * 1024, "pi_inference_ms": 1.5}
    # the JSON lists the sha256 of each file of its set: another zip of the same .tflite is not
    with zipfile.ZipFile(tmp_path / "kws_b.tflite.zip", "w") as z:
        z.writestr("kws_b.tflite", b)
    assert refused(f"{model}.zip").startswith(
        f"{tmp_path / 'kws_b.json'}: describes other bytes than {model}.zip (sha256 "
    )
    del report["files"]["kws_b.tflite.zip"]  # not listed: its .tflite checked alone
    (tmp_path / "kws_b.json").write_text(json.dumps(report))
    assert modelfile.open_model(f"{model}.zip").data == b
    assert [modelfile.json_path(p) for p in ("m.tflite.zip", "m.tflite", "m")] == ["m.json"] * 3


deep = lambda n: json.loads("[" * n + "1" + "]" * n)
edit = lambda **fields: lambda r: {**r, **fields}
fe = lambda **fields: lambda r: {**r, "frontend": {**r["frontend"], **fields}}
drop = lambda *keys: lambda r: {k: v for k, v in r.items() if k not in keys}
forecaster = lambda **n: lambda r: {**fc(r["tflite_sha256"]), "normalization": {**NORM, **n}}
# what a JSON beside a keyword spotter may hold (bytes as they are, or an edit of its good JSON,
# its sha256s those of the model), refused naming the JSON: (contents, message)
JSON_CASES = {
    "not JSON": (b'{"version": "ex2_a", "frontend": {', "not a readable JSON file (Expecting"),
    "NaN": (b'{"tflite_sha256": NaN}', "not a readable JSON file (NaN is not a JSON number)"),
    "100,000 deep": (b"[" * 100_000 + b"]" * 100_000, "nested too deep to parse"),
    "17 deep": (edit(history=deep(17)), "arrays or objects nested more than 16 deep"),
    "over 4 MiB": (
        b" " * (4 * 2**20 - 1) + b"{}",
        "over the bound of 4,194,304 bytes; expected the JSON",
    ),
    "a list": (b"[]", "not a JSON object; expected the JSON written with the model"),
    "empty object": (b"{}", "'tflite_sha256' is None; expected a sha256 as 64 lowercase hex"),
    "sha256 number": (edit(tflite_sha256=12345), "'tflite_sha256' is 12345; expected a sha256"),
    "sha256 short": (edit(tflite_sha256="ab" * 31), "'tflite_sha256' is 'ababab"),
    "version list": (edit(version=["ex2_a"]), "'version' is ['ex2_a']; expected one of ex1_a, "),
    "frontend null": (edit(frontend=None), "'frontend' is None; expected an object of front-end"),
    "rate string": (fe(rate="16000"), "'rate' is '16000'; expected a whole number in [1, 48,000]"),
    "frame_step 0": (fe(frame_step=0), "'frame_step' is 0; expected a whole number in [1, 48,000]"),
    "frequency bool": (fe(lower_frequency=True), "'lower_frequency' True / 'upper_frequency' 4000"),
    "38 GiB of mel matrix": (fe(num_mel_bins=10**7), "'num_mel_bins' is 10000000; expected a who"),
    "label number": (edit(labels=["yes", 7]), "'labels' is ['yes', 7]; expected a list of 1 to 1"),
    "labels repeated": (edit(labels=["yes", "yes"]), "'labels' is ['yes', 'yes']; expected a list"),
    "neither": (drop("frontend", "labels"), "neither 'frontend' (keyword spotting) nor 'norma"),
    "std 0": (forecaster(std=[1.0, 0]), "expected {'mean': [T, RH], 'std': [T, RH]} with finite"),
    "mean text": (forecaster(mean=["9.5", 75.0]), "'normalization' is {'mean': ['9.5', 75.0],"),
    # saying otherwise than the model's metadata ({m}: where the model carries it, then RUNS)
    "mel bins": (fe(num_mel_bins=80), "says frontend.num_mel_bins 80 {m} 40"),  # same input shape
    "upper freq.": (fe(upper_frequency=3000.0), "says frontend.upper_frequency 3000.0 {m} 4000"),
    "fft length": (fe(fft_length=None), "says frontend.fft_length 1024 {m} 640"),  # of before it
    "labels": (edit(labels=LABELS[::-1]), f"says labels {LABELS[::-1]!r} {{m}} {LABELS!r}"),
    "version": (edit(version="ex2_b"), "says version 'ex2_b' {m} 'ex2_a'"),
    "forecaster's": (forecaster(), "says a forecaster's fields (no 'frontend') '-' {m} 'a keyword"),
}


def test_a_json_that_is_not_a_regular_file_is_refused_unopened(tmp_path):
    model = write_set(tmp_path, tiny()["a"])
    os.mkfifo(tmp_path / "kws_a.json")  # opened for reading, it would block
    assert refused(model) == (
        f"{tmp_path / 'kws_a.json'}: not a regular file; expected the JSON written with the model"
    )


@pytest.mark.parametrize("case", list(JSON_CASES))
def test_every_json_field_read_is_typed_and_bounded(tmp_path, case):
    contents, message = JSON_CASES[case]
    a = tiny()["a"]
    model = write_set(tmp_path, a, contents(kws_report(a)) if callable(contents) else contents)
    line, message = refused(model), message.replace("{m}", f"where {model} carries")
    assert line.startswith(f"{tmp_path / 'kws_a.json'}: ") and message in line, line
    assert not message.startswith("says") or line.endswith(f" in its metadata; {RUNS}"), line


def test_a_forecaster_travels_with_its_json(tmp_path, capsys):
    t = tiny()
    report = fc(sha256(t["th"]))
    model, side = write_set(tmp_path, t["th"], report, name="th_a"), tmp_path / "th_a.json"
    d = modelfile.Described(str(model), t["th"], (1, 6, 2), 12, "ex1_a", normalization=NORM)
    for kind in (None, "forecast"):
        assert modelfile.open_model(model, kind=kind) == replace(
            d, source="its JSON", report=report
        )
    assert d.limits["mae_t"] == 0.5
    assert refused(model, kind="kws") == (
        f"{model}: a forecaster (its JSON {side} holds a normalization); expected a keyword spotter"
    )
    kws = write_set(tmp_path, t["a"])
    assert refused(kws, kind="forecast") == (
        f"{kws}: a keyword spotter (it carries a front end); expected a forecaster (score it "
        f"with kws_inference.py --model {kws} --wav DIR --split FILE)"
    )
    assert cli.exit_status(evaluate.run, [str(kws), "--data", "x.csv"]) == 1
    assert capsys.readouterr().err == f"error: {refused(kws, kind='forecast')}\n"
    side.unlink()
    assert refused(model, kind="forecast") == (
        f"{side}: no JSON with a 'normalization' beside {model}; expected the forecaster's JSON "
        "written with it (it holds the input normalization)"
    )


# ---------------------------------------------------------------- every reader alike
FLAG_READERS = ("kws_inference", "arm_check")  # mcu and c_export take no front-end flag
IN_PROCESS = {
    "kws_inference": lambda m, flags, tmp: kws_inference.run(["--model", m, "--runs", "2", *flags]),
    "mcu": lambda m, flags, tmp: mcu.run([m]),
    "mcu --data": lambda m, flags, tmp: mcu.run([m, "--data", tmp, "--split", f"{tmp}/x.txt"]),
    "c_export": lambda m, flags, tmp: c_export.run([m, "--out-dir", f"{tmp}/c"]),
}
# each case's flags (only for FLAG_READERS) and line ({json}: the JSON beside the {model})
FLAGS = {"flag contradicts": ["--rate", "8000"]}
LINES = {
    "JSON contradicts": "{json}: says frontend.rate 16000 where {model} carries 8000 in its "
    "metadata; " + RUNS,
    "flag contradicts": "{model}: --rate 8000 contradicts the model's metadata (rate 16000); "
    "expected the flag left out, or kws_inference.py --ignore-metadata to run the flags instead",
    "labels not outputs": "{model}: 2 labels for 8 outputs; expected one label per output of the "
    "model",
    "truncated": "{model}: the interpreter cannot load it (default kernels: The model is not a "
    "valid Flatbuffer buffer); expected a TFLite model this interpreter runs",
    "set cut short": "{json}: describes other bytes than {model} (sha256 {a}... != {c8}...): the "
    "set was cut short or mixed; " + AGAIN + ": run its script again, or remove the JSON",
}


@pytest.fixture(scope="module")
def reader_cases(tmp_path_factory):
    """{case: (model path, the expected line, (status, stdout, stderr) of the ARM check's driver
    (kws_inference.main --json in another Python, as in the guest: every case in one run))}."""
    t, root = tiny(), tmp_path_factory.mktemp("cases")
    models = {
        # the model replaced by one of another front end (8 kHz), the JSON's sha256s recomputed
        "JSON contradicts": write_set(root / "json", t["c8"], kws_report(t["c8"])),
        "flag contradicts": write_set(root / "flag", t["a"], kws_report(t["a"])),
        "labels not outputs": write_set(root / "two", t["two"]),
        "set cut short": write_set(root / "cut", t["a"], kws_report(t["a"])),
        "truncated": write_set(root / "truncated", t["a"][:-100]),  # its metadata still read
    }
    # what a writer killed before the JSON's rename leaves: the new model beside the old JSON
    outputs.write_set(root / "cut", tflite_io.model_files("kws_a", t["c8"])[0])
    argvs = [["--model", str(m), "--json", *FLAGS.get(c, [])] for c, m in models.items()]
    results, _, stderr, _ = arm_check.run_driver([sys.executable], argvs)
    errors = iter(stderr.splitlines(keepends=True))  # a line for each run that failed
    arm = [(s, r or "", next(errors, "") if s else "") for _, s, r in results]
    sha = {k: sha256(t[k])[:12] for k in ("a", "c8")}
    line = lambda c, m: LINES[c].format(model=m, json=m.with_suffix(".json"), **sha)
    return {c: (m, line(c, m), a) for (c, m), a in zip(models.items(), arm)}


READ = [
    (c, r) for c in LINES for r in (*IN_PROCESS, "arm_check") if c not in FLAGS or r in FLAG_READERS
]


@pytest.mark.parametrize("case, reader", READ)
def test_every_reader_refuses_the_same_problem_with_the_same_line(
    reader_cases, tmp_path, capsys, case, reader
):
    (model, expected, arm), flags = reader_cases[case], FLAGS.get(case, [])
    if reader == "arm_check":
        status, out, err = arm
    else:
        run = lambda _: IN_PROCESS[reader](str(model), flags, str(tmp_path))
        status, (out, err) = cli.exit_status(run), capsys.readouterr()
    assert (status, out, err) == (1, "", f"error: {expected}\n")
    assert os.listdir(tmp_path) == []  # nothing written (c_export)
