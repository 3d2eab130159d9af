"""The constraint search (tools/search.py): speaker-grouped folds, the candidates' feature
maps, a 1-trial search on tiny data that resumes from its storage, trials ended by their size or
latency before any training, a repeated proposal, the Pareto front. Several processes at once on
one study (SQLite, PostgreSQL): test_search_pg.py."""

import dataclasses
import datetime
import json
import re

import numpy as np
import pytest

from conftest import Started, run_python

PRELUDE = "from common.kws import KWSVersion\nfrom common.frontend_np import FrontEnd\n"
KWS_PARAMS = {  # a small DS-CNN candidate: one block, 10 coefficients
    "first_width": 24,
    "blocks": 1,
    "block_width": 24,
    "shift_ms": 0,
    "gain_db": 0,
    "extra_depthwise": 0,
    "time_stride": 1,
    "epochs": 20,
    "qat_epochs": 0,
    "frame_ms": 40,
    "step_ms": 20,
    "mel_bins": 40,
    "coefficients": 10,
    "padding": "valid",
    "dropout": 0.0,
    "weight_decay": 0.0,
}


def declared(source):
    """The VERSION that a printed declaration declares, run as a script would run it."""
    scope = {}
    exec(PRELUDE + source, scope)
    return scope["VERSION"]


def kws_flags(tiny_subset):
    """The flags of a search on the tiny subset: 1 epoch, no quantization-aware ones, 2 folds."""
    data_dir, split_dir = tiny_subset
    epochs = ["--epochs", "1", "--qat-epochs", "0"]
    return ["--data", data_dir, "--split-dir", split_dir, *epochs, "--folds", "2"]


def loaded(*argv):
    """The search's parts of the command line `argv`, their data loaded, TensorFlow ready."""
    from common import runtime
    from tools import search

    parts = search.Parts(search.parse_args([str(a) for a in argv]))
    runtime.tensorflow()
    return parts


def no_training(monkeypatch):
    from common import kws

    fail = lambda *a, **k: pytest.fail("trained an infeasible trial")
    monkeypatch.setattr(kws, "fit_and_quantize", fail)


# ---------------------------------------------------------------- folds
def test_speaker_folds_keep_each_speaker_in_one_fold():
    from tools.folds import speaker_folds

    rng = np.random.RandomState(1)
    paths = [f"down/{s:08x}_nohash_{i}.wav" for s in range(60) for i in range(rng.randint(1, 8))]
    folds = speaker_folds(paths, 3, seed=0)
    assert sorted(np.concatenate(folds).tolist()) == list(range(len(paths)))
    speakers = [{paths[i].split("/")[1].split("_")[0] for i in f} for f in folds]
    assert not (speakers[0] & speakers[1] or speakers[0] & speakers[2] or speakers[1] & speakers[2])
    sizes = [len(f) for f in folds]
    assert max(sizes) - min(sizes) <= 7  # at most the largest speaker's file count
    assert all(np.array_equal(a, b) for a, b in zip(folds, speaker_folds(paths, 3, seed=0)))
    assert not all(np.array_equal(a, b) for a, b in zip(folds, speaker_folds(paths, 3, seed=1)))
    with pytest.raises(ValueError, match="2 speakers"):
        speaker_folds(["a/aaaaaaaa_nohash_0.wav", "a/bbbbbbbb_nohash_0.wav"], 3, seed=0)


# ---------------------------------------------------------------- candidates
@pytest.mark.parametrize(
    "change",
    [
        {"coefficients": 10, "blocks": 2, "extra_depthwise": 1, "time_stride": 2},
        {"coefficients": 13, "blocks": 3, "extra_depthwise": 0, "time_stride": 4},
        {"coefficients": 8, "blocks": 1, "extra_depthwise": 1, "time_stride": 1},
        {"coefficients": 8, "blocks": 4, "extra_depthwise": 2, "padding": "same"},
    ],
)
def test_feature_map_matches_the_built_model(change):
    import optuna
    from common import kws
    from tools import search_space

    trial = optuna.trial.FixedTrial({**KWS_PARAMS, **change})
    spec = search_space.kws_candidate(trial, "ex2_a")
    model = kws.build_model(spec)
    conv_out = [layer for layer in model.layers if "re_lu" in layer.name][-1].output_shape
    assert tuple(conv_out[1:3]) == search_space.feature_map(spec)


def test_every_proposed_candidate_keeps_a_feature_map():
    import optuna
    from tools import search_space

    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    for _ in range(200):
        trial = study.ask()
        spec = search_space.kws_candidate(trial, "ex2_a")
        assert min(search_space.feature_map(spec)) >= 1, trial.params
        study.tell(trial, 0.0)


@pytest.mark.parametrize("version", ["ex2_a", "ex2_c"])
def test_the_printed_declaration_declares_the_candidate(version):
    """What a search prints for a trial, run as a script would declare it, is that trial's
    candidate: every field (the output stem aside)."""
    import optuna
    from tools import search_space

    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=1))
    for _ in range(12):
        trial = study.ask()
        spec = search_space.kws_candidate(trial, version)
        version_declared = declared(search_space.declaration(spec))
        assert version_declared == dataclasses.replace(spec, stem=None), trial.params
        study.tell(trial, 0.0)


