"""Constraint search: the best model a version's limits allow, with Optuna.

    python -m tools.search --version ex2_a --trials 20 --data DIR     # see --help

Each trial asks tools/search_space.py for a candidate, then:
1. bounds before training: the candidate is built untrained and converted as the pipeline
   converts it; a `.tflite.zip` over the version's bound (limit or the project's target),
   an ex2_b invoke p50 over 0.5x the original report's DS-CNN's, or an ex2_c total latency
   over 0.5x the course way's (both measured in this process, this host, interleaved) ends
   the trial as infeasible within seconds;
2. quality, never on the test split: keyword spotting, the int8 model's accuracy on each of
   K speaker-grouped folds of the train + val files (trained on the others), the mean;
   forecasting, the validation MAE of the quantized model over persistence's, T and RH
   (their mean is minimized). Optuna's median pruner stops a keyword-spotting trial whose
   first-fold validation curve is below the median of earlier trials at the same epoch.

The study lives in storage (default: SQLite in --out-dir), so an interrupted search resumes;
any URL Optuna accepts (e.g. postgresql://..., driver: requirements-search-pg.txt) lets several
machines share one study, even started at once on a fresh database (the schema is created
under a PostgreSQL advisory lock), and --workers K runs K local processes. The version's
current declaration and the original report's recipe are scored once per study on the same folds, as
references. At the end: the Pareto front (size, latency, quality) as a table
(<version>_search.md), a picture (<version>_search.png) and the best feasible trial printed as
a version declaration.
"""

import argparse
import contextlib
import json
import multiprocessing
import os
import sys
import time
import warnings

import common  # noqa: F401  (sets TF_USE_LEGACY_KERAS before TensorFlow loads)

import numpy as np

from common import cli, runtime
from common.errors import DataError
from common.constraints import VERSIONS, entry

from . import search_space

FEASIBLE, INFEASIBLE, STOPPED = "feasible", "infeasible", "stopped early"


# ---------------------------------------------------------------- data, loaded once a process
class Data:
    """What every trial of a version reads: (fold pairs, generator) or (windows, norm)."""

    def __init__(self, args, log=print):
        self.version, self.args = args.version, args
        if self.version.startswith("ex2"):
            from . import folds

            self.pool, self.pairs = folds.load_pairs(args, log)  # never the test split
        else:
            from common import forecast, jena

            series = jena.load_series(jena.resolve_csv(args.data, forecast.offline_hint()))
            self.windows = jena.split_windows(series)
            self.norm = jena.Normalization.of(jena.split_series(series)[0])
            from common.forecast import persistence_mae

            self.persistence_val = persistence_mae(self.windows["val"])


# ---------------------------------------------------------------- bounds before training
def kws_bounds(spec, data, reference):
    """Size and latency of the untrained candidate: ({measure: value}, reason or None)."""
    tflite = untrained_int8(spec, data)
    measured = {"zip_bytes": zip_len(spec.version, tflite)}
    bound = search_space.max_zip_bytes(spec.version)
    if measured["zip_bytes"] > bound:
        return measured, f"zip {measured['zip_bytes']:,} B > {bound:,.0f} B"
    if reference:
        key, limit = reference["measure"], search_space.TARGETS[spec.version][reference["measure"]]
        measured[key] = latency_ratio(spec, tflite, reference, data.args.latency_runs)
        if measured[key] > limit:
            return (
                measured,
                f"{key.split('_')[0]} {measured[key]:.2f}x the {reference['what']} > {limit}x",
            )
    return measured, None


def untrained_int8(spec, data):
    """The candidate's DS-CNN, untrained, converted as the pipeline converts it (calibrated on
    16 files: the scales do not change the size or the latency)."""
    from common import kws, speech

    features = speech.SignalGenerator(spec.frontend).features(data.pool.waves[:16])
    return kws.to_int8(spec, kws.build_model(spec), features)


