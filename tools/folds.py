"""Speaker-grouped folds of keyword-spotting files (a speaker's files are all in one fold), and
a version scored on them without peeking.

A version is scored on K validation folds of the train and validation files instead of on one
validation split of a few hundred files: for each fold, trained on the other folds, its epoch
chosen (best validation epoch, best quantization-aware epoch) on an inner speaker-grouped
holdout of that training part, never on the fold that scores it. The constraint search
(tools/search.py) scores its trials so; the command compares a version with variants of it:

    python -m tools.folds --version ex2_a --set bn_momentum=0.99 --set bn_reestimate=true

No TensorFlow import unless a version is scored.
"""

import dataclasses
import json
import sys

import numpy as np

from common.kws_data import Split
from common.splits import assign_speakers, speaker_of
from common.constraints import entry

INNER_PARTS = 8  # the epoch is chosen on 1 of 8 speaker-grouped parts of a fold's training files


def speaker_folds(paths, k, seed):
    """Indices of `paths` in `k` folds, no speaker in two: speakers in a random order fixed by
    `seed`, largest first, each to the fold with the fewest files so far (fold sizes then
    differ by at most the largest speaker's file count)."""
    if k < 2:
        raise ValueError(f"folds: {k}; expected at least 2")
    speakers = np.array([speaker_of(p) for p in paths])
    names, counts = np.unique(speakers, return_counts=True)
    if len(names) < k:
        raise ValueError(
            f"folds: {k} folds of {len(names)} speakers; expected at least one speaker a fold"
        )
    order = np.random.RandomState(seed).permutation(len(names))
    order = order[np.argsort(-counts[order], kind="stable")]
    fold_of = dict(zip(names, assign_speakers(counts, order, [0] * k)))
    assigned = np.array([fold_of[s] for s in speakers])
    return [np.flatnonzero(assigned == f) for f in range(k)]


def pooled(*splits):
    """One Split of the files of several (train + val), waves included when loaded."""
    waves = [s.waves for s in splits]
    return Split(
        "+".join(s.name for s in splits),
        ",".join(s.file for s in splits),
        [p for s in splits for p in s.paths],
        np.concatenate([s.label_ids for s in splits]),
        None if any(w is None for w in waves) else np.concatenate(waves),
    )


def subset(split, idx, name):
    """The files `idx` of a Split, as a Split."""
    return Split(
        name,
        split.file,
        [split.paths[i] for i in idx],
        split.label_ids[idx],
        None if split.waves is None else split.waves[idx],
    )


def fold_pairs(split, k, seed):
    """[(train Split, validation Split)] for each of the `k` speaker-grouped folds of `split`."""
    folds = speaker_folds(split.paths, k, seed)
    return [
        (
            subset(split, np.concatenate([f for j, f in enumerate(folds) if j != i]), f"train{i}"),
            subset(split, np.sort(folds[i]), f"val{i}"),
        )
        for i in range(k)
    ]


def holdout(split, parts, seed):
    """(rest, held): `split` without, and with only, the files of one of `parts`
    speaker-grouped parts (about 1/parts of the files; no speaker in both)."""
    groups = speaker_folds(split.paths, parts, seed)
    return (
        subset(split, np.sort(np.concatenate(groups[1:])), f"{split.name}-train"),
        subset(split, np.sort(groups[0]), f"{split.name}-select"),
    )


def score_kws(spec, pairs, seed, epochs, qat=None, callbacks_of_fold=lambda i: ()):
    """Each fold (train Split, validation Split) of `pairs`: `spec` trained on an inner part of
    the training files, its epochs chosen on the rest of them (`holdout`), int8; its accuracy
    on the fold's validation files, int8 (the .tflite) and float (the Keras model converted),
    and its zip size. `callbacks_of_fold(i)`: more Keras callbacks for fold i's training."""
    from common import kws, runtime, speech, tflite_io
    from common.litert import Model

    gen = speech.SignalGenerator(spec.frontend)
    scores = []
    for i, (train_s, val_s) in enumerate(pairs):
        runtime.set_seed(seed)
        inner, select = holdout(train_s, INNER_PARTS, seed)
        t = kws.fit_and_quantize(
            spec, gen, inner, select, epochs, seed, 0, callbacks_of_fold(i), qat=qat
        )
        keras = np.argmax(t.model.predict(gen.features(val_s.waves), verbose=0), axis=1)
        _, sizes = tflite_io.model_files(
            entry(spec.version).name, t.tflite
        )  # as the script names it
        scores.append(
            {
                "int8": kws.accuracy(
                    kws.predict_labels(Model(t.tflite, spec.frontend), val_s.waves), val_s.label_ids
                ),
                "float": kws.accuracy(keras, val_s.label_ids),
                "zip_bytes": sizes["zip_bytes"],
                "kept_epoch": t.kept,
                "files": len(val_s.paths),
            }
        )
    return scores


