"""Compression: quantized models match Keras within their quantization step; the container
strip keeps every output bit-identical on the five shipped graphs; pruning reaches its
target; the zip holds the model and its size is what an independent deflate predicts."""

import hashlib
import importlib
import io
import zipfile
import zlib

import numpy as np
import pytest

import common  # noqa: F401
import tensorflow as tf
from tensorflow.lite.tools import flatbuffer_utils

from common import compress, kws, models, tflite_io
from common.litert import Model
from common.constraints import TABLE
from common.frontend_np import MFCC_16K


@pytest.fixture(scope="module")
def trained_mlp():
    tf.keras.utils.set_random_seed(0)
    x = np.random.default_rng(0).normal(size=(512, 6, 2)).astype(np.float32)
    y = np.stack([x[:, ::-1, 0] * 2 + 1, x[:, :, 1] - x[:, :1, 0]], axis=-1)  # learnable
    model = models.forecast_mlp((16, 16))
    model.compile(optimizer=tf.keras.optimizers.Adam(1e-2), loss="mse")
    model.fit(x, y, epochs=20, batch_size=32, verbose=0)
    return model, x


@pytest.mark.slow
@pytest.mark.parametrize("mode, per_channel", [("int8", True), ("int8", False), ("16x8", False)])
def test_quantized_model_matches_keras(trained_mlp, mode, per_channel):
    model, x = trained_mlp
    runner = Model(compress.quantize(model, x[:200], mode, per_channel))
    assert runner.inp["dtype"] == np.float32 and runner.input_shape == [1, 6, 2]
    out, ref = runner.run_all(x[:100]), model.predict(x[:100], verbose=0)
    assert out.shape == ref.shape == (100, 6, 2)
    assert np.abs(out - ref).max() < 0.02 * np.ptp(ref)  # int8 weights: about 1 % of the range


def test_16x8_keeps_degrees_and_percent_in_one_output_tensor():
    """The output mixes °C and % (one scale for both): int8 steps are about 0.5 units,
    16x8 steps 256 x finer. A residual forecaster with no change is persistence, exactly."""
    mean, std = np.float32([9.0, 76.0]), np.float32([8.0, 16.0])
    model = models.residual_forecaster(mean, std)
    zero = np.zeros((12, 12), np.float32)
    model.get_layer("linear").set_weights([zero, zero[0]])
    rng = np.random.default_rng(0)
    raw = np.stack([rng.uniform(-20, 35, (300, 6)), rng.uniform(10, 100, (300, 6))], axis=-1)
    x = ((raw - mean) / std).astype(np.float32)
    expected = np.repeat(raw[:, -1:, :], 6, axis=1)
    run = lambda mode: Model(compress.quantize(model, x, mode, False)).run_all(x)
    error = {mode: np.abs(run(mode) - expected).mean(axis=(0, 1)) for mode in ("int8", "16x8")}
    assert (error["16x8"] < 0.01).all() and (error["int8"] > 0.05).all(), error


def shipped_graphs():
    """(Keras model with random weights, calibration inputs, quantization mode, per channel)
    of each of the five versions."""
    rng = np.random.default_rng(0)
    for e in TABLE:
        spec = importlib.import_module(e.version).VERSION
        tf.keras.utils.set_random_seed(0)
        if e.exercise == "ex1":
            model = spec.build(np.float32([10.0, 75.0]), np.float32([7.0, 16.0]))
            shape, mode = (6, 2), spec.quantization
        else:
            model, shape, mode = kws.build_model(spec), spec.frontend.input_shape, "int8"
        calib = rng.normal(size=(64, *shape)).astype(np.float32)
        yield pytest.param(model, calib, mode, spec.per_channel, id=e.version)


@pytest.mark.parametrize("model, calib, mode, per_channel", list(shipped_graphs()))
def test_strip_is_smaller_and_bit_identical_on_each_shipped_graph(model, calib, mode, per_channel):
    full = compress.quantize(model, calib, mode, per_channel)
    stripped = compress.strip_container(full)
    assert len(stripped) < len(full)
    assert b"serving_default" in full and b"serving_default" not in stripped
    # the Reshape of each Flatten before a Dense dropped, and no other operator
    graph = lambda m: flatbuffer_utils.read_model_from_bytearray(bytearray(m)).subgraphs[0]
    flattens = sum(isinstance(layer, tf.keras.layers.Flatten) for layer in model.layers)
    assert len(graph(stripped).operators) == len(graph(full).operators) - flattens
    x = np.random.default_rng(1).normal(size=(20, *calib.shape[1:])).astype(np.float32)
    a, b = Model(full).run_all(x), Model(stripped).run_all(x)
    np.testing.assert_array_equal(a, b)
    assert np.isfinite(a).all() and np.ptp(a) > 0


