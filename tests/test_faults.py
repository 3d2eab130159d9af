"""Hostile and broken inputs (docs/robustness.md lists each class with its tests; writing output
sets is tests/test_outputs.py): one line naming the file and what was expected, status 1, before
any training or large allocation, nothing changed. The scripts' refusals run as one batch: one
process loads what the checks need, then forks a child per case that runs `python SCRIPT ARGS`
and says whether TensorFlow was imported (training needs it). "Before it costs anything" is
shown by the order of the work: the step that would allocate fails the test if reached.
"""

import json
import os
import shutil
import signal
import struct
import subprocess
import sys
import tracemalloc
import zipfile
import zlib
from pathlib import Path

import numpy as np
import pytest
from scipy.io import wavfile

from common import cli, modelfile, outputs, tflite_io, wav
from common.errors import DataError
from common.frontend_np import LABELS, MFCC_8K, MFCC_16K, FrontEnd
from conftest import ROOT, default_stop_signals, run_python
from test_outputs import interrupted, one_line, tiny_tflite

SHARED = ROOT / ".." / "shared" / "data"
WAVS = SHARED / "mini_speech_commands"
KWS_FILES = ["kws_a.tflite", "kws_a.tflite.zip", "kws_a.json", "kws_a.png"]
TH_FILES = ["th_a.tflite", "th_a.tflite.zip", "th_a.json", "th_a.png"]


def need(path):
    if not path.exists():
        pytest.skip(f"{path} (../shared/data from the repository root) not found")
    return path


def snapshot(folder):
    """{path under `folder`: its bytes, True (a folder) or its link's target}; None if absent."""
    found = {}
    for root, dirs, files in os.walk(folder):  # links not followed
        for p in (Path(root, n) for n in dirs + files):
            found[str(p.relative_to(folder))] = (
                os.readlink(p) if p.is_symlink() else p.is_dir() or p.read_bytes()
            )
    return found if os.path.lexists(folder) else None


write_wav = lambda path, rate, data: (wavfile.write(str(path), rate, data), path)[1]


def must_not_run(what):
    def fail(*args, **kwargs):
        pytest.fail(f"{what} was reached: the input was not refused before it")

    return fail


def previous_set(folder, names):
    folder.mkdir()
    for name in names:
        (folder / name).write_bytes(f"previous {name}\n".encode())
    return folder


def write_split(folder, lines, extra=None, replace=None):
    """kws_split_{train,val,test}.txt in `folder`: `lines`, plus `extra` lines of a split, or a
    split's content `replace`d."""
    folder.mkdir(parents=True, exist_ok=True)
    for w, ls in lines.items():
        text = "\n".join(ls + (extra or {}).get(w, [])) + "\n"
        (folder / f"kws_split_{w}.txt").write_text((replace or {}).get(w, text))
    return folder


# ------------------------------------------- the scripts' refusals, before TensorFlow loads

PROBE = r"""
import json, os, runpy, sys, traceback
import common.cli, common.forecast, common.jena, common.kws, common.pipeline, scipy.signal
folder, codes = sys.argv[1], []
for i, argv in enumerate(json.loads(sys.stdin.read())):
    pid = os.fork()
    if pid == 0:
        code = 1
        try:
            for fd, name in ((1, "out"), (2, "err")):
                os.dup2(os.open(f"{folder}/{i}.{name}", os.O_WRONLY | os.O_CREAT, 0o644), fd)
            sys.argv = argv[1:] if argv[0] == "-m" else argv
            if argv[0] == "-m":
                sys.modules.pop(argv[1], None)  # imported by the others: run afresh
                runpy.run_module(argv[1], run_name="__main__", alter_sys=True)
            else:
                runpy.run_path(argv[0], run_name="__main__")
            code = 0
        except SystemExit as e:
            code = e.code if isinstance(e.code, int) else e.code is not None
        except BaseException:
            traceback.print_exc()
        finally:
            print("\nPROBE tensorflow imported: %s" % ("tensorflow" in sys.modules))
            sys.stdout.flush(), sys.stderr.flush()
            os._exit(code)
    codes.append(os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]))
print(json.dumps(codes))
"""


