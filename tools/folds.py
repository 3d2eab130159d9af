"""Keyword-spotting versions scored on speaker-grouped folds without peeking, and their learning
curves: how a version's lead over the original report's recipe behaves as the training set
grows, with the rule that adopts a candidate (docs/exercise2.md).

A fold's files score a version trained on the other folds; its epochs are chosen on an inner
speaker-grouped holdout of that training part (1 of INNER_PARTS), never on the fold. A curve
trains on nested speaker subsets of each fold's training part (a third, two thirds and all of
its speakers, in an order fixed by --fold-seed), once per seed, and writes each record to its
JSON file as soon as it is measured: an interrupted curve resumes.

    python -m tools.folds --version ex2_a --set filters=[64,64,64] --out a64.json
    python -m tools.folds --version ex2_a --recipe --out recipe16.json
    python -m tools.folds --version ex2_b --fractions 1 --seeds 0 --out b.json  # the folds only
    python -m tools.folds --report recipe16.json a.json a64.json --md CURVES.md --png CURVES.png

No TensorFlow import unless a version is scored. The search (tools/search.py) scores its trials
with `score_kws`.
"""

import dataclasses
import json
import math
import os
import sys

import numpy as np

from common.kws_data import Split
from common.splits import assign_speakers, speaker_of

INNER_PARTS = 8  # the epoch is chosen on 1 of 8 speaker-grouped parts of a fold's training files
FRACTIONS = (1 / 3, 2 / 3, 1.0)
OFFICIAL_TRAIN_FILES = 6400  # the course's kws_split_train.txt


# ---------------------------------------------------------------- folds and subsets
def speaker_folds(paths, k, seed):
    """Indices of `paths` in `k` folds, no speaker in two: speakers in a random order fixed by
    `seed`, largest first, each to the fold with the fewest files so far."""
    if k < 2:
        raise ValueError(f"folds: {k}; expected at least 2")
    speakers = np.array([speaker_of(p) for p in paths])
    names, counts = np.unique(speakers, return_counts=True)
    if len(names) < k:
        raise ValueError(f"folds: {k} folds of {len(names)} speakers; expected at least one a fold")
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
    waves = None if split.waves is None else split.waves[idx]
    return Split(name, split.file, [split.paths[i] for i in idx], split.label_ids[idx], waves)


def fold_pairs(split, k, seed):
    """[(train Split, validation Split)] for each of the `k` speaker-grouped folds of `split`."""
    folds = speaker_folds(split.paths, k, seed)
    rest = lambda i: np.concatenate([f for j, f in enumerate(folds) if j != i])  # noqa: E731
    return [
        (subset(split, rest(i), f"train{i}"), subset(split, np.sort(folds[i]), f"val{i}"))
        for i in range(k)
    ]


def holdout(split, parts, seed):
    """(rest, held): `split` without, and with only, the files of one of `parts`
    speaker-grouped parts (no speaker in both)."""
    groups = speaker_folds(split.paths, parts, seed)
    return (
        subset(split, np.sort(np.concatenate(groups[1:])), f"{split.name}-train"),
        subset(split, np.sort(groups[0]), f"{split.name}-select"),
    )


def nested_subsets(split, fractions, seed):
    """Nested Splits of `split`: its speakers in a random order fixed by `seed`, the first
    ceil(fraction x speakers) of them for each fraction."""
    speakers = np.array([speaker_of(p) for p in split.paths])
    names = np.unique(speakers)
    order = names[np.random.RandomState(seed).permutation(len(names))]
    keep = [set(order[: max(1, math.ceil(f * len(names) - 1e-9))]) for f in fractions]
    return [
        subset(split, np.flatnonzero([s in k for s in speakers]), f"{split.name}-{i}")
        for i, k in enumerate(keep)
    ]


