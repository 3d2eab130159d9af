"""Faults: a run either finishes with a consistent set of files or changes nothing, and every
bad input is one clear line, before any training.

A refused run is checked against a previous output set of placeholder files in its
--out-dir (sha256 of every file before and after): those tests train nothing. The tests that
need real models (sidecars, kws_inference.py) use ex2_a's session run on the subset
(conftest.kws_script_run) and one ex1_a run on a copy of the 4,000-row Jena sample with gaps
put in (1 epoch); each test copies them into its own folder. Bad inputs are modified copies
written into tmp folders; ../shared is only read.

The second half (issue: hostile and broken inputs, stop signals, two writers): every case is
refused in one line naming the file and the bound, before it costs memory or time, or handled
without a mixed set.

The hostile files are small and crafted in tmp folders (a 1 MB zip that inflates to 1 GiB, a
wav declaring 1 Hz, a JSON nested 100,000 deep...). "Before it costs anything" is shown by the
order of the work, not by a clock: the step that would allocate (reading the zip member,
resampling, building the front end's matrices, the latency loop) is replaced by one that fails
the test if it is reached. docs/robustness.md lists each class with its tests.
"""

import errno
import hashlib
import json
import os
import random
import shutil
import signal
import stat
import struct
import subprocess
import sys
import textwrap
import threading
import tracemalloc
import zipfile
import zlib
from pathlib import Path

import numpy as np
import pytest
from scipy.io import wavfile

from common import cli, constraints, outputs, report, tflite_io, wav
from common.errors import DataError
from common.frontend_np import FrontEnd
from conftest import default_stop_signals

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT / ".." / "shared" / "data"
WAVS = SHARED / "mini_speech_commands"
SPLIT_DIR = SHARED / "mini_speech_commands_split"
SAMPLE_CSV = SHARED / "jena_climate_2009_sample.csv"
ROOF_CSV = SHARED / "jena_mpi_roof_2024_jun_sep.csv"
LABELS = ["down", "go", "left", "no", "right", "stop", "up", "yes"]
KWS_FILES = ["kws_a.tflite", "kws_a.tflite.zip", "kws_a.json", "kws_a.png"]
TH_FILES = ["th_a.tflite", "th_a.tflite.zip", "th_a.json", "th_a.png"]

# Runs a script as `python SCRIPT ARGS` would (runpy, __main__), then says on stdout whether
# TensorFlow was imported: the checks before training must not import it (nor download).
PROBE = r"""
import runpy, sys
sys.argv = sys.argv[1:]
code = 0
try:
    runpy.run_path(sys.argv[0], run_name="__main__")
except SystemExit as e:
    code = e.code
print("\nPROBE tensorflow imported: %s" % ("tensorflow" in sys.modules))
sys.exit(code)
"""


def need(path):
    if not path.exists():
        pytest.skip(f"{path} (../shared/data from the repository root) not found")
    return path


def run(*args, timeout=300, env=None):
    """`python ARGS` in the repository root, umask 022: the CompletedProcess."""
    return subprocess.run(
        [sys.executable, *map(str, args)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
        umask=0o022,
        env=env,
    )


def probe(script, *args):
    """Run `script` with ARGS; the CompletedProcess, with .tf_imported."""
    r = run("-c", PROBE, script, *args, timeout=120)
    marker = [ln for ln in r.stdout.splitlines() if ln.startswith("PROBE tensorflow imported:")]
    assert marker, f"the probe did not finish: {r.stdout[-1000:]}\n{r.stderr[-2000:]}"
    r.tf_imported = marker[-1].endswith("True")
    return r


def one_error(r, *names, rc=1):
    """The run's exit status is `rc` and its stderr is exactly one `error:` line naming `names`."""
    assert "Traceback" not in r.stderr, r.stderr[-3000:]
    lines = r.stderr.splitlines()
    assert r.returncode == rc, (r.returncode, r.stderr[-2000:])
    assert len(lines) == 1, f"expected one stderr line, got {len(lines)}:\n{r.stderr[-2000:]}"
    assert lines[0].startswith("error: "), lines[0]
    for name in names:
        assert str(name) in lines[0], f"{name} not named in: {lines[0]}"
    return lines[0]


def refused_before_training(r, *names):
    """One error line, and nothing of a training run: TensorFlow never imported (training needs
    it, so the refusal came first), no epoch."""
    line = one_error(r, *names)
    assert not r.tf_imported, "TensorFlow was imported before the input was refused"
    assert "Epoch" not in r.stdout
    return line


def snapshot(folder):
    """{file name: sha256} of everything in `folder` (hidden files included); None if absent."""
    folder = Path(folder)
    if not folder.exists():
        return None
    return {
        p.name: ("<dir>" if p.is_dir() else hashlib.sha256(p.read_bytes()).hexdigest())
        for p in sorted(folder.iterdir())
    }


def strict_json(text):
    return json.loads(
        text, parse_constant=lambda c: pytest.fail(f"JSON holds {c} (not strict JSON)")
    )


def copy_set(src, dst):
    shutil.copytree(src, dst)
    return Path(dst)


def tiny_split_lines(step=24):
    """Every `step`-th line of each shared split file, every label in train."""
    lines = {
        w: (need(SPLIT_DIR) / f"kws_split_{w}.txt").read_text().split()[::step]
        for w in ("train", "val", "test")
    }
    assert {ln.split("/")[-2] for ln in lines["train"]} == set(LABELS)
    return lines


def write_split(folder, lines, extra=None, replace=None):
    """kws_split_{train,val,test}.txt in `folder`: `lines`, plus `extra` lines of a split, or
    `replace`d content of a split."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    for w, ls in lines.items():
        text = "\n".join(ls + (extra or {}).get(w, [])) + "\n"
        (folder / f"kws_split_{w}.txt").write_text((replace or {}).get(w, text))
    return folder


# ----------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    """(lines, split folder) of a tiny split of the real wavs: ~89 / 13 / 9 files."""
    lines = tiny_split_lines()
    return lines, write_split(tmp_path_factory.mktemp("tiny_split"), lines)


def gapped_sample(path):
    """The 4,000-row Jena sample with gaps: -9999, ±inf and empty values in T and RH."""
    import pandas as pd

    frame = pd.read_csv(need(SAMPLE_CSV), dtype=str, keep_default_na=False)
    for row, column, value in (
        (100, "T (degC)", "-9999"),
        (101, "T (degC)", "-9999"),
        (700, "rh (%)", "inf"),
        (1500, "T (degC)", ""),
        (2300, "rh (%)", ""),
        (3000, "T (degC)", "-inf"),
        (3300, "rh (%)", "-9999"),
        (3800, "T (degC)", "-9999"),
    ):
        frame.loc[row, column] = value
    frame.to_csv(path, index=False)
    return path


@pytest.fixture(scope="module")
def gapped_csv(tmp_path_factory):
    return gapped_sample(tmp_path_factory.mktemp("gapped") / "jena_gaps.csv")


def previous_set(folder, names):
    """A previous output set of placeholder files in `folder`: what a refused run leaves as it was."""
    folder.mkdir(parents=True)
    for name in names:
        (folder / name).write_bytes(f"previous {name}\n".encode())
    return folder


@pytest.fixture(scope="module")
def kws_set(kws_script_run):
    """ex2_a's output set (the session's run on the subset): (folder, CompletedProcess)."""
    r, out = kws_script_run("ex2_a.py")
    assert r.returncode in (0, 2), r.stderr[-3000:]
    return out, r


@pytest.fixture(scope="module")
def th_set(gapped_csv, tmp_path_factory):
    """ex1_a's output set, on mostly-good data (a few gaps), 1 epoch: (folder, run, csv)."""
    out = tmp_path_factory.mktemp("good") / "th"
    r = run(
        "ex1_a.py", "--data", gapped_csv, "--out-dir", out, "--epochs", 1, "--quiet", timeout=600
    )
    assert r.returncode in (0, 2), r.stderr[-3000:]
    return out, r, gapped_csv