def probe_all(argvs, folder):
    """(status, stdout ending with whether TensorFlow was imported, stderr) of each argv."""
    folder.mkdir()
    argvs = json.dumps([[str(a) for a in argv] for argv in argvs])
    r = subprocess.run(
        [sys.executable, "-c", PROBE, str(folder)],
        input=argvs,
        cwd=ROOT,
        capture_output=True,
        text=True,
        umask=0o022,
        timeout=600,
    )
    assert r.returncode == 0, r.stderr[-3000:]
    return [
        (rc, *((folder / f"{i}.{s}").read_text() for s in ("out", "err")))
        for i, rc in enumerate(json.loads(r.stdout))
    ]


def script_args(t, inputs, script, data=None, split=None, out=None):
    """`script`'s argv on the tiny inputs; --out-dir: a previous set in case folder `t`."""
    ex1 = script.startswith("ex1")
    out = out or previous_set(t / "models", TH_FILES if ex1 else KWS_FILES)
    args = ["--data", data or (inputs.csv if ex1 else WAVS)]
    if not ex1:
        args += ["--split-dir", split or inputs.split, "--latency-runs", 1]
    return [script, *args, "--out-dir", out, "--epochs", 1]


def bad_flag(t, inputs, script, flags, names):
    return script_args(t, inputs, script) + flags.split(), names.split()


def bad_out_dir(t, inputs, script, where):
    blocker = t / "models"
    if where == "a symlink loop":
        blocker.symlink_to(blocker)
    elif where == "a dangling symlink":
        blocker.symlink_to(t / "nowhere")
    else:
        blocker.write_bytes(b"a file in the way\n")
    out = blocker / "sub" / "dir" if where == "under a file" else blocker
    return script_args(t, inputs, script, out=out), [out, "--out-dir"]


def no_data(t, inputs, script, what):
    data = t / "nowhere" / "data"  # nothing may be created there, nor downloaded
    if what == "empty folder":
        data.mkdir(parents=True)
    return script_args(t, inputs, script, data=data, out=t / "models"), [data]


def bad_split(t, inputs, script, which, line, names):
    """`script` on the tiny split, its `which` split file given the `line` <label>/<name> (of
    a wav), emptied (line ""), or removed (None); `names`: the error's, split by '|'."""
    extra = {which: [f"./data/mini_speech_commands/{line}_nohash_0.wav"]} if line else None
    split = write_split(t / "split", inputs.lines, extra, {which: "\n\n"} if line == "" else None)
    if line is None:
        (split / f"kws_split_{which}.txt").unlink()
    names = names.format(split=split, wavs=inputs.wav_tree).split("|")
    return script_args(t, inputs, script, data=inputs.wav_tree, split=split), names


def mostly_missing_csv(t, inputs):
    import pandas as pd

    roof = need(SHARED / "jena_mpi_roof_2024_jun_sep.csv")
    frame = pd.read_csv(roof, encoding="latin-1", dtype=str, keep_default_na=False)
    frame.loc[frame.index % 10 != 0, "T (degC)"] = "-9999"  # 90 % of T missing
    bad = t / "roof_mostly_missing.csv"
    frame.to_csv(bad, index=False, encoding="latin-1", lineterminator="\r\n")
    return script_args(t, inputs, "ex1_a.py", data=bad), [bad, "gap"]


