"""Learning curves of keyword-spotting versions: how a version's lead over the original
report's recipe behaves as the training set grows, and the rule that adopts a candidate.

A version (or a candidate: the version with changed fields, or the recipe) is trained on
nested speaker subsets of each speaker-grouped fold's training part (the first third, two
thirds and all of its speakers, in an order fixed by --fold-seed) and scored on the fold, whose
speakers it never trained on; each subset's epochs are chosen on an inner speaker-grouped
holdout of it (tools.folds), for every seed of --seeds. The records go to a JSON file, one
per training, written as they finish: an interrupted curve resumes where it stopped.

    python -m tools.curve --version ex2_a --data DIR --split-dir SPLIT --out FILE.json
    python -m tools.curve --version ex2_a --set filters=[64,64,64] --out FILE.json
    python -m tools.curve --version ex2_a --recipe --out FILE.json
    python -m tools.curve --report FILE.json ... --md OUT.md --png OUT.png

`--report` pairs every curve with its recipe's (same folds, subsets and seeds), gives per size
the mean and the standard error over folds and seeds, the lead over the recipe, the local
exponent of the error between the two largest sizes, the back-test of a projection (fitted
without the largest size, its prediction for it) and the projection to the official training
split's 6,400 files; and judges candidates against their declared version by `adopts`.

No TensorFlow import unless a curve is run.
"""

import dataclasses
import json
import math
import os
import sys

import numpy as np

FRACTIONS = (1 / 3, 2 / 3, 1.0)
OFFICIAL_TRAIN_FILES = 6400  # the course's kws_split_train.txt


# ---------------------------------------------------------------- subsets
def nested_subsets(split, fractions, seed):
    """Nested Splits of `split`: its speakers in a random order fixed by `seed`, the first
    ceil(fraction x speakers) of them for each fraction (the last, 1.0, is all of them)."""
    from common.splits import speaker_of

    from .folds import subset

    speakers = np.array([speaker_of(p) for p in split.paths])
    names = np.unique(speakers)
    order = names[np.random.RandomState(seed).permutation(len(names))]
    out = []
    for i, f in enumerate(fractions):
        keep = set(order[: max(1, math.ceil(f * len(names) - 1e-9))])
        idx = np.flatnonzero([s in keep for s in speakers])
        out.append(subset(split, idx, f"{split.name}-{i}"))
    return out


# ---------------------------------------------------------------- a curve
def identity(spec, args):
    """What a curve's records depend on: the declaration and the data's partition."""
    fields = {
        f.name: getattr(spec, f.name)
        for f in dataclasses.fields(spec)
        if f.init and f.name not in ("stem",)
    }
    fields["frontend"] = spec.frontend.to_dict()
    return json.loads(
        json.dumps(
            {
                "declaration": fields,
                "folds": args.folds,
                "fold_seed": args.fold_seed,
                "fractions": list(FRACTIONS),
                "epochs": args.epochs,
            },
            default=list,
        )
    )


def run_curve(spec, pairs, seeds, path, header, epochs, qat, log=print):
    """Train and score `spec` on every (fold, size, seed) not yet in `path`; returns the whole
    JSON object. Each record is written as soon as it is measured."""
    from common import kws, runtime, speech, tflite_io
    from common.constraints import entry
    from common.litert import Model

    from .folds import INNER_PARTS, holdout

    done = _read(path) if os.path.exists(path) else None
    if done is not None and done["identity"] != header["identity"]:
        raise SystemExit(
            f"error: {path}: a curve of another declaration or partition; expected a new --out file"
        )
    doc = done or {**header, "records": []}
    have = {(r["fold"], r["size"], r["seed"]) for r in doc["records"]}
    gen = speech.SignalGenerator(spec.frontend)
    for fold, (train_s, val_s) in enumerate(pairs):
        for size, part in enumerate(
            nested_subsets(train_s, FRACTIONS, header["identity"]["fold_seed"])
        ):
            for seed in seeds:
                if (fold, size, seed) in have:
                    continue
                runtime.set_seed(seed)
                inner, select = holdout(part, INNER_PARTS, seed)
                t = kws.fit_and_quantize(spec, gen, inner, select, epochs, seed, 0, qat=qat)
                keras = np.argmax(t.model.predict(gen.features(val_s.waves), verbose=0), axis=1)
                int8 = kws.predict_labels(Model(t.tflite, spec.frontend), val_s.waves)
                _, sizes = tflite_io.model_files(entry(spec.version).name, t.tflite)
                record = {
                    "fold": fold,
                    "size": size,
                    "seed": seed,
                    "train_files": len(inner.paths),
                    "select_files": len(select.paths),
                    "speakers": len(set(part.speakers)),
                    "val_files": len(val_s.paths),
                    "int8": kws.accuracy(int8, val_s.label_ids),
                    "float": kws.accuracy(keras, val_s.label_ids),
                    "kept_epoch": t.kept,
                    "zip_bytes": sizes["zip_bytes"],
                    "seconds": round(t.seconds, 1),
                }
                doc["records"].append(record)
                _write(path, doc)
                log(
                    f"{header['name']}: fold {fold + 1}, size {size + 1} ({record['train_files']} files), "
                    f"seed {seed}: int8 {100 * record['int8']:.2f} %, float {100 * record['float']:.2f} %"
                )
    return doc