# ---------------------------------------------------------------- scoring
def score(spec, gen, part, val_s, seed, epochs, qat=None, callbacks=()):
    """`spec` trained on `part` (epochs chosen on its inner holdout), int8, scored on `val_s`:
    a record (int8 and float accuracy, zip size, kept epoch, files)."""
    from common import kws, runtime, tflite_io
    from common.litert import Model

    runtime.set_seed(seed)
    inner, select = holdout(part, INNER_PARTS, seed)
    t = kws.fit_and_quantize(spec, gen, inner, select, epochs, seed, 0, callbacks, qat=qat)
    keras = np.argmax(t.model.predict(gen.features(val_s.waves), verbose=0), axis=1)
    int8 = kws.predict_labels(Model(t.tflite, spec.frontend), val_s.waves)
    return {
        "int8": kws.accuracy(int8, val_s.label_ids),
        "float": kws.accuracy(keras, val_s.label_ids),
        "zip_bytes": tflite_io.model_files(spec.entry.name, t.tflite)[1]["zip_bytes"],
        "kept_epoch": t.kept,
        "files": len(val_s.paths),
        "train_files": len(inner.paths),
        "speakers": len(set(part.speakers)),
        "seconds": round(t.seconds, 1),
    }


def score_kws(spec, pairs, seed, epochs, qat=None, callbacks_of_fold=lambda i: ()):
    """`spec` scored on each fold (train Split, validation Split) of `pairs`."""
    from common import speech

    gen = speech.SignalGenerator(spec.frontend)
    return [
        score(spec, gen, t, v, seed, epochs, qat, callbacks_of_fold(i))
        for i, (t, v) in enumerate(pairs)
    ]


def load_pairs(args, seed, log=print):
    """(the train + val files of `args.split_dir` as one Split, their fold pairs); the test
    split is never read; wavs loaded at the version's rate, every file checked first."""
    from common import kws, kws_data

    from .search_space import RATE

    data_dir = kws_data.resolve_data_dir(args.data, kws.offline_hint())
    splits = kws_data.read_splits(args.split_dir, data_dir, log=log, split_flag="--split-dir")
    del splits["test"]
    kws_data.load_waves(splits, RATE[args.version], log=log)
    pool = pooled(splits["train"], splits["val"])
    return pool, fold_pairs(pool, args.folds, seed)


def run_curve(spec, pairs, args, header, log=print):
    """Score `spec` on every (fold, size, seed) not yet in `args.out`: the curve's JSON object,
    written again after each record."""
    from common import speech

    doc = _read(args.out) if os.path.exists(args.out) else {**header, "records": []}
    if doc["identity"] != header["identity"]:
        raise ValueError(
            f"{args.out}: a curve of another declaration or partition; expected a new --out file"
        )
    have = {(r["fold"], r["size"], r["seed"]) for r in doc["records"]}
    gen, epochs = speech.SignalGenerator(spec.frontend), spec.epochs_for(args.epochs)
    for fold, (train_s, val_s) in enumerate(pairs):
        for size, part in enumerate(nested_subsets(train_s, args.fractions, args.fold_seed)):
            for seed in (s for s in args.seeds if (fold, size, s) not in have):
                r = {
                    "fold": fold,
                    "size": size,
                    "seed": seed,
                    **score(spec, gen, part, val_s, seed, *epochs),
                }
                doc["records"].append(r)
                _write(args.out, doc)
                log(
                    f"{doc['name']}: fold {fold + 1}, size {size + 1} ({r['train_files']} files), seed "
                    f"{seed}: int8 {100 * r['int8']:.2f} %, float {100 * r['float']:.2f} %"
                )
    return doc


def _read(path):
    with open(path) as f:
        return json.load(f)


def _write(path, doc):
    with open(f"{path}.tmp", "w") as f:
        json.dump(doc, f, indent=1)
    os.replace(f"{path}.tmp", path)


# ---------------------------------------------------------------- statistics
@dataclasses.dataclass(frozen=True)
class Point:
    """One size of a curve: mean training files; mean accuracy and its standard error over the
    (fold, seed) records."""

    files: float
    mean: float
    se: float
    n: int