CASES = {  # id: (builder, its arguments): every way in, one case or more
    "ex2_a --epochs 0": (bad_flag, "ex2_a.py", "--epochs 0", "--epochs 0"),
    "ex2_a --latency-runs 0": (bad_flag, "ex2_a.py", "--latency-runs 0", "--latency-runs"),
    "ex2_a --no-such-flag": (bad_flag, "ex2_a.py", "--no-such-flag", "--no-such-flag"),
    "ex2_a --version b": (bad_flag, "ex2_a.py", "--version b", "ex2_b.py"),
    "ex1_a --version b": (bad_flag, "ex1_a.py", "--version b", "ex1_b.py"),
    "ex1_a --seed x": (bad_flag, "ex1_a.py", "--seed x --verbose", "--seed"),
    "ex2_a --seed -1": (bad_flag, "ex2_a.py", "--seed -1", "--seed -1"),
    "ex1_a --seed 2**32": (bad_flag, "ex1_a.py", "--seed 4294967296", "--seed 4294967296"),
    "ex2_c --seed 1.5": (bad_flag, "ex2_c.py", "--seed 1.5", "--seed 1.5"),
    "ex2_a --out-dir a file": (bad_out_dir, "ex2_a.py", "a file"),
    "ex2_a --out-dir under a file": (bad_out_dir, "ex2_a.py", "under a file"),
    "ex1_a --out-dir under a file": (bad_out_dir, "ex1_a.py", "under a file"),
    "ex2_a --out-dir a symlink loop": (bad_out_dir, "ex2_a.py", "a symlink loop"),
    "ex1_a --out-dir a dangling symlink": (bad_out_dir, "ex1_a.py", "a dangling symlink"),
    "ex2_b --data missing": (no_data, "ex2_b.py", "missing"),
    "ex2_b --data an empty folder": (no_data, "ex2_b.py", "empty folder"),
    "ex1_b --data missing": (no_data, "ex1_b.py", "missing"),
    "split: wav missing": (bad_split, "ex2_a.py", "val", "yes/x", "{split}/kws_split_val|yes/x_"),
    "split: label cat": (bad_split, "ex2_a.py", "train", "cat/x", "{split}/kws_split_train|cat/x_"),
    "split: empty file": (bad_split, "ex2_a.py", "test", "", "{split}/kws_split_test.txt|empty"),
    "split: no test file": (bad_split, "ex2_a.py", "test", None, "{split}|kws_split_test.txt"),
    "wav: broken in test": (bad_split, "ex2_c.py", "test", "yes/broken", "{wavs}/yes/broken_"),
    "wav: broken in train": (bad_split, "ex2_c.py", "train", "yes/broken", "{wavs}/yes/broken_"),
    "wav: a NaN sample in train": (bad_split, "ex2_c.py", "train", "yes/nan", "{wavs}/yes/nan_"),
    "wav: 1 Hz in val": (bad_split, "ex2_c.py", "val", "yes/one_hertz", "{wavs}/yes/one_hertz_"),
    "csv: 90 % of T missing": (mostly_missing_csv,),
}


def gapped_sample(path):
    """The 4,000-row Jena sample with gaps: -9999, ±inf and empty values in T and RH."""
    import pandas as pd

    frame = pd.read_csv(need(SHARED / "jena_climate_2009_sample.csv"), dtype=str)
    T, RH = "T (degC)", "rh (%)"
    frame.loc[[100, 101, 3800], T], frame.loc[1500, T], frame.loc[3000, T] = "-9999", "", "-inf"
    frame.loc[700, RH], frame.loc[2300, RH], frame.loc[3300, RH] = "inf", "", "-9999"
    frame.to_csv(path, index=False)
    return path


GAP_COUNTS = {  # in gapped_sample: each counted once
    **{f"rh (%): {k}": 1 for k in ("missing-value code (<= -999)", "empty or NaN", "infinite")},
    **{f"T (degC): {k}": 1 for k in ("empty or NaN", "infinite")},
    "T (degC): missing-value code (<= -999)": 3,
}


