"""The constraint search (tools/search.py): speaker-grouped folds, the candidates' feature
maps, a 1-trial search on tiny data that resumes from its storage, a trial ended by its size
before any training, two commands at once on one study, the Pareto front."""

import argparse
import dataclasses
import json
import os
import subprocess
import sys

import numpy as np
import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def search(*args, timeout=900):
    return subprocess.run(
        [sys.executable, "-m", "tools.search", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


PRELUDE = (
    "from common.kws import KWSVersion\nfrom common.frontend_np import FrontEnd\n"
    "from common.forecast import ForecastVersion\n"
)


def candidate_of(params, version, epochs=None):
    import optuna
    from tools import search

    parts = search.parts_of(argparse.Namespace(version=version))
    return parts.candidate(optuna.trial.FixedTrial(params), epochs)


def loaded(args):
    from tools import search

    parts = search.parts_of(args)
    parts.load()
    return parts


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


def test_speaker_folds_refuse_too_few_speakers():
    from tools.folds import speaker_folds

    with pytest.raises(ValueError, match="2 speakers"):
        speaker_folds(["a/aaaaaaaa_nohash_0.wav", "a/bbbbbbbb_nohash_0.wav"], 3, seed=0)


# ---------------------------------------------------------------- candidates
@pytest.mark.parametrize(
    "coefficients,blocks,extra,stride", [(10, 2, 1, 2), (13, 3, 0, 4), (8, 1, 1, 1)]
)
def test_feature_map_matches_the_built_model(coefficients, blocks, extra, stride):
    import optuna
    from common import kws
    from tools import search_space

    params = {
        "first_width": 24,
        "blocks": blocks,
        "block_width": 24,
        "shift_ms": 0,
        "gain_db": 0,
        "extra_depthwise": extra,
        "time_stride": stride,
        "epochs": 20,
        "qat_epochs": 0,
        "frame_ms": 40,
        "step_ms": 20,
        "mel_bins": 40,
        "coefficients": coefficients,
    }
    spec = search_space.kws_candidate(optuna.trial.FixedTrial(params), "ex2_a")
    model = kws.build_model(spec)
    conv_out = [layer for layer in model.layers if "re_lu" in layer.name][-1].output_shape
    assert tuple(conv_out[1:3]) == search_space.feature_map(spec)


def test_a_trial_over_the_size_bound_ends_before_training(tiny_subset, monkeypatch):
    import optuna
    from common import kws, runtime
    from tools import search, search_space

    data_dir, split_dir = tiny_subset
    args = search.parse_args(
        [
            "--version",
            "ex2_a",
            "--data",
            str(data_dir),
            "--split-dir",
            str(split_dir),
            "--epochs",
            "1",
            "--folds",
            "2",
        ]
    )
    parts = loaded(args)
    runtime.tensorflow()
    monkeypatch.setattr(
        kws, "fit_and_quantize", lambda *a, **k: pytest.fail("trained an infeasible trial")
    )
    params = {
        "first_width": 96,
        "blocks": 3,
        "block_width": 96,
        "shift_ms": 0,
        "gain_db": 0,
        "extra_depthwise": 0,
        "time_stride": 2,
        "epochs": 20,
        "qat_epochs": 5,
        "frame_ms": 40,
        "step_ms": 20,
        "mel_bins": 40,
        "coefficients": 13,
    }
    trial = optuna.trial.FixedTrial(params)
    with pytest.raises(optuna.TrialPruned, match="zip"):
        search.objective(parts)(trial)
    assert trial.user_attrs["status"] == search.INFEASIBLE
    assert trial.user_attrs["zip_bytes"] > search_space.max_zip_bytes("ex2_a")


# ---------------------------------------------------------------- the command
@pytest.fixture(scope="module")
def ex2_search(tiny_subset, tmp_path_factory):
    """One trial of ex2_a on every 24th file, 1 epoch, 2 folds; then one more from storage."""
    data_dir, split_dir = tiny_subset
    out = tmp_path_factory.mktemp("search")
    common = [
        "--version",
        "ex2_a",
        "--data",
        str(data_dir),
        "--split-dir",
        str(split_dir),
        "--epochs",
        "1",
        "--folds",
        "2",
        "--out-dir",
        str(out),
        "--quiet",
    ]
    first = search(*common, "--trials", "1")
    second = search(*common, "--trials", "1")
    return first, second, out


@pytest.mark.slow
def test_search_writes_its_table_picture_and_a_usable_declaration(ex2_search):
    first, _, out = ex2_search
    assert first.returncode == 0, first.stderr[-2000:]
    for name in ("ex2_a_search.md", "ex2_a_search.png", "ex2_a_search.json"):
        assert (out / name).stat().st_size > 0
    result = json.loads((out / "ex2_a_search.json").read_text())
    assert set(result["references"]) == {"current", "seed recipe"}
    for ref in result["references"].values():
        assert len(ref["folds"]) == 2 and 0.0 <= ref["quality"] <= 1.0
    md = (out / "ex2_a_search.md").read_text()
    assert "## Pareto front" in md and "Constraint search: ex2_a" in md
    # the seeded trials include feasible ones: the best is printed as a declaration that
    # declares exactly its candidate
    done = [t for t in result["trials"] if t["status"] == "feasible" and "same_as" not in t]
    assert done, [(t["trial"], t["status"]) for t in result["trials"]]
    best = max(done, key=lambda t: t["quality"])
    assert f"Trial {best['trial']}: " in md
    scope = {}
    exec(PRELUDE + md.split("```python\n")[1].split("```")[0], scope)
    assert scope["VERSION"] == dataclasses.replace(
        candidate_of(best["params"], "ex2_a", epochs=1), stem=None
    )


@pytest.mark.slow
def test_search_resumes_from_its_storage(ex2_search):
    import optuna

    _, second, out = ex2_search
    assert second.returncode == 0, second.stderr[-2000:]
    study = optuna.load_study(study_name="ex2_a", storage=f"sqlite:///{out / 'search.db'}")
    assert len(study.trials) == 2
    assert [t.number for t in study.trials] == [0, 1]
    assert "scoring the current version" not in second.stdout  # references kept from the first call


@pytest.mark.slow
def test_forecast_search_started_twice_at_once_on_one_study(shared_data, tmp_path):
    """Two commands (other seeds) on one fresh SQLite study: both trials land in it."""
    import optuna

    argv = ["--version", "ex1_b", "--data", str(shared_data / "jena_climate_2009_sample.csv")]
    argv += ["--epochs", "1", "--trials", "1", "--out-dir", str(tmp_path), "--quiet"]
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "tools.search", *argv, "--seed", str(seed)],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for seed in (0, 1)
    ]
    for p in procs:
        _, err = p.communicate(timeout=900)
        assert p.returncode == 0, err[-2000:]
    study = optuna.load_study(study_name="ex1_b", storage=f"sqlite:///{tmp_path / 'search.db'}")
    assert len([t for t in study.trials if t.state.is_finished()]) == 2
    refs = json.loads((tmp_path / "ex1_b_search.json").read_text())["references"]
    assert refs["current"]["quality"] > 0 and refs["current"]["zip_bytes"] > 0