def _se(values):
    v = np.asarray(values, float)
    return float(v.std(ddof=1) / math.sqrt(len(v))) if len(v) > 1 else float("nan")


def points(doc, key="int8"):
    """The curve: a Point per size, in order."""
    by_size = {}
    for r in doc["records"]:
        by_size.setdefault(r["size"], []).append(r)
    return [
        Point(
            float(np.mean([r["train_files"] for r in rs])),
            float(np.mean([r[key] for r in rs])),
            _se([r[key] for r in rs]),
            len(rs),
        )
        for _, rs in sorted(by_size.items())
    ]


@dataclasses.dataclass(frozen=True)
class Lead:
    """A curve's lead over another (accuracy, 0-1): (mean, standard error) over the paired
    (fold, seed) records at each size, and of its change from the second-largest size to the
    largest."""

    per_size: tuple
    change: tuple
    pairs: int


def lead(doc, other, key="int8"):
    theirs = {(r["fold"], r["size"], r["seed"]): r[key] for r in other["records"]}
    d = {}
    for r in doc["records"]:
        if (k := (r["fold"], r["size"], r["seed"])) in theirs:
            d.setdefault(r["size"], {})[r["fold"], r["seed"]] = r[key] - theirs[k]
    sizes = sorted(d)
    per_size = tuple((float(np.mean(list(d[s].values()))), _se(list(d[s].values()))) for s in sizes)
    if len(sizes) < 2:
        return Lead(per_size, (float("nan"), float("nan")), 0)
    common = sorted(set(d[sizes[-1]]) & set(d[sizes[-2]]))
    change = [d[sizes[-1]][k] - d[sizes[-2]][k] for k in common]
    return Lead(
        per_size, (float(np.mean(change)) if change else float("nan"), _se(change)), len(common)
    )


def exponent(p1, p2):
    """The local exponent k of the error e = 1 - accuracy between two points, e ~ n^-k."""
    return math.log((1 - p1.mean) / (1 - p2.mean)) / math.log(p2.files / p1.files)


def project(p1, p2, files):
    """Accuracy at `files` training files by the power law through two points."""
    return 1 - (1 - p2.mean) * (files / p2.files) ** (-exponent(p1, p2))


def laws(doc):
    """(local exponent between the two largest sizes, back-test (predicted, measured) of the
    largest size from the two smaller ones, projection to the official training size)."""
    p = points(doc)
    if len(p) < 3:
        return None
    back = (project(p[-3], p[-2], p[-1].files), p[-1].mean)
    return exponent(p[-2], p[-1]), back, project(p[-2], p[-1], OFFICIAL_TRAIN_FILES)


@dataclasses.dataclass(frozen=True)
class Adoption:
    adopted: bool
    reasons: tuple


def adopts(candidate, declared, recipe, key="int8"):
    """The adoption rule: a candidate replaces the declared version only if it is ahead of it
    at the two largest sizes (mean paired difference above zero) and its lead over the recipe
    at the largest size is not smaller than at the second-largest by more than one standard
    error of the paired per-fold, per-seed change of that lead."""
    ahead = [m for m, _ in lead(candidate, declared, key).per_size[-2:]]
    change, se = lead(candidate, recipe, key).change
    holds, is_ahead = change >= -se, len(ahead) == 2 and min(ahead) > 0
    reasons = (
        "ahead of the declared version at the two largest sizes: "
        + ", ".join(f"{100 * m:+.2f} pt" for m in ahead)
        + (" (yes)" if is_ahead else " (no)"),
        f"lead over the recipe from the second-largest to the largest size {100 * change:+.2f} pt "
        f"(standard error {100 * se:.2f} pt): " + ("holds" if holds else "shrinks"),
    )
    return Adoption(bool(is_ahead and holds), reasons)