@pytest.fixture(scope="module")
def refusals(tiny_subset, tmp_path_factory):
    """{case: (its run, names, snapshot of its folder before, after)}, run in one batch on the
    tiny split (conftest), a wav folder of links to its wavs plus yes/broken, yes/nan (a NaN
    sample) and yes/one_hertz (declares 1 Hz), and the gapped Jena sample."""
    base = tmp_path_factory.mktemp("refusals")
    split = tiny_subset[1]
    lines = {
        w: (split / f"kws_split_{w}.txt").read_text().split() for w in ("train", "val", "test")
    }
    wavs, csv = base / "wavs", gapped_sample(base / "jena_gaps.csv")
    for label, name in (ln.split("/")[-2:] for ln in sum(lines.values(), [])):
        (wavs / label).mkdir(parents=True, exist_ok=True)
        (wavs / label / name).symlink_to(WAVS / label / name)
    (wavs / "yes" / "broken_nohash_0.wav").write_bytes(b"RIFF\x10\0\0\0garbage, not a wav" * 3)
    write_wav(wavs / "yes" / "nan_nohash_0.wav", 16000, np.array([0.1, np.nan] * 8000, "f4"))
    write_wav(wavs / "yes" / "one_hertz_nohash_0.wav", 1, np.zeros(16000, np.int16))  # 32 KB
    inputs = type("Inputs", (), dict(split=split, lines=lines, wav_tree=wavs, csv=csv))
    cases = {}
    for k, (case, (build, *params)) in enumerate(CASES.items()):
        (t := base / f"case{k}").mkdir()
        argv, names = build(t, inputs, *params)
        cases[case] = (t, argv, names, snapshot(t))
    runs = probe_all([argv for _, argv, _, _ in cases.values()], base / "probe")
    return {
        c: (r, n, before, snapshot(t)) for (c, (t, _, n, before)), r in zip(cases.items(), runs)
    }


@pytest.mark.parametrize("case", CASES)
def test_bad_input_is_one_line_before_training_and_changes_nothing(refusals, case):
    (status, out, err), names, before, after = refusals[case]
    assert "Traceback" not in err and status == 1, (status, err[-3000:])
    assert err.count("\n") == 1 and err.startswith("error: "), err[-2000:]
    assert all(str(name) in err for name in names), (names, err)
    assert out.endswith("\nPROBE tensorflow imported: False\n"), "TensorFlow was imported"
    assert "Epoch" not in out and after == before, "a run, or a change in the case's folder"


# ----------------------------------------------------------- whole runs, Jena CSV gaps


def test_each_missing_value_is_counted_once(tmp_path):
    from common import jena

    assert jena.load_series(gapped_sample(tmp_path / "gaps.csv")).gaps == GAP_COUNTS


@pytest.mark.slow
def test_good_forecast_run_on_gapped_data_counts_the_gaps(tmp_path):
    csv, out = gapped_sample(tmp_path / "jena_gaps.csv"), tmp_path / "th"
    r = run_python("ex1_a.py", "--data", csv, "--out-dir", out, "--epochs", 1, "--quiet")
    assert r.returncode in (0, 2) and r.stderr == "", f"not quiet:\n{r.stderr[-2000:]}"
    assert sorted(os.listdir(out)) == sorted(TH_FILES), "stray or missing files"
    notes = [ln for ln in r.stdout.splitlines() if ln.startswith("note:")]
    assert len(notes) == 1 and str(csv) in notes[0] and "windows dropped" in notes[0], r.stdout
    described = modelfile.open_model(out / "th_a.tflite", kind="forecast")  # the set is whole
    gaps = described.report["data"]["gaps"]
    assert gaps["counts"] == GAP_COUNTS and gaps["windows_kept"] > 3000
    assert f"{gaps['windows_dropped']:,} of" in notes[0] and gaps["windows_dropped"] > 0


@pytest.mark.slow
def test_ctrl_c_during_training_is_one_line_130_and_changes_nothing(tiny_subset, tmp_path):
    before = snapshot(out := previous_set(tmp_path / "models", KWS_FILES))
    argv = [sys.executable, "ex2_a.py", "--data", tiny_subset[0], "--split-dir", tiny_subset[1]]
    argv += ["--out-dir", out, "--epochs", "40", "--latency-runs", "1"]
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    pipe = subprocess.PIPE
    p = subprocess.Popen(
        argv, cwd=ROOT, stdout=pipe, stderr=pipe, env=env, preexec_fn=default_stop_signals
    )
    try:  # until Keras prints its first epoch (or the run ends: EOF)
        assert next((ln for ln in p.stdout if ln.startswith(b"Epoch")), None), p.stderr.read()
        p.send_signal(signal.SIGINT)
        err = p.communicate()[1].decode()
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
    assert "Traceback" not in err and p.returncode == 130, (p.returncode, err[-3000:])
    assert len(err.splitlines()) == 1 and err.startswith("interrupted"), err[-2000:]
    assert snapshot(out) == before