def load_pairs(args, log=print):
    """(the train + val files of `args.split_dir` as one Split, their fold pairs); the test
    split is never read; wavs loaded at the version's rate, every file checked first."""
    from common import kws, kws_data
    from .search_space import RATE

    data_dir = kws_data.resolve_data_dir(args.data, kws.offline_hint())
    splits = kws_data.read_splits(args.split_dir, data_dir, log=log, split_flag="--split-dir")
    del splits["test"]
    kws_data.load_waves(splits, RATE[args.version], log=log)
    pool = pooled(splits["train"], splits["val"])
    return pool, fold_pairs(pool, args.folds, args.seed)


def _value(text):
    try:
        return json.loads(text)
    except ValueError:
        return text


def run(argv=None):
    from common import cli, runtime

    p = cli.Parser(
        prog="python -m tools.folds",
        description="score a keyword-spotting version (or the "
        "original report's recipe), as declared or with changed fields, on speaker-grouped folds of train + val",
    )
    p.add_argument(
        "--version", required=True, choices=["ex2_a", "ex2_b", "ex2_c"], help="the version to score"
    )
    p.add_argument(
        "--recipe",
        action="store_true",
        help="score the original report's recipe for this version instead",
    )
    p.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="FIELD=VALUE",
        help="change a field of the declaration (KWSVersion), e.g. bn_momentum=0.99; repeatable",
    )
    p.add_argument("--data", help="the wav folder (as the scripts' --data)")
    p.add_argument("--split-dir", default=None, help="the split files (default: the course's)")
    p.add_argument(
        "--folds", type=cli.positive_int, default=3, help="speaker-grouped folds (default: 3)"
    )
    p.add_argument(
        "--epochs", type=cli.positive_int, help="fix the training epochs (default: the version's)"
    )
    p.add_argument("--seed", type=int, default=0, help="random seed (default: 0)")
    p.add_argument("--json", help="also write the scores to this file")
    args = p.parse_args(argv)
    from common import kws

    args.split_dir = args.split_dir or kws.COURSE_SPLIT_DIR
    if args.folds < 2:
        p.error("--folds: expected at least 2")
    changes = {}
    for item in args.set:
        field, _, value = item.partition("=")
        if not value or field not in {f.name for f in dataclasses.fields(kws.KWSVersion)}:
            p.error(f"--set {item}: expected FIELD=VALUE with a KWSVersion field")
        changes[field] = _value(value)
    _, pairs = load_pairs(args)  # checks every file before TensorFlow loads
    runtime.tensorflow()
    with runtime.quiet_native_stderr():
        from . import declared

        spec = (
            declared.seed_recipes()[args.version]
            if args.recipe
            else declared.DECLARED[args.version]
        )
        spec = dataclasses.replace(spec, **changes)
        scores = score_kws(spec, pairs, args.seed, *spec.epochs_for(args.epochs))
    for i, s in enumerate(scores):
        print(
            f"fold {i + 1}: int8 {100 * s['int8']:.2f} %, float {100 * s['float']:.2f} % "
            f"({s['files']} files), kept epoch {s['kept_epoch']}, {s['zip_bytes']:,} B"
        )
    int8, float_ = (float(np.mean([s[k] for s in scores])) for k in ("int8", "float"))
    gap = max(abs(s["int8"] - s["float"]) for s in scores)
    print(
        f"{args.version}{' recipe' if args.recipe else ''} {changes or ''}: mean int8 {100 * int8:.2f} %, "
        f"float {100 * float_:.2f} %, largest |int8 - float| {100 * gap:.2f} points"
    )
    if args.json:
        with open(args.json, "w") as f:
            json.dump(
                {
                    "version": args.version,
                    "recipe": args.recipe,
                    "changes": changes,
                    "seed": args.seed,
                    "folds": scores,
                    "int8": int8,
                    "float": float_,
                },
                f,
                indent=1,
            )
    return 0


if __name__ == "__main__":
    from common.cli import exit_status

    sys.exit(exit_status(run))
