"""Keyword-spotting versions scored on speaker-grouped folds without peeking, their learning
curves, and the rule that adopts a candidate (docs/exercise2.md).

A fold scores a version trained on the other folds, its epochs chosen on a speaker-grouped part
of that training part. A curve trains on nested speaker subsets of each training part, once per
seed, and saves each record as soon as it is measured: an interrupted curve resumes.

    python -m tools.folds --version ex2_a --set filters=[64,64,64] --out a64.json
    python -m tools.folds --version ex2_a --recipe --out recipe16.json
    python -m tools.folds --version ex2_b --fractions 1 --seeds 0 --out b.json  # the folds only
    python -m tools.folds --report recipe16.json a.json a64.json --md CURVES.md --png CURVES.png
"""

import argparse
import collections
import contextlib
import dataclasses
import json
import math
import sys
from pathlib import Path

import numpy as np

from common import cli
from common.errors import read_file
from common.kws_data import Split, speaker_of

INNER_PARTS = 8  # the epoch is chosen on 1 of 8 speaker-grouped parts of a fold's training files
FRACTIONS = (1 / 3, 2 / 3, 1.0)
OFFICIAL_TRAIN_FILES = 6400  # the course's kws_split_train.txt
LAWS_HEADER = (
    "| curve | exponent of the error, two largest sizes | back-test: predicted / measured at the "
    "largest size | projection to 6,400 files |"
)
TITLE = "int8 accuracy on speaker-grouped folds against training files"


def assign_speakers(counts, order, targets):
    """The group of each speaker (by file count, in `order`): to the group furthest below target."""
    filled, group = np.zeros(len(targets)), np.zeros(len(counts), np.int64)
    for i in order:
        g = int(np.argmax(np.asarray(targets, np.float64) - filled))
        group[i], filled[g] = g, filled[g] + counts[i]
    return group


def speaker_folds(paths, k, seed):
    """Indices of `paths` in `k` folds, no speaker in two, about as many files in each."""
    speakers = np.array([speaker_of(p) for p in paths])
    names, counts = np.unique(speakers, return_counts=True)
    if not 2 <= k <= len(names):
        raise ValueError(f"folds: {k} for {len(names)} speakers; expected 2 to {len(names)} folds")
    order = np.random.RandomState(seed).permutation(len(names))
    order = order[np.argsort(-counts[order], kind="stable")]
    fold_of = dict(zip(names, assign_speakers(counts, order, [0] * k)))
    assigned = np.array([fold_of[s] for s in speakers])
    return [np.flatnonzero(assigned == f) for f in range(k)]


def subset(split, idx, name):
    """The files `idx` of a Split, as a Split."""
    waves = None if split.waves is None else split.waves[idx]
    return Split(name, split.file, [split.paths[i] for i in idx], split.label_ids[idx], waves)


def fold_pairs(split, k, seed):
    """[(train Split, validation Split)] for each of the `k` speaker-grouped folds of `split`."""
    folds = speaker_folds(split.paths, k, seed)
    pairs = []
    for i, fold in enumerate(folds):
        rest = np.concatenate(folds[:i] + folds[i + 1 :])
        pairs.append((subset(split, rest, f"train{i}"), subset(split, fold, f"val{i}")))
    return pairs


def holdout(split, parts, seed):
    """(rest, held): `split` without, and with only, one of `parts` speaker-grouped parts."""
    groups = speaker_folds(split.paths, parts, seed)
    rest = subset(split, np.sort(np.concatenate(groups[1:])), f"{split.name}-train")
    return rest, subset(split, groups[0], f"{split.name}-select")


def nested_subsets(split, fractions, seed):
    """Nested Splits of `split`: the first ceil(fraction x speakers) of its shuffled speakers."""
    speakers = np.array([speaker_of(p) for p in split.paths])
    names = np.unique(speakers)
    order = names[np.random.RandomState(seed).permutation(len(names))]
    keep = [set(order[: max(1, math.ceil(f * len(names) - 1e-9))]) for f in fractions]
    return [
        subset(split, np.flatnonzero([s in k for s in speakers]), f"{split.name}-{i}")
        for i, k in enumerate(keep)
    ]


def score(spec, part, val_s, seed, epochs, qat, callbacks=()):
    """The record of `spec` trained on `part` (epochs chosen on a part of it), scored on `val_s`."""
    from common import kws, runtime, speech, tflite_io
    from common.litert import Model

    runtime.set_seed(seed)
    inner, select = holdout(part, INNER_PARTS, seed)
    t = kws.fit_and_quantize(spec, inner, select, epochs, qat, seed, 0, callbacks)
    features = speech.features(spec.frontend, val_s.waves)
    keras = np.argmax(t.model.predict(features, verbose=0), axis=1)
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