# ------------------------------------------------------------- 1. bounds on sizes from files


def nan_at(*where):
    data = np.zeros(16000, np.float32)
    data[list(where)] = np.nan, -np.inf, np.inf
    return data


@pytest.mark.parametrize(
    "rate, data, error",
    [
        (1, np.zeros(16000, np.int16), "sample rate 1 Hz"),  # 32 KB, 2 GB resampled
        (2_147_483_647, np.zeros(21475, np.int16), "sample rate 2,147,483,647 Hz"),  # 320 GiB
        (999, np.zeros(999, np.int16), "sample rate 999 Hz"),
        (384_001, np.zeros(38400, np.int16), "sample rate 384,001 Hz"),
        (1_000, np.zeros(61000, np.int16), "61.0 s of samples"),
        (16000, nan_at(10, 500, 9000), "3 of 16,000 samples are NaN or infinite"),
    ],
    ids=["1 Hz", "2**31-1 Hz", "999 Hz", "384,001 Hz", "61 s", "NaN and inf"],
)
def test_hostile_wav_is_refused_before_resampling(tmp_path, monkeypatch, rate, data, error):
    path = write_wav(tmp_path / "hostile.wav", rate, data)
    assert path.stat().st_size < 200_000
    monkeypatch.setattr(wav, "resample", must_not_run("resampling"))
    with pytest.raises(wav.WavError, match=f"^{path}: {error}") as e:
        wav.read_wav(path)
    assert "bound" in str(e.value) or "expected finite samples" in str(e.value)


def test_wav_bounds_let_real_recordings_through(tmp_path):
    for rate, seconds in ((8_000, 1.0), (48_000, 59.0), (192_000, 1.0), (1_000, 60.0)):
        path = write_wav(tmp_path / f"{rate}.wav", rate, np.zeros(int(rate * seconds), np.int16))
        assert wav.read_wav(path).shape == (16000,)


SIZE_BOUNDS = {"huge.wav": (wav.MAX_BYTES, wav.read_wav)}
SIZE_BOUNDS["big.tflite"] = tflite_io.MAX_MODEL_BYTES, tflite_io.read_model_bytes


@pytest.mark.parametrize("name", SIZE_BOUNDS)
def test_file_size_is_bounded_before_reading(tmp_path, monkeypatch, name):
    bound, read = SIZE_BOUNDS[name]
    (big := tmp_path / name).write_bytes(b"RIFF\0\0\0\0TFL3WAVE")
    os.truncate(big, bound + 1)  # sparse: no disk used
    monkeypatch.setattr("builtins.open", must_not_run("opening the file"))
    with pytest.raises(ValueError, match=f"^{big}: (the file is )?{bound + 1:,} bytes, over "):
        read(big)


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
    raw, size = name.encode(), mib * 2**20 if declared is None else declared
    fields = struct.pack(
        "<HHHHHIIIH", 20, 0, zipfile.ZIP_DEFLATED, 0, 0x21, crc, len(data), size, len(raw)
    )
    local = b"PK\x03\x04" + fields + struct.pack("<H", 0) + raw
    central = b"PK\x01\x02" + struct.pack("<H", 20) + fields + bytes(16) + raw
    end = struct.pack("<HHHHIIH", 0, 0, 1, 1, len(central), len(local) + len(data), 0)
    Path(path).write_bytes(local + data + central + b"PK\x05\x06" + end)
    return Path(path)


@pytest.mark.parametrize(
    "declared, message",
    [
        (None, "its .tflite, inflated, is 1,073,741,824 bytes, over the bound of 16,777,216"),
        (1000, "unreadable \\(BadZipFile: Bad CRC-32"),  # read to the 1,000 bytes it declares
    ],
    ids=["a zip bomb", "a zip that lies about its size"],
)
def test_zip_member_is_inflated_no_further_than_the_bound_or_what_it_says(
    tmp_path, monkeypatch, declared, message
):
    bomb = bomb_zip(tmp_path / "kws_a.tflite.zip", declared=declared)
    assert bomb.stat().st_size < 1.1e6
    if declared is None:  # it says 1 GiB (and inflates to it, CRC right): not even opened
        with zipfile.ZipFile(bomb) as zf:
            assert zf.infolist()[0].file_size == 2**30
        monkeypatch.setattr(zipfile.ZipFile, "open", must_not_run("opening the zip member"))
    tracemalloc.start()
    try:
        with pytest.raises(tflite_io.ModelFileError, match=f"^{bomb}: {message}"):
            tflite_io.read_model_bytes(bomb)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 4 * 2**20, f"{peak:,} bytes allocated while refusing it"