def latency_reference(version, data):
    """What the version's latency target compares with, or None: the original report's DS-CNN
    (16 kHz, ex2_b: invoke) or the course way (its 8 kHz model + TensorFlow's front end, ex2_c:
    total), untrained int8, built once a process."""
    from . import declared

    target = search_space.TARGETS.get(version, {})
    measure = next((k for k in ("invoke_ratio", "total_ratio") if k in target), None)
    if measure is None:
        return None
    seed = declared.seed_recipes()[version]
    return {
        "measure": measure,
        "tflite": untrained_int8(seed, data),
        "frontend": seed.frontend,
        "what": "seed DS-CNN's" if measure == "invoke_ratio" else "course way's",
    }


def latency_ratio(spec, tflite, reference, runs, rounds=3):
    """The candidate's p50 over the reference's, measured in alternating rounds in this
    process (median of each): invoke, or total from a 48 kHz signal (litert.measure_latency)."""
    from .bench import course_total_latency
    from common.litert import measure_latency

    if reference["measure"] == "invoke_ratio":

        def mine():
            return measure_latency(tflite, runs=runs)["inference_ms"]["p50"]

        def theirs():
            return measure_latency(reference["tflite"], runs=runs)["inference_ms"]["p50"]
    else:

        def mine():
            return measure_latency(tflite, spec.frontend, runs)["total_ms"]["p50"]

        def theirs():
            return course_total_latency(reference["tflite"], reference["frontend"], runs)["p50"]

    ours, base = [], []
    for _ in range(rounds):
        ours.append(mine())
        base.append(theirs())
    return float(np.median(ours) / np.median(base))


def forecast_bounds(spec, data):
    from common import forecast

    norm = data.norm
    tflite, _ = forecast.convert(
        spec, spec.build(norm.mean, norm.std), norm(data.windows["train"].inputs), norm, seed=0
    )
    measured = {"zip_bytes": zip_len(spec.version, tflite)}
    bound = search_space.max_zip_bytes(spec.version)
    return measured, (
        f"zip {measured['zip_bytes']:,} B > {bound:,.0f} B"
        if measured["zip_bytes"] > bound
        else None
    )