def test_sizes_are_those_of_the_file_the_script_writes():
    from common import tflite_io
    from tools import search

    data = b"\x01\x02" * 500
    assert search.zip_len("ex2_a", data) == tflite_io.model_files("kws_a", data)[1]["zip_bytes"]


# ---------------------------------------------------------------- trials
def test_a_trial_over_the_size_bound_ends_before_training(tiny_subset, monkeypatch):
    import optuna
    from tools import search, search_space

    parts = loaded("--version", "ex2_a", *kws_flags(tiny_subset))
    no_training(monkeypatch)
    big = {"first_width": 96, "blocks": 3, "block_width": 96, "time_stride": 2, "qat_epochs": 5}
    trial = optuna.trial.FixedTrial({**KWS_PARAMS, **big, "coefficients": 13})
    with pytest.raises(optuna.TrialPruned, match="zip"):
        parts.objective(trial)
    assert trial.user_attrs["status"] == search.INFEASIBLE
    assert trial.user_attrs["zip_bytes"] > search_space.max_zip_bytes("ex2_a")


def test_latency_bound_is_the_ratio_to_the_reference_measured_alongside(tiny_subset, monkeypatch):
    """ex2_b: a candidate whose invoke p50 (a fake clock here) is over 0.5x the seed DS-CNN's,
    measured in alternating rounds, is infeasible before training; under it, it goes on."""
    import optuna
    from common import litert
    from tools import search_space

    parts = loaded("--version", "ex2_b", *kws_flags(tiny_subset), "--latency-runs", "3")
    reference = parts.seed[1]
    order = []

    def fake(model, cfg=None, runs=100, **_):
        ours = model is not reference
        order.append("candidate" if ours else "seed")
        return {"inference_ms": {"p50": fake.ms if ours else 1.0}, "total_ms": None, "runs": runs}

    monkeypatch.setattr(litert, "measure_latency", fake)
    no_training(monkeypatch)
    fake.ms = 0.6
    trial = optuna.trial.FixedTrial(KWS_PARAMS)
    with pytest.raises(optuna.TrialPruned, match="invoke 0.60x the seed DS-CNN's > 0.5x"):
        parts.objective(trial)
    assert order == ["candidate", "seed"] * 3
    assert trial.user_attrs["invoke_ratio"] == pytest.approx(0.6)
    fake.ms = 0.4
    measured, why = parts.bounds(search_space.kws_candidate(trial, "ex2_b"))
    assert why is None and measured["invoke_ratio"] == pytest.approx(0.4)


def test_a_repeated_proposal_reuses_the_earlier_result(tiny_subset, monkeypatch):
    import optuna
    from tools import folds, search

    parts = loaded("--version", "ex2_a", *kws_flags(tiny_subset))
    study = optuna.create_study(direction="maximize")
    study.enqueue_trial(KWS_PARAMS)
    study.enqueue_trial({**KWS_PARAMS, "epochs": 40})  # --epochs 1 fixes them: the same candidate
    trained, score = [], {"int8": 0.8, "float": 0.8, "zip_bytes": 9000}
    monkeypatch.setattr(folds, "score", lambda *a, **k: trained.append(a[4:6]) or score)
    study.optimize(parts.objective, n_trials=2)
    first, second = study.trials
    assert trained == [(1, 0)] * len(parts.pairs)  # once a fold: the repeat trained nothing
    assert second.user_attrs["same_as"] == 0 and second.value == first.value
    assert [r["trial"] for r in search.pareto(search.rows_of(study))] == [0]
    parts.references()  # --epochs 1 --qat-epochs 0 fix theirs too (ex2_a declares 5 QAT epochs)
    assert trained[len(parts.pairs) :] == [(1, 0)] * 2 * len(parts.pairs)


def test_pareto_front_keeps_only_undominated_feasible_rows():
    from tools.search import FEASIBLE, INFEASIBLE, pareto

    rows = [
        {"trial": 0, "status": FEASIBLE, "zip_bytes": 100, "quality": 0.80},
        {"trial": 1, "status": FEASIBLE, "zip_bytes": 200, "quality": 0.90},
        {"trial": 2, "status": FEASIBLE, "zip_bytes": 300, "quality": 0.85},  # dominated by 1
        {"trial": 3, "status": INFEASIBLE, "zip_bytes": 50, "quality": 0.99},  # not feasible
        {"trial": 4, "status": FEASIBLE, "zip_bytes": 150, "quality": 0.79},  # dominated by 0
        {"trial": 5, "status": FEASIBLE, "zip_bytes": 100, "quality": 0.80},
    ]  # the same as 0
    assert [r["trial"] for r in pareto(rows)] == [0, 1]


# ---------------------------------------------------------------- the command
@pytest.fixture(scope="module")
def ex2_search(tiny_subset, tmp_path_factory):
    """ex2_a on every 24th file, 1 epoch, no quantization-aware ones, 2 folds: two processes
    started at once on one fresh study (seeds 0 and 1, one folder, its SQLite storage), a trial
    each."""
    out = tmp_path_factory.mktemp("search")
    argv = ["-m", "tools.search", "--version", "ex2_a", *kws_flags(tiny_subset), "--trials", "1"]
    both = [Started(*argv, "--out-dir", out, "--quiet", "--seed", i) for i in (0, 1)]
    return [p.result() for p in both], out


