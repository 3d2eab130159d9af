"""Faults: a run either finishes with a consistent set of files or changes nothing, and every
bad input is one clear line, before any training.

A refused run is checked against a previous output set of placeholder files in its
--out-dir (sha256 of every file before and after): those tests train nothing. The tests that
need real models (sidecars, kws_inference.py) use ex2_a's session run on the subset
(conftest.kws_script_run) and one ex1_a run on a copy of the 4,000-row Jena sample with gaps
put in (1 epoch); each test copies them into its own folder. Bad inputs are modified copies
written into tmp folders; ../shared is only read.
"""
import errno
import hashlib
import json
import os
import shutil
import signal
import stat
import subprocess
import sys
from pathlib import Path

import pytest

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
    return subprocess.run([sys.executable, *map(str, args)], cwd=ROOT, capture_output=True,
                          text=True, timeout=timeout, umask=0o022, env=env)


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
    return {p.name: ("<dir>" if p.is_dir() else hashlib.sha256(p.read_bytes()).hexdigest())
            for p in sorted(folder.iterdir())}


def strict_json(text):
    return json.loads(text, parse_constant=lambda c: pytest.fail(f"JSON holds {c} (not strict JSON)"))


def copy_set(src, dst):
    shutil.copytree(src, dst)
    return Path(dst)


def tiny_split_lines(step=24):
    """Every `step`-th line of each shared split file, every label in train."""
    lines = {w: (need(SPLIT_DIR) / f"kws_split_{w}.txt").read_text().split()[::step]
             for w in ("train", "val", "test")}
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
    for row, column, value in ((100, "T (degC)", "-9999"), (101, "T (degC)", "-9999"),
                               (700, "rh (%)", "inf"), (1500, "T (degC)", ""),
                               (2300, "rh (%)", ""), (3000, "T (degC)", "-inf"),
                               (3300, "rh (%)", "-9999"), (3800, "T (degC)", "-9999")):
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
    r = run("ex1_a.py", "--data", gapped_csv, "--out-dir", out, "--epochs", 1, "--quiet", timeout=600)
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
    (root / "yes" / "broken_nohash_0.wav").write_bytes(b"RIFF\x10\x00\x00\x00garbage, not a wav" * 3)
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
    for kind in ("T (degC): missing-value code", "T (degC): empty or NaN", "T (degC): infinite",
                 "rh (%): infinite", "rh (%): empty or NaN", "rh (%): missing-value code"):
        assert kind in kinds, (kind, gaps["counts"])


# ----------------------------------------------------- bad flags: one line, before anything

@pytest.mark.parametrize("script, args, names", [
    ("ex2_a.py", ["--epochs", "0"], ["--epochs", "0"]),
    ("ex2_a.py", ["--latency-runs", "0"], ["--latency-runs"]),
    ("ex2_a.py", ["--no-such-flag"], ["--no-such-flag"]),
    ("ex2_a.py", ["--version", "b"], ["ex2_b.py"]),
    ("ex1_a.py", ["--version", "b"], ["ex1_b.py"]),
    ("ex1_a.py", ["--seed", "x", "--verbose"], ["--seed"]),
    ("ex2_a.py", ["--seed", "-1"], ["--seed", "-1"]),
    ("ex1_a.py", ["--seed", str(2**32)], ["--seed", str(2**32)]),
])
def test_bad_flag_is_one_line_and_changes_nothing(gapped_csv, tiny, tmp_path, script, args, names):
    out = previous_set(tmp_path / "models", TH_FILES if script.startswith("ex1") else KWS_FILES)
    before = snapshot(out)
    data = ["--data", gapped_csv] if script.startswith("ex1") else \
        ["--data", WAVS, "--split-dir", tiny[1]]
    r = probe(script, *data, "--out-dir", out, *args)
    refused_before_training(r, *names)
    assert snapshot(out) == before


# ------------------------------------------------ output folder and data path, before TF

@pytest.mark.parametrize("script, where", [("ex2_a.py", "a file"), ("ex2_a.py", "under a file"),
                                           ("ex1_a.py", "under a file"), ("ex2_a.py", "a symlink loop"),
                                           ("ex1_a.py", "a dangling symlink")])