def load_pairs(args, seed, log=print):
    """(the train + val files of `args.split_dir` as one Split, waves loaded; its fold pairs)."""
    from common import kws, kws_data

    from .search_space import RATE

    data_dir = kws_data.resolve_data_dir(args.data, kws.offline_hint())
    splits = kws_data.read_splits(args.split_dir, data_dir, log=log, split_flag="--split-dir")
    train, val = splits["train"], splits["val"]  # the test split is never read
    ids = np.concatenate([train.label_ids, val.label_ids])
    pool = Split("train+val", f"{train.file},{val.file}", train.paths + val.paths, ids)
    kws_data.load_waves({pool.name: pool}, RATE[args.version], log=log)
    return pool, fold_pairs(pool, args.folds, seed)


def _read(path):
    """A curve's JSON (a regular file of at most 64 MiB: errors.read_file)."""
    return json.loads(read_file(path, 2**26, "a curve's JSON written by tools.folds"))


def run_curve(spec, pairs, args, header):
    """The curve of `spec`: every (fold, size, seed) not yet in `args.out`, saved one by one."""
    out, tmp = Path(args.out), Path(f"{args.out}.tmp")
    doc = _read(out) if out.exists() else {**header, "records": []}
    if doc["identity"] != header["identity"]:
        raise ValueError(f"{out}: another curve (declaration or partition); expected a new --out")
    have = {_key(r) for r in doc["records"]}
    epochs = spec.epochs_for(args.epochs)
    for fold, (train_s, val_s) in enumerate(pairs):
        for size, part in enumerate(nested_subsets(train_s, args.fractions, args.fold_seed)):
            for seed in [s for s in args.seeds if (fold, size, s) not in have]:
                r = {"fold": fold, "size": size, "seed": seed}
                r.update(score(spec, part, val_s, seed, *epochs))
                doc["records"].append(r)
                tmp.write_text(json.dumps(doc, indent=1))
                tmp.replace(out)
                print(
                    f"{doc['name']}: fold {fold + 1}, size {size + 1} ({r['train_files']} files), "
                    f"seed {seed}: int8 {100 * r['int8']:.2f} %, float {100 * r['float']:.2f} %"
                )
    return doc


def _key(record):
    return record["fold"], record["size"], record["seed"]


# one size of a curve: mean training files, mean accuracy and its standard error, records
Point = collections.namedtuple("Point", "files mean se n")
Lead = collections.namedtuple("Lead", "per_size change pairs")
Adoption = collections.namedtuple("Adoption", "adopted reasons")


def _mean_se(values):
    """(mean, standard error) of `values`, nan where there are too few."""
    v = np.asarray(values, float)
    se = v.std(ddof=1) / math.sqrt(len(v)) if len(v) > 1 else math.nan
    return (float(v.mean()) if len(v) else math.nan), float(se)


def points(doc):
    """The curve: a Point per size, in order, over its (fold, seed) int8 records."""
    sizes = sorted({r["size"] for r in doc["records"]})
    groups = [[r for r in doc["records"] if r["size"] == s] for s in sizes]
    files = [float(np.mean([r["train_files"] for r in rs])) for rs in groups]
    return [Point(f, *_mean_se([r["int8"] for r in rs]), len(rs)) for f, rs in zip(files, groups)]


def lead(doc, other):
    """`doc`'s paired int8 lead over `other`: (mean, se) at each size and of its last change."""
    theirs = {_key(r): r["int8"] for r in other["records"]}
    diff = {_key(r): r["int8"] - theirs[_key(r)] for r in doc["records"] if _key(r) in theirs}
    sizes = sorted({size for _, size, _ in diff})
    per_size = tuple(_mean_se([v for k, v in diff.items() if k[1] == s]) for s in sizes)
    small, big = sizes[-2:] if len(sizes) > 1 else (None, None)
    pairs = sorted((f, d) for f, s, d in diff if s == big and (f, small, d) in diff)
    change = [diff[f, big, d] - diff[f, small, d] for f, d in pairs]
    return Lead(per_size, _mean_se(change), len(pairs))


def exponent(p1, p2):
    """The local exponent k of the error e = 1 - accuracy between two points, e ~ n^-k."""
    return math.log((1 - p1.mean) / (1 - p2.mean)) / math.log(p2.files / p1.files)


def project(p1, p2, files):
    """Accuracy at `files` training files by the power law through two points."""
    return 1 - (1 - p2.mean) * (files / p2.files) ** (-exponent(p1, p2))


