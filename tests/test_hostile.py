"""Hostile and broken inputs, stop signals, two writers: every case is refused in one line naming
the file and the bound, before it costs memory or time, or handled without a mixed set.

The hostile files are small and crafted in tmp folders (a 1 MB zip that inflates to 1 GiB, a
wav declaring 1 Hz, a JSON nested 100,000 deep...). "Before it costs anything" is shown by the
order of the work, not by a clock: the step that would allocate (reading the zip member,
resampling, building the front end's matrices, the latency loop) is replaced by one that fails
the test if it is reached. docs/robustness.md lists each class with its tests.
"""
import errno
import json
import os
import random
import signal
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
from common.frontend_np import LABELS, FrontEnd
from conftest import ROOT, default_stop_signals

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


@pytest.mark.parametrize("rate, seconds, bound", [
    (1, 16000, "sample rate 1 Hz"),                       # 32 KB that would cost 2 GB resampled
    (2_147_483_647, 1e-5, "sample rate 2,147,483,647 Hz"),  # a 320 GiB resampling
    (999, 1.0, "sample rate 999 Hz"),
    (384_001, 0.1, "sample rate 384,001 Hz"),
    (1_000, 61.0, "61.0 s of samples"),
])
def test_wav_rate_and_length_are_bounded_before_resampling(tmp_path, monkeypatch, rate, seconds, bound):
    path = write_wav(tmp_path / "hostile.wav", rate, np.zeros(max(1, int(rate * seconds)), np.int16))
    assert path.stat().st_size < 200_000
    monkeypatch.setattr(wav, "resample", must_not_run("resampling"))
    with pytest.raises(wav.WavError, match=f"^{path}: {bound}") as e:
        wav.read_wav(path)
    assert "bound" in str(e.value)


def test_wav_bounds_let_real_recordings_through(tmp_path):
    for rate, seconds in ((8_000, 1.0), (48_000, 59.0), (192_000, 1.0), (1_000, 60.0)):
        x = wav.read_wav(write_wav(tmp_path / f"{rate}.wav", rate, np.zeros(int(rate * seconds), np.int16)))
        assert x.shape == (16000,)


def test_wav_file_size_is_bounded_before_reading(tmp_path, monkeypatch):
    path = tmp_path / "huge.wav"
    write_wav(path, 16000, np.zeros(16000, np.int16))
    with open(path, "r+b") as f:  # sparse: no disk used
        f.truncate(wav.MAX_BYTES + 1)
    monkeypatch.setattr(wav.wavfile, "read", must_not_run("reading the wav"))
    with pytest.raises(wav.WavError, match=f"^{path}: 67,108,865 bytes, over the bound of 67,108,864"):
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
    fields = struct.pack("<HHHHHIIIH", 20, 0, zipfile.ZIP_DEFLATED, 0, 0x21, crc, len(data), size, len(raw))
    local = b"PK\x03\x04" + fields + struct.pack("<H", 0) + raw
    central = b"PK\x01\x02" + struct.pack("<H", 20) + fields + struct.pack("<HHHHII", 0, 0, 0, 0, 0, 0) + raw
    end = b"PK\x05\x06" + struct.pack("<HHHHIIH", 0, 0, 1, 1, len(central), len(local) + len(data), 0)
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
        with pytest.raises(tflite_io.ModelFileError, match=f"^{bomb}: its .tflite, inflated, is "
                           "1,073,741,824 bytes, over the bound of 16,777,216"):
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
        with pytest.raises(tflite_io.ModelFileError, match=f"^{liar}: unreadable \\(BadZipFile: Bad CRC-32"):
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
    with pytest.raises(tflite_io.ModelFileError, match=f"^{big}: the file is 16,777,217 bytes, over the bound"):
        tflite_io.read_model_bytes(big)


@pytest.mark.parametrize("field, value", [
    ("num_mel_bins", 10**7), ("rate", 2_147_483_647), ("frame_length", 10**9), ("fft_length", 2**31),
    ("num_coefficients", 10**6), ("frame_step", 10**12)])
def test_frontend_fields_have_upper_bounds(field, value):
    problems = FrontEnd(**{field: value}).problems()
    assert problems and problems[0].startswith(f"'{field}' is {value}; expected ")
    assert "a whole number in [" in problems[0]


