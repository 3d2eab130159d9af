"""Both exercise 1 scripts on the real 4,000-row Jena sample, few epochs."""
import json
import os
import subprocess
import sys

import numpy as np
import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SAMPLE = os.path.join(ROOT, "..", "shared", "data", "jena_climate_2009_sample.csv")


@pytest.fixture(scope="module")
def jena_sample():
    if not os.path.isfile(SAMPLE):
        pytest.skip(f"{SAMPLE} not found")
    return SAMPLE


def run_script(script, *args):
    return subprocess.run([sys.executable, os.path.join(ROOT, script), *args], cwd=ROOT,
                          capture_output=True, text=True, timeout=600)


@pytest.mark.parametrize("script, name, version", [("ex1_a.py", "th_a", "ex1_a"),
                                                    ("ex1_b.py", "th_b", "ex1_b")])
def test_script_writes_model_json_and_verdict(jena_sample, tmp_path, script, name, version):
    import common  # noqa: F401
    from common import forecast, jena

    out = run_script(script, "--data", jena_sample, "--out-dir", str(tmp_path), "--epochs", "2",
                     "--quiet", "--seed", "1")
    assert out.returncode in (0, 2), out.stderr[-2000:]
    assert f"Verdict for {version}" in out.stdout
    assert ("=> PASS" in out.stdout) == (out.returncode == 0)
    summary = json.loads((tmp_path / f"{name}.json").read_text())
    for key in ("version", "params", "sparsity", "tflite_bytes", "zip_bytes", "zlib_bytes",
                "metrics", "normalization", "input_shape", "limits", "passed", "data"):
        assert key in summary
    assert summary["version"] == version and summary["data"]["rows"] == 4000
    assert summary["zip_bytes"] == os.path.getsize(tmp_path / f"{name}.tflite.zip")
    assert summary["tflite_bytes"] == os.path.getsize(tmp_path / f"{name}.tflite")
    assert summary["passed"] == (out.returncode == 0)

    # the MAE in the JSON is a re-evaluation of the written file on the test split
    train, _, test = jena.split_series(jena.load_series(jena_sample))
    windows = jena.WindowGenerator.from_train(train)
    assert np.allclose(summary["normalization"]["mean"], windows.mean)
    x, y = windows.to_numpy(windows.make_dataset(test, train=False))
    mae = forecast.evaluate_tflite(str(tmp_path / f"{name}.tflite.zip"), x, y)
    assert summary["metrics"]["mae_t"] == pytest.approx(mae[0], rel=1e-6)
    assert summary["metrics"]["mae_rh"] == pytest.approx(mae[1], rel=1e-6)


def test_same_seed_same_model(jena_sample, tmp_path):
    for sub in ("x", "y"):
        out = run_script("ex1_b.py", "--data", jena_sample, "--out-dir", str(tmp_path / sub),
                         "--epochs", "1", "--quiet", "--seed", "3")
        assert out.returncode in (0, 2), out.stderr[-2000:]
    assert (tmp_path / "x" / "th_b.tflite").read_bytes() == (tmp_path / "y" / "th_b.tflite").read_bytes()


def test_bad_data_is_one_clear_error_and_status_1(tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text("Date Time,T (degC)\nx,1\n")
    out = run_script("ex1_a.py", "--data", str(bad), "--out-dir", str(tmp_path))
    assert out.returncode == 1
    assert out.stderr.strip().splitlines()[-1].startswith("error: ")
    assert "bad.csv" in out.stderr and "rh (%)" in out.stderr
    assert not (tmp_path / "th_a.tflite").exists()