def _read(path):
    with open(path) as f:
        return json.load(f)


def _write(path, doc):
    tmp = f"{path}.tmp"
    with open(tmp, "w") as f:
        json.dump(doc, f, indent=1)
    os.replace(tmp, path)


# ---------------------------------------------------------------- statistics
@dataclasses.dataclass(frozen=True)
class Point:
    """One training size of a curve: mean training files, mean accuracy and its standard
    error over the (fold, seed) records, and how many there are."""

    files: float
    mean: float
    se: float
    n: int


def _se(values):
    v = np.asarray(values, float)
    return float(v.std(ddof=1) / math.sqrt(len(v))) if len(v) > 1 else float("nan")


def by_key(doc, key="int8"):
    """{(fold, size, seed): accuracy}"""
    return {(r["fold"], r["size"], r["seed"]): r[key] for r in doc["records"]}


def points(doc, key="int8"):
    """The curve: a Point per size, in order."""
    sizes = sorted({r["size"] for r in doc["records"]})
    out = []
    for s in sizes:
        rs = [r for r in doc["records"] if r["size"] == s]
        out.append(
            Point(
                float(np.mean([r["train_files"] for r in rs])),
                float(np.mean([r[key] for r in rs])),
                _se([r[key] for r in rs]),
                len(rs),
            )
        )
    return out


def paired(doc, other, key="int8"):
    """Per size, the differences `doc` - `other` over the (fold, seed) records both have:
    {size: {(fold, seed): difference}}."""
    a, b = by_key(doc, key), by_key(other, key)
    out = {}
    for (fold, size, seed), v in a.items():
        if (fold, size, seed) in b:
            out.setdefault(size, {})[(fold, seed)] = v - b[(fold, size, seed)]
    return out


@dataclasses.dataclass(frozen=True)
class Lead:
    """A curve's lead over another (in accuracy, 0-1) per size, the change of the lead from
    the second-largest size to the largest, each (mean, standard error) over the paired
    (fold, seed) records."""

    per_size: tuple  # ((mean, se), ...) by size
    change: tuple  # (mean, se) of lead(largest) - lead(second-largest), paired
    pairs: int


def lead(doc, other, key="int8"):
    d = paired(doc, other, key)
    sizes = sorted(d)
    per_size = tuple((float(np.mean(list(d[s].values()))), _se(list(d[s].values()))) for s in sizes)
    if len(sizes) < 2:
        return Lead(per_size, (float("nan"), float("nan")), 0)
    big, second = d[sizes[-1]], d[sizes[-2]]
    common = sorted(set(big) & set(second))
    change = [big[k] - second[k] for k in common]
    return Lead(
        per_size, (float(np.mean(change)) if change else float("nan"), _se(change)), len(common)
    )


def exponent(p1, p2):
    """The local exponent k of the error e = 1 - accuracy between two points, e ~ n^-k."""
    return math.log((1 - p1.mean) / (1 - p2.mean)) / math.log(p2.files / p1.files)


def project(p1, p2, files):
    """Accuracy at `files` training files by the power law through two points."""
    return 1 - (1 - p2.mean) * (files / p2.files) ** (-exponent(p1, p2))


@dataclasses.dataclass(frozen=True)
class Verdict:
    adopted: bool
    reasons: tuple