# Each process imports everything, says "ready", waits for "go" on stdin, then opens the storage.
OPEN_AT_ONCE = """
import sys
from tools import search
print("ready", flush=True)
sys.stdin.readline()
storage = search.open_storage(sys.argv[1])
search.optuna.create_study(study_name="s", storage=storage, load_if_exists=True)
"""


def test_fresh_sqlite_storage_opened_by_several_processes_at_once(tmp_path):
    """Without the schema lock, about half of such starts failed (table already exists)."""
    url = f"sqlite:///{tmp_path / 'search.db'}"
    pipes = dict(stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    run = [sys.executable, "-c", OPEN_AT_ONCE, url]
    procs = [subprocess.Popen(run, cwd=ROOT, text=True, **pipes) for _ in range(4)]
    for p in procs:
        assert p.stdout.readline() == "ready\n", p.stderr.read()
    for p in procs:  # as close to one moment as a loop gets
        p.stdin.write("go\n")
        p.stdin.flush()
    errors = [p.communicate(timeout=120)[1] for p in procs]
    assert [p.returncode for p in procs] == [0] * 4, errors


def test_search_bad_data_is_one_error_line(tmp_path):
    r = search(
        "--version", "ex1_a", "--data", str(tmp_path / "missing.csv"), "--out-dir", str(tmp_path)
    )
    assert r.returncode == 1
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error:") and "missing.csv" in lines[0]


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
    assert [r["trial"] for r in pareto(rows, maximize=True)] == [0, 1]
    assert [r["trial"] for r in pareto(rows, maximize=False)] == [0, 4]


@pytest.mark.slow
def test_a_repeated_proposal_reuses_the_earlier_result(shared_data, monkeypatch):
    import optuna
    from common import forecast, runtime
    from tools import search

    args = search.parse_args(
        [
            "--version",
            "ex1_b",
            "--data",
            str(shared_data / "jena_climate_2009_sample.csv"),
            "--epochs",
            "1",
        ]
    )
    parts = loaded(args)
    runtime.tensorflow()
    study = optuna.create_study(direction="minimize")
    params = {"output": "change", "hidden": 0, "sparsity": 0.0, "quantization": "16x8"}
    study.enqueue_trial(params)
    study.enqueue_trial({**params, "sparsity": 0.5})  # nothing to prune: the same model
    trained = []
    real = forecast.fit
    monkeypatch.setattr(forecast, "fit", lambda *a, **k: trained.append(1) or real(*a, **k))
    study.optimize(search.objective(parts), n_trials=2)
    first, second = study.trials
    assert len(trained) == 1 and second.user_attrs["same_as"] == 0 and second.value == first.value
    rows = search.rows_of(study)
    assert [r["trial"] for r in search.pareto(rows, maximize=False)] == [0]


def test_latency_bound_is_the_ratio_to_the_reference_measured_alongside(tiny_subset, monkeypatch):
    """ex2_b: a candidate whose invoke p50 (a fake clock here) is over 0.5x the seed DS-CNN's,
    measured in alternating rounds, is infeasible before training; under it, it goes on."""
    import optuna
    from common import kws, litert, runtime
    from tools import search

    data_dir, split_dir = tiny_subset
    args = search.parse_args(
        [
            "--version",
            "ex2_b",
            "--data",
            str(data_dir),
            "--split-dir",
            str(split_dir),
            "--epochs",
            "1",
            "--folds",
            "2",
            "--latency-runs",
            "3",
        ]
    )
    parts = loaded(args)
    runtime.tensorflow()
    reference = parts.latency_reference
    order = []

    def fake(model, cfg=None, runs=100, **_):
        ours = model is not reference["tflite"]
        order.append("candidate" if ours else "seed")
        return {
            "inference_ms": {"p50": fake.candidate_ms if ours else 1.0},
            "total_ms": None,
            "runs": runs,
        }

    monkeypatch.setattr(litert, "measure_latency", fake)
    monkeypatch.setattr(
        kws, "fit_and_quantize", lambda *a, **k: pytest.fail("trained an infeasible trial")
    )
    params = {
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
    }
    fake.candidate_ms = 0.6
    trial = optuna.trial.FixedTrial(params)
    with pytest.raises(optuna.TrialPruned, match="invoke 0.60x the seed DS-CNN's > 0.5x"):
        search.objective(parts)(trial)
    assert order == ["candidate", "seed"] * 3 and trial.user_attrs["invoke_ratio"] == pytest.approx(
        0.6
    )
    fake.candidate_ms = 0.4
    measured, why = parts.bounds(parts.candidate(trial))
    assert why is None and measured["invoke_ratio"] == pytest.approx(0.4)


@pytest.mark.slow
def test_zero_trials_rewrites_the_report_of_a_stored_study(ex2_search, tmp_path):
    import optuna

    _, _, out = ex2_search
    (out / "ex2_a_search.md").unlink()
    r = search("--version", "ex2_a", "--trials", "0", "--out-dir", str(out), "--quiet")
    assert r.returncode == 0, r.stderr[-2000:]
    assert "2 finished trials" in (out / "ex2_a_search.md").read_text()
    assert (
        len(optuna.load_study(study_name="ex2_a", storage=f"sqlite:///{out / 'search.db'}").trials)
        == 2
    )
    r = search("--version", "ex2_c", "--trials", "0", "--out-dir", str(tmp_path))
    assert (
        r.returncode == 1
        and r.stderr.startswith("error: sqlite:///")
        and "no study named 'ex2_c'" in r.stderr
    )
    assert r.stderr.count("\n") == 1


def test_sizes_are_those_of_the_file_the_script_writes():
    from common import tflite_io
    from tools import search

    data = b"\x01\x02" * 500
    assert search.zip_len("ex2_a", data) == tflite_io.model_files("kws_a", data)[1]["zip_bytes"]
    assert search.zip_len("ex1_b", data) == tflite_io.model_files("th_b", data)[1]["zip_bytes"]


@pytest.mark.parametrize("version", ["ex1_a", "ex2_a", "ex2_c"])
def test_the_printed_declaration_declares_the_candidate(version):
    """What a search prints for a trial, run as a script would declare it, is that trial's
    candidate: every field (the output stem aside), and for a forecaster the same model."""
    import optuna
    from tools import search, search_space

    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=1))
    mean, std = np.float32([9.0, 76.0]), np.float32([8.0, 16.0])
    for _ in range(12):
        trial = study.ask()
        spec = search.parts_of(argparse.Namespace(version=version)).candidate(trial)
        scope = {}
        exec(PRELUDE + search_space.declaration(spec), scope)
        declared = scope["VERSION"]
        if version.startswith("ex2"):
            assert declared == dataclasses.replace(spec, stem=None), trial.params
        else:
            names = [
                f.name for f in dataclasses.fields(spec) if f.name not in ("build", "stem", "entry")
            ]
            assert [getattr(declared, n) for n in names] == [getattr(spec, n) for n in names], (
                trial.params
            )
            built = [m(mean, std) for m in (declared.build, spec.build)]
            shapes = [
                [
                    (type(layer).__name__, [w.shape for w in layer.get_weights()])
                    for layer in m.layers
                ]
                for m in built
            ]
            assert shapes[0] == shapes[1], trial.params
        study.tell(trial, 0.0)


def test_every_proposed_candidate_keeps_a_feature_map():
    import optuna
    from tools import search_space

    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    for _ in range(200):
        trial = study.ask()
        spec = search_space.kws_candidate(trial, "ex2_a")
        assert min(search_space.feature_map(spec)) >= 1, trial.params
        study.tell(trial, 0.0)