@pytest.fixture(scope="module")
def wav_tree(tiny, tmp_path_factory):
    """A wav folder: links to the tiny split's real wavs, plus yes/broken_nohash_0.wav (garbage),
    yes/nan_nohash_0.wav (a NaN sample) and yes/one_hertz_nohash_0.wav (declares 1 Hz)."""
    root = tmp_path_factory.mktemp("wav_tree")
    for ls in tiny[0].values():
        for ln in ls:
            label, name = ln.split("/")[-2:]
            (root / label).mkdir(exist_ok=True)
            if not (root / label / name).exists():
                (root / label / name).symlink_to(WAVS / label / name)
    (root / "yes" / "broken_nohash_0.wav").write_bytes(
        b"RIFF\x10\x00\x00\x00garbage, not a wav" * 3
    )
    import numpy as np
    from scipy.io import wavfile

    nan = np.full(16000, 0.1, np.float32)
    nan[8000] = np.nan
    wavfile.write(root / "yes" / "nan_nohash_0.wav", 16000, nan)  # float wav: NaN
    wavfile.write(root / "yes" / "one_hertz_nohash_0.wav", 1, np.zeros(16000, np.int16))  # 32 KB
    return root


# ------------------------------------------------------------------- the good output sets


@pytest.mark.slow
def test_good_forecast_run_on_gapped_data_counts_the_gaps(th_set):
    out, r, csv = th_set
    assert r.stderr == "", f"TensorFlow is not quiet by default:\n{r.stderr[-2000:]}"
    assert sorted(os.listdir(out)) == sorted(TH_FILES), "stray or missing files"
    for name in TH_FILES:
        mode = stat.S_IMODE(os.stat(out / name).st_mode)
        assert mode == 0o644, f"{name}: mode {oct(mode)} under umask 022"
    notes = [ln for ln in r.stdout.splitlines() if ln.startswith("note:")]
    assert len(notes) == 1 and str(csv) in notes[0] and "windows dropped" in notes[0], r.stdout
    gaps = strict_json((out / "th_a.json").read_text())["data"]["gaps"]
    assert gaps["windows_dropped"] > 0 and gaps["windows_kept"] > 3000
    assert f"{gaps['windows_dropped']:,} of" in notes[0]
    kinds = " | ".join(gaps["counts"])
    for kind in (
        "T (degC): missing-value code",
        "T (degC): empty or NaN",
        "T (degC): infinite",
        "rh (%): infinite",
        "rh (%): empty or NaN",
        "rh (%): missing-value code",
    ):
        assert kind in kinds, (kind, gaps["counts"])


# ----------------------------------------------------- bad flags: one line, before anything


@pytest.mark.parametrize(
    "script, args, names",
    [
        ("ex2_a.py", ["--epochs", "0"], ["--epochs", "0"]),
        ("ex2_a.py", ["--latency-runs", "0"], ["--latency-runs"]),
        ("ex2_a.py", ["--no-such-flag"], ["--no-such-flag"]),
        ("ex2_a.py", ["--version", "b"], ["ex2_b.py"]),
        ("ex1_a.py", ["--version", "b"], ["ex1_b.py"]),
        ("ex1_a.py", ["--seed", "x", "--verbose"], ["--seed"]),
        ("ex2_a.py", ["--seed", "-1"], ["--seed", "-1"]),
        ("ex1_a.py", ["--seed", str(2**32)], ["--seed", str(2**32)]),
    ],
)
def test_bad_flag_is_one_line_and_changes_nothing(gapped_csv, tiny, tmp_path, script, args, names):
    out = previous_set(tmp_path / "models", TH_FILES if script.startswith("ex1") else KWS_FILES)
    before = snapshot(out)
    data = (
        ["--data", gapped_csv]
        if script.startswith("ex1")
        else ["--data", WAVS, "--split-dir", tiny[1]]
    )
    r = probe(script, *data, "--out-dir", out, *args)
    refused_before_training(r, *names)
    assert snapshot(out) == before


# ------------------------------------------------ output folder and data path, before TF


@pytest.mark.parametrize(
    "script, where",
    [
        ("ex2_a.py", "a file"),
        ("ex2_a.py", "under a file"),
        ("ex1_a.py", "under a file"),
        ("ex2_a.py", "a symlink loop"),
        ("ex1_a.py", "a dangling symlink"),
    ],
)
def test_out_dir_that_cannot_be_a_folder(gapped_csv, tiny, tmp_path, script, where):
    blocker = tmp_path / "models"
    if "symlink" in where:
        blocker.symlink_to(tmp_path / ("models" if "loop" in where else "nowhere"))
    else:
        blocker.write_bytes(b"a file in the way\n")
    out = blocker / "sub" / "dir" if where == "under a file" else blocker
    data = (
        ["--data", gapped_csv] if script == "ex1_a.py" else ["--data", WAVS, "--split-dir", tiny[1]]
    )
    r = probe(script, *data, "--out-dir", out, "--epochs", 1)
    refused_before_training(r, out, "--out-dir")
    if "symlink" not in where:
        assert blocker.read_bytes() == b"a file in the way\n"
    assert sorted(os.listdir(tmp_path)) == ["models"]


@pytest.mark.parametrize(
    "script, what", [("ex2_b.py", "missing"), ("ex2_b.py", "empty folder"), ("ex1_b.py", "missing")]
)
def test_data_path_without_data_creates_and_downloads_nothing(tiny, tmp_path, script, what):
    data = tmp_path / "nowhere" / "data"
    if what == "empty folder":
        data.mkdir(parents=True)
    split = [] if script.startswith("ex1") else ["--split-dir", tiny[1]]
    r = probe(script, "--data", data, *split, "--out-dir", tmp_path / "models", "--epochs", 1)
    refused_before_training(r, data)  # no TensorFlow import: no download attempted
    if what == "missing":
        assert not (tmp_path / "nowhere").exists(), "a folder was created for the missing --data"
    else:
        assert os.listdir(data) == []
    assert not (tmp_path / "models").exists()


# ----------------------------------------------------- split files and wavs, before training

NOBODY = "./data/mini_speech_commands/yes/nobody_nohash_0.wav"


@pytest.mark.parametrize(
    "case", ["missing listed wav", "unknown label folder", "empty file", "no test split file"]
)
def test_bad_split_file_is_refused_before_training(tiny, tmp_path, case):
    lines = tiny[0]
    split = tmp_path / "split"
    if case == "missing listed wav":
        write_split(split, lines, extra={"val": [NOBODY]})
        names = [split / "kws_split_val.txt", "nobody_nohash_0.wav"]
    elif case == "unknown label folder":
        write_split(
            split, lines, extra={"train": ["./data/mini_speech_commands/cat/x_nohash_0.wav"]}
        )
        names = [split / "kws_split_train.txt", "cat/x_nohash_0.wav"]
    elif case == "empty file":
        write_split(split, lines, replace={"test": "\n\n"})
        names = [split / "kws_split_test.txt", "empty"]
    else:
        write_split(split, lines)
        (split / "kws_split_test.txt").unlink()
        names = [split, "kws_split_test.txt"]
    out = previous_set(tmp_path / "models", KWS_FILES)
    before = snapshot(out)
    r = probe(
        "ex2_a.py",
        "--data",
        WAVS,
        "--split-dir",
        split,
        "--out-dir",
        out,
        "--epochs",
        1,
        "--latency-runs",
        1,
    )
    refused_before_training(r, *names)
    assert snapshot(out) == before


