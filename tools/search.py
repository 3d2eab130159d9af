"""Constraint search: the best model a version's limits allow, with Optuna (docs/search.md).

python -m tools.search --version ex2_a --trials 20 --data DIR     # see --help
"""

import collections
import contextlib
import datetime
import fcntl
import functools
import json
import os
import sys
import time
import warnings
from dataclasses import replace

import common  # noqa: F401  (sets TF_USE_LEGACY_KERAS before TensorFlow loads)

import numpy as np
import optuna
import sqlalchemy

from common import cli, kws, litert, outputs, runtime
from common.constraints import entry
from common.errors import DataError
from common.result import finite
from common.tflite_io import zip_bytes_of

from . import bench, declared, folds, search_space

FEASIBLE, INFEASIBLE, STOPPED = "feasible", "infeasible", "stopped early"
DONE = (optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.PRUNED)
SCHEMA_LOCK_KEY = 0x6B777331  # PostgreSQL advisory lock key ("kws1") held while the schema is made
ORIGINAL = "original report"  # the name of the original report's model in tables and messages
LATENCY = ("invoke_ratio", "total_ratio")  # the latency targets' measures


class Parts:
    """The search's data, bounds and quality: folds of train + val, size and latency, accuracy."""

    def __init__(self, args):
        self.args, self.version = args, args.version
        self.pool, self.pairs = folds.load_pairs(args, args.seed)

    def references(self):
        """The current version and the original report's recipe, scored as the trials are (their
        quantization-aware epochs fixed by --qat-epochs as the candidates' are)."""
        current, seed = declared.DECLARED[self.version], declared.seed_recipes()[self.version]
        fixed = {} if self.args.qat_epochs is None else {"qat_epochs": self.args.qat_epochs}
        return {
            role: {**self.quality(replace(spec, **fixed)), "architecture": spec.architecture}
            for role, spec in (("current", current), ("seed recipe", seed))
        }

    def objective(self, trial):
        """Optuna's objective: a candidate's bounds, then (within them) its quality."""
        args = self.args
        spec = search_space.kws_candidate(trial, self.version, args.epochs, args.qat_epochs)
        trial.set_user_attr("declaration", search_space.declaration(spec))
        same = finished_with(trial)
        if same is not None:  # proposed again: the earlier trial's result
            record(trial, {**same.user_attrs, "same_as": same.number})
            if same.value is None:
                raise optuna.TrialPruned(same.user_attrs.get("why", f"as trial {same.number}"))
            return same.value
        measured, why = self.bounds(spec)
        record(trial, {"architecture": spec.architecture, **measured})
        if why:
            record(trial, {"status": INFEASIBLE, "why": why})
            raise optuna.TrialPruned(why)
        started = time.perf_counter()
        result = self.quality(spec, trial)
        result["seconds"] = round(time.perf_counter() - started, 1)
        if why := too_big(self.version, result["zip_bytes"]):
            result["why"] = f"trained {why}"
        result["status"] = INFEASIBLE if why else FEASIBLE
        record(trial, result)
        return result["quality"]

    def bounds(self, spec):
        """Size and latency of the untrained candidate: ({measure: value}, why or None)."""
        rows, cols = search_space.feature_map(spec)
        if min(rows, cols) < 1:
            return {}, f"feature map {rows}x{cols}: too many unpadded 3x3 convs"
        tflite = self.untrained_int8(spec)
        measured = {"zip_bytes": zip_len(self.version, tflite)}
        why = too_big(self.version, measured["zip_bytes"])
        target = search_space.TARGETS[self.version]
        key = next((k for k in LATENCY if k in target), None)  # ex2_b: invoke, ex2_c: total
        if key and not why:
            measured[key] = self.latency_ratio(spec, tflite, key)
            if measured[key] > target[key]:
                what = "seed DS-CNN's" if key == "invoke_ratio" else "course way's"
                why = f"{key.split('_')[0]} {measured[key]:.2f}x the {what} > {target[key]}x"
        return measured, why

    def untrained_int8(self, spec):
        """The candidate untrained, converted as the pipeline converts it (on 16 files)."""
        from common import speech

        features = speech.features(spec.frontend, self.pool.waves[:16])
        return kws.to_int8(spec, kws.build_model(spec), features)

    @functools.cached_property
    def seed(self):
        """The original report's model and its untrained int8, the latency targets' reference."""
        seed = declared.seed_recipes()[self.version]
        return seed, self.untrained_int8(seed)

    def latency_ratio(self, spec, tflite, key):
        """The candidate's p50 over the seed's, medians of 3 alternating rounds in this process."""
        runs, (seed, theirs) = self.args.latency_runs, self.seed
        if key == "invoke_ratio":
            mine = lambda: litert.measure_latency(tflite, runs=runs)["inference_ms"]["p50"]
            ref = lambda: litert.measure_latency(theirs, runs=runs)["inference_ms"]["p50"]
        else:
            mine = lambda: litert.measure_latency(tflite, spec.frontend, runs)["total_ms"]["p50"]
            ref = lambda: bench.course_total_ms(theirs, seed.frontend, runs)["p50"]
        ours, base = zip(*[(mine(), ref()) for _ in range(3)])
        return float(np.median(ours) / np.median(base))

    def quality(self, spec, trial=None):
        """int8 accuracy on each fold, trained on the others (folds.score)."""
        pruning = lambda i: [first_fold_pruning(trial)] if trial is not None and i == 0 else []
        epochs, seed = spec.epochs_for(self.args.epochs), self.args.seed
        scores = [
            folds.score(spec, t, v, seed, *epochs, pruning(i))
            for i, (t, v) in enumerate(self.pairs)
        ]
        int8 = [s["int8"] for s in scores]
        return {
            "quality": float(np.mean(int8)),
            "folds": int8,
            "float_folds": [s["float"] for s in scores],
            "zip_bytes": max(s["zip_bytes"] for s in scores),
        }