# ---------------------------------------------------------------- report
def report(docs):
    """Markdown of curves: each beside its recipe, the laws, and the adoption rule's verdict on
    every candidate against its declared version."""
    pct = lambda x: f"{100 * x:.2f}"  # noqa: E731
    recipes = {v: d for d in docs if d["role"] == "recipe" for v in d["recipe_of"]}
    declared = {d["version"]: d for d in docs if d["role"] == "declared"}
    lines = ["| curve | size | training files | int8 accuracy % | recipe % | lead (pt) |"]
    lines.append("|---|---|---|---|---|---|")
    for d in (d for d in docs if d["role"] != "recipe" and d["version"] in recipes):
        recipe = recipes[d["version"]]
        for i, (p, q, (m, se)) in enumerate(
            zip(points(d), points(recipe), lead(d, recipe).per_size)
        ):
            lines.append(
                f"| {d['name']} | {i + 1} | {p.files:,.0f} | {pct(p.mean)} ± {pct(p.se)} | "
                f"{pct(q.mean)} ± {pct(q.se)} | {100 * m:+.2f} ± {100 * se:.2f} |"
            )
    lines += [
        "",
        "| curve | exponent of the error, two largest sizes | back-test: predicted / "
        "measured at the largest size | projection to 6,400 files |",
        "|---|---|---|---|",
    ]
    for d in docs:
        if law := laws(d):
            k, (pred, meas), proj = law
            lines.append(f"| {d['name']} | {k:.2f} | {pct(pred)} / {pct(meas)} % | {pct(proj)} % |")
    lines.append("")
    for d in docs:
        if d["role"] == "candidate" and d["version"] in declared and d["version"] in recipes:
            v = adopts(d, declared[d["version"]], recipes[d["version"]])
            verdict = "ADOPT" if v.adopted else "keep the declared version"
            lines.append(f"- {d['name']}: {verdict}; " + "; ".join(v.reasons))
    return "\n".join(lines) + "\n"


def picture(docs, title):
    """Accuracy against training files (log scale): each version's curves, its recipe's, the
    90 % line."""
    from common.plots import png, pyplot

    plt = pyplot()
    versions = sorted({d["version"] for d in docs if d["role"] != "recipe"})
    fig, axes = plt.subplots(1, len(versions), figsize=(4.2 * len(versions), 3.8), squeeze=False)
    for ax, v in zip(axes[0], versions):
        for d in docs:
            if v in d["recipe_of"] if d["role"] == "recipe" else d["version"] == v:
                p, style = points(d), {"recipe": dict(ls="--", color="0.4"), "declared": dict(lw=2)}
                ax.errorbar(
                    [q.files for q in p],
                    [100 * q.mean for q in p],
                    [100 * q.se for q in p],
                    marker="o",
                    ms=3,
                    capsize=2,
                    label=d["name"],
                    **style.get(d["role"], {}),
                )
        ax.axhline(90, color="r", lw=0.8, ls=":", label="90 % (the limit)")
        ax.set(
            xscale="log", xlabel="training files (log scale)", ylabel="int8 accuracy, %", title=v
        )
        ax.legend(fontsize=6)
    fig.suptitle(title, fontsize=9)
    return png(fig, rect=(0, 0, 1, 0.93))


# ---------------------------------------------------------------- command line
def _value(text):
    try:
        return json.loads(text)
    except ValueError:
        return text