@pytest.mark.parametrize(
    "which, name", [("test", "broken"), ("train", "broken"), ("train", "nan"), ("val", "one_hertz")]
)
def test_corrupt_wav_in_any_split_is_refused_before_training(tiny, wav_tree, tmp_path, which, name):
    split = write_split(
        tmp_path / "split",
        tiny[0],
        extra={which: [f"./data/mini_speech_commands/yes/{name}_nohash_0.wav"]},
    )
    out = previous_set(tmp_path / "models", KWS_FILES)
    before = snapshot(out)
    r = probe(
        "ex2_c.py",
        "--data",
        wav_tree,
        "--split-dir",
        split,
        "--out-dir",
        out,
        "--epochs",
        1,
        "--latency-runs",
        1,
    )  # progress bars on: an epoch would show
    refused_before_training(r, wav_tree / "yes" / f"{name}_nohash_0.wav")
    assert snapshot(out) == before


# ------------------------------------------------------------------------ Jena CSV gaps


def test_csv_mostly_missing_values_is_one_line_and_changes_nothing(tmp_path):
    import pandas as pd

    frame = pd.read_csv(need(ROOF_CSV), encoding="latin-1", dtype=str, keep_default_na=False)
    frame.loc[frame.index % 10 != 0, "T (degC)"] = "-9999"  # 90 % of T missing
    bad = tmp_path / "roof_mostly_missing.csv"
    frame.to_csv(bad, index=False, encoding="latin-1", lineterminator="\r\n")
    out = previous_set(tmp_path / "models", TH_FILES)
    before = snapshot(out)
    r = probe("ex1_a.py", "--data", bad, "--out-dir", out, "--epochs", 1)
    line = refused_before_training(r, bad)
    assert "gap" in line
    assert snapshot(out) == before


def test_each_missing_value_is_counted_once(tmp_path):
    import pandas as pd
    from common import jena

    frame = pd.read_csv(need(SAMPLE_CSV), dtype=str, keep_default_na=False)
    frame.loc[200, "T (degC)"] = "-inf"
    frame.loc[300, "rh (%)"] = "-9999"
    frame.to_csv(tmp_path / "one_each.csv", index=False)
    series = jena.load_series(tmp_path / "one_each.csv")
    assert sum(series.gaps.values()) == 2, series.gaps
    assert series.gaps == {"T (degC): infinite": 1, "rh (%): missing-value code (<= -999)": 1}


# -------------------------------------------------------------------------------- Ctrl-C


@pytest.mark.slow
def test_ctrl_c_during_training_is_one_line_130_and_changes_nothing(tiny, tmp_path):
    out = previous_set(tmp_path / "models", KWS_FILES)
    before = snapshot(out)
    p = subprocess.Popen(
        [
            sys.executable,
            "ex2_a.py",
            "--data",
            str(WAVS),
            "--split-dir",
            str(tiny[1]),
            "--out-dir",
            str(out),
            "--epochs",
            "40",
            "--latency-runs",
            "1",
        ],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        umask=0o022,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
        preexec_fn=default_stop_signals,
    )
    try:
        for line in p.stdout:  # until Keras prints its first epoch (or the run ends: EOF)
            if line.startswith(b"Epoch"):
                break
        assert p.poll() is None, f"ended before training: {p.stderr.read().decode()[-2000:]}"
        p.send_signal(signal.SIGINT)
        rest, err = p.communicate()
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
    err = err.decode()
    assert "Traceback" not in err, err[-3000:]
    assert p.returncode == 130, (p.returncode, err[-2000:])
    lines = err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("interrupted"), err[-2000:]
    assert snapshot(out) == before


# --------------------------------------------------- common.outputs.write_set, in-process

OLD = {
    "m.tflite": b"old model",
    "m.tflite.zip": b"old zip",
    "m.json": b'{"old": 1}\n',
    "m.png": b"old picture",
}
NEW = {
    "m.tflite": b"new model!",
    "m.tflite.zip": b"new zip!",
    "m.json": b'{"new": 2}\n',
    "m.png": b"new picture!",
}


def contents(folder):
    return {p.name: p.read_bytes() for p in sorted(Path(folder).iterdir())}


@pytest.fixture
def old_set(tmp_path):
    from common import outputs

    out = tmp_path / "out"
    outputs.write_set(out, OLD)
    assert contents(out) == OLD
    return out


def failing_on(call, exc, monkeypatch):
    """os.replace that raises `exc` on its `call`-th call (the others go through)."""
    real, calls = os.replace, []

    def replace(src, dst, **kw):
        calls.append(dst)
        if len(calls) == call:
            raise exc
        return real(src, dst, **kw)

    monkeypatch.setattr(os, "replace", replace)
    return calls


@pytest.mark.parametrize(
    "exc",
    [KeyboardInterrupt(), OSError(errno.ENOSPC, "No space left on device")],
    ids=["KeyboardInterrupt", "OSError"],
)
def test_write_set_failing_mid_renames_restores_the_previous_set(old_set, monkeypatch, exc):
    from common import outputs

    before = snapshot(old_set)
    failing_on(2, exc, monkeypatch)
    with pytest.raises(type(exc)):
        outputs.write_set(old_set, NEW)
    monkeypatch.undo()
    assert {name: (old_set / name).read_bytes() for name in OLD} == OLD
    assert snapshot(old_set) == before, (
        f"stray files: {sorted(set(os.listdir(old_set)) - set(OLD))}"
    )


def test_write_set_failing_mid_renames_leaves_nothing_new(tmp_path, monkeypatch):
    from common import outputs

    out = tmp_path / "fresh"
    failing_on(2, OSError(errno.EIO, "Input/output error"), monkeypatch)
    with pytest.raises(OSError):
        outputs.write_set(out, NEW)
    monkeypatch.undo()
    assert not out.exists() or os.listdir(out) == [], os.listdir(out)


def test_ctrl_c_during_the_renames_is_held_until_the_new_set_is_complete(
    old_set, monkeypatch, capsys, stop_signals
):
    """The renames finish, then the interrupt: exit 130 and a line that tells the truth."""
    from common import cli, outputs

    real, calls = os.replace, []

    def replace(src, dst, **kw):
        calls.append(dst)
        if len(calls) == 1:
            signal.raise_signal(signal.SIGINT)
        return real(src, dst, **kw)

    monkeypatch.setattr(os, "replace", replace)
    handler = signal.getsignal(signal.SIGINT)
    rc = cli.exit_status(lambda argv: outputs.write_set(old_set, NEW))
    monkeypatch.undo()
    assert len(calls) == len(NEW), "the renames were cut short"
    assert contents(old_set) == NEW, "the new set is not complete"
    assert signal.getsignal(signal.SIGINT) is handler
    assert (
        rc == 130
        and capsys.readouterr().err == "interrupted: after the new output files were all written\n"
    )


def without_hard_links(monkeypatch, from_call):
    """os.link refused (EPERM) from its `from_call`-th call on: a file system without hard
    links (vfat, some network shares), or a link refused midway. Returns the calls."""
    real, calls = os.link, []

    def link(src, dst, **kw):
        calls.append(dst)
        if len(calls) >= from_call:
            raise OSError(errno.EPERM, "Operation not permitted", src)
        return real(src, dst, **kw)

    monkeypatch.setattr(os, "link", link)
    return calls


@pytest.mark.parametrize(
    "from_call", [1, 2], ids=["no hard links at all", "link fails on 2nd file"]
)
def test_write_set_without_hard_links_writes_the_new_set(old_set, monkeypatch, from_call):
    """Without hard links the previous files are backed up as copies: the new set is written,
    nothing else is left."""
    calls = without_hard_links(monkeypatch, from_call)
    from common import outputs

    outputs.write_set(old_set, NEW)
    monkeypatch.undo()
    assert len(calls) == len(OLD), "a previous file was not backed up"
    assert contents(old_set) == NEW