def test_out_dir_that_cannot_be_a_folder(gapped_csv, tiny, tmp_path, script, where):
    blocker = tmp_path / "models"
    if "symlink" in where:
        blocker.symlink_to(tmp_path / ("models" if "loop" in where else "nowhere"))
    else:
        blocker.write_bytes(b"a file in the way\n")
    out = blocker / "sub" / "dir" if where == "under a file" else blocker
    data = ["--data", gapped_csv] if script == "ex1_a.py" else ["--data", WAVS, "--split-dir", tiny[1]]
    r = probe(script, *data, "--out-dir", out, "--epochs", 1)
    refused_before_training(r, out, "--out-dir")
    if "symlink" not in where:
        assert blocker.read_bytes() == b"a file in the way\n"
    assert sorted(os.listdir(tmp_path)) == ["models"]


@pytest.mark.parametrize("script, what", [("ex2_b.py", "missing"), ("ex2_b.py", "empty folder"),
                                          ("ex1_b.py", "missing")])
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


@pytest.mark.parametrize("case", ["missing listed wav", "unknown label folder", "empty file",
                                  "no test split file"])
def test_bad_split_file_is_refused_before_training(tiny, tmp_path, case):
    lines = tiny[0]
    split = tmp_path / "split"
    if case == "missing listed wav":
        write_split(split, lines, extra={"val": [NOBODY]})
        names = [split / "kws_split_val.txt", "nobody_nohash_0.wav"]
    elif case == "unknown label folder":
        write_split(split, lines, extra={"train": ["./data/mini_speech_commands/cat/x_nohash_0.wav"]})
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
    r = probe("ex2_a.py", "--data", WAVS, "--split-dir", split, "--out-dir", out, "--epochs", 1,
              "--latency-runs", 1)
    refused_before_training(r, *names)
    assert snapshot(out) == before


@pytest.mark.parametrize("which, name", [("test", "broken"), ("train", "broken"), ("train", "nan"),
                                         ("val", "one_hertz")])
def test_corrupt_wav_in_any_split_is_refused_before_training(tiny, wav_tree, tmp_path, which, name):
    split = write_split(tmp_path / "split", tiny[0],
                        extra={which: [f"./data/mini_speech_commands/yes/{name}_nohash_0.wav"]})
    out = previous_set(tmp_path / "models", KWS_FILES)
    before = snapshot(out)
    r = probe("ex2_c.py", "--data", wav_tree, "--split-dir", split, "--out-dir", out,
              "--epochs", 1, "--latency-runs", 1)  # progress bars on: an epoch would show
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
    p = subprocess.Popen([sys.executable, "ex2_a.py", "--data", str(WAVS), "--split-dir",
                          str(tiny[1]), "--out-dir", str(out), "--epochs", "40", "--latency-runs", "1"],
                         cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, umask=0o022,
                         env={**os.environ, "PYTHONUNBUFFERED": "1"}, preexec_fn=default_stop_signals)
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

OLD = {"m.tflite": b"old model", "m.tflite.zip": b"old zip", "m.json": b'{"old": 1}\n',
       "m.png": b"old picture"}
NEW = {"m.tflite": b"new model!", "m.tflite.zip": b"new zip!", "m.json": b'{"new": 2}\n',
       "m.png": b"new picture!"}


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


@pytest.mark.parametrize("exc", [KeyboardInterrupt(), OSError(errno.ENOSPC, "No space left on device")],
                         ids=["KeyboardInterrupt", "OSError"])
def test_write_set_failing_mid_renames_restores_the_previous_set(old_set, monkeypatch, exc):
    from common import outputs
    before = snapshot(old_set)
    failing_on(2, exc, monkeypatch)
    with pytest.raises(type(exc)):
        outputs.write_set(old_set, NEW)
    monkeypatch.undo()
    assert {name: (old_set / name).read_bytes() for name in OLD} == OLD
    assert snapshot(old_set) == before, f"stray files: {sorted(set(os.listdir(old_set)) - set(OLD))}"


def test_write_set_failing_mid_renames_leaves_nothing_new(tmp_path, monkeypatch):
    from common import outputs
    out = tmp_path / "fresh"
    failing_on(2, OSError(errno.EIO, "Input/output error"), monkeypatch)
    with pytest.raises(OSError):
        outputs.write_set(out, NEW)
    monkeypatch.undo()
    assert not out.exists() or os.listdir(out) == [], os.listdir(out)


