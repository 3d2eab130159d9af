"""Scoring on speaker-grouped folds without peeking, learning curves on nested speaker subsets
and the adoption rule (tools/folds.py); BatchNormalization statistics re-estimated on the
training split (common/compress.py)."""

import argparse
import dataclasses
import itertools
import math

import numpy as np
import pytest

from tools import folds


def paths_of(speakers, per=3, label="down"):
    return [f"{label}/{s:08x}_nohash_{i}.wav" for s in range(speakers) for i in range(per)]


def speakers(split):
    return {p.split("/")[1].split("_")[0] for p in split.paths}


def test_holdout_is_speaker_disjoint_and_about_one_part():
    split = folds.Split("train", "f", paths_of(40), np.zeros(120, np.int64))
    rest, held = folds.holdout(split, 8, seed=0)
    assert not speakers(rest) & speakers(held)
    assert sorted(rest.paths + held.paths) == sorted(split.paths)
    assert 12 <= len(held.paths) <= 18  # 120 / 8, give or take a speaker


@pytest.mark.slow
def test_the_scoring_fold_never_reaches_training_or_the_epoch_choice(subset, monkeypatch):
    """Poison the fold that scores (its wavs replaced by noise, its labels shuffled): the
    trained model, its kept epoch and its .tflite stay byte-identical; only the score moves."""
    from common import kws, runtime
    from common.frontend_np import MFCC_16K

    data_dir, split_dir = subset
    args = argparse.Namespace(data=data_dir, split_dir=split_dir, version="ex2_a", folds=2)
    _, pairs = folds.load_pairs(args, seed=0, log=lambda *_: None)
    runtime.tensorflow()
    spec = kws.KWSVersion("ex2_a", MFCC_16K, filters=(16, 16), epochs=3, qat_epochs=0)
    real = folds.score(spec, *pairs[0], seed=0, epochs=3, qat=0)
    tflites, fit = [], kws.fit_and_quantize

    def keep(*a, **k):
        t = fit(*a, **k)
        tflites.append(t.tflite)
        return t

    monkeypatch.setattr(kws, "fit_and_quantize", keep)
    train_s, val_s = pairs[0]
    rng = np.random.RandomState(1)
    noise = rng.uniform(-1, 1, val_s.waves.shape).astype(np.float32)
    poisoned = dataclasses.replace(val_s, waves=noise, label_ids=rng.permutation(val_s.label_ids))
    again = folds.score(spec, train_s, val_s, seed=0, epochs=3, qat=0)
    bad = folds.score(spec, train_s, poisoned, seed=0, epochs=3, qat=0)
    assert tflites[0] == tflites[1]
    assert {**again, "seconds": 0} == {**real, "seconds": 0}  # the same but for the time
    assert bad["kept_epoch"] == real["kept_epoch"] and bad["zip_bytes"] == real["zip_bytes"]
    assert bad["int8"] != real["int8"]


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
    bns = [layer for layer in model.layers if isinstance(layer, tf.keras.layers.BatchNormalization)]
    for bn in bns:  # trained-looking scales, so that the check is not trivial
        bn.gamma.assign(np.linspace(0.5, 2, bn.gamma.shape[0]).astype(np.float32))
        bn.beta.assign(np.linspace(-1, 1, bn.beta.shape[0]).astype(np.float32))
    before = tf.keras.Model(model.inputs, bns[-1].output)(x, training=False).numpy()
    compress.reestimate_batchnorm(model, x, batch_size=64)
    for bn in bns:
        y = tf.keras.Model(model.inputs, bn.output)(x, training=False).numpy()
        y = y.reshape(-1, bn.beta.shape[0])
        var = bn.moving_variance.numpy()
        want = bn.gamma.numpy() ** 2 * var / (var + bn.epsilon)
        np.testing.assert_allclose(y.mean(axis=0), bn.beta.numpy(), atol=2e-3)
        np.testing.assert_allclose(y.var(axis=0), want, rtol=2e-3)
    drift = before.reshape(-1, bns[-1].beta.shape[0]).mean(axis=0) - bns[-1].beta.numpy()
    assert np.abs(drift).max() > 0.1


