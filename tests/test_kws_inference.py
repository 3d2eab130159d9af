"""kws_inference.py, the Pi side: latency with the version's Pi limit, labelling wavs with a
summary, the interpreter's origin, the sidecar check, no TensorFlow import."""

import re
import subprocess
import sys
import warnings

import numpy as np
import pytest
from scipy.io import wavfile

from common.frontend_np import LABELS, FrontEnd
from conftest import ROOT

tf = pytest.importorskip("tensorflow")
import kws_inference  # noqa: E402
from common import kws_data, litert, report, tflite_io  # noqa: E402
from common.speech import tf_frontend  # noqa: E402
from common.wav import read_wav  # noqa: E402

CFG = FrontEnd()


def tiny_model(out, version, trained_on=None):
    """A tiny int8 Conv2D model with float32 input/output, its files and a sidecar (which
    lists the `trained_on` files as its training split, when given)."""
    tf.keras.utils.set_random_seed(0)
    m = tf.keras.Sequential(
        [
            tf.keras.layers.Input(CFG.input_shape),
            tf.keras.layers.Conv2D(8, 3, strides=2, activation="relu"),
            tf.keras.layers.GlobalAveragePooling2D(),
            tf.keras.layers.Dense(len(LABELS)),
        ]
    )
    rng = np.random.RandomState(0)

    def representative():
        for _ in range(20):
            x = rng.uniform(-1, 1, 16000).astype(np.float32) * rng.uniform(0.01, 1)
            yield [tf_frontend(tf.constant(x), CFG)[None]]

    conv = tf.lite.TFLiteConverter.from_keras_model(m)
    conv.optimizations = [tf.lite.Optimize.DEFAULT]
    conv.representative_dataset = representative
    conv.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "Statistics for quantized inputs")
        files, sizes = tflite_io.model_files("tiny", conv.convert())
    for name, data in files.items():
        (out / name).write_bytes(data)
    sidecar = {
        "version": version,
        "tflite_sha256": sizes["tflite_sha256"],
        "labels": LABELS,
        "frontend": {**CFG.to_dict(), "input_shape": CFG.input_shape},
        "limits": {"ex2_b": {"pi_inference_ms": 1.5}, "ex2_c": {"pi_total_ms": 40.0}}.get(
            version, {}
        ),
    }
    if trained_on is not None:
        split = kws_data.Split("train", "kws_split_train.txt", [str(p) for p in trained_on], None)
        sidecar["data"] = {"training_files": kws_data.training_files(split)}
    (out / "tiny.json").write_bytes(report.sidecar_bytes(sidecar))
    return {"tflite_path": str(out / "tiny.tflite"), "zip_path": str(out / "tiny.tflite.zip")}


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    return tiny_model(tmp_path_factory.mktemp("kws_b"), "ex2_b")