# ---------------------------------------------------------------- quality
def first_fold_pruning(trial):
    """A Keras callback: report each epoch's validation accuracy to the trial; end the trial
    when Optuna's pruner says so."""
    import optuna
    import tensorflow as tf

    class FirstFoldPruning(tf.keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            trial.report(float(logs["val_accuracy"]), epoch)
            if trial.should_prune():
                trial.set_user_attr("status", STOPPED)
                raise optuna.TrialPruned(f"fold 1, epoch {epoch + 1}: below the median")

    return FirstFoldPruning()


def kws_quality(spec, data, trial=None):
    """int8 accuracy on each fold's validation files (trained on the other folds, epochs chosen
    on an inner holdout of them: folds.score_kws)."""
    from . import folds

    callbacks = lambda i: [first_fold_pruning(trial)] if trial is not None and i == 0 else []
    scores = folds.score_kws(
        spec, data.pairs, data.args.seed, *spec.epochs_for(data.args.epochs), callbacks
    )
    return {
        "quality": float(np.mean([s["int8"] for s in scores])),
        "folds": [s["int8"] for s in scores],
        "float_folds": [s["float"] for s in scores],
        "zip_bytes": max(s["zip_bytes"] for s in scores),
    }


def forecast_quality(spec, data):
    """Validation MAE of the quantized model over persistence's: T, RH and their mean."""
    from common import forecast
    from common.litert import Model

    runtime.set_seed(data.args.seed)
    *_, tflite, _, _ = forecast.fit_and_quantize(
        spec, data.windows, data.norm, *spec.epochs_for(data.args.epochs), data.args.seed, 0
    )
    val = data.windows["val"]
    mae = forecast.forecast_mae(Model(tflite), data.norm(val.inputs), val.labels)
    ratios = [float(m / p) for m, p in zip(mae, data.persistence_val)]
    return {
        "quality": float(np.mean(ratios)),
        "ratio_t": ratios[0],
        "ratio_rh": ratios[1],
        "val_mae_t": float(mae[0]),
        "val_mae_rh": float(mae[1]),
        "zip_bytes": zip_len(spec.version, tflite),
    }


def zip_len(version, tflite):
    """Bytes of the .tflite.zip as the version's script writes it (its member name counts)."""
    from common.tflite_io import zip_bytes_of

    return len(zip_bytes_of(f"{entry(version).name}.tflite", tflite))


def score(spec, data, trial=None):
    if spec.version.startswith("ex2"):
        return kws_quality(spec, data, trial)
    return forecast_quality(spec, data)


# ---------------------------------------------------------------- the study
def candidate(trial, version, epochs=None):
    make = (
        search_space.kws_candidate if version.startswith("ex2") else search_space.forecast_candidate
    )
    return make(trial, version, epochs)


def objective(data, reference=None):
    import optuna

    def run_trial(trial):
        spec = candidate(trial, data.version, data.args.epochs)
        trial.set_user_attr("declaration", search_space.declaration(spec))
        same = _finished_with(trial)
        if same is not None:  # TPE proposed a candidate already scored: reuse its result
            for k, v in same.user_attrs.items():
                trial.set_user_attr(k, v)
            trial.set_user_attr("same_as", same.number)
            if same.value is None:
                raise optuna.TrialPruned(same.user_attrs.get("why", f"as trial {same.number}"))
            return same.value
        trial.set_user_attr("architecture", getattr(spec, "architecture", ""))
        if data.version.startswith("ex2"):
            rows, cols = search_space.feature_map(spec)
            measured, why = (
                ({}, f"feature map {rows}x{cols}: too many unpadded 3x3 convs")
                if min(rows, cols) < 1
                else kws_bounds(spec, data, reference)
            )
        else:
            measured, why = forecast_bounds(spec, data)
        for k, v in measured.items():
            trial.set_user_attr(k, v)
        if why:
            trial.set_user_attr("status", INFEASIBLE)
            trial.set_user_attr("why", why)
            raise optuna.TrialPruned(why)
        started = time.perf_counter()
        result = score(spec, data, trial)
        bound = search_space.max_zip_bytes(data.version)
        for k, v in result.items():
            trial.set_user_attr(k, v)
        trial.set_user_attr("seconds", round(time.perf_counter() - started, 1))
        trial.set_user_attr("status", FEASIBLE if result["zip_bytes"] <= bound else INFEASIBLE)
        if result["zip_bytes"] > bound:
            trial.set_user_attr("why", f"trained zip {result['zip_bytes']:,} B > {bound:,.0f} B")
        return result["quality"]

    return run_trial


def _finished_with(trial):
    """An earlier finished trial of the study with the same candidate (the same declaration:
    e.g. a sparsity without hidden units to prune is no other model), or None."""
    import optuna

    if not hasattr(trial, "study"):  # a FixedTrial
        return None
    mine = trial.user_attrs["declaration"]
    done = (optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.PRUNED)
    for t in trial.study.get_trials(deepcopy=False, states=done):
        if (
            t.number != trial.number
            and t.user_attrs.get("declaration") == mine
            and "same_as" not in t.user_attrs
        ):
            return t
    return None


def references(version, data):
    """The version as its script declares it and the original report's recipe, scored as the trials are."""
    from . import declared

    out = {}
    for role, spec in (
        ("current", declared.DECLARED[version]),
        ("seed recipe", declared.seed_recipes()[version]),
    ):
        result = score(spec, data)
        out[role] = {**result, "architecture": spec.architecture}
    return out


SCHEMA_LOCK_KEY = 0x6B777331  # PostgreSQL advisory lock key ("kws1") held while the schema is made
DRIVERS = "pip install -r requirements-search-pg.txt for postgresql://"


def storage_name(url):
    """The storage URL as messages show it: its password hidden."""
    from sqlalchemy.engine import make_url

    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # not a URL: shown as given
        return url


def storage_error(url, error):
    """A DataError naming the storage, on one line, for an error of Optuna or SQLAlchemy."""
    first = (str(error).strip().splitlines() or [type(error).__name__])[0]
    return DataError(
        f"{storage_name(url)}: unusable study storage ({type(error).__name__}: {first}); "
        f"expected sqlite:///FILE.db or a database URL Optuna accepts ({DRIVERS})"
    )


@contextlib.contextmanager
def _schema_lock(url):
    """On PostgreSQL, a session advisory lock held while Optuna checks and creates its tables:
    two hosts starting at once on a fresh database would otherwise both create them, and one
    fail (UniqueViolation on CREATE TYPE). Other databases: nothing."""
    import sqlalchemy

    if sqlalchemy.engine.make_url(url).get_backend_name() != "postgresql":
        yield
        return
    engine = sqlalchemy.create_engine(url, poolclass=sqlalchemy.pool.NullPool)
    try:
        with engine.connect() as connection:
            connection.execute(
                sqlalchemy.text("SELECT pg_advisory_lock(:key)"), {"key": SCHEMA_LOCK_KEY}
            )
            try:
                yield
            finally:
                connection.execute(
                    sqlalchemy.text("SELECT pg_advisory_unlock(:key)"), {"key": SCHEMA_LOCK_KEY}
                )
    finally:
        engine.dispose()


def open_storage(url):
    """Optuna's storage of `url` (its schema created if need be), or one error line naming it."""
    import optuna
    import sqlalchemy
    from optuna.storages import RDBStorage, RetryHeartbeatStaleTrialCallback

    try:
        with _schema_lock(url), warnings.catch_warnings():  # heartbeats: "experimental"
            warnings.simplefilter("ignore")
            return RDBStorage(
                url,
                heartbeat_interval=60,
                grace_period=180,
                heartbeat_stale_trial_callback=RetryHeartbeatStaleTrialCallback(max_retry=1),
            )
    except ImportError as e:  # the database's driver
        raise DataError(
            f"{storage_name(url)}: no driver for this database ({e}); {DRIVERS}"
        ) from None
    except (
        sqlalchemy.exc.SQLAlchemyError,
        optuna.exceptions.OptunaError,
        ValueError,
        RuntimeError,
    ) as e:
        raise storage_error(url, e) from None


def open_study(args, worker=0, storage=None):
    import optuna

    storage = storage or open_storage(args.storage)
    direction = "maximize" if args.version.startswith("ex2") else "minimize"
    return optuna.create_study(
        study_name=args.study or args.version,
        storage=storage,
        direction=direction,
        load_if_exists=True,
        sampler=optuna.samplers.TPESampler(seed=(args.seed + worker) % cli.SEED_LIMIT),
        pruner=optuna.pruners.MedianPruner(n_startup_trials=3, n_warmup_steps=5),
    )


def work(args, trials, worker=0, data=None, storage=None):
    """One process's share of the trials (also the entry of --workers' extra processes)."""
    import optuna

    runtime.tensorflow(args.verbose)
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    with runtime.quiet_native_stderr(args.verbose):
        data = data or Data(args, log=lambda *_: None)
        study = open_study(args, worker, storage)
        if "references" not in study.user_attrs and worker == 0:
            print(
                f"{args.version}: scoring the current version and the original report's recipe "
                "on the same data (once a study)",
                flush=True,
            )
            study.set_user_attr("references", references(args.version, data))
        reference = latency_reference(args.version, data)
        study.optimize(
            objective(data, reference),
            n_trials=trials,
            catch=(),
            callbacks=[_progress(args.version)] if not args.quiet else [],
        )


def _progress(version):
    def show(study, trial):
        a = trial.user_attrs
        what = (
            f"quality {trial.value:.4f}"
            if trial.value is not None
            else a.get("why", a.get("status", ""))
        )
        size = f"{a['zip_bytes']:,} B, " if "zip_bytes" in a else ""
        print(
            f"{version} trial {trial.number}: {a.get('status', trial.state.name.lower())}, "
            f"{size}{what}",
            flush=True,
        )

    return show


# ---------------------------------------------------------------- results
def rows_of(study):
    """One dict per finished trial: number, status, params, measures."""
    import optuna

    rows = []
    for t in study.get_trials(deepcopy=False):
        if t.state not in (optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.PRUNED):
            continue
        a = dict(t.user_attrs)
        status = a.get("status", STOPPED if t.state == optuna.trial.TrialState.PRUNED else FEASIBLE)
        last = t.intermediate_values[max(t.intermediate_values)] if t.intermediate_values else None
        took = (t.datetime_complete - t.datetime_start).total_seconds()
        rows.append(
            {
                "trial": t.number,
                "status": status,
                "params": t.params,
                "quality": t.value if t.value is not None else None,
                "last_epoch_value": last,
                "trial_seconds": round(took, 1),
                **a,
            }
        )
    return rows


def scored(rows):
    """The feasible rows with a quality, repeated proposals left out."""
    return [
        r
        for r in rows
        if r["status"] == FEASIBLE and r.get("quality") is not None and "same_as" not in r
    ]


def pareto(rows, maximize):
    """The feasible rows no other feasible row beats on size, latency ratio and quality (of
    rows with the same three figures, the first trial)."""
    ok = scored(rows)

    def key(r):
        q = -r["quality"] if maximize else r["quality"]
        return (r["zip_bytes"], r.get("invoke_ratio", r.get("total_ratio", 0.0)), q)

    first = {}
    for r in sorted(ok, key=lambda r: r["trial"]):
        first.setdefault(key(r), r)
    ok = list(first.values())
    front = [
        r
        for r in ok
        if not any(all(a <= b for a, b in zip(key(o), key(r))) and o is not r for o in ok)
    ]
    return sorted(front, key=lambda r: r["zip_bytes"])


def best_feasible(rows, maximize):
    ok = scored(rows)
    return (max if maximize else min)(ok, key=lambda r: r["quality"]) if ok else None


def _quality_text(r, version):
    if r.get("quality") is None:
        return "-"
    if version.startswith("ex2"):
        folds = r.get("folds") or [r["quality"]]
        return f"{100 * r['quality']:.2f} % ({100 * min(folds):.2f}-{100 * max(folds):.2f})"
    return f"{r['quality']:.3f} (T {r['ratio_t']:.3f}, RH {r['ratio_rh']:.3f})"


def _latency_text(r):
    for k, what in (("invoke_ratio", "invoke"), ("total_ratio", "total")):
        if r.get(k) is not None:
            return f"{what} {r[k]:.2f}x"
    return "-"


def markdown(study, args, rows, seconds):
    version, maximize = args.version, args.version.startswith("ex2")
    what = (
        "mean int8 accuracy over the folds (min-max)"
        if maximize
        else "validation MAE / persistence's, mean of T and RH (each)"
    )
    refs = study.user_attrs.get("references", {})
    counts = {
        s: sum(r["status"] == s and "same_as" not in r for r in rows)
        for s in (FEASIBLE, INFEASIBLE, STOPPED)
    }
    repeats = sum("same_as" in r for r in rows)
    lines = [
        f"# Constraint search: {version}",
        "",
        f"Study `{study.study_name}`: {len(rows)} finished trials ({counts[FEASIBLE]} feasible, "
        f"{counts[INFEASIBLE]} infeasible, {counts[STOPPED]} stopped early, {repeats} repeated "
        f"proposals answered from the earlier trial), {sum(r['trial_seconds'] for r in rows) / 60:.1f} "
        f"min of trials; this call {seconds / 60:.1f} min on {runtime.host()}.",
        f"Quality: {what}. Bounds: .tflite.zip <= {search_space.max_zip_bytes(version):,.0f} B"
        + "".join(
            f", {k} <= {v}"
            for k, v in search_space.TARGETS.get(version, {}).items()
            if k != "zip_bytes"
        )
        + ".",
        "",
    ]
    lines += [
        "## References (same data, same scoring)",
        "",
        "| model | zip bytes | quality |",
        "|---|---|---|",
    ]
    for role, r in refs.items():
        lines.append(
            f"| {role}: {r['architecture']} | {r['zip_bytes']:,} | {_quality_text(r, version)} |"
        )
    lines += [
        "",
        "## Pareto front (feasible trials)",
        "",
        "| trial | zip bytes | latency | quality | parameters |",
        "|---|---|---|---|---|",
    ]
    for r in pareto(rows, maximize):
        params = ", ".join(f"{k}={v}" for k, v in r["params"].items())
        lines.append(
            f"| {r['trial']} | {r['zip_bytes']:,} | {_latency_text(r)} | "
            f"{_quality_text(r, version)} | {params} |"
        )
    best = best_feasible(rows, maximize)
    lines += ["", "## Best feasible trial", ""]
    if best is None:
        lines.append("None yet.")
    else:
        lines += [
            f"Trial {best['trial']}: {_quality_text(best, version)}, {best['zip_bytes']:,} B.",
            "",
            "```python",
            declaration_of(best, version, args.epochs),
            "```",
        ]
    return "\n".join(lines) + "\n"


def declaration_of(row, version, epochs=None):
    """The declaration of a trial's candidate (`epochs`: the search's --epochs, if fixed)."""
    import optuna

    if "declaration" in row:
        return row["declaration"]
    return search_space.declaration(
        candidate(optuna.trial.FixedTrial(row["params"]), version, epochs)
    )


def picture(study, args, rows):
    """Quality against zipped size: feasible trials coloured, the others grey (infeasible
    ones along the bottom, at their size), the references as stars, the bounds as lines."""
    from common.plots import png, pyplot

    plt = pyplot()
    version, maximize = args.version, args.version.startswith("ex2")
    scale = 100 if maximize else 1
    fig, ax = plt.subplots(figsize=(9, 6))
    ok = [r for r in rows if r["status"] == FEASIBLE and r.get("quality") is not None]
    stopped = [r for r in rows if r["status"] == STOPPED and r.get("last_epoch_value") is not None]
    infeasible = [r for r in rows if r["status"] == INFEASIBLE and "zip_bytes" in r]
    shapeless = sum(r["status"] == INFEASIBLE and "zip_bytes" not in r for r in rows)
    if ok:
        ax.scatter(
            [r["zip_bytes"] / 1024 for r in ok],
            [r["quality"] * scale for r in ok],
            c=[r["trial"] for r in ok],
            cmap="viridis",
            label="feasible (colour: trial)",
            zorder=3,
        )
        front = pareto(rows, maximize)
        ax.plot(
            [r["zip_bytes"] / 1024 for r in front],
            [r["quality"] * scale for r in front],
            "-",
            color="tab:blue",
            alpha=0.5,
            label="Pareto front",
        )
    if stopped:
        ax.scatter(
            [r["zip_bytes"] / 1024 for r in stopped],
            [r["last_epoch_value"] * scale for r in stopped],
            marker="x",
            color="silver",
            label="stopped early (float, fold 1)",
        )
    if infeasible:
        ax.plot(
            [r["zip_bytes"] / 1024 for r in infeasible],
            [0] * len(infeasible),
            "|",
            color="grey",
            markersize=14,
            transform=ax.get_xaxis_transform(),
            label="infeasible (at its size)",
        )
    for role, r in study.user_attrs.get("references", {}).items():
        ax.plot(
            r["zip_bytes"] / 1024,
            r["quality"] * scale,
            "*",
            markersize=14,
            color="tab:red" if role == "current" else "tab:orange",
            label=role,
            zorder=4,
        )
    ax.axvline(
        search_space.max_zip_bytes(version) / 1024,
        color="black",
        linestyle="--",
        linewidth=1,
        label="size bound",
    )
    if maximize:
        ax.axhline(
            100 * entry(version).limits["accuracy"],
            color="black",
            linestyle=":",
            linewidth=1,
            label="accuracy limit (on the course's test split)",
        )
        ax.set_ylabel("mean int8 accuracy over the folds (%)")
    else:
        ax.axhline(1.0, color="black", linestyle=":", linewidth=1, label="persistence")
        ax.set_ylabel("validation MAE / persistence's (mean of T and RH)")
    ax.set_xlabel("zipped size (kB, 1 kB = 1024 B)")
    ax.set_title(
        f"{version}: constraint search, {len(rows)} trials, quality on "
        + ("speaker-grouped folds of train + val" if maximize else "the validation split")
        + (f" ({shapeless} with no feature map left, not drawn)" if shapeless else "")
    )
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="best")
    return png(fig)