HUGE = {"num_mel_bins": 10**7, "rate": 2**31 - 1, "frame_length": 10**9, "fft_length": 2**31}
HUGE |= {"num_coefficients": 10**6, "frame_step": 10**12}
ARRAYS = {  # each of the front end's arrays over 4,194,304 values (16 MB of float32)
    "spectrogram": {"frame_step": 1, "frame_length": 8000, "fft_length": None},
    "mel": {"rate": 48000, "frame_length": 48000, "fft_length": 2**16, "num_mel_bins": 256},
    "resize": {"mfcc": False, "resize": 1024, "frame_length": 16000, "fft_length": 2**16},
}


@pytest.mark.parametrize("case", [*HUGE, *ARRAYS])
def test_frontend_fields_and_arrays_are_bounded(case):
    problems = FrontEnd(**ARRAYS.get(case, {case: HUGE.get(case)})).problems()
    if case in HUGE:
        assert problems[0].startswith(f"'{case}' is {HUGE[case]}; expected a whole number in [")
    else:
        assert (
            problems[0].startswith(f"the {case}") and "over the bound of 4,194,304" in problems[0]
        )
    assert all(cfg.problems() == [] for cfg in (MFCC_16K, MFCC_8K, modelfile.COURSE_DEFAULTS))


# ---------------------------------------------- 2. corrupt and NaN wavs in kws_inference --wav


def test_wav_folder_with_one_corrupt_file_labels_the_others_and_lists_it_last(tmp_path, capsys):
    import kws_inference

    model, folder = tmp_path / "kws.tflite", tmp_path / "wavs"
    model.write_bytes(tiny_tflite(0))
    good = []
    for label in ("yes", "no", "up"):
        (folder / label).mkdir(parents=True)
        src = sorted((need(WAVS) / label).iterdir())[0]
        good.append(shutil.copyfile(src, folder / label / src.name))
    (broken := folder / "yes" / "broken_nohash_0.wav").write_bytes(b"\x00\x01 not a wav" * 10)
    nan = write_wav(folder / "no" / "nan_nohash_0.wav", 16000, np.array([0, np.nan] * 8000, "f4"))
    argv = ["--model", str(model), "--wav", str(folder)]
    status, line, out = one_line(capsys, kws_inference.run, argv)
    assert status == 1 and line.startswith(f"error: {folder}: 2 of 5 wav files unreadable")
    out = out.splitlines()
    labelled = [ln.split() for ln in out if ln.startswith(str(folder))]
    assert sorted(ln[0] for ln in labelled) == sorted(map(str, good))
    assert all(ln[1] in LABELS and 0 < float(ln[2]) <= 1 for ln in labelled)
    summary = [i for i, ln in enumerate(out) if ln.startswith("Summary:")]
    assert len(summary) == 1 and "3 of 5" in out[summary[0]], out
    unreadable = [i for i, ln in enumerate(out) if str(broken) in ln or str(nan) in ln]
    assert unreadable == [len(out) - 2, len(out) - 1], "not listed last"


# --------------------------------------------- 4. stop signals (writing a set: test_outputs)


@pytest.mark.parametrize(
    "signum, ignored", [(signal.SIGTERM, 0), (signal.SIGHUP, 0), (signal.SIGHUP, 1)]
)
def test_sigterm_and_sighup_are_one_line_with_128_plus_the_signal_unless_ignored(
    capsys, stop_signals, signum, ignored
):
    if ignored:
        signal.signal(signum, signal.SIG_IGN)  # nohup; the fixture restores the handler
    before = signal.getsignal(signum)
    status = cli.exit_status(lambda argv: signal.raise_signal(signum) or 0)
    line = "" if ignored else interrupted(signum, written=False) + "\n"
    assert (status, capsys.readouterr().err) == (0 if ignored else 128 + signum, line)
    assert signal.getsignal(signum) == before