def laws(doc):
    """(exponent, (predicted, measured) at the largest size, projection to 6,400 files) or None."""
    p = points(doc)
    if len(p) < 3:
        return None
    back = (project(p[-3], p[-2], p[-1].files), p[-1].mean)
    return exponent(p[-2], p[-1]), back, project(p[-2], p[-1], OFFICIAL_TRAIN_FILES)


def adopts(candidate, declared, recipe):
    """The rule: ahead of the declared version at the two largest sizes, lead over recipe holds."""
    ahead = [m for m, _ in lead(candidate, declared).per_size[-2:]]
    change, se = lead(candidate, recipe).change
    is_ahead = len(ahead) == 2 and min(ahead) > 0
    holds = change >= -se
    points_ahead = ", ".join(f"{100 * m:+.2f} pt" for m in ahead)
    reasons = (
        f"ahead of the declared version at the two largest sizes: {points_ahead} "
        f"({'yes' if is_ahead else 'no'})",
        f"lead over the original report's model from the second-largest to the largest size "
        f"{100 * change:+.2f} pt (standard error {100 * se:.2f} pt): "
        + ("holds" if holds else "shrinks"),
    )
    return Adoption(bool(is_ahead and holds), reasons)


def _pct(x):
    return f"{100 * x:.2f}"


def report(docs):
    """Markdown: the curves beside their recipe's, their laws, the verdicts on candidates."""
    recipes = {v: d for d in docs if d["role"] == "recipe" for v in d["recipe_of"]}
    declared = {d["version"]: d for d in docs if d["role"] == "declared"}
    head = [
        "Mean ± standard error over each size's (fold, seed) records; leads are paired by "
        "(fold, seed). A candidate is judged against the curve declared when it ran.",
        "",
        "| curve | version | role | network | changes |",
        "|---|---|---|---|---|",
        *(
            f"| {d['name']} | {d['version']} | {d['role']} | {d.get('architecture', '')} | "
            f"{json.dumps(d.get('changes') or {})} |"
            for d in docs
        ),
        "",
    ]
    sizes = ["| curve | size | training files | int8 accuracy % | original report % | lead (pt) |"]
    sizes.append("|---|---|---|---|---|---|")
    fits = ["", LAWS_HEADER, "|---|---|---|---|"]
    verdicts = [""]
    for d in docs:
        recipe = recipes.get(d["version"])
        if d["role"] != "recipe" and recipe:
            rows = zip(points(d), points(recipe), lead(d, recipe).per_size)
            for i, (p, q, (m, se)) in enumerate(rows):
                sizes.append(
                    f"| {d['name']} | {i + 1} | {p.files:,.0f} | {_pct(p.mean)} ± {_pct(p.se)} | "
                    f"{_pct(q.mean)} ± {_pct(q.se)} | {100 * m:+.2f} ± {100 * se:.2f} |"
                )
        if law := laws(d):
            k, (pred, meas), proj = law
            fits.append(
                f"| {d['name']} | {k:.2f} | {_pct(pred)} / {_pct(meas)} % | {_pct(proj)} % |"
            )
        if d["role"] == "candidate" and recipe and d["version"] in declared:
            v = adopts(d, declared[d["version"]], recipe)
            verdict = "ADOPT" if v.adopted else "keep the declared version"
            verdicts.append(f"- {d['name']}: {verdict}; " + "; ".join(v.reasons))
    return "\n".join(head + sizes + fits + verdicts) + "\n"


def picture(docs, title):
    """PNG: each version's curves and its recipe's, against training files (log scale)."""
    from common.plots import png, pyplot

    plt = pyplot()
    versions = sorted({d["version"] for d in docs if d["role"] != "recipe"})
    fig, axes = plt.subplots(1, len(versions), figsize=(4.2 * len(versions), 3.8), squeeze=False)
    styles = {"recipe": dict(ls="--", color="0.4"), "declared": dict(lw=2)}
    for ax, v in zip(axes[0], versions):
        for d in docs:
            if v not in (d["recipe_of"] if d["role"] == "recipe" else [d["version"]]):
                continue
            p = points(d)
            x, y, err = [q.files for q in p], [100 * q.mean for q in p], [100 * q.se for q in p]
            style = styles.get(d["role"], {})
            ax.errorbar(x, y, err, marker="o", ms=3, capsize=2, label=d["name"], **style)
        ax.axhline(90, color="r", lw=0.8, ls=":", label="90 % (the limit)")
        ax.set_xscale("log")
        ax.set(xlabel="training files (log scale)", ylabel="int8 accuracy, %", title=v)
        ax.legend(fontsize=6)
    fig.suptitle(title, fontsize=9)
    return png(fig, rect=(0, 0, 1, 0.93))