@pytest.mark.parametrize(
    "from_call", [1, 2], ids=["no hard links at all", "link fails on 2nd file"]
)
def test_write_set_without_hard_links_failing_mid_renames_restores_the_copies(
    old_set, monkeypatch, from_call
):
    """The copies are what a failure puts back: the previous set, byte-identical, no stray file."""
    from common import outputs

    before = snapshot(old_set)
    without_hard_links(monkeypatch, from_call)
    failing_on(3, OSError(errno.EIO, "Input/output error"), monkeypatch)
    with pytest.raises(OSError, match="Input/output error"):
        outputs.write_set(old_set, NEW)
    monkeypatch.undo()
    assert contents(old_set) == OLD
    assert snapshot(old_set) == before, (
        f"stray files: {sorted(set(os.listdir(old_set)) - set(OLD))}"
    )


@pytest.mark.parametrize("umask, mode", [(0o022, 0o644), (0o027, 0o640)])
def test_write_set_modes_follow_the_umask(tmp_path, umask, mode):
    from common import outputs

    saved = os.umask(umask)
    try:
        outputs.write_set(tmp_path / "out", NEW)
    finally:
        os.umask(saved)
    for name in NEW:
        assert stat.S_IMODE(os.stat(tmp_path / "out" / name).st_mode) == mode, name


# ------------------------------------------------------------------------- sidecar checks


def _edit(**frontend):
    def apply(side, model_dir):
        side["frontend"].update(frontend)
        return side

    return apply


def _resum(change):
    """`change`, then the checksum recomputed: the contents checks must still refuse it."""

    def apply(side, model_dir):
        from common import report

        side = change(side, model_dir)
        side["checksum"] = report.checksum(side)
        return side

    return apply


def _set_frontend(value):
    def apply(side, model_dir):
        side["frontend"] = value
        return side

    return apply


SIDECAR_CASES = {
    "empty object": "{}",
    "not JSON": '{"version": "ex2_a", "frontend": {',
    "frontend null": _set_frontend(None),
    "frame_step 0": _edit(frame_step=0),
    "num_mel_bins 80 (same input shape)": _edit(num_mel_bins=80),
    "upper_frequency 7000 (same input shape)": _edit(upper_frequency=7000),
    "copied from the forecaster": "th_a.json",
    "frontend null, checksum recomputed": _resum(_set_frontend(None)),
    "frame_step 0, checksum recomputed": _resum(_edit(frame_step=0)),
}


def spoil_sidecar(case, kws_dir, th_dir):
    path = kws_dir / "kws_a.json"
    change = SIDECAR_CASES[case]
    if change == "th_a.json":
        shutil.copyfile(th_dir / "th_a.json", path)
    elif isinstance(change, str):
        path.write_text(change)
    else:
        path.write_text(json.dumps(change(json.loads(path.read_text()), kws_dir), indent=2))
    return path


def in_process(capsys, run_function, argv):
    """`cli.exit_status(run_function, argv)` in this process (what `python -m ...` does, without
    the interpreter's start-up): a CompletedProcess-like result. An uncaught exception (a
    traceback, run as a command) fails the test."""
    from common import cli

    capsys.readouterr()
    rc = cli.exit_status(run_function, [str(a) for a in argv])
    out, err = capsys.readouterr()
    return subprocess.CompletedProcess(argv, rc, out, err)


@pytest.mark.slow
@pytest.mark.parametrize("tool", ["evaluate", "kws_inference"])
@pytest.mark.parametrize("case", list(SIDECAR_CASES))
def test_bad_sidecar_is_one_line_naming_the_json(
    kws_set, th_set, tiny, tmp_path, capsys, tool, case
):
    models = copy_set(kws_set[0], tmp_path / "models")
    sidecar = spoil_sidecar(case, models, th_set[0])
    model = models / ("kws_a.tflite.zip" if "checksum" in case else "kws_a.tflite")
    if tool == "evaluate":  # in-process: fast; the command itself is run in the test below
        from tools import evaluate

        r = in_process(
            capsys, evaluate.run, [model, "--data", WAVS, "--split", tiny[1] / "kws_split_test.txt"]
        )
    elif "checksum recomputed" in case:  # in-process too: the command runs in the other cases
        import kws_inference

        r = in_process(capsys, kws_inference.run, ["--model", model, "--runs", 2])
    else:
        r = run("kws_inference.py", "--model", model, "--runs", 2, timeout=120)
    one_error(r, sidecar)


@pytest.mark.slow
def test_kws_sidecar_beside_a_forecaster_is_refused(kws_set, th_set, tmp_path):
    models = copy_set(th_set[0], tmp_path / "models")
    shutil.copyfile(kws_set[0] / "kws_a.json", models / "th_a.json")
    r = run("-m", "tools.evaluate", models / "th_a.tflite", "--data", th_set[2], timeout=120)
    one_error(r, models / "th_a.json", "tflite_sha256")


@pytest.mark.slow
def test_no_sidecar_flag_runs_with_flags_despite_a_broken_sidecar(kws_set, tmp_path):
    models = copy_set(kws_set[0], tmp_path / "models")
    (models / "kws_a.json").write_text("{}")
    r = run(
        "kws_inference.py",
        "--model",
        models / "kws_a.tflite",
        "--no-sidecar",
        "--rate",
        16000,
        "--mfcc",
        "--length",
        640,
        "--stride",
        320,
        "--bins",
        40,
        "--coeff",
        10,
        "--lower-frequency",
        20,
        "--upper-frequency",
        4000,
        "--runs",
        2,
        timeout=120,
    )
    assert r.returncode == 0, r.stderr[-2000:]
    assert "Traceback" not in r.stderr and "Inference Latency" in r.stdout


@pytest.mark.slow
def test_kws_inference_on_a_forecaster_is_one_line(th_set, tmp_path):
    models = copy_set(th_set[0], tmp_path / "models")
    r = run("kws_inference.py", "--model", models / "th_a.tflite", "--runs", 2, timeout=120)
    one_error(r, "th_a")


# ---------------------------------------------------------------- kws_inference.py --wav


@pytest.mark.slow
def test_wav_folder_with_one_corrupt_file(kws_set, tmp_path):
    folder = tmp_path / "wavs"
    good = []
    for label in ("yes", "no", "up"):
        (folder / label).mkdir(parents=True)
        src = sorted((WAVS / label).iterdir())[0]
        shutil.copyfile(src, folder / label / src.name)
        good.append(folder / label / src.name)
    broken = folder / "yes" / "broken_nohash_0.wav"
    broken.write_bytes(b"\x00\x01 not a wav at all" * 10)
    r = run(
        "kws_inference.py", "--model", kws_set[0] / "kws_a.tflite", "--wav", folder, timeout=120
    )
    assert one_error(r, folder).startswith(f"error: {folder}: 1 of 4 wav files unreadable")
    out = r.stdout.splitlines()
    labelled = [ln.split() for ln in out if ln.startswith(str(folder))]
    assert sorted(ln[0] for ln in labelled) == sorted(map(str, good))
    assert all(ln[1] in LABELS and 0 < float(ln[2]) <= 1 for ln in labelled)
    summary = [i for i, ln in enumerate(out) if ln.startswith("Summary:")]
    assert len(summary) == 1 and "3 of 4" in out[summary[0]], r.stdout
    unreadable = [i for i, ln in enumerate(out) if str(broken) in ln]
    assert len(unreadable) == 1 and unreadable[0] > summary[0], (
        "the unreadable file is not listed at the end"
    )


# ------------------------------------------------------------------- python -m common.splits