def adopts(candidate, declared, recipe, key="int8"):
    """The adoption rule: a candidate replaces the declared version only if it is ahead of it
    at the two largest sizes (mean of the paired differences above zero) and its lead over the
    recipe at the largest size is not smaller than at the second-largest by more than one
    standard error of the paired per-fold, per-seed change of that lead."""
    reasons = []
    vs = lead(candidate, declared, key)
    ahead = [m > 0 for m, _ in vs.per_size[-2:]]
    reasons.append(
        "ahead of the declared version at the two largest sizes: "
        + ", ".join(f"{100 * m:+.2f} pt" for m, _ in vs.per_size[-2:])
        + (" (yes)" if all(ahead) else " (no)")
    )
    over = lead(candidate, recipe, key)
    change, se = over.change
    holds = change >= -se
    reasons.append(
        f"lead over the recipe from the second-largest to the largest size {100 * change:+.2f} pt "
        f"(standard error {100 * se:.2f} pt): " + ("holds" if holds else "shrinks")
    )
    return Verdict(bool(all(ahead) and len(ahead) == 2 and holds), tuple(reasons))


# ---------------------------------------------------------------- report
def _pct(x):
    return f"{100 * x:.2f}"


def curve_rows(doc, recipe):
    """Markdown rows of one curve beside its recipe: per size, files, accuracy +- SE, the
    recipe's, the lead +- SE."""
    mine, theirs = points(doc), points(recipe)
    ld = lead(doc, recipe)
    rows = []
    for i, (p, q) in enumerate(zip(mine, theirs)):
        m, se = ld.per_size[i]
        rows.append(
            f"| {doc['name']} | {i + 1} | {p.files:,.0f} | {_pct(p.mean)} ± {_pct(p.se)} | "
            f"{_pct(q.mean)} ± {_pct(q.se)} | {100 * m:+.2f} ± {100 * se:.2f} |"
        )
    return rows


def laws(doc):
    """(local exponent between the two largest sizes, back-test (predicted, measured) of the
    largest size from the two smaller ones, projection to the official training size)."""
    p = points(doc)
    if len(p) < 3:
        return None
    k = exponent(p[-2], p[-1])
    back = (project(p[-3], p[-2], p[-1].files), p[-1].mean)
    return k, back, project(p[-2], p[-1], OFFICIAL_TRAIN_FILES)


def report(docs):
    """Markdown of a set of curves: each curve beside its recipe, the laws, and the verdict of
    the adoption rule for every candidate against its declared version."""
    recipes = {d["version"]: d for d in docs if d["role"] == "recipe"}
    declared = {d["version"]: d for d in docs if d["role"] == "declared"}
    lines = [
        "| curve | size | training files | int8 accuracy % | recipe % | lead (pt) |",
        "|---|---|---|---|---|---|",
    ]
    for d in docs:
        if d["role"] != "recipe" and d["version"] in recipes:
            lines += curve_rows(d, recipes[d["version"]])
    lines += [
        "",
        "| curve | exponent of the error, two largest sizes | back-test: predicted / measured at the largest size | projection to 6,400 files |",
        "|---|---|---|---|",
    ]
    for d in docs:
        law = laws(d)
        if law:
            k, (pred, meas), proj = law
            lines.append(
                f"| {d['name']} | {k:.2f} | {_pct(pred)} / {_pct(meas)} % | {_pct(proj)} % |"
            )
    verdicts = []
    for d in docs:
        if d["role"] == "candidate" and d["version"] in declared and d["version"] in recipes:
            v = adopts(d, declared[d["version"]], recipes[d["version"]])
            verdicts.append(
                f"- {d['name']}: {'ADOPT' if v.adopted else 'keep the declared version'}; "
                + "; ".join(v.reasons)
            )
    return "\n".join(lines + ([""] + verdicts if verdicts else [])) + "\n"


def picture(docs, title):
    """Accuracy against training files (log scale): each curve and the 90 % line."""
    from common.plots import png, pyplot

    plt = pyplot()
    versions = sorted({d["version"] for d in docs})
    fig, axes = plt.subplots(1, len(versions), figsize=(4.2 * len(versions), 3.8), squeeze=False)
    for ax, v in zip(axes[0], versions):
        for d in docs:
            if d["version"] != v and not (d["role"] == "recipe" and v in d.get("recipe_of", [])):
                continue
            p = points(d)
            style = {"recipe": dict(ls="--", color="0.4"), "declared": dict(lw=2)}.get(
                d["role"], dict(lw=1)
            )
            ax.errorbar(
                [q.files for q in p],
                [100 * q.mean for q in p],
                yerr=[100 * q.se for q in p],
                marker="o",
                ms=3,
                capsize=2,
                label=d["name"],
                **style,
            )
        ax.axhline(90, color="r", lw=0.8, ls=":", label="90 % (the limit)")
        ax.set_xscale("log")
        ax.set_xlabel("training files (log scale)")
        ax.set_ylabel("int8 accuracy on the fold, %")
        ax.set_title(v)
        ax.legend(fontsize=6)
    fig.suptitle(title, fontsize=9)
    return png(fig, rect=(0, 0, 1, 0.93))