@pytest.mark.slow
@pytest.mark.parametrize("epochs, steps", [(1, 8), (3, 8), (20, 88)])
def test_pruning_reaches_the_final_sparsity_however_short_the_run(epochs, steps):
    tf.keras.utils.set_random_seed(0)
    x = np.random.default_rng(1).normal(size=(steps * 32, 6, 2)).astype(np.float32)
    ds = tf.data.Dataset.from_tensor_slices((x, x)).batch(32)
    model, mse = models.forecast_mlp((8, 8)), dict(optimizer="adam", loss="mse")
    pruned, history = compress.prune_and_finetune(
        model, ds, ds, mse, epochs=epochs, initial_sparsity=0.3, final_sparsity=0.7, verbose=0
    )
    assert compress.sparsity(pruned) == pytest.approx(0.7, abs=0.02)
    assert len(history["loss"]) == epochs and not any("prune" in w.name for w in pruned.weights)


def test_zip_has_the_size_of_an_independent_deflate_and_non_models_are_refused(tmp_path):
    data = np.random.default_rng(0).integers(0, 40, 3000, dtype=np.uint8).tobytes()  # compressible
    data = data[:4] + tflite_io.TFLITE_MAGIC + data[8:]
    files, sizes = tflite_io.model_files("m", data)
    zipped = files["m.tflite.zip"]
    assert sizes["zip_bytes"] == len(zipped) and sizes["tflite_bytes"] == len(data)
    assert sizes["tflite_sha256"] == hashlib.sha256(data).hexdigest()
    with zipfile.ZipFile(io.BytesIO(zipped)) as zf:
        (info,) = zf.infolist()
        assert info.filename == "m.tflite" and info.compress_type == zipfile.ZIP_DEFLATED
        assert zf.read("m.tflite") == data
    deflate = zlib.compressobj(9, zlib.DEFLATED, -15)
    raw = len(deflate.compress(data) + deflate.flush())
    name = len("m.tflite")  # the local header, the data, the central directory, its end
    assert len(zipped) == (30 + name) + raw + (46 + name) + 22
    # what is not one model: an error naming the file
    bad = tmp_path / "x.tflite"
    bad.write_bytes(b"not a model at all")
    with pytest.raises(tflite_io.ModelFileError, match="x.tflite.*TFL3"):
        tflite_io.read_model_bytes(bad)
    with pytest.raises(tflite_io.ModelFileError, match="no such model"):
        tflite_io.read_model_bytes(tmp_path / "missing.tflite")
    (tmp_path / "two.tflite.zip").write_bytes(b"PK\x05\x06" + b"\0" * 18)  # an empty zip
    with pytest.raises(tflite_io.ModelFileError, match="exactly one"):
        tflite_io.read_model_bytes(tmp_path / "two.tflite.zip")


@pytest.mark.slow
def test_quantization_aware_finetuning_keeps_bn_statistics_and_converts_faithfully():
    """The quantization-aware model freezes BatchNormalization (its moving statistics stay
    the trained model's) and its int8 conversion predicts what it predicts."""
    tf.keras.utils.set_random_seed(0)
    rng = np.random.default_rng(0)
    x = rng.normal(size=(160, 49, 10, 1)).astype(np.float32)
    x[:, :, 0, 0] = x[:, :, 0, 0] * 30 - 60  # a wide coefficient 0, as real MFCCs have
    y = rng.integers(0, 8, 160)
    x[np.arange(160), y * 5, 3, 0] += 3.0  # a learnable cue
    model = kws.build_model(kws.KWSVersion("ex2_a", MFCC_16K, filters=(8, 8)))
    model.compile(**kws.classifier_compile_args(0.03))
    model.fit(x[:128], y[:128], epochs=3, batch_size=16, verbose=0)
    bn = [w.numpy() for w in model.weights if "moving" in w.name]
    train_ds = tf.data.Dataset.from_tensor_slices((x[:128], y[:128])).batch(16)
    val_ds = tf.data.Dataset.from_tensor_slices((x[128:], y[128:])).batch(32)
    aware, history = compress.quantization_aware(
        model, train_ds, val_ds, kws.classifier_compile_args(1e-3), epochs=2, verbose=0
    )
    assert len(history["val_accuracy"]) == 2
    moving = [w.numpy() for w in aware.weights if "moving" in w.name]
    assert len(moving) == len(bn) and all(np.array_equal(a, b) for a, b in zip(moving, bn))
    assert any(w.name.endswith(("min:0", "max:0")) for w in aware.weights)  # fake-quant ranges
    runner = Model(compress.quantize(aware, x[:64], "int8"))
    int8 = np.argmax(runner.run_all(x), axis=-1).ravel()
    agree = np.mean(int8 == np.argmax(aware.predict(x, verbose=0), axis=1))
    assert agree >= 0.95, agree