def small_file_list(path):
    lines = (need(SHARED) / "mini_speech_commands_files.txt").read_text().split()[::20]
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.mark.parametrize("case", ["missing list", "bad line", "out-dir a file"])
def test_splits_cli_errors_are_one_line(tmp_path, case):
    files, out = tmp_path / "files.txt", tmp_path / "out"
    if case == "missing list":
        names = [files]
    elif case == "bad line":
        small_file_list(files)
        files.write_text(files.read_text() + "yes/not-a-speaker-file.wav\n")
        names = [files, "not-a-speaker-file.wav"]
    else:
        small_file_list(files)
        out.write_text("in the way")
        names = [out]
    r = run("-m", "common.splits", "--files", files, "--out-dir", out, timeout=60)
    one_error(r, *names)
    if case == "out-dir a file":
        assert out.read_text() == "in the way"
    else:
        assert not out.exists()


@pytest.mark.parametrize("previous", [True, False], ids=["over an old set", "into a new folder"])
@pytest.mark.parametrize(
    "exc, rc",
    [(OSError(errno.ENOSPC, "No space left on device"), 1), (KeyboardInterrupt(), 130)],
    ids=["OSError", "KeyboardInterrupt"],
)
def test_splits_are_written_as_one_set(tmp_path, monkeypatch, capsys, previous, exc, rc):
    from common import splits

    files, out = small_file_list(tmp_path / "files.txt"), tmp_path / "out"
    if previous:
        out.mkdir()
        for w in ("train", "val", "test"):
            (out / f"kws_split_{w}.txt").write_text(f"old {w}\n")
    before = snapshot(out)
    calls = failing_on(2, exc, monkeypatch)
    status = splits.main(["--files", str(files), "--out-dir", str(out)])
    monkeypatch.undo()
    err = capsys.readouterr().err
    assert len(calls) >= 2, "the failure was not reached"
    assert status == rc and len(err.splitlines()) == 1 and "Traceback" not in err, err
    assert err.startswith("error: " if rc == 1 else "interrupted"), err
    if previous:
        assert {n: (out / n).read_text() for n in before} == {
            f"kws_split_{w}.txt": f"old {w}\n" for w in ("train", "val", "test")
        }
        assert snapshot(out) == before, f"stray files: {sorted(set(os.listdir(out)) - set(before))}"
    else:
        assert not out.exists() or os.listdir(out) == [], f"partial set left: {os.listdir(out)}"


# =============================================================================
# Hostile and broken inputs (docs/robustness.md lists each class with its tests)
# =============================================================================

MODEL = b"\0\0\0\0TFL3 not a real model, enough for the checks before loading it"


def one_line(capsys, function, argv=None):
    """(status, the one stderr line) of cli.exit_status(function, argv), run in this process."""
    capsys.readouterr()
    status = cli.exit_status(function, argv)
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.endswith("\n") and "Traceback" not in err, err
    return status, err.rstrip("\n")


def must_not_run(what):
    def fail(*args, **kwargs):
        pytest.fail(f"{what} was reached: the input was not refused before it")

    return fail


# ------------------------------------------------------------- 1. bounds on sizes from files


def write_wav(path, rate, data):
    wavfile.write(str(path), rate, data)
    return path


@pytest.mark.parametrize(
    "rate, seconds, bound",
    [
        (1, 16000, "sample rate 1 Hz"),  # 32 KB that would cost 2 GB resampled
        (2_147_483_647, 1e-5, "sample rate 2,147,483,647 Hz"),  # a 320 GiB resampling
        (999, 1.0, "sample rate 999 Hz"),
        (384_001, 0.1, "sample rate 384,001 Hz"),
        (1_000, 61.0, "61.0 s of samples"),
    ],
)
def test_wav_rate_and_length_are_bounded_before_resampling(
    tmp_path, monkeypatch, rate, seconds, bound
):
    path = write_wav(
        tmp_path / "hostile.wav", rate, np.zeros(max(1, int(rate * seconds)), np.int16)
    )
    assert path.stat().st_size < 200_000
    monkeypatch.setattr(wav, "resample", must_not_run("resampling"))
    with pytest.raises(wav.WavError, match=f"^{path}: {bound}") as e:
        wav.read_wav(path)
    assert "bound" in str(e.value)


def test_wav_bounds_let_real_recordings_through(tmp_path):
    for rate, seconds in ((8_000, 1.0), (48_000, 59.0), (192_000, 1.0), (1_000, 60.0)):
        x = wav.read_wav(
            write_wav(tmp_path / f"{rate}.wav", rate, np.zeros(int(rate * seconds), np.int16))
        )
        assert x.shape == (16000,)


def test_wav_file_size_is_bounded_before_reading(tmp_path, monkeypatch):
    path = tmp_path / "huge.wav"
    write_wav(path, 16000, np.zeros(16000, np.int16))
    with open(path, "r+b") as f:  # sparse: no disk used
        f.truncate(wav.MAX_BYTES + 1)
    monkeypatch.setattr(wav.wavfile, "read", must_not_run("reading the wav"))
    with pytest.raises(
        wav.WavError, match=f"^{path}: 67,108,865 bytes, over the bound of 67,108,864"
    ):
        wav.read_wav(path)


def bomb_zip(path, name="kws_a.tflite", mib=1024, declared=None):
    """A valid zip (about 1 kB per MiB) whose one member inflates to `mib` MiB of zeros, CRC
    included: deflate blocks of 1 MiB of zeros, each ended by a full flush, are position-free.
    `declared`: the size its headers claim instead (a zip that lies)."""
    chunk = bytes(2**20)
    deflate = zlib.compressobj(9, zlib.DEFLATED, -15)
    block = deflate.compress(chunk) + deflate.flush(zlib.Z_FULL_FLUSH)
    data = block * mib + zlib.compressobj(9, zlib.DEFLATED, -15).flush()
    crc = 0
    for _ in range(mib):
        crc = zlib.crc32(chunk, crc)
    raw = name.encode()
    size = mib * 2**20 if declared is None else declared
    fields = struct.pack(
        "<HHHHHIIIH", 20, 0, zipfile.ZIP_DEFLATED, 0, 0x21, crc, len(data), size, len(raw)
    )
    local = b"PK\x03\x04" + fields + struct.pack("<H", 0) + raw
    central = (
        b"PK\x01\x02"
        + struct.pack("<H", 20)
        + fields
        + struct.pack("<HHHHII", 0, 0, 0, 0, 0, 0)
        + raw
    )
    end = b"PK\x05\x06" + struct.pack(
        "<HHHHIIH", 0, 0, 1, 1, len(central), len(local) + len(data), 0
    )
    Path(path).write_bytes(local + data + central + end)
    return Path(path)


def test_zip_bomb_is_refused_without_inflating_it(tmp_path, monkeypatch):
    bomb = bomb_zip(tmp_path / "kws_a.tflite.zip")
    assert bomb.stat().st_size < 1.1e6
    with zipfile.ZipFile(bomb) as zf:  # it says 1 GiB (and inflates to it, CRC right)
        assert zf.infolist()[0].file_size == 2**30
    monkeypatch.setattr(zipfile.ZipFile, "open", must_not_run("opening the zip member"))
    monkeypatch.setattr(zipfile.ZipFile, "read", must_not_run("reading the zip member"))
    tracemalloc.start()
    try:
        with pytest.raises(
            tflite_io.ModelFileError,
            match=f"^{bomb}: its .tflite, inflated, is "
            "1,073,741,824 bytes, over the bound of 16,777,216",
        ):
            tflite_io.read_model_bytes(bomb)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 4 * 2**20, f"{peak:,} bytes allocated while refusing it"


def test_zip_that_lies_about_its_size_is_read_no_further_than_it_says(tmp_path):
    """A member that declares 1,000 bytes but inflates to 1 GiB: read to 1,000 bytes, then
    refused (its CRC does not match); memory stays low."""
    liar = bomb_zip(tmp_path / "m.tflite.zip", declared=1000)
    tracemalloc.start()
    try:
        with pytest.raises(
            tflite_io.ModelFileError, match=f"^{liar}: unreadable \\(BadZipFile: Bad CRC-32"
        ):
            tflite_io.read_model_bytes(liar)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 4 * 2**20, f"{peak:,} bytes allocated while refusing it"