def _fractions(text):
    """Increasing shares in (0, 1], comma-separated (argparse type)."""
    try:
        values = tuple(float(x) for x in text.split(","))
    except ValueError:
        values = ()
    if not values or not all(0 < v <= 1 for v in values) or list(values) != sorted(set(values)):
        raise argparse.ArgumentTypeError(f"{text!r}: expected increasing shares in (0, 1]")
    return values


def _change(text):
    """(a KWSVersion field, its JSON value or text) of --set FIELD=VALUE."""
    from common import kws

    field, _, value = text.partition("=")
    if not value or field not in {f.name for f in dataclasses.fields(kws.KWSVersion)}:
        raise argparse.ArgumentTypeError(f"{text!r}: expected FIELD=VALUE with a KWSVersion field")
    with contextlib.suppress(ValueError):  # not JSON: the text itself
        value = json.loads(value)
    return field, tuple(value) if field in ("filters", "first_stride") else value


def run(argv=None):
    from common import kws, runtime

    p = cli.Parser(prog="python -m tools.folds", description=__doc__.split("\n\n")[0])
    p.add_argument("--version", choices=["ex2_a", "ex2_b", "ex2_c"], help="the version to score")
    p.add_argument("--recipe", action="store_true", help="the original report's recipe for it")
    change = dict(action="append", type=_change, metavar="FIELD=VALUE")
    p.add_argument("--set", help="KWSVersion field, JSON", **change)
    p.add_argument("--name", help="the curve's name in reports")
    p.add_argument("--data", help="the wav folder (as the scripts' --data)")
    p.add_argument("--split-dir", default=kws.COURSE_SPLIT_DIR, help="splits (train + val pooled)")
    folds = f"speaker-grouped folds, 2 to {cli.MAX_FOLDS}"
    p.add_argument("--folds", type=cli.within(2, cli.MAX_FOLDS), default=3, help=folds)
    p.add_argument("--fold-seed", type=cli.seed, default=0, help="the folds' and subsets' seed")
    p.add_argument("--fractions", type=_fractions, default=FRACTIONS, help="speaker shares: 0.5,1")
    p.add_argument("--seeds", type=cli.seeds, default=[0, 1, 2], help="training seeds (0,1,2)")
    epochs = f"fix the training epochs, 1 to {cli.MAX_EPOCHS:,}"
    p.add_argument("--epochs", type=cli.within(1, cli.MAX_EPOCHS), help=epochs)
    p.add_argument("--out", help="the curve's JSON file (resumed when it exists)")
    p.add_argument("--report", nargs="+", metavar="CURVE.json", help="curves to compare and judge")
    p.add_argument("--md", help="with --report: also write the report here")
    p.add_argument("--png", help="with --report: draw the curves here")
    p.add_argument("--title", default=TITLE, help="with --report: the picture's title")
    args = p.parse_args(argv)
    if args.report:
        docs = [_read(f) for f in args.report]
        text = report(docs)
        print(text, end="")
        if args.md:
            Path(args.md).write_bytes(text.encode())
        if args.png:
            Path(args.png).write_bytes(picture(docs, args.title))
        return 0
    if not (args.version and args.out):
        p.error("expected --version and --out (a curve), or --report FILES")
    changes = dict(args.set or [])
    _, pairs = load_pairs(args, args.fold_seed)  # every file checked before TensorFlow loads
    runtime.tensorflow()
    from . import declared

    spec = (declared.seed_recipes() if args.recipe else declared.DECLARED)[args.version]
    spec = dataclasses.replace(spec, **changes)
    role = "recipe" if args.recipe else "candidate" if changes else "declared"
    both = role == "recipe" and args.version != "ex2_c"  # ex2_a and ex2_b share a recipe
    fields = {f.name: getattr(spec, f.name) for f in dataclasses.fields(spec) if f.init}
    del fields["stem"]  # the file name only
    identity = {"declaration": fields, "folds": args.folds, "fold_seed": args.fold_seed}
    identity.update(fractions=list(args.fractions), epochs=args.epochs)
    header = {
        "name": args.name or f"{args.version} {changes if role == 'candidate' else role}",
        "version": args.version,
        "role": role,
        "recipe_of": ["ex2_a", "ex2_b"] if both else [args.version],
        "changes": changes,
        "architecture": spec.architecture,
        "identity": json.loads(json.dumps(identity, default=vars)),  # as a resumed file reads
    }
    with runtime.quiet_native_stderr():
        doc = run_curve(spec, pairs, args, header)
    print(report([doc]), end="")
    return 0


if __name__ == "__main__":
    sys.exit(cli.exit_status(run))