@pytest.mark.parametrize("settings, what", [
    ({"frame_step": 1, "frame_length": 8000, "fft_length": None}, "spectrogram"),  # 8001 x 8192
    ({"rate": 48000, "frame_length": 48000, "fft_length": 65536, "num_mel_bins": 256}, "mel matrix"),
    ({"mfcc": False, "resize": 1024, "frame_length": 16000, "fft_length": 65536}, "resize matrix"),
])
def test_frontend_array_sizes_are_bounded(settings, what):
    problems = FrontEnd(**settings).problems()
    assert problems and problems[0].startswith(f"the {what}") and "over the bound of 4,194,304" in problems[0]


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
    (folder / "m.json").write_bytes(report.sidecar_bytes(sidecar) if isinstance(sidecar, dict) else sidecar)
    return folder / "m.tflite", folder / "m.json"


def kws_sidecar(**fields):
    return {"version": "ex2_b", "tflite_sha256": tflite_io.sha256(MODEL), "labels": LABELS,
            "frontend": FrontEnd().to_dict(), "limits": {"accuracy": 0.9, "pi_inference_ms": 2.0}, **fields}


def test_frontend_asking_for_38_gib_is_refused_naming_the_json(tmp_path, capsys, monkeypatch):
    import kws_inference
    from common import frontend_np
    model, side = write_model(tmp_path, kws_sidecar(frontend={**FrontEnd().to_dict(), "num_mel_bins": 10**7}))
    monkeypatch.setattr(frontend_np, "mel_weight_matrix", must_not_run("building the mel matrix"))
    status, line = one_line(capsys, kws_inference.run, ["--model", str(model), "--runs", "2"])
    assert status == 1
    assert line.startswith(f"error: {side}: 'num_mel_bins' is 10000000; expected a whole number in [1, 256]")


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
    lines = {w: [f"./data/mini_speech_commands/{label}/a{label}_nohash_0.wav" for label in LABELS]
             for w in kws_data.SPLITS}
    lines["train"].append("./data/mini_speech_commands/yes/bad_nohash_0.wav")
    for w, ls in lines.items():
        (tmp_path / f"kws_split_{w}.txt").write_text("\n".join(ls) + "\n")
    splits = kws_data.read_splits(tmp_path, folder, log=lambda *_: None)
    with pytest.raises(DataError, match=f"^{folder / 'yes' / 'bad_nohash_0.wav'}: 1 of 16,000 samples are NaN"):
        kws_data.load_waves(splits, 16000, log=lambda *_: None)


# ------------------------------------------------------------- 3. strict types in the sidecar

def recomputed(sidecar):
    """The sidecar with a correct checksum for its (hostile) contents, as JSON bytes."""
    sidecar = dict(sidecar)
    sidecar["checksum"] = report.checksum(sidecar)
    return json.dumps(sidecar).encode()


@pytest.mark.parametrize("contents, message", [
    (recomputed(kws_sidecar(tflite_sha256=12345)), "'tflite_sha256' is 12345; expected a sha256 as 64"),
    (recomputed(kws_sidecar(tflite_sha256="ab" * 31)), "'tflite_sha256' is 'abab"),
    (json.dumps({**kws_sidecar(), "checksum": ["x"]}).encode(), "'checksum' is ['x']; expected a sha256"),
    (recomputed(kws_sidecar(limits={"pi_inference_ms": "2"})), "'limits' is {'pi_inference_ms': '2'}; expected"),
    (recomputed(kws_sidecar(limits={"accuracy": True})), "'limits' is {'accuracy': True}"),
    (recomputed(kws_sidecar(limits=[1, 2])), "'limits' is [1, 2]"),
    (recomputed(kws_sidecar(labels=["yes", 7])), "'labels' is ['yes', 7]; expected a list of 1 to 1000"),
    (recomputed(kws_sidecar(labels=["yes", "yes"])), "'labels' is ['yes', 'yes']"),
    (recomputed(kws_sidecar(version=["ex2_a"])), "'version' is ['ex2_a']; expected one of ex1_a"),
    (recomputed(kws_sidecar(frontend={**FrontEnd().to_dict(), "rate": "16000"})), "'rate' is '16000'"),
    (recomputed(kws_sidecar(frontend={**FrontEnd().to_dict(), "lower_frequency": True})), "'lower_frequency' True"),
    (b'{"version": "ex2_b", "tflite_sha256": NaN}', "not a readable JSON file (NaN is not a JSON number)"),
    (b"[" * 100_000 + b"]" * 100_000, "nested too deep to parse"),
    (json.dumps({**kws_sidecar(), "history": json.loads("[" * 17 + "1" + "]" * 17)}).encode(),
     "arrays or objects nested more than 16 deep"),
    (b" " * (report.MAX_SIDECAR_BYTES - 1) + b"{}", "4,194,305 bytes, over the bound of 4,194,304"),
], ids=["sha256 number", "sha256 short", "checksum list", "limit string", "limit bool", "limits list",
        "label number", "labels repeated", "version list", "rate string", "frequency bool", "NaN",
        "100,000 deep", "17 deep", "over 4 MiB"])
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
    status, line = one_line(capsys, evaluate.run, [str(model), "--data", str(tmp_path), "--split", "x.txt"])
    assert status == 1 and line.startswith(f"error: {side}: 'tflite_sha256' is 12345")