def test_ctrl_c_during_the_renames_is_held_until_the_new_set_is_complete(old_set, monkeypatch, capsys,
                                                                          stop_signals):
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
    assert rc == 130 and capsys.readouterr().err == "interrupted: after the new output files were all written\n"


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


@pytest.mark.parametrize("from_call", [1, 2], ids=["no hard links at all", "link fails on 2nd file"])
def test_write_set_without_hard_links_writes_the_new_set(old_set, monkeypatch, from_call):
    """Without hard links the previous files are backed up as copies: the new set is written,
    nothing else is left."""
    calls = without_hard_links(monkeypatch, from_call)
    from common import outputs
    outputs.write_set(old_set, NEW)
    monkeypatch.undo()
    assert len(calls) == len(OLD), "a previous file was not backed up"
    assert contents(old_set) == NEW


@pytest.mark.parametrize("from_call", [1, 2], ids=["no hard links at all", "link fails on 2nd file"])
def test_write_set_without_hard_links_failing_mid_renames_restores_the_copies(old_set, monkeypatch, from_call):
    """The copies are what a failure puts back: the previous set, byte-identical, no stray file."""
    from common import outputs
    before = snapshot(old_set)
    without_hard_links(monkeypatch, from_call)
    failing_on(3, OSError(errno.EIO, "Input/output error"), monkeypatch)
    with pytest.raises(OSError, match="Input/output error"):
        outputs.write_set(old_set, NEW)
    monkeypatch.undo()
    assert contents(old_set) == OLD
    assert snapshot(old_set) == before, f"stray files: {sorted(set(os.listdir(old_set)) - set(OLD))}"


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
def test_bad_sidecar_is_one_line_naming_the_json(kws_set, th_set, tiny, tmp_path, capsys, tool, case):
    models = copy_set(kws_set[0], tmp_path / "models")
    sidecar = spoil_sidecar(case, models, th_set[0])
    model = models / ("kws_a.tflite.zip" if "checksum" in case else "kws_a.tflite")
    if tool == "evaluate":  # in-process: fast; the command itself is run in the test below
        from tools import evaluate
        r = in_process(capsys, evaluate.run, [model, "--data", WAVS, "--split",
                                              tiny[1] / "kws_split_test.txt"])
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
    r = run("kws_inference.py", "--model", models / "kws_a.tflite", "--no-sidecar", "--rate", 16000,
            "--mfcc", "--length", 640, "--stride", 320, "--bins", 40, "--coeff", 10,
            "--lower-frequency", 20, "--upper-frequency", 4000, "--runs", 2, timeout=120)
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
    r = run("kws_inference.py", "--model", kws_set[0] / "kws_a.tflite", "--wav", folder, timeout=120)
    assert one_error(r, folder).startswith(f"error: {folder}: 1 of 4 wav files unreadable")
    out = r.stdout.splitlines()
    labelled = [ln.split() for ln in out if ln.startswith(str(folder))]
    assert sorted(ln[0] for ln in labelled) == sorted(map(str, good))
    assert all(ln[1] in LABELS and 0 < float(ln[2]) <= 1 for ln in labelled)
    summary = [i for i, ln in enumerate(out) if ln.startswith("Summary:")]
    assert len(summary) == 1 and "3 of 4" in out[summary[0]], r.stdout
    unreadable = [i for i, ln in enumerate(out) if str(broken) in ln]
    assert len(unreadable) == 1 and unreadable[0] > summary[0], "the unreadable file is not listed at the end"


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
@pytest.mark.parametrize("exc, rc", [(OSError(errno.ENOSPC, "No space left on device"), 1),
                                     (KeyboardInterrupt(), 130)], ids=["OSError", "KeyboardInterrupt"])
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
        assert {n: (out / n).read_text() for n in before} == \
            {f"kws_split_{w}.txt": f"old {w}\n" for w in ("train", "val", "test")}
        assert snapshot(out) == before, f"stray files: {sorted(set(os.listdir(out)) - set(before))}"
    else:
        assert not out.exists() or os.listdir(out) == [], f"partial set left: {os.listdir(out)}"
