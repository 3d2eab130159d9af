"""Compression: int8 model loads, matches Keras within quantization error; strip keeps outputs."""
import os
import zipfile

import numpy as np
import pytest

import common  # noqa: F401
import tensorflow as tf

from common import compress, models, tflite_io


@pytest.fixture(scope="module")
def trained_mlp():
    tf.keras.utils.set_random_seed(0)
    x = np.random.default_rng(0).normal(size=(512, 6, 2)).astype(np.float32)
    y = np.stack([x[:, ::-1, 0] * 2 + 1, x[:, :, 1] - x[:, :1, 0]], axis=-1)  # learnable
    model = models.forecast_mlp((16, 16))
    model.compile(optimizer=tf.keras.optimizers.Adam(1e-2), loss="mse")
    model.fit(x, y, epochs=20, batch_size=32, verbose=0)
    return model, x


@pytest.mark.parametrize("per_channel", [True, False])
def test_int8_model_matches_keras_within_quantization_error(trained_mlp, per_channel):
    model, x = trained_mlp
    tflite = compress.quantize_int8(model, x[:200], per_channel=per_channel)
    interpreter = tflite_io.make_interpreter(tflite)
    detail = interpreter.get_input_details()[0]
    assert detail["dtype"] == np.float32 and list(detail["shape"]) == [1, 6, 2]
    out = tflite_io.run_batches(interpreter, x[:100])
    ref = model.predict(x[:100], verbose=0)
    scale = interpreter.get_output_details()[0]["quantization"]
    assert out.shape == ref.shape == (100, 6, 2)
    # within a few output quantization steps of the float model
    tolerance = 6 * max(scale[0], np.abs(ref).max() / 127)
    assert np.abs(out - ref).max() < tolerance
    assert not np.allclose(out, 0)


def test_strip_container_is_smaller_and_bit_identical(trained_mlp):
    model, x = trained_mlp
    full = compress.quantize_int8(model, x[:200])
    stripped = compress.strip_container(full)
    assert len(stripped) < len(full)
    assert b"serving_default" in full and b"serving_default" not in stripped
    from tensorflow.lite.tools import flatbuffer_utils
    ops = [len(flatbuffer_utils.read_model_from_bytearray(bytearray(m)).subgraphs[0].operators)
           for m in (full, stripped)]
    assert ops[1] == ops[0] - 1  # the Flatten before the first Dense is gone
    a = tflite_io.run_batches(tflite_io.make_interpreter(full), x[:50])
    b = tflite_io.run_batches(tflite_io.make_interpreter(stripped), x[:50])
    np.testing.assert_array_equal(a, b)


def test_fold_output_scale_equals_denormalizing_outputs(trained_mlp):
    model, x = trained_mlp
    folded = tf.keras.models.clone_model(model)
    folded.set_weights(model.get_weights())
    mean, std = np.array([5.0, 80.0], np.float32), np.array([2.0, 10.0], np.float32)
    compress.fold_output_scale(folded, mean, std, steps=6)
    np.testing.assert_allclose(folded(x[:10]).numpy(), model(x[:10]).numpy() * std + mean,
                               rtol=1e-5, atol=1e-4)


def test_pruning_reaches_the_final_sparsity():
    tf.keras.utils.set_random_seed(0)
    x = np.random.default_rng(1).normal(size=(256, 6, 2)).astype(np.float32)
    ds = tf.data.Dataset.from_tensor_slices((x, x)).batch(32)
    model = models.forecast_mlp((8, 8))
    pruned = compress.prune_and_finetune(model, ds, ds, dict(optimizer="adam", loss="mse"),
                                         epochs=3, begin_epoch=0, end_epoch=2, frequency=1, verbose=0)
    assert 0.85 < compress.sparsity(pruned) < 0.95
    assert not any("prune" in w.name for w in pruned.weights)


def test_model_files_written_atomically_and_loadable(tmp_path, trained_mlp):
    model, x = trained_mlp
    tflite = compress.quantize_int8(model, x[:50])
    files = tflite_io.write_model_files(tflite, str(tmp_path), "m")
    assert files["zip_bytes"] == os.path.getsize(tmp_path / "m.tflite.zip")
    with zipfile.ZipFile(tmp_path / "m.tflite.zip") as zf:
        assert zf.namelist() == ["m.tflite"]
    assert tflite_io.read_model_bytes(tmp_path / "m.tflite.zip") == tflite
    assert tflite_io.read_model_bytes(tmp_path / "m.tflite") == tflite
    assert sorted(os.listdir(tmp_path)) == ["m.tflite", "m.tflite.zip"]


def test_failed_write_keeps_the_previous_file(tmp_path):
    target = tmp_path / "m.tflite"
    tflite_io.write_atomic(target, b"good")


    with pytest.raises(TypeError):
        tflite_io.write_atomic(target, object())  # fails while writing
    assert target.read_bytes() == b"good"
    assert os.listdir(tmp_path) == ["m.tflite"]


def test_read_model_rejects_non_models(tmp_path):
    bad = tmp_path / "x.tflite"
    bad.write_bytes(b"not a model at all")
    with pytest.raises(tflite_io.ModelFileError, match="x.tflite.*TFL3"):
        tflite_io.read_model_bytes(bad)
    with pytest.raises(tflite_io.ModelFileError, match="no such model"):
        tflite_io.read_model_bytes(tmp_path / "missing.tflite")