@pytest.mark.slow
def test_search_writes_its_table_json_and_a_usable_declaration(ex2_search):
    import optuna
    from tools import search_space

    first, out = ex2_search
    for r in first:  # both at once, neither refused nor broken by the other
        assert r.returncode == 0 and "Traceback" not in r.stderr, r.stderr[-2000:]
    for name in ("ex2_a_search.md", "ex2_a_search.json"):
        assert (out / name).stat().st_size > 0
    result = json.loads((out / "ex2_a_search.json").read_text())
    assert set(result["references"]) == {"current", "seed recipe"}
    for ref in result["references"].values():
        assert len(ref["folds"]) == 2 and 0.0 <= ref["quality"] <= 1.0
    md = (out / "ex2_a_search.md").read_text()
    assert "## Pareto front" in md and "Constraint search: ex2_a" in md
    assert "| original report: " in md and "seed recipe" not in md  # the pages' one name
    # the seeded trials include feasible ones: the best is printed as a declaration that
    # declares exactly its candidate
    done = [t for t in result["trials"] if t["status"] == "feasible" and "same_as" not in t]
    assert done, [(t["trial"], t["status"]) for t in result["trials"]]
    best = max(done, key=lambda t: t["quality"])
    assert f"Trial {best['trial']}: " in md
    trial = optuna.trial.FixedTrial(best["params"])
    spec = search_space.kws_candidate(trial, "ex2_a", 1, 0)
    source = md.split("```python\n")[1].split("```")[0]
    assert declared(source) == dataclasses.replace(spec, stem=None)


@pytest.mark.slow
def test_search_resumes_from_its_storage_and_zero_trials_rewrite_its_report(
    ex2_search, tiny_subset, monkeypatch
):
    import optuna
    from tools import folds, search

    _, out = ex2_search
    storage = search.open_storage(f"sqlite:///{out / 'search.db'}")
    parts = loaded("--version", "ex2_a", *kws_flags(tiny_subset), "--trials", "1", "--quiet")
    monkeypatch.setattr(parts, "references", lambda: pytest.fail("references scored again"))
    score = {"int8": 0.8, "float": 0.8, "zip_bytes": 9000}
    monkeypatch.setattr(folds, "score", lambda *a, **k: score)
    search.work(parts, storage)  # a third trial, the references kept from the first calls
    (out / "ex2_a_search.md").unlink()
    r = run_python(
        "-m", "tools.search", "--version", "ex2_a", "--trials", "0", "--out-dir", out, "--quiet"
    )
    assert r.returncode == 0, r.stderr[-2000:]
    assert "3 finished trials" in (out / "ex2_a_search.md").read_text()
    study = optuna.load_study(study_name="ex2_a", storage=storage)
    assert [t.number for t in study.trials] == [0, 1, 2]


@pytest.mark.parametrize(
    "argv, start, words",
    [
        ("--version ex2_a --data {tmp}/missing", "error:", "missing"),
        ("--version ex1_a", "error: python -m tools.search: argument --version", "'ex1_a'"),
        pytest.param(
            "--version ex2_c --trials 0",
            "error: sqlite:///",
            "no study named 'ex2_c'",
            marks=pytest.mark.slow,
        ),
    ],
)
def test_a_command_that_cannot_start_is_one_error_line(tmp_path, argv, start, words):
    argv = [a.format(tmp=tmp_path) for a in argv.split()]
    r = run_python("-m", "tools.search", *argv, "--out-dir", tmp_path)
    assert r.returncode == 1 and r.stderr.startswith(start) and r.stderr.count("\n") == 1, r.stderr
    assert words in r.stderr


def test_the_report_lists_trials_left_running_with_when_they_become_stale(tmp_path, capsys):
    """A host killed mid-trial leaves it RUNNING with its last heartbeat: the report of the
    host that goes on says so, and when Optuna's heartbeat makes it stale."""
    import optuna

    from tools import search

    storage = search.open_storage(f"sqlite:///{tmp_path / 'search.db'}")
    trial = optuna.create_study(study_name="ex2_a", storage=storage).ask()
    storage.record_heartbeat(trial._trial_id)  # then the host is killed
    assert search.main(["--version", "ex2_a", "--trials", "0", "--out-dir", str(tmp_path)]) == 0
    md = (tmp_path / "ex2_a_search.md").read_text()
    line = next(ln for ln in md.splitlines() if ln.startswith("- trial 0: last heartbeat "))
    assert "Left RUNNING, not counted above (1):" in md
    assert line.endswith(
        "(the database's clock; a heartbeat every 60 s, stale 180 s after the last)"
    )
    beat, stale = (
        datetime.datetime.fromisoformat(t) for t in re.findall(r"\d{4}-[\d-]+ [\d:]+", line)
    )
    assert (stale - beat).total_seconds() == 180