def test_subsets_are_nested_speaker_sets_of_the_training_part_only():
    pool = folds.Split("train+val", "f", paths_of(60), np.zeros(180, np.int64))
    for train_s, val_s in folds.fold_pairs(pool, 3, seed=0):
        parts = folds.nested_subsets(train_s, folds.FRACTIONS, seed=0)
        assert [len(speakers(p)) for p in parts] == [14, 27, 40]  # ceil(40/3), ceil(80/3), 40
        assert speakers(parts[0]) < speakers(parts[1]) < speakers(parts[2]) == speakers(train_s)
        assert not speakers(parts[2]) & speakers(val_s)  # never a speaker of the scoring fold
        assert all(len(p.paths) == 3 * len(speakers(p)) for p in parts)  # all a speaker's files
    again = folds.nested_subsets(train_s, folds.FRACTIONS, seed=0)
    assert [p.paths for p in again] == [p.paths for p in parts]
    other = folds.nested_subsets(train_s, folds.FRACTIONS, seed=1)
    assert other[0].paths != parts[0].paths


def doc(name, role, acc, files=(500, 1000, 1500)):
    """A curve whose accuracy at (fold, size, seed) is acc(fold, size, seed)."""
    records = [
        {"fold": f, "size": s, "seed": d, "train_files": files[s], "int8": acc(f, s, d)}
        for f, s, d in itertools.product(range(3), repeat=3)
    ]
    return dict(name=name, version="ex2_a", role=role, recipe_of=["ex2_a"], records=records)


def test_points_exponent_and_projection_of_a_power_law():
    # error 0.4 * (n / 500) ** -0.5: the exponent is found, the back-test is exact
    d = doc("x", "declared", lambda f, s, seed: 1 - 0.4 * ((500, 1000, 1500)[s] / 500) ** -0.5)
    p = folds.points(d)
    assert [q.n for q in p] == [9, 9, 9] and p[0].se == 0
    assert folds.exponent(p[1], p[2]) == pytest.approx(0.5)
    k, (pred, meas), proj = folds.laws(d)
    assert pred == pytest.approx(meas)
    assert proj == pytest.approx(1 - 0.4 * (6400 / 500) ** -0.5)


def test_lead_is_paired_and_its_change_has_a_standard_error():
    noise = {(f, d): 0.01 * ((f * 3 + d) % 5) for f in range(3) for d in range(3)}
    recipe = doc("r", "recipe", lambda f, s, d: 0.6 + 0.1 * s + noise[(f, d)])
    mine = doc("m", "declared", lambda f, s, d: 0.7 + 0.05 * s + noise[(f, d)] + 0.001 * d)
    ld = folds.lead(mine, recipe)
    assert [round(m, 4) for m, _ in ld.per_size] == [0.101, 0.051, 0.001]
    assert ld.change[0] == pytest.approx(-0.05) and ld.change[1] == pytest.approx(0)
    assert ld.pairs == 9


def test_adoption_needs_the_lead_at_the_two_largest_sizes_and_a_lead_over_the_recipe_that_holds():
    rng = np.random.RandomState(0)
    jitter = {k: rng.normal(0, 0.005) for k in itertools.product(range(3), repeat=3)}
    recipe = doc("r", "recipe", lambda f, s, d: 0.6 + 0.1 * s + jitter[(f, s, d)])
    declared = doc("d", "declared", lambda f, s, d: 0.75 + 0.05 * s)
    scales = doc("c1", "candidate", lambda f, s, d: 0.74 + 0.1 * s)  # behind at size 1, ahead after
    assert folds.adopts(scales, declared, recipe).adopted
    fades = doc("c2", "candidate", lambda f, s, d: 0.80 + 0.03 * s)  # ahead, but its lead shrinks
    v = folds.adopts(fades, declared, recipe)
    assert not v.adopted and "shrinks" in v.reasons[1]
    behind = doc("c3", "candidate", lambda f, s, d: 0.74 + 0.1 * s - (0.02 if s == 2 else 0))
    assert not folds.adopts(behind, declared, recipe).adopted


def test_report_and_picture_from_curve_files():
    recipe = doc("recipe-16k", "recipe", lambda f, s, d: 0.6 + 0.1 * s)
    declared = doc("a-declared", "declared", lambda f, s, d: 0.75 + 0.05 * s)
    cand = doc("a-wide", "candidate", lambda f, s, d: 0.74 + 0.11 * s)
    text = folds.report([recipe, declared, cand])
    assert "| a-declared | 3 | 1,500 | 85.00 ± 0.00 | 80.00 ± 0.00 | +5.00 ± 0.00 |" in text
    assert "- a-wide: ADOPT" in text
    assert f"| recipe-16k | {math.log(0.3 / 0.2) / math.log(1.5):.2f} |" in text
    assert folds.picture([recipe, declared, cand], "t").startswith(b"\x89PNG")
