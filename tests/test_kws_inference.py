import json
import re
import subprocess
import sys
import warnings

import numpy as np
import pytest
from scipy.io import wavfile

from common.frontend_np import FrontEnd
from conftest import ROOT

tf = pytest.importorskip("tensorflow")
import kws_inference  # noqa: E402
from common.speech import LABELS, tf_frontend  # noqa: E402
from common.tflite_io import make_interpreter, write_model_files  # noqa: E402

CFG = FrontEnd()


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    """A tiny int8 Conv2D model with float32 input/output, its files and sidecar JSON."""
    out = tmp_path_factory.mktemp("kws_model")
    tf.keras.utils.set_random_seed(0)
    m = tf.keras.Sequential([
        tf.keras.layers.Input(CFG.input_shape),
        tf.keras.layers.Conv2D(8, 3, strides=2, activation="relu"),
        tf.keras.layers.GlobalAveragePooling2D(),
        tf.keras.layers.Dense(len(LABELS)),
    ])
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
        info = write_model_files(conv.convert(), str(out), "tiny")
    sidecar = {"frontend": {**CFG.to_dict(), "input_shape": CFG.input_shape}, "labels": LABELS}
    (out / "tiny.json").write_text(json.dumps(sidecar))
    return info


def run(*args):
    r = subprocess.run([sys.executable, "kws_inference.py", *map(str, args)], cwd=ROOT,
                       capture_output=True, text=True, timeout=120)
    return r.returncode, r.stdout, r.stderr


def test_latency_mode(model):
    for path in (model["tflite_path"], model["zip_path"]):
        rc, out, err = run("--model", path, "--runs", 5)
        assert rc == 0, err
        assert "front end from the sidecar JSON" in out
        assert re.search(r"^Inference Latency \d+\.\d\dms$", out, re.M), out
        assert re.search(r"^Total Latency \d+\.\d\dms$", out, re.M), out
        assert re.search(r"^Total p50 \d+\.\d\dms p90 \d+\.\d\dms", out, re.M), out
        print(out)


def test_wav_mode(model, tmp_path):
    rng = np.random.RandomState(0)
    for name in ("a.wav", "sub/b.wav"):
        (tmp_path / name).parent.mkdir(exist_ok=True)
        wavfile.write(str(tmp_path / name), 16000, (rng.randn(16000) * 3000).astype(np.int16))
    rc, out, err = run("--model", model["zip_path"], "--wav", tmp_path)
    assert rc == 0, err
    lines = [ln.split() for ln in out.splitlines()[1:]]
    assert [ln[0] for ln in lines] == [str(tmp_path / "a.wav"), str(tmp_path / "sub/b.wav")]
    assert all(ln[1] in LABELS and 0 < float(ln[2]) <= 1 for ln in lines)


def test_errors(model, tmp_path):
    rc, out, err = run("--model", tmp_path / "none.tflite")
    assert rc == 1 and err.strip().count("\n") == 0 and "none.tflite" in err
    (tmp_path / "bad.tflite").write_bytes(b"not a model")
    rc, out, err = run("--model", tmp_path / "bad.tflite")
    assert rc == 1 and "TFL3" in err
    rc, out, err = run("--model", model["tflite_path"], "--no-mfcc", "--runs", 2)
    assert rc == 1 and "input shape" in err


def test_no_tensorflow_import(model):
    code = ("import sys, kws_inference; assert 'tensorflow' not in sys.modules; "
            f"kws_inference.main(['--model', {model['zip_path']!r}, '--runs', '2']); "
            "assert 'tensorflow' not in sys.modules, 'tensorflow was imported'")
    r = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr


def test_frontend_config():
    cfg, note = kws_inference.frontend_config({}, {})
    assert cfg == kws_inference.COURSE_DEFAULTS and "course defaults" in note
    side = {"frontend": {**CFG.to_dict(), "input_shape": [49, 10, 1]}}
    cfg, _ = kws_inference.frontend_config(side, {"rate": 8000, "frame_length": 320, "bins": None})
    assert (cfg.rate, cfg.frame_length, cfg.mfcc) == (8000, 320, True)
    from common.report import sidecar_path
    assert sidecar_path("m/x.tflite.zip") == sidecar_path("m/x.tflite") == "m/x.json"
    assert kws_inference.LABELS == LABELS


def test_measure_latency(model):
    r = kws_inference.measure_latency(model["tflite_path"], CFG, runs=3)
    assert r["runs"] == 3
    for key in ("inference_ms", "total_ms"):
        assert set(r[key]) == {"mean", "p50", "p90"} and r[key]["mean"] > 0
    assert r["total_ms"]["mean"] >= r["inference_ms"]["mean"]


def test_numpy_and_tf_frontends_agree(model, shared_data):
    files = sorted((shared_data / "mini_speech_commands").glob("*/*.wav"))[::130][:20]
    m = kws_inference.Model(model["tflite_path"], CFG)
    interp = make_interpreter(model["tflite_path"])
    inp, outp = interp.get_input_details()[0], interp.get_output_details()[0]
    ours = kws_inference.predict(m, CFG, [str(f) for f in files])
    for (path, label, _), f in zip(ours, files):
        x = kws_inference.read_wav(f)
        interp.set_tensor(inp["index"], tf_frontend(tf.constant(x), CFG).numpy()[None])
        interp.invoke()
        y = interp.get_tensor(outp["index"])[0]
        np.testing.assert_allclose(m(x), y, atol=outp["quantization"][0] * 1.01 + 1e-6)
        assert label == LABELS[int(np.argmax(y))], path