def percent(r):
    """A row's quality as the tables show it: the mean and (lowest-highest) fold, in %."""
    each = r.get("folds") or [r["quality"]]
    return f"{100 * r['quality']:.2f} % ({100 * min(each):.2f}-{100 * max(each):.2f})"


def zip_len(version, tflite):
    """Bytes of the .tflite.zip as the version's script writes it (its member name counts)."""
    return len(zip_bytes_of(f"{entry(version).name}.tflite", tflite))


def too_big(version, zip_bytes):
    """Why a .tflite.zip of `zip_bytes` is over the version's bound, or None."""
    bound = search_space.max_zip_bytes(version)
    return f"zip {zip_bytes:,} B > {bound:,.0f} B" if zip_bytes > bound else None


def first_fold_pruning(trial):
    """A Keras callback that reports the validation accuracy and stops when Optuna says so."""
    import tensorflow as tf

    class FirstFoldPruning(tf.keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            trial.report(float(logs["val_accuracy"]), epoch)
            if trial.should_prune():
                trial.set_user_attr("status", STOPPED)
                raise optuna.TrialPruned(f"fold 1, epoch {epoch + 1}: below the median")

    return FirstFoldPruning()


def record(trial, attrs):
    for k, v in attrs.items():
        trial.set_user_attr(k, v)


def finished_with(trial):
    """An earlier finished trial with the same declaration (the same candidate), or None."""
    if not hasattr(trial, "study"):  # a FixedTrial
        return None
    mine = trial.user_attrs["declaration"]
    for t in trial.study.get_trials(deepcopy=False, states=DONE):
        if t.user_attrs.get("declaration") == mine and "same_as" not in t.user_attrs:
            return t
    return None


def storage_name(url):
    """The storage URL as messages show it: its password hidden."""
    with contextlib.suppress(Exception):  # not a URL: shown as given
        return sqlalchemy.engine.make_url(url).render_as_string(hide_password=True)
    return url


def storage_error(url, error):
    """A DataError naming the storage, on one line."""
    first = (str(error).strip().splitlines() or [type(error).__name__])[0]
    return DataError(
        f"{storage_name(url)}: unusable study storage ({type(error).__name__}: {first}); "
        "expected sqlite:///FILE.db or a database URL Optuna accepts "
        "(pip install -r requirements-search-pg.txt for postgresql://)"
    )


@contextlib.contextmanager
def schema_lock(url):
    """Held while Optuna makes its tables: a PostgreSQL advisory lock, or an SQLite folder's."""
    url = sqlalchemy.engine.make_url(url)
    if url.get_backend_name() == "postgresql":
        engine = sqlalchemy.create_engine(url, poolclass=sqlalchemy.pool.NullPool)
        with engine.connect() as connection:  # the lock ends with the session
            connection.execute(sqlalchemy.text(f"SELECT pg_advisory_lock({SCHEMA_LOCK_KEY})"))
            yield
    elif url.get_backend_name() == "sqlite" and url.database not in (None, "", ":memory:"):
        folder = os.open(os.path.dirname(os.path.abspath(url.database)), os.O_RDONLY)
        try:
            fcntl.flock(folder, fcntl.LOCK_EX)  # released when closed
            yield
        finally:
            os.close(folder)
    else:
        yield


def open_storage(url):
    """Optuna's storage of `url` (its schema made if need be), or one error line naming it."""
    try:
        with schema_lock(url), warnings.catch_warnings(action="ignore"):  # "experimental"
            retry = optuna.storages.RetryHeartbeatStaleTrialCallback(max_retry=1)
            return optuna.storages.RDBStorage(
                url, heartbeat_interval=60, grace_period=180, heartbeat_stale_trial_callback=retry
            )
    except Exception as e:  # a bad URL, no driver, no server, a file that is not SQLite
        raise storage_error(url, e) from None


def work(parts, storage):
    """This call's trials on the study (made if need be), the references once a study."""
    args = parts.args
    runtime.tensorflow(args.verbose)

    def progress(study, trial):
        a = trial.user_attrs
        why = a.get("why", a.get("status", ""))
        what = f"quality {trial.value:.4f}" if trial.value is not None else why
        status = a.get("status", trial.state.name.lower())
        size = f"{a['zip_bytes']:,} B, " if "zip_bytes" in a else ""
        print(f"{args.version} trial {trial.number}: {status}, {size}{what}", flush=True)

    with runtime.quiet_native_stderr(args.verbose):
        study = optuna.create_study(
            study_name=args.study,
            storage=storage,
            direction="maximize",
            load_if_exists=True,
            sampler=optuna.samplers.TPESampler(seed=args.seed),
            pruner=optuna.pruners.MedianPruner(n_startup_trials=3, n_warmup_steps=5),
        )
        if "references" not in study.user_attrs:
            print(f"{args.version}: scoring the current version and {ORIGINAL}", flush=True)
            study.set_user_attr("references", parts.references())
        callbacks = [] if args.quiet else [progress]
        study.optimize(parts.objective, n_trials=args.trials, catch=(), callbacks=callbacks)


def rows_of(study):
    """One dict per finished trial: number, status, parameters, measures."""
    return [
        {
            "trial": t.number,
            "status": STOPPED if t.state == optuna.trial.TrialState.PRUNED else FEASIBLE,
            "params": t.params,
            "quality": t.value,
            "last_epoch_value": t.intermediate_values.get(t.last_step),
            "trial_seconds": round((t.datetime_complete - t.datetime_start).total_seconds(), 1),
            **t.user_attrs,
        }
        for t in study.get_trials(deepcopy=False, states=DONE)
    ]


def left_running(study, storage):
    """A line for each trial left RUNNING: its last heartbeat and when it becomes stale."""
    trials = study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.RUNNING,))
    heartbeat = sqlalchemy.column("heartbeat", sqlalchemy.DateTime)
    table = sqlalchemy.table("trial_heartbeats", sqlalchemy.column("trial_id"), heartbeat)
    with storage.engine.connect() as connection:
        beats = dict(connection.execute(sqlalchemy.select(table)).all()) if trials else {}
    every, grace = storage.heartbeat_interval, storage.grace_period
    return [
        f"trial {t.number}: last heartbeat {beat:%Y-%m-%d %H:%M:%S}, stale from "
        f"{beat + datetime.timedelta(seconds=grace):%Y-%m-%d %H:%M:%S} (the database's clock; "
        f"a heartbeat every {every} s, stale {grace} s after the last)"
        if beat
        else f"trial {t.number}: no heartbeat yet (stale {grace} s after its first)"
        for t in trials
        for beat in [beats.get(t._trial_id)]
    ]


