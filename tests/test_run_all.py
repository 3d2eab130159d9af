"""run_all's summary and results page, with the five scripts replaced by stand-ins that
write what a script writes (the scripts themselves are tested end to end elsewhere)."""
import json

from common import constraints, run_all
from common.versions import TABLE


def test_summary_names_failures_and_unassessable_limits_in_units(tmp_path, monkeypatch, capsys):
    out_dir, statuses = tmp_path / "models", {"ex1_a.py": 2, "ex2_c.py": 1}

    def fake_call(cmd):
        script = cmd[1].split("/")[-1]
        e = next(e for e in TABLE if e.script == script)
        if statuses.get(script) == 1:
            return 1
        measured = {"mae_t": 0.41, "mae_rh": 2.2, "accuracy": 0.8224,
                    "zip_bytes": 9999 if script == "ex1_a.py" else 1000}
        why = {m: "defined on the full data" for m in ("mae_t", "mae_rh", "accuracy")}
        rows = constraints.verdict(e.version, measured, why)
        metrics = ({"mae_t": 0.41, "mae_rh": 2.2} if e.exercise == "ex1" else
                   {"accuracy": 0.8224, "val_accuracy": 0.9, "accuracy_unseen_speakers": None})
        summary = {"verdict": rows, "zip_bytes": measured["zip_bytes"], "metrics": metrics,
                   "baseline": {"persistence": {"mae_t": 0.5, "mae_rh": 2.5}}}
        out_dir.mkdir(exist_ok=True)
        (out_dir / f"{e.name}.json").write_text(json.dumps(summary))
        return statuses.get(script, 0)

    monkeypatch.setattr(run_all.subprocess, "call", fake_call)
    results = tmp_path / "RESULTS.md"
    status = run_all.main(["--out-dir", str(out_dir), "--results", str(results), "--quiet"])
    assert status == 1  # one script failed with an error
    text = capsys.readouterr().out
    assert "FAIL: zip_bytes 9,999 B (limit < 2,048 B); not assessable here: mae_t, mae_rh" in text
    assert "MAE T 0.4100 °C, RH 2.2000 % (persistence 0.5000 °C, 2.5000 %)" in text
    assert "test 82.24 %, val 90.00 %" in text and "accuracy 0.8224" not in text
    assert "ERROR (exit status 1)" in text
    page = results.read_text()
    assert page.startswith("# Results of a run of the five scripts")
    for field in ("- Command: `python -m common.run_all", "- Date: ", "- Machine: ", "- Libraries: Python "):
        assert field in page
    assert sum(line.startswith("| ex") for line in page.splitlines()) == 5