def test_model_file_size_is_bounded_before_reading(tmp_path, monkeypatch):
    big = tmp_path / "big.tflite"
    with open(big, "wb") as f:  # sparse
        f.write(MODEL)
        f.truncate(tflite_io.MAX_MODEL_BYTES + 1)
    monkeypatch.setattr("builtins.open", must_not_run("opening the model file"))
    with pytest.raises(
        tflite_io.ModelFileError, match=f"^{big}: the file is 16,777,217 bytes, over the bound"
    ):
        tflite_io.read_model_bytes(big)


@pytest.mark.parametrize(
    "field, value",
    [
        ("num_mel_bins", 10**7),
        ("rate", 2_147_483_647),
        ("frame_length", 10**9),
        ("fft_length", 2**31),
        ("num_coefficients", 10**6),
        ("frame_step", 10**12),
    ],
)
def test_frontend_fields_have_upper_bounds(field, value):
    problems = FrontEnd(**{field: value}).problems()
    assert problems and problems[0].startswith(f"'{field}' is {value}; expected ")
    assert "a whole number in [" in problems[0]


@pytest.mark.parametrize(
    "settings, what",
    [
        ({"frame_step": 1, "frame_length": 8000, "fft_length": None}, "spectrogram"),  # 8001 x 8192
        (
            {"rate": 48000, "frame_length": 48000, "fft_length": 65536, "num_mel_bins": 256},
            "mel matrix",
        ),
        (
            {"mfcc": False, "resize": 1024, "frame_length": 16000, "fft_length": 65536},
            "resize matrix",
        ),
    ],
)
def test_frontend_array_sizes_are_bounded(settings, what):
    problems = FrontEnd(**settings).problems()
    assert (
        problems
        and problems[0].startswith(f"the {what}")
        and "over the bound of 4,194,304" in problems[0]
    )


def test_project_front_ends_are_within_the_bounds():
    from common.frontend_np import MFCC_8K, MFCC_16K
    import kws_inference

    for cfg in (MFCC_16K, MFCC_8K, kws_inference.COURSE_DEFAULTS):
        assert cfg.problems() == []


# ----------------------------------------------------------------------- sidecars (JSON)


def write_model(folder, sidecar):
    """m.tflite (fake bytes: the sidecar is checked before the model is loaded) and m.json,
    written with a correct checksum: only the types and ranges can refuse it."""
    (folder / "m.tflite").write_bytes(MODEL)
    (folder / "m.json").write_bytes(
        report.sidecar_bytes(sidecar) if isinstance(sidecar, dict) else sidecar
    )
    return folder / "m.tflite", folder / "m.json"


def kws_sidecar(**fields):
    return {
        "version": "ex2_b",
        "tflite_sha256": tflite_io.sha256(MODEL),
        "labels": LABELS,
        "frontend": FrontEnd().to_dict(),
        "limits": {"accuracy": 0.9, "pi_inference_ms": 2.0},
        **fields,
    }


def test_frontend_asking_for_38_gib_is_refused_naming_the_json(tmp_path, capsys, monkeypatch):
    import kws_inference
    from common import frontend_np

    model, side = write_model(
        tmp_path, kws_sidecar(frontend={**FrontEnd().to_dict(), "num_mel_bins": 10**7})
    )
    monkeypatch.setattr(frontend_np, "mel_weight_matrix", must_not_run("building the mel matrix"))
    status, line = one_line(capsys, kws_inference.run, ["--model", str(model), "--runs", "2"])
    assert status == 1
    assert line.startswith(
        f"error: {side}: 'num_mel_bins' is 10000000; expected a whole number in [1, 256]"
    )


# ------------------------------------------------------------------- 2. NaN or inf samples


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_nan_or_inf_samples_are_refused(tmp_path, bad):
    data = np.zeros(16000, np.float32)
    data[[10, 500]] = bad
    path = write_wav(tmp_path / "bad.wav", 16000, data)
    with pytest.raises(wav.WavError, match=f"^{path}: 2 of 16,000 samples are NaN or infinite"):
        wav.read_wav(path)


def test_nan_wav_in_the_train_split_stops_the_run_before_training(tmp_path):
    from common import kws_data

    folder = tmp_path / "data"
    for label in LABELS:
        (folder / label).mkdir(parents=True)
        write_wav(folder / label / f"a{label}_nohash_0.wav", 16000, np.zeros(16000, np.int16))
    bad = np.full(16000, 0.1, np.float32)
    bad[123] = np.nan
    write_wav(folder / "yes" / "bad_nohash_0.wav", 16000, bad)
    lines = {
        w: [f"./data/mini_speech_commands/{label}/a{label}_nohash_0.wav" for label in LABELS]
        for w in kws_data.SPLITS
    }
    lines["train"].append("./data/mini_speech_commands/yes/bad_nohash_0.wav")
    for w, ls in lines.items():
        (tmp_path / f"kws_split_{w}.txt").write_text("\n".join(ls) + "\n")
    splits = kws_data.read_splits(tmp_path, folder, log=lambda *_: None)
    with pytest.raises(
        DataError, match=f"^{folder / 'yes' / 'bad_nohash_0.wav'}: 1 of 16,000 samples are NaN"
    ):
        kws_data.load_waves(splits, 16000, log=lambda *_: None)


# ------------------------------------------------------------- 3. strict types in the sidecar


def recomputed(sidecar):
    """The sidecar with a correct checksum for its (hostile) contents, as JSON bytes."""
    sidecar = dict(sidecar)
    sidecar["checksum"] = report.checksum(sidecar)
    return json.dumps(sidecar).encode()


@pytest.mark.parametrize(
    "contents, message",
    [
        (
            recomputed(kws_sidecar(tflite_sha256=12345)),
            "'tflite_sha256' is 12345; expected a sha256 as 64",
        ),
        (recomputed(kws_sidecar(tflite_sha256="ab" * 31)), "'tflite_sha256' is 'abab"),
        (
            json.dumps({**kws_sidecar(), "checksum": ["x"]}).encode(),
            "'checksum' is ['x']; expected a sha256",
        ),
        (
            recomputed(kws_sidecar(limits={"pi_inference_ms": "2"})),
            "'limits' is {'pi_inference_ms': '2'}; expected",
        ),
        (recomputed(kws_sidecar(limits={"accuracy": True})), "'limits' is {'accuracy': True}"),
        (recomputed(kws_sidecar(limits=[1, 2])), "'limits' is [1, 2]"),
        (
            recomputed(kws_sidecar(labels=["yes", 7])),
            "'labels' is ['yes', 7]; expected a list of 1 to 1000",
        ),
        (recomputed(kws_sidecar(labels=["yes", "yes"])), "'labels' is ['yes', 'yes']"),
        (
            recomputed(kws_sidecar(version=["ex2_a"])),
            "'version' is ['ex2_a']; expected one of ex1_a",
        ),
        (
            recomputed(kws_sidecar(frontend={**FrontEnd().to_dict(), "rate": "16000"})),
            "'rate' is '16000'",
        ),
        (
            recomputed(kws_sidecar(frontend={**FrontEnd().to_dict(), "lower_frequency": True})),
            "'lower_frequency' True",
        ),
        (
            b'{"version": "ex2_b", "tflite_sha256": NaN}',
            "not a readable JSON file (NaN is not a JSON number)",
        ),
        (b"[" * 100_000 + b"]" * 100_000, "nested too deep to parse"),
        (
            json.dumps(
                {**kws_sidecar(), "history": json.loads("[" * 17 + "1" + "]" * 17)}
            ).encode(),
            "arrays or objects nested more than 16 deep",
        ),
        (
            b" " * (report.MAX_SIDECAR_BYTES - 1) + b"{}",
            "4,194,305 bytes, over the bound of 4,194,304",
        ),
    ],
    ids=[
        "sha256 number",
        "sha256 short",
        "checksum list",
        "limit string",
        "limit bool",
        "limits list",
        "label number",
        "labels repeated",
        "version list",
        "rate string",
        "frequency bool",
        "NaN",
        "100,000 deep",
        "17 deep",
        "over 4 MiB",
    ],
)
def test_every_sidecar_field_read_is_typed(tmp_path, contents, message):
    model, side = write_model(tmp_path, contents)
    with pytest.raises(DataError) as e:
        report.read_sidecar(model, MODEL)
    assert str(e.value).startswith(f"{side}: ") and message in str(e.value), str(e.value)
    assert len(str(e.value)) < 400