def run(*args):
    r = subprocess.run(
        [sys.executable, "kws_inference.py", *map(str, args)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    return r.returncode, r.stdout, r.stderr


def test_latency_mode_with_the_pi_limit_line(model):
    for path in (model["tflite_path"], model["zip_path"]):
        rc, out, err = run("--model", path, "--runs", 5)
        assert rc == 0 and err == "", err
        assert "front end from the sidecar JSON (the model carries none in its metadata)" in out
        assert re.search(r"^interpreter: ai-edge-litert \d+\.\d+", out, re.M), out
        assert re.search(r"^Inference Latency \d+\.\d\dms$", out, re.M), out
        assert re.search(r"^Total Latency \d+\.\d\dms$", out, re.M), out
        assert re.search(r"^Total p50 \d+\.\d\dms p90 \d+\.\d\dms", out, re.M), out
        last = out.strip().splitlines()[-1]
        assert re.fullmatch(
            r"Pi limit of ex2_b: inference \d+\.\d\d ms \(mean\) < 1\.5 ms: not assessable: "
            r"not a Raspberry Pi, the limit is defined on one; ran on .+",
            last,
        ), last


def test_limit_line_on_a_pi_and_without_a_limit(tmp_path):
    dt = tmp_path / "model"
    dt.write_bytes(b"Raspberry Pi 4 Model B Rev 1.4\0")
    host = kws_inference.machine(str(dt))
    assert host == ("Raspberry Pi 4 Model B Rev 1.4", True)
    assert kws_inference.machine(str(tmp_path / "none"))[1] is False
    result = {"inference_ms": {"mean": 0.9}, "total_ms": {"mean": 41.0}}
    side = {"version": "ex2_c", "limits": {"accuracy": 0.9, "pi_total_ms": 40.0}}
    os_side = ("Debian GNU/Linux 12 (bookworm), ...", 64)
    assert (
        kws_inference.limit_line(side, result, host, os_side)
        == "Pi limit of ex2_c: total 41.00 ms (mean) < 40 ms: FAIL; ran on Raspberry Pi 4 Model B Rev 1.4; "
        "Debian GNU/Linux 12 (bookworm), ..."
    )
    side = {"version": "ex2_b", "limits": {"pi_inference_ms": 1.5}}
    assert kws_inference.limit_line(side, result, host, os_side).endswith(
        "< 1.5 ms: pass; ran on Raspberry Pi 4 Model B Rev 1.4; Debian GNU/Linux 12 (bookworm), ..."
    )
    assert kws_inference.limit_line(
        {"version": "ex2_a", "limits": {}}, result, host, os_side
    ).startswith("Pi limit: none for ex2_a")


def test_wav_mode_labels_every_file_and_summarizes(model, tmp_path):
    rng = np.random.RandomState(0)
    for name in ("yes/a.wav", "yes/b.wav", "no/c.wav", "other/d.wav"):
        (tmp_path / name).parent.mkdir(exist_ok=True)
        wavfile.write(str(tmp_path / name), 16000, (rng.randn(16000) * 3000).astype(np.int16))
    rc, out, err = run("--model", model["zip_path"], "--wav", tmp_path)
    assert rc == 0, err
    rows = [ln.split() for ln in out.splitlines() if ln.startswith(str(tmp_path))]
    assert [r[0] for r in rows] == [
        str(tmp_path / n) for n in ("no/c.wav", "other/d.wav", "yes/a.wav", "yes/b.wav")
    ]
    assert all(r[1] in LABELS and 0 < float(r[2]) <= 1 for r in rows)
    counts = {lab: sum(r[1] == lab for r in rows) for lab in LABELS}
    summary = next(ln for ln in out.splitlines() if ln.startswith("Summary:"))
    assert summary == "Summary: 4 of 4 files labelled; predictions: " + ", ".join(
        f"{lab} {n}" for lab, n in counts.items() if n
    )
    right = sum(r[1] == r[0].split("/")[-2] for r in rows if r[0].split("/")[-2] in LABELS)
    assert f"Accuracy {100 * right / 3:.2f} % ({right} of 3 files in label folders)" in out


def write_wavs(folder, names):
    rng = np.random.RandomState(0)
    for name in names:
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        wavfile.write(str(folder / name), 16000, (rng.randn(16000) * 3000).astype(np.int16))


def run_here(capsys, *args):
    """kws_inference.main in this process (no interpreter start): (status, stdout, stderr)."""
    status = kws_inference.main([str(a) for a in args])
    out, err = capsys.readouterr()
    return status, out, err


def test_wav_mode_leaves_out_macos_metadata(model, tmp_path, capsys):
    """A folder unpacked from a Mac's zip: `._*.wav` (AppleDouble, not wavs), `__MACOSX/`,
    `.DS_Store` are not labelled and do not make the run fail."""
    write_wavs(tmp_path, ["yes/a.wav", "no/b.wav"])
    for junk in ("yes/._a.wav", "__MACOSX/yes/._a.wav", "__MACOSX/yes/a.wav", ".DS_Store"):
        (tmp_path / junk).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / junk).write_bytes(b"\x00\x05\x16\x07 Mac OS X")
    rc, out, err = run_here(capsys, "--model", model["zip_path"], "--wav", tmp_path)
    assert rc == 0 and err == "", err
    rows = [ln.split()[0] for ln in out.splitlines() if ln.startswith(str(tmp_path))]
    assert rows == [str(tmp_path / "no/b.wav"), str(tmp_path / "yes/a.wav")]
    assert "Summary: 2 of 2 files labelled" in out


def test_split_scores_only_the_listed_files(model, tmp_path, capsys):
    write_wavs(
        tmp_path / "data",
        [
            "yes/s1_nohash_0.wav",
            "yes/s2_nohash_0.wav",
            "no/s1_nohash_0.wav",
            "no/s3_nohash_0.wav",
            "up/s4_nohash_0.wav",
        ],
    )
    split = tmp_path / "kws_split_test.txt"
    split.write_text(
        "./data/mini_speech_commands/yes/s2_nohash_0.wav\n"
        "./data/mini_speech_commands/no/s3_nohash_0.wav\n"
    )
    rc, out, err = run_here(
        capsys, "--model", model["zip_path"], "--wav", tmp_path / "data", "--split", split
    )
    assert rc == 0 and err == "", err
    rows = [ln.split() for ln in out.splitlines() if ln.startswith(str(tmp_path))]
    assert [r[0] for r in rows] == [
        str(tmp_path / "data/yes/s2_nohash_0.wav"),
        str(tmp_path / "data/no/s3_nohash_0.wav"),
    ]
    right = sum(r[1] == r[0].split("/")[-2] for r in rows)
    assert f"Accuracy {100 * right / 2:.2f} % ({right} of 2 files of {split})" in out
    assert "training split" not in out
    split.write_text("./data/mini_speech_commands/left/s9_nohash_0.wav\n")
    rc, out, err = run_here(
        capsys, "--model", model["zip_path"], "--wav", tmp_path / "data", "--split", split
    )
    assert (
        rc == 1
        and err.startswith(f"error: {split}: 1 of 1 listed files missing")
        and err.count("\n") == 1
    )
    rc, out, err = run_here(capsys, "--model", model["zip_path"], "--split", split)
    assert rc == 1 and err == (
        "error: kws_inference.py: --split needs --wav DIR, the folder the split's files are in\n"
    )


def test_the_summary_counts_the_models_training_files(tmp_path, capsys):
    """Without --split, the files of the model's own training split (known from the
    fingerprints of their names in its JSON) are counted, so an inflated accuracy says so."""
    names = [
        "yes/s1_nohash_0.wav",
        "yes/s2_nohash_0.wav",
        "no/s1_nohash_0.wav",
        "no/s3_nohash_0.wav",
    ]
    write_wavs(tmp_path / "wavs", names)
    trained = tiny_model(
        tmp_path,
        "ex2_a",
        trained_on=[f"/elsewhere/{n}" for n in names[:3]] + ["/x/up/s7_nohash_0.wav"],
    )
    rc, out, err = run_here(capsys, "--model", trained["zip_path"], "--wav", tmp_path / "wavs")
    assert rc == 0, err
    assert (
        "note: 3 of these 4 files are in the model's training split (by name): the accuracy above "
        "counts them; --split FILE scores only the files of a split (e.g. its test split)"
    ) in out
    split = tmp_path / "kws_split_train.txt"  # a split holding training files says so too
    split.write_text("".join(f"./data/mini_speech_commands/{n}\n" for n in names[1:]))
    rc, out, err = run_here(
        capsys, "--model", trained["zip_path"], "--wav", tmp_path / "wavs", "--split", split
    )
    assert rc == 0 and out.strip().splitlines()[-1] == (
        "note: 2 of these 3 files are in the model's "
        "training split (by name): the accuracy above counts them"
    )
    sidecar = report.read_sidecar(trained["zip_path"])
    record = sidecar["data"]["training_files"]
    assert record["files"] == 4 and len(record["fingerprints"]) == 24  # 4 bytes a name, base64
    others = [str(tmp_path / "wavs" / n) for n in ("up/s8_nohash_0.wav", "no/s9_nohash_0.wav")]
    assert kws_inference.training_note(sidecar, others) == (
        "note: none of these 2 files is in the model's training split (by name)"
    )
    assert kws_inference.training_note({}, others).startswith(
        "note: the model's JSON does not list its training files"
    )
    assert kws_inference.training_note({}, others, split="kws_split_test.txt") is None
    assert kws_inference.training_note(sidecar, others, split="kws_split_test.txt") is None


def test_fingerprints_tell_names_apart():
    """The course's 6,400 training names against its 1,600 val and test names: no false match."""
    lists = {w: (ROOT / f"kws_split_{w}.txt").read_text().split() for w in ("train", "val", "test")}
    split = kws_data.Split("train", "kws_split_train.txt", lists["train"], None)
    record = kws_data.training_files(split)
    assert len(record["fingerprints"]) == 34_136  # the JSON's share: 4 bytes a name, base64
    assert kws_data.in_training(record, lists["train"]).all()
    assert not kws_data.in_training(record, lists["val"] + lists["test"]).any()
    assert kws_data.in_training({"method": "another"}, lists["val"]) is None


def test_latency_loop_times_what_it_says(model, monkeypatch):
    """A fake clock: the front end takes 2 ms, invoke 5 ms; nothing else advances it."""
    clock = [0.0]
    monkeypatch.setattr(litert.time, "perf_counter", lambda: clock[0])
    m = litert.Model(model["tflite_path"], CFG)
    real_frontend, real_invoke = m.frontend, m.interpreter.invoke

    def frontend(x):
        clock[0] += 0.002
        return real_frontend(x)

    def invoke():
        clock[0] += 0.005
        real_invoke()

    m.frontend, m.interpreter.invoke = frontend, invoke
    r = litert.measure_latency(m, runs=4)
    assert r["inference_ms"] == pytest.approx({"mean": 5.0, "p50": 5.0, "p90": 5.0})
    assert r["total_ms"] == pytest.approx({"mean": 7.0, "p50": 7.0, "p90": 7.0})
    assert litert.measure_latency(m, cfg=None, runs=3)["total_ms"] is not None  # m.cfg is used
    bare = litert.Model(model["tflite_path"])
    bare.interpreter.invoke = invoke
    r = litert.measure_latency(bare, runs=3)
    assert r["total_ms"] is None and r["inference_ms"]["p50"] == pytest.approx(5.0)


def test_interpreter_falls_back_to_tensorflow(monkeypatch):
    monkeypatch.setattr(litert, "_INTERPRETER", [])
    monkeypatch.setitem(sys.modules, "ai_edge_litert", None)
    monkeypatch.setitem(sys.modules, "ai_edge_litert.interpreter", None)
    monkeypatch.setitem(sys.modules, "tflite_runtime", None)
    monkeypatch.setitem(sys.modules, "tflite_runtime.interpreter", None)
    cls, origin = litert.interpreter_class()
    assert cls is tf.lite.Interpreter and origin.startswith("tensorflow")


def test_errors_are_one_line(model, tmp_path):
    rc, out, err = run("--model", tmp_path / "none.tflite")
    assert rc == 1 and err.count("\n") == 1 and "none.tflite" in err
    (tmp_path / "bad.tflite").write_bytes(b"not a model")
    rc, out, err = run("--model", tmp_path / "bad.tflite")
    assert rc == 1 and "TFL3" in err
    rc, out, err = run("--model", model["tflite_path"], "--no-mfcc", "--runs", 2)
    assert (
        rc == 1
        and err.startswith(f"error: {model['tflite_path']}: model input shape")
        and err.count("\n") == 1
    )
    rc, out, err = run("--model", model["tflite_path"], "--runs", 0)
    assert rc == 1 and err.startswith("error: kws_inference.py: argument --runs: 0 is not allowed")


def test_flags_override_the_sidecar_saying_so(model):
    side = {"frontend": {**CFG.to_dict(), "input_shape": [49, 10, 1]}}
    cfg, note = kws_inference.frontend_config(
        side,
        {"rate": 8000, "frame_length": 320, "frame_step": 160},
        "front end from the sidecar JSON",
    )
    assert (cfg.rate, cfg.frame_length, cfg.mfcc, cfg.fft_length) == (8000, 320, True, 320)
    assert (
        note
        == "front end from the sidecar JSON, overridden by flags rate=8000, frame_length=320, frame_step=160"
    )
    cfg, note = kws_inference.frontend_config(None, {})
    assert cfg == kws_inference.COURSE_DEFAULTS and "course's default" in note
    with pytest.raises(ValueError, match="frame_step"):
        kws_inference.frontend_config(side, {"frame_step": 0})


def test_no_tensorflow_import(model):
    code = (
        "import sys, kws_inference; assert 'tensorflow' not in sys.modules; "
        f"kws_inference.main(['--model', {model['zip_path']!r}, '--runs', '2']); "
        "assert 'tensorflow' not in sys.modules, 'tensorflow was imported'"
    )
    r = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr


def test_numpy_and_tf_frontends_give_the_same_labels(model, shared_data):
    files = sorted((shared_data / "mini_speech_commands").glob("*/*.wav"))[::130][:20]
    m = litert.Model(model["tflite_path"], CFG)
    interp = tf.lite.Interpreter(model_path=model["tflite_path"])
    interp.allocate_tensors()
    inp, outp = interp.get_input_details()[0], interp.get_output_details()[0]
    for f in files:
        x = read_wav(f)
        interp.set_tensor(inp["index"], tf_frontend(tf.constant(x), CFG).numpy()[None])
        interp.invoke()
        y = interp.get_tensor(outp["index"])[0]
        np.testing.assert_allclose(m.classify(x), y, atol=outp["quantization"][0] * 1.01 + 1e-6)
        assert int(np.argmax(m.classify(x))) == int(np.argmax(y)), f


# The model that carries its front end and labels (common.model_metadata), as the scripts
# write it, and the Raspberry Pi side of the line that says where it ran.


@pytest.fixture(scope="module")
def carrying(model, tmp_path_factory):
    """The tiny model carrying an ex2_c description (16 kHz MFCC, as CFG), with its own JSON."""
    from common import kws, model_metadata

    out = tmp_path_factory.mktemp("carrying")
    data = model_metadata.embed(
        open(model["tflite_path"], "rb").read(),
        model_metadata.description("ex2_c", kws.frontend_record(CFG), LABELS),
    )
    files, sizes = tflite_io.model_files("kws_c", data)
    for name, content in files.items():
        (out / name).write_bytes(content)
    (out / "kws_c.json").write_bytes(
        report.sidecar_bytes(
            {
                "version": "ex2_c",
                "tflite_sha256": sizes["tflite_sha256"],
                "labels": LABELS,
                "frontend": kws.frontend_record(CFG),
                "limits": {"pi_total_ms": 40.0},
            }
        )
    )
    return out, sizes["tflite_sha256"]


def run_in(folder, *args):
    r = subprocess.run(
        [sys.executable, str(ROOT / "kws_inference.py"), *map(str, args)],
        cwd=folder,
        capture_output=True,
        text=True,
        timeout=120,
    )
    return r.returncode, r.stdout, r.stderr


def test_a_tflite_copied_alone_runs_in_both_modes(carrying, tmp_path):
    alone = tmp_path / "pi"
    alone.mkdir()
    (alone / "kws_c.tflite").write_bytes((carrying[0] / "kws_c.tflite").read_bytes())
    rc, out, err = run_in(alone, "--model", "kws_c.tflite", "--runs", 3)
    assert rc == 0 and err == "", err
    first = out.splitlines()[0]
    assert (
        first.startswith("front end from the model's metadata: ")
        and "-> input [49, 10, 1]" in first
    )
    assert re.search(
        r"^Pi limit of ex2_c: total \d+\.\d\d ms \(mean\) < 40 ms: not assessable", out, re.M
    ), out
    wav = tmp_path / "yes" / "a.wav"
    wav.parent.mkdir()
    wavfile.write(str(wav), 16000, (np.random.RandomState(1).randn(16000) * 3000).astype(np.int16))
    rc, out, err = run_in(alone, "--model", "kws_c.tflite", "--wav", wav.parent)
    assert rc == 0 and err == "", err
    assert re.search(rf"^{re.escape(str(wav))} ({'|'.join(LABELS)}) \d\.\d\d\d$", out, re.M), out
    assert sorted(p.name for p in alone.iterdir()) == ["kws_c.tflite"]  # nothing written beside it


def test_flags_override_the_metadata_saying_so(carrying):
    rc, out, err = run_in(
        carrying[0], "--model", "kws_c.tflite.zip", "--upper-frequency", 3000, "--runs", 2
    )
    assert rc == 0, err
    assert (
        out.startswith(
            "front end from the model's metadata (its sidecar JSON agrees), overridden by "
            "flags upper_frequency=3000.0: "
        )
        and "'upper_frequency': 3000.0" in out.splitlines()[0]
    )


def test_a_sidecar_disagreeing_with_the_metadata_is_refused(carrying, tmp_path):
    (tmp_path / "kws_c.tflite").write_bytes((carrying[0] / "kws_c.tflite").read_bytes())
    side = {
        "version": "ex2_c",
        "tflite_sha256": carrying[1],
        "labels": LABELS,
        "frontend": {**CFG.to_dict(), "upper_frequency": 3000.0, "input_shape": CFG.input_shape},
    }
    (tmp_path / "kws_c.json").write_bytes(report.sidecar_bytes(side))
    rc, out, err = run_in(tmp_path, "--model", "kws_c.tflite", "--runs", 2)
    assert rc == 1 and out == "" and err.count("\n") == 1, (out, err)
    assert err == (
        "error: kws_c.json: says another front end or labels than kws_c.tflite carries in its metadata "
        "(frontend.upper_frequency: 3000.0 in the JSON, 4000.0 in the model); expected the sidecar "
        "written with this model (or use --no-sidecar)\n"
    )
    rc, out, err = run_in(tmp_path, "--model", "kws_c.tflite", "--runs", 2, "--no-sidecar")
    assert rc == 0 and out.startswith("front end from the model's metadata: "), err
    side = {
        **side,
        "frontend": {**CFG.to_dict(), "input_shape": CFG.input_shape},
        "labels": LABELS[::-1],
    }
    (tmp_path / "kws_c.json").write_bytes(report.sidecar_bytes(side))
    rc, out, err = run_in(tmp_path, "--model", "kws_c.tflite", "--runs", 2)
    assert rc == 1 and err.startswith(
        "error: kws_c.json: says another front end or labels than kws_c.tflite "
        f"carries in its metadata (labels: {LABELS[::-1]!r} in the JSON, "
        f"{LABELS!r} in the model)"
    ), err


def test_an_old_model_without_metadata_still_works(model, tmp_path):
    """Without metadata: its sidecar (test_latency_mode_with_the_pi_limit_line), else the
    course's defaults, which flags adjust."""
    (tmp_path / "old.tflite").write_bytes(open(model["tflite_path"], "rb").read())
    rc, out, err = run_in(tmp_path, "--model", "old.tflite", "--runs", 2)
    assert rc == 1 and err.startswith(
        "error: old.tflite: model input shape [1, 49, 10, 1] != front-end shape [1, 32, 32, 1]"
    )
    rc, out, err = run_in(tmp_path, "--model", "old.tflite", "--runs", 2, "--mfcc")
    assert rc == 0, err
    assert out.startswith(
        "no front end in the model's metadata and no sidecar JSON: the course's default "
        "front end, overridden by flags mfcc=True: "
    )
    assert "Pi limit: none for this model" in out


def test_the_limit_line_names_the_pi_and_its_os(tmp_path):
    dt, release = tmp_path / "model", tmp_path / "os-release"
    dt.write_bytes(b"Raspberry Pi 5 Model B Rev 1.0\0")
    release.write_text(
        'NAME="Debian GNU/Linux"\nPRETTY_NAME="Debian GNU/Linux 13 (trixie)"\nID=debian\n'
    )
    words, bits = kws_inference.system(str(release))
    interpreter = kws_inference.interpreter_words()
    assert re.fullmatch(r"ai-edge-litert \d+\.\d+\.\d+", interpreter), interpreter
    import platform

    assert words == (
        f"Debian GNU/Linux 13 (trixie), {bits}-bit userland ({platform.machine()} kernel), "
        f"Python {platform.python_version()}, {interpreter}"
    )
    result = {"inference_ms": {"mean": 0.9}, "total_ms": {"mean": 41.0}}
    about = kws_inference.limits_of({"version": "ex2_c"}, None)  # from the model's metadata
    assert about == {
        "version": "ex2_c",
        "limits": {"accuracy": 0.9, "zip_bytes": 45 * 1024, "pi_total_ms": 40.0},
    }
    line = kws_inference.limit_line(about, result, kws_inference.machine(str(dt)), (words, 64))
    assert line == (
        "Pi limit of ex2_c: total 41.00 ms (mean) < 40 ms: FAIL; ran on Raspberry Pi 5 Model B "
        f"Rev 1.0; {words}"
    )
    line = kws_inference.limit_line(
        about, result, kws_inference.machine(str(dt)), ("a 32-bit OS", 32)
    )
    assert line.endswith(
        "ran on Raspberry Pi 5 Model B Rev 1.0; a 32-bit OS (a 32-bit OS runs tflite-runtime "
        "2.14; a 64-bit Raspberry Pi OS runs LiteRT: docs/raspberry-pi.md)"
    )
    off = kws_inference.limit_line(about, result, ("Linux x86_64", False), ("a 32-bit OS", 32))
    assert "not assessable: not a Raspberry Pi" in off and "docs/raspberry-pi.md" not in off
    words, _ = kws_inference.system(str(tmp_path / "none"))  # no os-release: the system's name
    assert words.startswith(f"{platform.system()}, ")
