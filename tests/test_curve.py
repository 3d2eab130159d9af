"""Learning curves (tools/curve.py): nested speaker subsets, the statistics, the adoption rule."""

import math

import numpy as np
import pytest

from tools import curve, folds


def paths_of(speakers, per=3):
    return [f"down/{s:08x}_nohash_{i}.wav" for s in range(speakers) for i in range(per)]


def speakers(split):
    return {p.split("/")[1].split("_")[0] for p in split.paths}


def test_subsets_are_nested_speaker_sets_of_the_training_part_only():
    pool = folds.Split("train+val", "f", paths_of(60), np.zeros(180, np.int64))
    for train_s, val_s in folds.fold_pairs(pool, 3, seed=0):
        parts = curve.nested_subsets(train_s, curve.FRACTIONS, seed=0)
        assert [len(speakers(p)) for p in parts] == [14, 27, 40]  # ceil(40/3), ceil(80/3), 40
        assert speakers(parts[0]) < speakers(parts[1]) < speakers(parts[2]) == speakers(train_s)
        assert not speakers(parts[2]) & speakers(val_s)  # never a speaker of the scoring fold
        # every file of a chosen speaker comes along
        assert all(len(p.paths) == 3 * len(speakers(p)) for p in parts)
    again = curve.nested_subsets(train_s, curve.FRACTIONS, seed=0)
    assert [p.paths for p in again] == [p.paths for p in parts]
    other = curve.nested_subsets(train_s, curve.FRACTIONS, seed=1)
    assert other[0].paths != parts[0].paths


def doc(name, role, acc, files=(500, 1000, 1500)):
    """A curve whose accuracy at (fold, size, seed) is acc(fold, size, seed)."""
    return {
        "name": name,
        "version": "ex2_a",
        "role": role,
        "recipe_of": ["ex2_a"],
        "records": [
            {"fold": f, "size": s, "seed": d, "train_files": files[s], "int8": acc(f, s, d)}
            for f in range(3)
            for s in range(3)
            for d in range(3)
        ],
    }


def test_points_exponent_and_projection_of_a_power_law():
    # error 0.4 * (n / 500) ** -0.5: the exponent is found, the back-test is exact
    d = doc("x", "declared", lambda f, s, seed: 1 - 0.4 * ((500, 1000, 1500)[s] / 500) ** -0.5)
    p = curve.points(d)
    assert [q.n for q in p] == [9, 9, 9] and p[0].se == 0
    assert curve.exponent(p[1], p[2]) == pytest.approx(0.5)
    k, (pred, meas), proj = curve.laws(d)
    assert pred == pytest.approx(meas)
    assert proj == pytest.approx(1 - 0.4 * (6400 / 500) ** -0.5)


def test_lead_is_paired_and_its_change_has_a_standard_error():
    noise = {(f, d): 0.01 * ((f * 3 + d) % 5) for f in range(3) for d in range(3)}
    recipe = doc("r", "recipe", lambda f, s, d: 0.6 + 0.1 * s + noise[(f, d)])
    mine = doc("m", "declared", lambda f, s, d: 0.7 + 0.05 * s + noise[(f, d)] + 0.001 * d)
    ld = curve.lead(mine, recipe)
    assert [round(m, 4) for m, _ in ld.per_size] == [0.101, 0.051, 0.001]
    assert ld.change[0] == pytest.approx(-0.05) and ld.change[1] == pytest.approx(0)
    assert ld.pairs == 9


def test_adoption_needs_the_lead_at_the_two_largest_sizes_and_a_lead_over_the_recipe_that_holds():
    rng = np.random.RandomState(0)
    jitter = {(f, s, d): rng.normal(0, 0.005) for f in range(3) for s in range(3) for d in range(3)}
    recipe = doc("r", "recipe", lambda f, s, d: 0.6 + 0.1 * s + jitter[(f, s, d)])
    declared = doc("d", "declared", lambda f, s, d: 0.75 + 0.05 * s)
    scales = doc("c1", "candidate", lambda f, s, d: 0.74 + 0.1 * s)  # behind at size 1, ahead after
    assert curve.adopts(scales, declared, recipe).adopted
    fades = doc("c2", "candidate", lambda f, s, d: 0.80 + 0.03 * s)  # ahead, but its lead shrinks
    v = curve.adopts(fades, declared, recipe)
    assert not v.adopted and "shrinks" in v.reasons[1]
    behind = doc("c3", "candidate", lambda f, s, d: 0.74 + 0.1 * s - (0.02 if s == 2 else 0))
    assert not curve.adopts(behind, declared, recipe).adopted


def test_report_and_picture_from_curve_files(tmp_path):
    recipe = doc("recipe-16k", "recipe", lambda f, s, d: 0.6 + 0.1 * s)
    declared = doc("a-declared", "declared", lambda f, s, d: 0.75 + 0.05 * s)
    cand = doc("a-wide", "candidate", lambda f, s, d: 0.74 + 0.11 * s)
    text = curve.report([recipe, declared, cand])
    assert "| a-declared | 3 | 1,500 | 85.00 ± 0.00 | 80.00 ± 0.00 | +5.00 ± 0.00 |" in text
    assert "- a-wide: ADOPT" in text
    assert f"| recipe-16k | {math.log(0.3 / 0.2) / math.log(1.5):.2f} |" in text
    png = curve.picture([recipe, declared, cand], "t")
    assert png.startswith(b"\x89PNG")
