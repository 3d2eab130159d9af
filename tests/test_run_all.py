"""run_all's checks, summary and results page, with the five scripts replaced by stand-ins
that write what a script writes (the scripts themselves are tested end to end elsewhere)."""

import json
import math
import socket

import pytest

from common import cli, download, forecast, jena, kws
from common.constraints import TABLE, Verdict
from common.result import Result
from tools import run_all


def fake_scripts(monkeypatch, out_dir, statuses):
    """Replace the scripts' processes: each writes a JSON as its script would (ex1_a's size
    over its limit) and returns its status from `statuses` (default 0); the calls are listed."""
    calls = []

    def fake_call(cmd):
        calls.append(cmd)
        script = cmd[1].split("/")[-1]
        e = next(e for e in TABLE if e.script == script)
        if statuses.get(script) == 1:
            return 1
        if statuses.get(script, 0) < 0:  # cannot be started this many times more
            statuses[script] += 1
            raise BlockingIOError(11, "Resource temporarily unavailable")
        size = 9999 if script == "ex1_a.py" else 1000
        measured = {"mae_t": 0.41, "mae_rh": 2.2, "accuracy": 0.8224, "zip_bytes": size}
        why = {m: "defined on the full data" for m in ("mae_t", "mae_rh", "accuracy")}
        if e.exercise == "ex1":
            metrics = forecast.Metrics(0.41, 2.2, 0.4, 2.1)
            details = {"baseline": {"persistence": {"mae_t": 0.5, "mae_rh": 2.5}}}
        else:
            metrics = kws.Metrics(0.8224, 0.8224, 1.0, None, None, 0.9, 0.9, None)
            details = {"data": {"test_files": 214}}
        sizes = dict(tflite_bytes=2000, zip_bytes=size, zlib_bytes=900, tflite_sha256="0" * 64)
        verdict, history = Verdict.of(e, measured, why), {"loss": [1.0]}
        details = {**details, "training": {}}
        result = Result(
            e.version, e.name, "a model", 10, None, sizes, metrics, history, details, verdict
        )
        out_dir.mkdir(exist_ok=True)
        (out_dir / f"{e.name}.json").write_bytes(result.json_bytes())
        return statuses.get(script, 0)

    monkeypatch.setattr(run_all.subprocess, "call", fake_call)
    return calls


def test_summary_and_page_beside_the_models(shared_data, tmp_path, monkeypatch, capsys):
    out_dir = tmp_path / "models"
    calls = fake_scripts(monkeypatch, out_dir, {"ex1_a.py": 2})
    argv = ["--shared", shared_data, "--out-dir", out_dir, "--quiet", "--epochs", "1"]
    assert cli.exit_status(run_all.run, [str(a) for a in argv]) == 2  # a limit missed, no error
    text = capsys.readouterr().out
    miss = "MAE RH 2.2000 % would miss < {} % (not assessable on this data); MAE T not assessable on this data"
    assert f"FAIL: size 9,999 B (limit < 2,048 B); {miss.format('1.8000')}" in text
    assert f"INCOMPLETE: {miss.format('1.9000')}; size PASS" in text  # ex1_b
    assert "MAE T 0.4100 °C, RH 2.2000 % (persistence 0.5000 °C, 2.5000 %)" in text
    assert "test 82.24 %, val 90.00 %" in text and "accuracy 0.8224" not in text
    ex2 = next(c for c in calls if c[1].endswith("ex2_b.py"))
    assert ex2[ex2.index("--split-dir") + 1] == str(shared_data / "mini_speech_commands_split")
    assert ex2[ex2.index("--epochs") + 1] == "1" and "--quiet" in ex2
    page = (out_dir / "RESULTS.md").read_text()  # the default: beside the models
    assert page.startswith("# Results of a run of the five scripts")
    for field in ("- Command: `python -m tools.run_all --shared", "- Date: ", "- Machine: "):
        assert field in page
    assert "- Libraries: Python " in page
    assert sum(line.startswith("| ex") for line in page.splitlines()) == 5
    assert "ERROR" not in page