def test_a_deliberate_edit_with_its_checksum_recomputed_passes_the_sidecar_check(tmp_path):
    """What the checksum does not do (README, docs/robustness.md): it is an unkeyed sha256."""
    model, side = write_model(tmp_path, recomputed(kws_sidecar(frontend={**FrontEnd().to_dict(),
                                                                        "lower_frequency": 1000.0})))
    assert report.read_sidecar(model, MODEL)["frontend"]["lower_frequency"] == 1000.0


# ------------------------------------------------------------- 4. stop signals, the lock

SET_A = {f"m{i}.bin": f"set A file {i}\n".encode() * 2000 for i in range(4)}
SET_B = {f"m{i}.bin": f"set B file {i}\n".encode() * 3000 for i in range(4)}


def which_set(folder):
    """'A' or 'B' when `folder` holds exactly that set and nothing else; else what it holds."""
    found = {p.name: p.read_bytes() for p in Path(folder).iterdir()}
    return {"A": "A", "B": "B"}.get(next((k for k, s in (("A", SET_A), ("B", SET_B)) if found == s), None),
                                    sorted(found))


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
    p = subprocess.Popen([sys.executable, "-c", WRITER.format(root=str(ROOT)), str(folder), str(sets)],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                         preexec_fn=default_stop_signals)
    assert p.stdout.readline() == "ready\n", p.stderr.read()
    return p


@pytest.mark.parametrize("signum, status, name", [(signal.SIGTERM, 143, "SIGTERM"), (signal.SIGHUP, 129, "SIGHUP"),
                                                  (signal.SIGINT, 130, None)])
def test_stop_signal_at_random_moments_of_the_write_leaves_one_whole_set(tmp_path, signum, status, name):
    rng = random.Random(signum)
    for attempt in range(8):
        folder = tmp_path / f"try{attempt}"
        outputs.write_set(folder, SET_A)
        p = start_writer(folder)
        threading.Event().wait(rng.uniform(0.0, 0.05))
        p.send_signal(signum)
        out, err = p.communicate(timeout=60)
        assert p.returncode == status, (p.returncode, err)
        assert err.count("\n") == 1 and err.startswith(f"interrupted by {name}: " if name else "interrupted: "), err
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
    monkeypatch.setattr(outputs.os, "link", lambda src, dst: backups.append(os.path.basename(dst)) or real(src, dst))
    outputs.write_set(folder, SET_B)
    outputs.write_set(folder, SET_A)
    assert len(backups) == 8 == len(set(backups))
    assert not any(b.endswith(".bin.previous") for b in backups)


def test_sigterm_and_sighup_are_one_line_with_128_plus_the_signal(capsys, stop_signals):
    for signum, status, name in ((signal.SIGTERM, 143, "SIGTERM"), (signal.SIGHUP, 129, "SIGHUP")):
        def stopped(argv):
            signal.raise_signal(signum)
            pytest.fail("the signal did not stop the run")
        before = signal.getsignal(signum)
        assert one_line(capsys, stopped) == (status, f"interrupted by {name}: no output file was changed")
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
    for parse in (lambda a: cli.parse(cli.parser(constraints.entry("ex2_a"), "x"), constraints.entry("ex2_a"), a),
                  lambda a: __import__("tools.search", fromlist=["x"]).parse_args(["--version", "ex1_a", *a])):
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
    assert status == 1 and line == f"error: {folder}: No space left on device (writing the output files)"
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
    status, line = one_line(capsys, kws_inference.run, ["--model", str(model), "--no-sidecar", "--runs", "2"])
    assert status == 1 and line.startswith(f"error: {model}: the interpreter cannot load it")


# --------------------------------------------------------------------------- 6. the search

def test_search_bad_flag_is_one_line_status_1(capsys):
    from tools import search
    status, line = one_line(capsys, search.main, ["--version", "ex2_a", "--no-such-flag"])
    assert status == 1 and line.startswith("error: python -m tools.search: unrecognized arguments: --no-such-flag")
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
        url, shown = "postgresql://user:secret@127.0.0.1:1/db", "postgresql://user:***@127.0.0.1:1/db"
    status, line = one_line(capsys, search.main, ["--version", "ex1_a", "--trials", "0", "--storage", url,
                                                  "--out-dir", str(tmp_path / "out")])
    assert status == 1 and line.startswith(f"error: {shown}: "), line
    assert "secret" not in line