def scored(rows):
    """The feasible rows, repeated proposals left out."""
    return [r for r in rows if r["status"] == FEASIBLE and "same_as" not in r]


def pareto(rows):
    """The feasible rows no other beats on size, latency ratio and quality (the first of equals)."""
    first = {}
    for r in sorted(scored(rows), key=lambda r: r["trial"]):
        latency = r.get("invoke_ratio", r.get("total_ratio", 0.0))
        first.setdefault((r["zip_bytes"], latency, -r["quality"]), r)
    # beaten: another row is as good or better on all three
    beaten = lambda k: any(o != k and all(a <= b for a, b in zip(o, k)) for o in first)
    return sorted((r for k, r in first.items() if not beaten(k)), key=lambda r: r["zip_bytes"])


def markdown(version, study_name, rows, refs, seconds, running=()):
    """The study as a table: references, Pareto front, the best trial as a declaration."""
    counts = collections.Counter(r["status"] for r in rows if "same_as" not in r)
    repeats = sum("same_as" in r for r in rows)
    minutes = sum(r["trial_seconds"] for r in rows) / 60
    bounds = [f".tflite.zip <= {search_space.max_zip_bytes(version):,.0f} B"]
    bounds += [f"{k} <= {v}" for k, v in search_space.TARGETS[version].items() if k != "zip_bytes"]
    lines = [
        f"# Constraint search: {version}",
        "",
        f"Study `{study_name}`: {len(rows)} finished trials ({counts[FEASIBLE]} feasible, "
        f"{counts[INFEASIBLE]} infeasible, {counts[STOPPED]} stopped early, {repeats} repeated "
        f"proposals answered from the earlier trial), {minutes:.1f} min of trials; this call "
        f"{seconds / 60:.1f} min on {runtime.host()}.",
        f"Quality: mean int8 accuracy over the folds (min-max). Bounds: {', '.join(bounds)}.",
        *(["", f"Left RUNNING, not counted above ({len(running)}):"] if running else []),
        *(f"- {line}" for line in running),
        "",
        "## References (same data, same scoring)",
        "",
        "| model | zip bytes | quality |",
        "|---|---|---|",
    ]
    for role, r in refs.items():
        shown = ORIGINAL if role == "seed recipe" else role  # the stored key stays
        lines.append(f"| {shown}: {r['architecture']} | {r['zip_bytes']:,} | {percent(r)} |")
    lines += ["", "## Pareto front (feasible trials)", ""]
    lines += ["| trial | zip bytes | latency | quality | parameters |", "|---|---|---|---|---|"]
    for r in pareto(rows):
        ratio = next((k for k in LATENCY if r.get(k) is not None), None)
        latency = f"{ratio.split('_')[0]} {r[ratio]:.2f}x" if ratio else "-"
        params = ", ".join(f"{k}={v}" for k, v in r["params"].items())
        lines.append(f"| {r['trial']} | {r['zip_bytes']:,} | {latency} | {percent(r)} | {params} |")
    lines += ["", "## Best feasible trial", ""]
    best = max(scored(rows), key=lambda r: r["quality"], default=None)
    if best is None:
        return "\n".join(lines + ["None yet.", ""])
    lines += [f"Trial {best['trial']}: {percent(best)}, {best['zip_bytes']:,} B.", "", "```python"]
    return "\n".join(lines + [best["declaration"], "```", ""])