# ---------------------------------------------------------------- command line
def _value(text):
    try:
        return json.loads(text)
    except ValueError:
        return text


def run_command(args, p):
    from common import kws, runtime

    from . import declared, folds

    changes = {}
    for item in args.set:
        field, _, value = item.partition("=")
        if not value or field not in {f.name for f in dataclasses.fields(kws.KWSVersion)}:
            p.error(f"--set {item}: expected FIELD=VALUE with a KWSVersion field")
        changes[field] = _value(value)
    for k in ("filters", "first_stride"):
        if k in changes:
            changes[k] = tuple(changes[k])
    args.seed = args.fold_seed
    _, pairs = folds.load_pairs(args)  # checks every file before TensorFlow loads
    runtime.tensorflow()
    with runtime.quiet_native_stderr():
        spec = (
            declared.seed_recipes()[args.version]
            if args.recipe
            else declared.DECLARED[args.version]
        )
        spec = dataclasses.replace(spec, **changes)
        role = "recipe" if args.recipe else ("candidate" if changes else "declared")
        header = {
            "name": args.name
            or (
                f"{args.version} recipe"
                if args.recipe
                else f"{args.version} {changes or 'declared'}"
            ),
            "version": args.version,
            "role": role,
            "recipe_of": ["ex2_a", "ex2_b"]
            if args.recipe and args.version in ("ex2_a", "ex2_b")
            else [args.version],
            "changes": changes,
            "architecture": spec.architecture,
            "identity": identity(spec, args),
        }
        run_curve(spec, pairs, args.seeds, args.out, header, *spec.epochs_for(args.epochs))
    return 0


def report_command(args):
    docs = [_read(f) for f in args.report]
    text = report(docs)
    print(text, end="")
    if args.md:
        with open(args.md, "w") as f:
            f.write(text)
    if args.png:
        with open(args.png, "wb") as f:
            f.write(picture(docs, args.title))
    return 0


def run(argv=None):
    from common import cli

    p = cli.Parser(
        prog="python -m tools.curve",
        description="learning curves of keyword-spotting versions on speaker-grouped folds",
    )
    p.add_argument(
        "--version", choices=["ex2_a", "ex2_b", "ex2_c"], help="the version to train a curve of"
    )
    p.add_argument(
        "--recipe", action="store_true", help="the original report's recipe for this version"
    )
    p.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="FIELD=VALUE",
        help="change a field of the declaration (KWSVersion); JSON values; repeatable",
    )
    p.add_argument("--name", help="the curve's name in reports")
    p.add_argument("--data", help="the wav folder (as the scripts' --data)")
    p.add_argument(
        "--split-dir",
        default=None,
        help="the split files (train + val are pooled; test never read)",
    )
    p.add_argument(
        "--folds", type=cli.positive_int, default=3, help="speaker-grouped folds (default: 3)"
    )
    p.add_argument(
        "--fold-seed",
        type=cli.seed,
        default=0,
        help="seed of the folds and of the subsets' speaker order",
    )
    p.add_argument(
        "--seeds", type=cli.seeds, default=[0, 1, 2], help="training seeds (default: 0,1,2)"
    )
    p.add_argument(
        "--epochs", type=cli.positive_int, help="fix the training epochs (default: the version's)"
    )
    p.add_argument("--out", help="the curve's JSON file (resumed when it exists)")
    p.add_argument(
        "--report",
        nargs="+",
        metavar="CURVE.json",
        help="compare curve files, judge the candidates",
    )
    p.add_argument("--md", help="with --report: also write the report to this file")
    p.add_argument("--png", help="with --report: draw the curves into this picture")
    p.add_argument(
        "--title",
        default="int8 accuracy on speaker-grouped folds against training files",
        help="with --report: the picture's title",
    )
    args = p.parse_args(argv)
    if args.report:
        return report_command(args)
    if not (args.version and args.out):
        p.error("expected --version and --out (a curve to run), or --report FILES")
    from common import kws

    args.split_dir = args.split_dir or kws.COURSE_SPLIT_DIR
    if args.folds < 2:
        p.error("--folds: expected at least 2")
    return run_command(args, p)


if __name__ == "__main__":
    from common.cli import exit_status

    sys.exit(exit_status(run))
