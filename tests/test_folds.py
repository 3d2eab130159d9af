"""Scoring on speaker-grouped folds without peeking (tools/folds.py), and BatchNormalization
statistics re-estimated on the training split (common/compress.py)."""

import dataclasses

import numpy as np
import pytest

from tools import folds


def paths_of(speakers, per=3, label="down"):
    return [f"{label}/{s:08x}_nohash_{i}.wav" for s in range(speakers) for i in range(per)]


def test_holdout_is_speaker_disjoint_and_about_one_part():
    split = folds.Split("train", "f", paths_of(40), np.zeros(120, np.int64))
    rest, held = folds.holdout(split, 8, seed=0)
    speakers = lambda s: {p.split("/")[1].split("_")[0] for p in s.paths}  # noqa: E731
    assert not speakers(rest) & speakers(held)
    assert sorted(rest.paths + held.paths) == sorted(split.paths)
    assert 12 <= len(held.paths) <= 18  # 120 / 8, give or take a speaker


@pytest.mark.slow
def test_the_scoring_fold_never_reaches_training_or_the_epoch_choice(subset):
    """Poison the fold that scores (its wavs replaced by noise, its labels shuffled): the
    trained model, its kept epoch and its .tflite stay byte-identical; only the score moves."""
    from common import kws, kws_data, runtime
    from common.frontend_np import MFCC_16K

    data_dir, split_dir = subset
    splits = kws_data.read_splits(split_dir, data_dir, log=lambda *_: None)
    del splits["test"]
    kws_data.load_waves(splits, 16000, log=lambda *_: None)
    pairs = folds.fold_pairs(folds.pooled(splits["train"], splits["val"]), 2, seed=0)
    runtime.tensorflow()
    spec = kws.KWSVersion("ex2_a", MFCC_16K, filters=(16, 16), epochs=3, qat_epochs=0)
    tflites = []
    real = folds.score_kws(spec, pairs[:1], seed=0, epochs=3, qat=0)
    orig_fit = kws.fit_and_quantize

    def keep(*a, **k):
        t = orig_fit(*a, **k)
        tflites.append(t.tflite)
        return t

    kws.fit_and_quantize = keep
    try:
        train_s, val_s = pairs[0]
        rng = np.random.RandomState(1)
        poisoned = dataclasses.replace(
            val_s,
            waves=rng.uniform(-1, 1, val_s.waves.shape).astype(np.float32),
            label_ids=rng.permutation(val_s.label_ids),
        )
        again = folds.score_kws(spec, [(train_s, val_s)], seed=0, epochs=3, qat=0)
        bad = folds.score_kws(spec, [(train_s, poisoned)], seed=0, epochs=3, qat=0)
    finally:
        kws.fit_and_quantize = orig_fit
    assert tflites[0] == tflites[1]
    assert again[0] == real[0]
    assert (
        bad[0]["kept_epoch"] == real[0]["kept_epoch"]
        and bad[0]["zip_bytes"] == real[0]["zip_bytes"]
    )
    assert bad[0]["int8"] != real[0]["int8"]


def test_reestimated_batchnorm_normalizes_the_training_features():
    """After re-estimation, each BatchNormalization's output over the very inputs it was
    re-estimated on has, per channel, the mean beta and the variance gamma^2 var/(var+eps):
    what inference with population statistics means (and what a running average of the
    last batches, momentum 0.1, does not give)."""
    tf = pytest.importorskip("tensorflow")
    from common import compress
    from common.models import ds_cnn

    tf.keras.utils.set_random_seed(0)
    model = ds_cnn([49, 10, 1], (8, 8), extra_depthwise=1, bn_momentum=0.1)
    x = np.random.RandomState(0).normal(size=(300, 49, 10, 1)).astype(np.float32) * 3 + 1
    for layer in model.layers:  # trained-looking scales, so that the check is not trivial
        if isinstance(layer, tf.keras.layers.BatchNormalization):
            layer.gamma.assign(np.linspace(0.5, 2, layer.gamma.shape[0]).astype(np.float32))
            layer.beta.assign(np.linspace(-1, 1, layer.beta.shape[0]).astype(np.float32))
    bns = [layer for layer in model.layers if isinstance(layer, tf.keras.layers.BatchNormalization)]
    before = tf.keras.Model(model.inputs, bns[-1].output)(x, training=False).numpy()
    compress.reestimate_batchnorm(model, x, batch_size=64)
    for bn in bns:
        y = (
            tf.keras.Model(model.inputs, bn.output)(x, training=False)
            .numpy()
            .reshape(-1, bn.beta.shape[0])
        )
        var = bn.moving_variance.numpy()
        np.testing.assert_allclose(y.mean(axis=0), bn.beta.numpy(), atol=2e-3)
        np.testing.assert_allclose(
            y.var(axis=0), bn.gamma.numpy() ** 2 * var / (var + bn.epsilon), rtol=2e-3
        )
    assert (
        np.abs(before.reshape(-1, bns[-1].beta.shape[0]).mean(axis=0) - bns[-1].beta.numpy()).max()
        > 0.1
    )