def run(argv=None):
    from common import cli, kws, runtime

    p = cli.Parser(prog="python -m tools.folds", description=__doc__.split("\n\n")[0])
    p.add_argument("--version", choices=["ex2_a", "ex2_b", "ex2_c"], help="the version to score")
    p.add_argument("--recipe", action="store_true", help="the original report's recipe for it")
    p.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="FIELD=VALUE",
        help="change a field of the declaration (KWSVersion; JSON values); repeatable",
    )
    p.add_argument("--name", help="the curve's name in reports")
    p.add_argument("--data", help="the wav folder (as the scripts' --data)")
    p.add_argument("--split-dir", help="the split files (train + val pooled; test never read)")
    p.add_argument(
        "--folds", type=cli.positive_int, default=3, help="speaker-grouped folds (default: 3)"
    )
    p.add_argument(
        "--fold-seed", type=cli.seed, default=0, help="the folds' and subsets' seed (default: 0)"
    )
    p.add_argument(
        "--fractions",
        type=_fractions,
        default=FRACTIONS,
        help="shares of each fold's training speakers, comma-separated (default: 1/3, 2/3, 1)",
    )
    p.add_argument(
        "--seeds", type=cli.seeds, default=[0, 1, 2], help="training seeds (default: 0,1,2)"
    )
    p.add_argument(
        "--epochs", type=cli.positive_int, help="fix the training epochs (default: the version's)"
    )
    p.add_argument("--out", help="the curve's JSON file (resumed when it exists)")
    p.add_argument(
        "--report", nargs="+", metavar="CURVE.json", help="compare curves, judge candidates"
    )
    p.add_argument("--md", help="with --report: also write the report here")
    p.add_argument("--png", help="with --report: draw the curves here")
    p.add_argument(
        "--title",
        default="int8 accuracy on speaker-grouped folds against training files",
        help="with --report: the picture's title",
    )
    args = p.parse_args(argv)
    if args.report:
        docs = [_read(f) for f in args.report]
        text = report(docs)
        print(text, end="")
        for path, data in (
            (args.md, text.encode()),
            (args.png, args.png and picture(docs, args.title)),
        ):
            if path:
                with open(path, "wb") as f:
                    f.write(data)
        return 0
    if not (args.version and args.out) or args.folds < 2:
        p.error("expected --version, --out and at least 2 --folds (a curve), or --report FILES")
    changes = {}
    for item in args.set:
        field, _, value = item.partition("=")
        if not value or field not in {f.name for f in dataclasses.fields(kws.KWSVersion)}:
            p.error(f"--set {item}: expected FIELD=VALUE with a KWSVersion field")
        value = _value(value)
        changes[field] = tuple(value) if field in ("filters", "first_stride") else value
    args.split_dir = args.split_dir or kws.COURSE_SPLIT_DIR
    _, pairs = load_pairs(args, args.fold_seed)  # every file checked before TensorFlow loads
    runtime.tensorflow()
    from . import declared

    spec = (declared.seed_recipes() if args.recipe else declared.DECLARED)[args.version]
    spec = dataclasses.replace(spec, **changes)
    role = "recipe" if args.recipe else "candidate" if changes else "declared"
    partition = {
        "folds": args.folds,
        "fold_seed": args.fold_seed,
        "fractions": list(args.fractions),
    }
    fields = {
        f.name: getattr(spec, f.name)
        for f in dataclasses.fields(spec)
        if f.init and f.name != "stem"
    }
    header = {
        "name": args.name or f"{args.version} {'recipe' if args.recipe else changes or 'declared'}",
        "version": args.version,
        "role": role,
        "recipe_of": ["ex2_a", "ex2_b"]
        if role == "recipe" and args.version != "ex2_c"
        else [args.version],
        "changes": changes,
        "architecture": spec.architecture,
        "identity": json.loads(
            json.dumps(
                {"declaration": fields, **partition, "epochs": args.epochs},
                default=lambda o: getattr(o, "__dict__", list(o)),
            )
        ),
    }
    with runtime.quiet_native_stderr():
        doc = run_curve(spec, pairs, args, header)
    print(report([doc]), end="")
    return 0


def _fractions(text):
    try:
        values = tuple(float(x) for x in text.split(","))
    except ValueError:
        values = ()
    if not values or not all(0 < v <= 1 for v in values) or list(values) != sorted(set(values)):
        import argparse

        raise argparse.ArgumentTypeError(
            f"{text!r}: expected increasing shares in (0, 1], comma-separated"
        )
    return values


if __name__ == "__main__":
    from common.cli import exit_status

    sys.exit(exit_status(run))
