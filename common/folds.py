"""Speaker-grouped folds of keyword-spotting files: a speaker's files are all in one fold.

Used by the constraint search (common/search.py) to score a candidate on K validation folds
of the train and validation files instead of on one validation split of a few hundred files.
numpy only.
"""
import numpy as np

from .kws_data import Split
from .splits import assign_speakers, speaker_of


def speaker_folds(paths, k, seed):
    """Indices of `paths` in `k` folds, no speaker in two: speakers in a random order fixed by
    `seed`, largest first, each to the fold with the fewest files so far (fold sizes then
    differ by at most the largest speaker's file count)."""
    if k < 2:
        raise ValueError(f"folds: {k}; expected at least 2")
    speakers = np.array([speaker_of(p) for p in paths])
    names, counts = np.unique(speakers, return_counts=True)
    if len(names) < k:
        raise ValueError(f"folds: {k} folds of {len(names)} speakers; expected at least one "
                         "speaker a fold")
    order = np.random.RandomState(seed).permutation(len(names))
    order = order[np.argsort(-counts[order], kind="stable")]
    fold_of = dict(zip(names, assign_speakers(counts, order, [0] * k)))
    assigned = np.array([fold_of[s] for s in speakers])
    return [np.flatnonzero(assigned == f) for f in range(k)]


def pooled(*splits):
    """One Split of the files of several (train + val), waves included when loaded."""
    waves = [s.waves for s in splits]
    return Split("+".join(s.name for s in splits), ",".join(s.file for s in splits),
                 [p for s in splits for p in s.paths],
                 np.concatenate([s.label_ids for s in splits]),
                 None if any(w is None for w in waves) else np.concatenate(waves))


def subset(split, idx, name):
    """The files `idx` of a Split, as a Split."""
    return Split(name, split.file, [split.paths[i] for i in idx], split.label_ids[idx],
                 None if split.waves is None else split.waves[idx])


def fold_pairs(split, k, seed):
    """[(train Split, validation Split)] for each of the `k` speaker-grouped folds of `split`."""
    folds = speaker_folds(split.paths, k, seed)
    return [(subset(split, np.concatenate([f for j, f in enumerate(folds) if j != i]), f"train{i}"),
             subset(split, np.sort(folds[i]), f"val{i}")) for i in range(k)]