def test_a_script_that_cannot_start_is_retried_named_and_passed(
    shared_data, tmp_path, monkeypatch, capsys
):
    """ex1_b cannot be started once (retried), ex2_a never: the run goes on, the summary and
    the default page name every script's outcome, exit status 1."""
    out_dir = tmp_path / "models"
    monkeypatch.setattr(run_all, "RETRY_PAUSE_S", 0)
    calls = fake_scripts(monkeypatch, out_dir, {"ex1_b.py": -1, "ex2_a.py": -2})
    assert (
        cli.exit_status(run_all.run, ["--shared", str(shared_data), "--out-dir", str(out_dir)]) == 1
    )
    out, err = capsys.readouterr()
    assert [c[1].split("/")[-1] for c in calls] == [
        "ex1_a.py", "ex1_b.py", "ex1_b.py", "ex2_a.py", "ex2_a.py", "ex2_b.py", "ex2_c.py"
    ]  # fmt: skip
    assert "[1/5] ex1_a.py ...\n" in out and "[5/5] ex2_c.py ...\n" in out
    why = "could not be started ([Errno 11] Resource temporarily unavailable)"
    assert f"ex1_b.py: {why}; trying again in 0 s" in out
    assert f"ERROR: {why}" in out and "FAIL: size 9,999 B" in out  # ex1_a's result kept
    assert out.count("INCOMPLETE: ") == 1 and out.count("FAIL: ") == 3  # ex1_b; ex1_a, ex2_b, c
    assert err == f"error: ex2_a.py: {why}; {out_dir}/RESULTS.md marks them\n"
    page = (out_dir / "RESULTS.md").read_text()
    assert (
        "(1 did not finish: marked ERROR)" in page and f"| ex2_a.py | - | - | ERROR: {why}" in page
    )


@pytest.mark.parametrize("write", [False, True])
def test_a_failed_run_leaves_a_given_page_unless_told(
    shared_data, tmp_path, monkeypatch, capsys, write
):
    out_dir, results = tmp_path / "models", tmp_path / "RESULTS.md"
    results.write_text("the previous page\n")
    fake_scripts(monkeypatch, out_dir, {"ex2_c.py": 1})
    argv = ["--shared", shared_data, "--out-dir", out_dir, "--results", results]
    argv += ["--write-incomplete"] if write else []
    assert cli.exit_status(run_all.run, [str(a) for a in argv]) == 1
    captured = capsys.readouterr()
    assert "ERROR: exit status 1, see above" in captured.out  # the console summary says it
    page = "marks them" if write else "not written (--write-incomplete writes it)"
    assert captured.err == f"error: ex2_c.py: exit status 1, see above; {results} {page}\n"
    assert (results.read_text() == "the previous page\n") != write


@pytest.mark.parametrize(
    "args, message",
    [
        ("--shared {tmp}/nowhere", "{tmp}/nowhere: --shared: no such folder"),
        ("--shared {tmp}", "{tmp}/{jena}: no such file in the --shared folder"),
        ("--shared {shared} --jena {tmp}/none.csv", "{tmp}/none.csv: no such file or folder"),
        ("--shared {shared} --out-dir {tmp}/file", "{tmp}/file: --out-dir is a file"),
    ],
)
def test_data_and_folders_checked_before_the_first_script(
    shared_data, tmp_path, monkeypatch, capsys, args, message
):
    (tmp_path / "file").write_text("")
    calls = fake_scripts(monkeypatch, tmp_path / "models", {})
    argv = [a.format(tmp=tmp_path, shared=shared_data) for a in args.split()]
    assert cli.exit_status(run_all.run, argv) == 1
    err, message = capsys.readouterr().err, message.format(tmp=tmp_path, jena=run_all.SHARED_JENA)
    assert err.startswith(f"error: {message}") and err.count("\n") == 1, err
    assert calls == []


def test_offline_without_a_copy_is_one_error_before_any_script(tmp_path, monkeypatch, capsys):
    """No --shared: the official data are fetched once, here; a failed download is one
    error that says why and how to pass a copy (the flag run_all has)."""
    with socket.socket() as s:  # a port that nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(download, "RETRIES", 0)
    archive = download.Archive(f"http://127.0.0.1:{port}/jena.zip", "jena.zip")
    monkeypatch.setattr(jena, "ARCHIVE", archive)
    calls = fake_scripts(monkeypatch, tmp_path / "models", {})
    assert cli.exit_status(run_all.run, []) == 1
    err = capsys.readouterr().err
    assert err.startswith(
        f"error: http://127.0.0.1:{port}/jena.zip: download failed (Failed to "
        "establish a new connection: [Errno 111] Connection refused)"
    )
    assert "without internet, pass a copy of the data with --shared DIR" in err
    assert err.count("\n") == 1 and calls == []
    assert not (tmp_path / "data").exists()  # nothing left behind


def test_the_json_is_strict_nan_written_as_null_and_read_back_as_none():
    e, nan = next(e for e in TABLE if e.exercise == "ex2"), math.nan
    metrics = kws.Metrics(0.8, 0.8, 1.0, None, None, nan, 0.9, None)
    sizes = dict(tflite_bytes=2000, zip_bytes=1000, zlib_bytes=900, tflite_sha256="0" * 64)
    verdict = Verdict.of(e, {"accuracy": nan, "zip_bytes": 1000}, {})
    details = {"data": {"test_files": 214}, "training": {}}
    result = Result(e.version, e.name, "a model", 10, None, sizes, metrics,
                    {"loss": [nan, 1.0]}, details, verdict)  # fmt: skip
    strict = json.loads(result.json_bytes(), parse_constant=lambda c: pytest.fail(c))
    back = Result.from_json(strict)
    assert back.history["loss"] == [None, 1.0] and back.metrics.val_accuracy is None