# ---------------------------------------------------------------- command line
def parse_args(argv):
    p = cli.Parser(
        prog="python -m tools.search",
        description=__doc__.split("\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument(
        "--version",
        required=True,
        choices=sorted(VERSIONS),
        help="the version whose limits bound the search",
    )
    p.add_argument(
        "--trials",
        type=cli.whole_number,
        default=20,
        help="new trials this call (default: 20; 0: only write the study's table and picture)",
    )
    p.add_argument("--data", help="ex2: the wav folder (as the scripts' --data); ex1: the Jena CSV")
    p.add_argument("--split-dir", default=None, help="ex2: the split files (default: the course's)")
    p.add_argument(
        "--folds", type=cli.positive_int, default=3, help="ex2: speaker-grouped folds (default: 3)"
    )
    p.add_argument(
        "--epochs", type=cli.positive_int, help="fix every candidate's epochs (a smoke test)"
    )
    p.add_argument(
        "--out-dir",
        default="search_out",
        help="tables, pictures, default storage (default: search_out)",
    )
    p.add_argument(
        "--storage",
        help="an Optuna storage URL (default: sqlite:///<out-dir>/search.db; "
        "postgresql://user@host/db needs requirements-search-pg.txt)",
    )
    p.add_argument("--study", help="study name (default: the version)")
    p.add_argument(
        "--workers", type=cli.positive_int, default=1, help="local processes (default: 1)"
    )
    p.add_argument(
        "--latency-runs",
        type=cli.positive_int,
        default=50,
        help="runs of each host latency measurement (default: 50)",
    )
    p.add_argument(
        "--seed", type=cli.seed, default=0, help="random seed, 0 to 2**32 - 1 (default: 0)"
    )
    p.add_argument("--quiet", action="store_true", help="no Keras progress bars")
    p.add_argument("--verbose", action="store_true", help="keep TensorFlow's log")
    args = p.parse_args(argv)
    if args.version.startswith("ex2"):
        from common.kws import COURSE_SPLIT_DIR

        args.split_dir = args.split_dir or COURSE_SPLIT_DIR
        if args.folds < 2:
            p.error("--folds: expected at least 2")
    args.storage = args.storage or default_storage(args.out_dir)
    return args


def default_storage(out_dir):
    return f"sqlite:///{os.path.abspath(os.path.join(out_dir, 'search.db'))}"


def main(argv=None):
    """The whole search; returns the exit status. The output folder and the data are read
    and checked before TensorFlow loads (one error line naming the file)."""
    import optuna
    from common import outputs, report
    import sqlalchemy

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    args = parse_args(argv)
    in_out_dir = args.storage == default_storage(args.out_dir)
    args.out_dir = outputs.check_out_dir(args.out_dir)
    started = time.perf_counter()
    data = Data(args) if args.trials else None  # the data checked first (no TensorFlow yet)
    if in_out_dir:  # SQLite makes the file, not its folder
        args.storage = default_storage(args.out_dir)
        os.makedirs(args.out_dir, exist_ok=True)
    storage = open_storage(args.storage)
    name = args.study or args.version
    try:
        if args.trials:
            run_workers(args, data, storage)
        study = optuna.load_study(study_name=name, storage=storage)
    except KeyError:
        raise DataError(
            f"{storage_name(args.storage)}: no study named {name!r}; expected a search "
            "run before (--trials N)"
        ) from None
    except sqlalchemy.exc.SQLAlchemyError as e:  # e.g. the database went away
        raise storage_error(args.storage, e) from None
    rows = rows_of(study)
    with runtime.quiet_native_stderr(
        args.verbose
    ):  # an old trial's declaration may import TensorFlow
        md = markdown(study, args, rows, time.perf_counter() - started)
    found = report.finite({"references": study.user_attrs.get("references"), "trials": rows})
    outputs.write_set(
        args.out_dir,
        {
            f"{args.version}_search.md": md.encode(),
            f"{args.version}_search.png": picture(study, args, rows),
            f"{args.version}_search.json": json.dumps(found, indent=1).encode(),
        },
    )
    print(md)
    return 0


def run_workers(args, data, storage=None):
    """--trials split over --workers processes on one study (this one included)."""
    share = [
        args.trials // args.workers + (i < args.trials % args.workers) for i in range(args.workers)
    ]
    os.makedirs(args.out_dir, exist_ok=True)
    storage = storage or open_storage(args.storage)
    open_study(args, storage=storage)  # create it (and the SQLite file) before workers race for it
    extra = []
    ctx = multiprocessing.get_context("spawn")
    for w in range(1, args.workers):
        if share[w]:
            proc = ctx.Process(target=work, args=(args, share[w], w))
            proc.start()
            extra.append(proc)
    try:
        work(args, share[0], 0, data, storage)
    finally:
        for proc in extra:
            proc.join()


if __name__ == "__main__":
    sys.exit(cli.exit_status(main))