def test_limit_as_a_string_is_refused_before_the_latency_run(tmp_path, capsys, monkeypatch):
    import kws_inference

    model, side = write_model(tmp_path, recomputed(kws_sidecar(limits={"pi_inference_ms": "2"})))
    monkeypatch.setattr(kws_inference, "measure_latency", must_not_run("the latency run"))
    monkeypatch.setattr(kws_inference, "Model", must_not_run("loading the model"))
    status, line = one_line(capsys, kws_inference.run, ["--model", str(model)])
    assert status == 1 and line.startswith(f"error: {side}: 'limits' is")


def test_evaluate_refuses_a_typed_field_naming_the_json(tmp_path, capsys):
    from tools import evaluate

    model, side = write_model(tmp_path, recomputed(kws_sidecar(tflite_sha256=12345)))
    status, line = one_line(
        capsys, evaluate.run, [str(model), "--data", str(tmp_path), "--split", "x.txt"]
    )
    assert status == 1 and line.startswith(f"error: {side}: 'tflite_sha256' is 12345")


def test_a_deliberate_edit_with_its_checksum_recomputed_passes_the_sidecar_check(tmp_path):
    """What the checksum does not do (README, docs/robustness.md): it is an unkeyed sha256."""
    model, side = write_model(
        tmp_path,
        recomputed(kws_sidecar(frontend={**FrontEnd().to_dict(), "lower_frequency": 1000.0})),
    )
    assert report.read_sidecar(model, MODEL)["frontend"]["lower_frequency"] == 1000.0


# ------------------------------------------------------------- 4. stop signals, the lock

SET_A = {f"m{i}.bin": f"set A file {i}\n".encode() * 2000 for i in range(4)}
SET_B = {f"m{i}.bin": f"set B file {i}\n".encode() * 3000 for i in range(4)}


def which_set(folder):
    """'A' or 'B' when `folder` holds exactly that set and nothing else; else what it holds."""
    found = {p.name: p.read_bytes() for p in Path(folder).iterdir()}
    return {"A": "A", "B": "B"}.get(
        next((k for k, s in (("A", SET_A), ("B", SET_B)) if found == s), None), sorted(found)
    )


WRITER = textwrap.dedent("""
    import sys, pickle
    sys.path.insert(0, {root!r})
    from common import cli, outputs
    with open(sys.argv[2], "rb") as f:
        sets = pickle.load(f)
    def loop(argv):
        print("ready", flush=True)
        i = 0
        while True:
            outputs.write_set(sys.argv[1], sets[i % 2], log=lambda *a: None)
            i += 1
    sys.exit(cli.exit_status(loop))
""")