def parse_args(argv):
    p = cli.Parser(prog="python -m tools.search", description=__doc__.split("\n")[0])
    add = p.add_argument
    versions = sorted(search_space.TARGETS)  # keyword spotting: the forecasters are not searched
    add("--version", required=True, choices=versions, help="whose limits bound the search (ex2)")
    trials = f"new trials, 0 to {cli.MAX_TRIALS:,} (default: 20; 0: none)"
    add("--trials", type=cli.within(0, cli.MAX_TRIALS), default=20, help=trials)
    add("--data", help="the wav folder (as the scripts' --data)")
    add("--split-dir", default=kws.COURSE_SPLIT_DIR, help="the split files (default: the course's)")
    folds = f"speaker-grouped folds, 1 to {cli.MAX_FOLDS} (default: 3)"
    add("--folds", type=cli.within(1, cli.MAX_FOLDS), default=3, help=folds)
    epochs = f"fix every candidate's epochs, 1 to {cli.MAX_EPOCHS:,} (a smoke test)"
    add("--epochs", type=cli.within(1, cli.MAX_EPOCHS), help=epochs)
    qat = f"fix every model's quantization-aware epochs, 0 to {cli.MAX_EPOCHS:,} (a smoke test)"
    add("--qat-epochs", type=cli.within(0, cli.MAX_EPOCHS), help=qat)
    add("--out-dir", default="search_out", help="outputs, default storage (default: search_out)")
    add("--storage", help="an Optuna storage URL (default: sqlite:///<out-dir>/search.db)")
    add("--study", help="study name (default: the version)")
    runs = f"runs per timing, 1 to {cli.MAX_RUNS:,} (default: 50)"
    add("--latency-runs", type=cli.within(1, cli.MAX_RUNS), default=50, help=runs)
    add("--seed", type=cli.seed, default=0, help="random seed, 0 to 2**32 - 1 (default: 0)")
    add("--quiet", action="store_true", help="no Keras progress bars")
    add("--verbose", action="store_true", help="keep TensorFlow's log")
    args = p.parse_args(argv)
    if args.folds < 2:
        p.error("--folds: expected at least 2")
    args.study = args.study or args.version
    return args