# ------------------------------------------- 5. out-dir, seed, paths in errors, one line each


@pytest.mark.parametrize("kind", ["loop", "dangling", "under a loop", "good"])
def test_out_dir_is_resolved_through_symbolic_links(tmp_path, kind, monkeypatch):
    link, real = tmp_path / "models", tmp_path / ("real" if kind == "good" else "nowhere")
    link.symlink_to(real if kind in ("good", "dangling") else link)
    if kind == "good":
        real.mkdir()
        assert outputs.check_out_dir(link / "new") == str(real / "new")
        (real / "file").write_text("")
        monkeypatch.chdir(tmp_path)  # a relative path is named as typed
        with pytest.raises(DataError, match="^models/file/x: --out-dir lies under the file /"):
            outputs.check_out_dir("models/file/x")
        return
    out = link / "sub" if kind == "under a loop" else link
    with pytest.raises(DataError, match=f"^{out}: --out-dir"):
        outputs.check_out_dir(out)
    assert os.listdir(tmp_path) == ["models"]


def test_the_largest_seed_is_accepted():
    assert cli.seed(str(2**32 - 1)) == 2**32 - 1 and cli.seeds("0,1,7") == [0, 1, 7]


def test_library_messages_with_newlines_are_folded(tmp_path, capsys):
    from common import jena

    csv = tmp_path / "broken.csv"
    csv.write_text("Date Time,T (degC)\n01.01.2009 00:10:00,1.0\n01.01.2009 00:20:00,2.0,3.0,4.0\n")
    status, line, _ = one_line(capsys, lambda argv: jena.load_series(csv))
    assert status == 1 and line.startswith(f"error: {csv}: ")

    def two_lines(argv):
        raise ValueError("first\nsecond\r\n")

    assert one_line(capsys, two_lines)[:2] == (1, "error: first second")


def test_a_model_the_interpreter_cannot_load_is_named_by_its_file(tmp_path, capsys):
    import kws_inference

    model = tmp_path / "old_schema.tflite"  # the interpreter's message has a newline
    model.write_bytes(tiny_tflite(0, version=0))
    status, line, _ = one_line(capsys, kws_inference.run, ["--model", str(model), "--runs", "2"])
    assert status == 1 and line.startswith(f"error: {model}: the interpreter cannot load it")
    assert "schema version 0" in line


# --------------------------------------------------------------------------- 6. the search


@pytest.mark.parametrize(
    "flags, line",
    [
        ("--no-such-flag", "python -m tools.search: unrecognized arguments: --no-such-flag"),
        ("--folds 1", "python -m tools.search: --folds"),
        ("--seed -1", "python -m tools.search: argument --seed: -1 is not allowed"),
        ("--storage not-a-url", "not-a-url: "),
        ("--storage sqlite:///{tmp}/notes.txt", "sqlite:///{tmp}/notes.txt: "),  # not SQLite
        ("--storage mysql+nosuchdriver://u@127.0.0.1/db", "mysql+nosuchdriver://u@127.0.0.1/db: "),
        ("--storage postgresql://user:secret@127.0.0.1:1/db", "postgresql://user:***@127.0.0.1"),
    ],
    ids=["bad flag", "--folds 1", "--seed -1", "garbage", "not sqlite", "no driver", "password"],
)
def test_search_flags_and_storage_errors_are_one_line_status_1(tmp_path, capsys, flags, line):
    """The storage is opened before TensorFlow loads, named, its password hidden."""
    from tools import search

    (tmp_path / "notes.txt").write_text("these are notes, not a database\n" * 100)
    argv = f"--version ex2_a --trials 0 --out-dir {tmp_path}/o {flags}".format(tmp=tmp_path)
    status, got, _ = one_line(capsys, search.main, argv.split())
    assert status == 1 and got.startswith(f"error: {line.format(tmp=tmp_path)}"), got
    assert "secret" not in got