def start_writer(folder):
    """A process writing SET_A and SET_B into `folder` by turns, until a signal stops it."""
    import pickle

    sets = Path(folder).parent / "sets.pickle"
    sets.write_bytes(pickle.dumps([SET_A, SET_B]))
    p = subprocess.Popen(
        [sys.executable, "-c", WRITER.format(root=str(ROOT)), str(folder), str(sets)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=default_stop_signals,
    )
    assert p.stdout.readline() == "ready\n", p.stderr.read()
    return p


@pytest.mark.parametrize(
    "signum, status, name",
    [(signal.SIGTERM, 143, "SIGTERM"), (signal.SIGHUP, 129, "SIGHUP"), (signal.SIGINT, 130, None)],
)
def test_stop_signal_at_random_moments_of_the_write_leaves_one_whole_set(
    tmp_path, signum, status, name
):
    rng = random.Random(signum)
    for attempt in range(8):
        folder = tmp_path / f"try{attempt}"
        outputs.write_set(folder, SET_A)
        p = start_writer(folder)
        threading.Event().wait(rng.uniform(0.0, 0.05))
        p.send_signal(signum)
        out, err = p.communicate(timeout=60)
        assert p.returncode == status, (p.returncode, err)
        assert err.count("\n") == 1 and err.startswith(
            f"interrupted by {name}: " if name else "interrupted: "
        ), err
        assert which_set(folder) in ("A", "B"), f"try {attempt}: {which_set(folder)}"


def test_killed_writer_leftovers_are_rolled_back_by_the_next_write(tmp_path):
    """SIGKILL cannot be held: the next write finds the journal / backups / staged files,
    restores one whole set, removes the leftovers and says so."""
    rng, notes = random.Random(9), []
    for attempt in range(12):
        folder = tmp_path / f"try{attempt}"
        outputs.write_set(folder, SET_A)
        p = start_writer(folder)
        threading.Event().wait(rng.uniform(0.0, 0.05))
        p.kill()
        p.communicate(timeout=60)
        with outputs.folder_lock(str(folder)):  # as the next write_set does, first
            outputs.recover(str(folder), log=notes.append)
        assert which_set(folder) in ("A", "B"), f"try {attempt}: {which_set(folder)}"
        outputs.write_set(folder, SET_B, log=notes.append)
        assert which_set(folder) == "B"
    assert all(n.startswith("note: ") and "killed" in n for n in notes)


def test_journal_rolls_back_a_set_killed_mid_renames(tmp_path, monkeypatch):
    """The state SIGKILL leaves between two renames, made exactly: the next write rolls back."""
    folder = tmp_path / "out"
    outputs.write_set(folder, SET_A)
    real, calls = os.replace, []

    def killed_after_two(src, dst):
        calls.append(dst)
        if len(calls) == 3:
            raise SystemExit("killed")  # as if the process vanished: no clean-up runs below
        return real(src, dst)

    monkeypatch.setattr(outputs, "_roll_back", lambda *a: None)
    monkeypatch.setattr(outputs.os, "replace", killed_after_two)
    monkeypatch.setattr(outputs.os, "unlink", lambda *a: None)
    with pytest.raises(SystemExit):
        outputs.write_set(folder, SET_B)
    monkeypatch.undo()
    mixed = {p.name: p.read_bytes() for p in folder.iterdir() if not p.name.startswith(".")}
    assert mixed != SET_A and mixed != SET_B  # two new files, two old ones
    assert (folder / outputs.JOURNAL_NAME).exists()
    notes = []
    with outputs.folder_lock(str(folder)):
        outputs.recover(str(folder), log=notes.append)
    assert which_set(folder) == "A" and len(notes) == 1 and "rolled back" in notes[0], notes


def test_two_writers_in_threads_each_write_whole_sets(tmp_path):
    folder, errors = tmp_path / "out", []

    def writer(k):
        mine = {name: f"writer {k} {name}\n".encode() * 500 for name in SET_A}
        try:
            for _ in range(15):
                outputs.write_set(folder, mine, log=lambda *a: None)
        except BaseException as e:  # noqa: BLE001 - any exception fails the test
            errors.append(repr(e))

    threads = [threading.Thread(target=writer, args=(k,)) for k in range(3)]
    [t.start() for t in threads]
    [t.join() for t in threads]
    assert errors == []
    found = {p.name: p.read_bytes() for p in folder.iterdir()}
    assert sorted(found) == sorted(SET_A), "stray files (backups, lock, journal)"
    assert len({v.split(b" ")[1] for v in found.values()}) == 1, "a mixed set"


def test_two_writer_processes_share_one_folder(tmp_path):
    folder = tmp_path / "out"
    outputs.write_set(folder, SET_A)
    writers = [start_writer(folder) for _ in range(2)]
    threading.Event().wait(1.0)
    for p in writers:
        p.send_signal(signal.SIGTERM)
    for p in writers:
        out, err = p.communicate(timeout=60)
        assert p.returncode == 143 and err.startswith("interrupted by SIGTERM"), err
    assert which_set(folder) in ("A", "B")


def test_a_writer_that_cannot_get_the_lock_fails_in_one_line(tmp_path, capsys, monkeypatch):
    from filelock import FileLock

    folder = tmp_path / "out"
    outputs.write_set(folder, SET_A)
    monkeypatch.setattr(outputs, "LOCK_WAIT_S", 0.2)
    with FileLock(str(folder / outputs.LOCK_NAME)):
        status, line = one_line(capsys, lambda argv: outputs.write_set(folder, SET_B))
    (folder / outputs.LOCK_NAME).unlink()  # the lock file this test's own FileLock left
    assert status == 1 and line.startswith(f"error: {folder}: another run has been writing")
    assert which_set(folder) == "A"


def test_backup_names_are_unique_per_run(tmp_path, monkeypatch):
    folder = tmp_path / "out"
    outputs.write_set(folder, SET_A)
    real, backups = os.link, []
    monkeypatch.setattr(
        outputs.os, "link", lambda src, dst: backups.append(os.path.basename(dst)) or real(src, dst)
    )
    outputs.write_set(folder, SET_B)
    outputs.write_set(folder, SET_A)
    assert len(backups) == 8 == len(set(backups))
    assert not any(b.endswith(".bin.previous") for b in backups)


def test_sigterm_and_sighup_are_one_line_with_128_plus_the_signal(capsys, stop_signals):
    for signum, status, name in ((signal.SIGTERM, 143, "SIGTERM"), (signal.SIGHUP, 129, "SIGHUP")):

        def stopped(argv, signum=signum):
            signal.raise_signal(signum)
            pytest.fail("the signal did not stop the run")

        before = signal.getsignal(signum)
        assert one_line(capsys, stopped) == (
            status,
            f"interrupted by {name}: no output file was changed",
        )
        assert signal.getsignal(signum) == before


def test_an_ignored_sighup_stays_ignored(capsys, stop_signals):
    previous = signal.signal(signal.SIGHUP, signal.SIG_IGN)
    try:

        def run(argv):
            signal.raise_signal(signal.SIGHUP)  # nohup: nothing happens
            return 0

        assert cli.exit_status(run) == 0
    finally:
        signal.signal(signal.SIGHUP, previous)


# ------------------------------------------- 5. out-dir, seed, paths in errors, one line each


@pytest.mark.parametrize("kind", ["loop", "dangling", "under a loop"])
def test_out_dir_symlink_loop_or_dangling_is_refused(tmp_path, kind):
    link = tmp_path / "models"
    if kind == "dangling":
        link.symlink_to(tmp_path / "nowhere")
    else:
        link.symlink_to(tmp_path / "models")
    out = link / "sub" if kind == "under a loop" else link
    with pytest.raises(DataError, match=f"^{out}: --out-dir"):
        outputs.check_out_dir(out)
    assert sorted(os.listdir(tmp_path)) == ["models"]


def test_out_dir_through_a_good_symlink_is_resolved(tmp_path):
    (tmp_path / "real").mkdir()
    (tmp_path / "link").symlink_to(tmp_path / "real")
    assert outputs.check_out_dir(tmp_path / "link" / "new") == str(tmp_path / "real" / "new")


@pytest.mark.parametrize("value", ["-1", str(2**32), "1.5"])
def test_seed_range_is_checked_with_the_flags(value):
    for parse in (
        lambda a: cli.parse(
            cli.parser(constraints.entry("ex2_a"), "x"), constraints.entry("ex2_a"), a
        ),
        lambda a: __import__("tools.search", fromlist=["x"]).parse_args(["--version", "ex1_a", *a]),
    ):
        with pytest.raises(cli.UsageError, match=f"argument --seed: .*{value}"):
            parse(["--seed", value])
    assert cli.seed(str(2**32 - 1)) == 2**32 - 1 and cli.seeds("0,1,7") == [0, 1, 7]


def test_a_full_disk_names_the_folder_and_keeps_the_previous_set(tmp_path, capsys, monkeypatch):
    folder = tmp_path / "out"
    outputs.write_set(folder, SET_A)

    def full(fd):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(outputs.os, "fsync", full)
    status, line = one_line(capsys, lambda argv: outputs.write_set(folder, SET_B))
    monkeypatch.undo()
    assert (
        status == 1
        and line == f"error: {folder}: No space left on device (writing the output files)"
    )
    assert which_set(folder) == "A"


def test_library_messages_with_newlines_are_folded(tmp_path, capsys):
    from common import jena

    csv = tmp_path / "broken.csv"
    csv.write_text("Date Time,T (degC)\n01.01.2009 00:10:00,1.0\n01.01.2009 00:20:00,2.0,3.0,4.0\n")
    status, line = one_line(capsys, lambda argv: jena.load_series(csv))
    assert status == 1 and line.startswith(f"error: {csv}: ")

    def two_lines(argv):
        raise ValueError("first\nsecond\r\n")

    assert one_line(capsys, two_lines) == (1, "error: first second")


def test_a_model_the_interpreter_cannot_load_is_named_by_its_file(tmp_path, capsys):
    import kws_inference

    model = tmp_path / "broken.tflite"
    model.write_bytes(b"\x10\0\0\0TFL3" + bytes(200))  # the interpreter's message has a newline
    status, line = one_line(
        capsys, kws_inference.run, ["--model", str(model), "--no-sidecar", "--runs", "2"]
    )
    assert status == 1 and line.startswith(f"error: {model}: the interpreter cannot load it")


# --------------------------------------------------------------------------- 6. the search


def test_search_bad_flag_is_one_line_status_1(capsys):
    from tools import search

    status, line = one_line(capsys, search.main, ["--version", "ex2_a", "--no-such-flag"])
    assert status == 1 and line.startswith(
        "error: python -m tools.search: unrecognized arguments: --no-such-flag"
    )
    status, line = one_line(capsys, search.main, ["--version", "ex2_a", "--folds", "1"])
    assert status == 1 and "--folds" in line


@pytest.mark.parametrize("kind", ["garbage", "not sqlite", "no driver", "password hidden"])
def test_search_storage_errors_are_one_line_naming_the_storage(tmp_path, capsys, kind):
    from tools import search

    if kind == "garbage":
        url = shown = "not a url at all"
    elif kind == "not sqlite":
        (tmp_path / "notes.txt").write_text("these are notes, not a database\n" * 100)
        url = shown = f"sqlite:///{tmp_path / 'notes.txt'}"
    elif kind == "no driver":
        url = shown = "mysql+nosuchdriver://u@127.0.0.1/db"
    else:
        url, shown = (
            "postgresql://user:secret@127.0.0.1:1/db",
            "postgresql://user:***@127.0.0.1:1/db",
        )
    status, line = one_line(
        capsys,
        search.main,
        [
            "--version",
            "ex1_a",
            "--trials",
            "0",
            "--storage",
            url,
            "--out-dir",
            str(tmp_path / "out"),
        ],
    )
    assert status == 1 and line.startswith(f"error: {shown}: "), line
    assert "secret" not in line