def main(argv=None):
    """The whole search (every input checked before TensorFlow loads); the exit status."""
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    args = parse_args(argv)
    args.out_dir = outputs.check_out_dir(args.out_dir)
    started = time.perf_counter()
    parts = Parts(args) if args.trials else None  # its data checked before the storage opens
    if not args.storage:  # SQLite makes the file, not its folder
        os.makedirs(args.out_dir, exist_ok=True)
        args.storage = f"sqlite:///{os.path.join(args.out_dir, 'search.db')}"
    storage = open_storage(args.storage)
    try:
        if parts:
            work(parts, storage)
        study = optuna.load_study(study_name=args.study, storage=storage)
    except KeyError:
        raise DataError(
            f"{storage_name(args.storage)}: no study named {args.study!r}; expected a search run "
            "before (--trials N)"
        ) from None
    except sqlalchemy.exc.SQLAlchemyError as e:  # e.g. the database went away
        raise storage_error(args.storage, e) from None
    rows, refs = rows_of(study), study.user_attrs.get("references")
    running = left_running(study, storage)
    seconds = time.perf_counter() - started
    md = markdown(args.version, study.study_name, rows, refs or {}, seconds, running)
    found = json.dumps(finite({"references": refs, "trials": rows}), indent=1).encode()
    files = {".md": md.encode(), ".json": found}
    outputs.write_set(args.out_dir, {f"{args.version}_search{k}": v for k, v in files.items()})
    print(md)
    return 0


if __name__ == "__main__":
    sys.exit(cli.exit_status(main))
