"""common.outputs.write_set (docs/robustness.md, 4): each file staged, then renamed with the stop
signals held, the JSON (every other file's sha256: the commit record) last. A writer killed between
two renames leaves new files beside the old JSON, refused in one line by every reader until the
next run writes a whole set. Writers are forked children; the models tiny real .tflite files.
"""

import errno
import itertools
import json
import os
import random
import signal
import stat
import sys
import threading
import time
import traceback
from pathlib import Path

import numpy as np
import pytest

from common import cli, modelfile, outputs, tflite_io
from common.errors import DataError
from common.frontend_np import LABELS, MFCC_16K
from conftest import default_stop_signals

SET_A = {f"m{i}.bin": f"set A file {i}\n".encode() * 2000 for i in range(4)}
SET_B = {f"m{i}.bin": f"set B file {i}\n".encode() * 3000 for i in range(4)}


def contents(folder):
    """{name: bytes} of everything in `folder`, hidden files included."""
    return {p.name: p.read_bytes() for p in sorted(Path(folder).iterdir())}


def which_set(folder):
    """'A' or 'B' when `folder` holds exactly that set and nothing else; else its file names."""
    found = contents(folder)
    return "A" if found == SET_A else "B" if found == SET_B else sorted(found)


def one_line(capsys, function, argv=None):
    """(status, the one stderr line, stdout) of cli.exit_status(function, argv), in this process."""
    capsys.readouterr()
    status = cli.exit_status(function, argv)
    out, err = capsys.readouterr()
    assert err.count("\n") == 1 and err.endswith("\n") and "Traceback" not in err, err
    return status, err.rstrip("\n"), out


def patched(monkeypatch, name, when, action, after=False):
    """os.<name> running `action()` before (`after`) its calls for which when(number, args)."""
    real, calls = getattr(os, name), []

    def wrapper(*args, **kwargs):
        calls.append(args)
        act = when(len(calls), args)
        if act and not after:
            action()
        result = real(*args, **kwargs)
        if act and after:
            action()
        return result

    monkeypatch.setattr(os, name, wrapper)
    return calls


def raising(code, text):
    def action():
        raise OSError(code, text)

    return action


def _t(cls, **fields):
    obj = cls()
    obj.__dict__.update(fields)
    return obj


def tiny_tflite(seed, version=3):
    """A real .tflite: MFCC input, one FULLY_CONNECTED (weights from `seed`) to 8 outputs, the
    scripts' metadata; `version`: the schema version it declares (the interpreter runs 3)."""
    import flatbuffers
    from ai_edge_litert import schema_py_generated as fb

    shape, fc = [1, *MFCC_16K.input_shape], fb.BuiltinOperator.FULLY_CONNECTED
    weights = np.random.default_rng(seed).normal(size=(8, int(np.prod(shape)))).astype(np.float32)
    meta = {"version": "ex2_a", "frontend": modelfile.frontend_record(MFCC_16K), "labels": LABELS}
    shapes = (shape, 0), (list(weights.shape), 1), ([1, 8], 0)
    layer = _t(fb.OperatorT, opcodeIndex=0, inputs=[0, 1, -1], outputs=[2])
    layer.builtinOptionsType = fb.BuiltinOptions.FullyConnectedOptions
    layer.builtinOptions = fb.FullyConnectedOptionsT()
    graph = _t(fb.SubGraphT, inputs=[0], outputs=[2], operators=[layer])
    graph.tensors = [_t(fb.TensorT, shape=s, buffer=b, name=b"t") for s, b in shapes]
    data = [np.frombuffer(d, np.uint8) for d in (weights.tobytes(), json.dumps(meta).encode())]
    model = _t(fb.ModelT, version=version, subgraphs=[graph])
    model.operatorCodes = [_t(fb.OperatorCodeT, builtinCode=fc, deprecatedBuiltinCode=fc)]
    model.buffers = [fb.BufferT()] + [_t(fb.BufferT, data=d) for d in data]
    model.metadata = [_t(fb.MetadataT, name=modelfile.NAME, buffer=2)]
    builder = flatbuffers.Builder(0)
    builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
    return bytes(builder.Output())


def model_set(run, name="kws_a"):
    """A run's set: .tflite, .tflite.zip, .png, then the JSON that lists them (and says `run`)."""
    files, sizes = tflite_io.model_files(name, tiny_tflite(run))
    files[f"{name}.png"] = b"\x89PNG\r\n\x1a\n" + bytes([run]) * 100
    listed = {n: tflite_io.sha256(b) for n, b in files.items()}
    fe = modelfile.frontend_record(MFCC_16K)
    report = {"version": "ex2_a", "run": run, **sizes, "frontend": fe, "labels": LABELS}
    return {**files, f"{name}.json": json.dumps({**report, "files": listed}).encode()}


def in_child(function, *args):
    """(pid, stderr) of function(*args) in a forked process, signals as in a fresh interpreter."""
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child never returns into pytest
        status = 70
        try:
            os.close(r)
            sys.stderr = os.fdopen(w, "w", buffering=1)
            default_stop_signals()  # and Ctrl-C as KeyboardInterrupt:
            signal.signal(signal.SIGINT, signal.default_int_handler)
            status = function(*args)
        except BaseException:  # noqa: BLE001 - shown to the test, which fails on it
            traceback.print_exc()
        finally:
            sys.stderr.flush()
            os._exit(status)
    os.close(w)
    return pid, os.fdopen(r)


def finish(pid, pipe):
    """(its exit status, minus the signal that killed it; what it wrote on stderr)."""
    kill = threading.Timer(120, os.kill, (pid, signal.SIGKILL))  # a lost signal fails, not hangs
    kill.start()
    with pipe:
        err = pipe.read()
    kill.cancel()
    return os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]), err


# ------------------------------------------------------------- SIGKILL at each step (issue 28)


def read(path):
    """The run whose set a reader of `path` read, or 'refused' (one line naming the JSON)."""
    try:
        described = modelfile.open_model(path)
    except DataError as e:
        assert "\n" not in str(e) and str(e).startswith(modelfile.json_path(path) + ": "), str(e)
        return "refused"
    run = described.report["run"]
    assert described.data == model_set(run)["kws_a.tflite"], "the model of another run"
    return run


STEPS = ["staged", "1 renamed", "2 renamed", "3 renamed", "all renamed"]


@pytest.mark.parametrize("step", range(len(STEPS)), ids=STEPS)
def test_a_writer_killed_at_each_step_leaves_old_new_or_refused_then_the_next_run_one_set(
    tmp_path, step
):
    old, new = model_set(1), model_set(2)
    folder, models = tmp_path / "models", [tmp_path / "models" / n for n in list(old)[:2]]
    outputs.write_set(folder, old)
    assert [read(m) for m in models] == [1, 1]

    def publish():  # the next run, killed after `step` renames (the JSON is the last)
        real, calls = os.replace, itertools.count()
        kill = lambda *_: os.kill(os.getpid(), signal.SIGKILL)
        os.replace = lambda src, dst: kill() if next(calls) == step else real(src, dst)
        outputs._fsync_dir = kill  # what follows the last rename (a private name)
        outputs.write_set(folder, new)

    status, err = finish(*in_child(publish))
    assert status == -signal.SIGKILL, err
    staged = [n for n in os.listdir(folder) if outputs.LEFTOVER.fullmatch(n)]
    assert len(staged) == len(new) - step, staged
    reads = [read(m) for m in models]
    assert set(reads) <= {1, 2, "refused"}, reads
    assert reads == {0: [1, 1], len(new): [2, 2]}.get(step, reads)
    outputs.write_set(folder, new)  # the next run: one whole set, nothing else
    assert contents(folder) == new and [read(m) for m in models] == [2, 2]


# ------------------------------------------------------------------------- stop signals


def writer(folder):
    """Write SET_A and SET_B into `folder` by turns until a stop signal stops it; 'ready' first."""

    def loop(argv):
        print("ready", file=sys.stderr)
        for i in itertools.count():
            outputs.write_set(folder, (SET_A, SET_B)[i % 2])

    return cli.exit_status(loop)


SAID = {True: "after the new output files were all written", False: "no output file was changed"}


def interrupted(signum, written=None):
    """The line of a run stopped by `signum` (up to what it says of the files, when None)."""
    by = "" if signum == signal.SIGINT else f" by {signal.Signals(signum).name}"
    return f"interrupted{by}: {SAID.get(written, '')}"


def stop(children, signum):
    """Send `signum` to the writers; check each exits 128 + signum with one line."""
    for pid, _ in children:
        os.kill(pid, signum)
    for child in children:
        status, err = finish(*child)
        assert status == 128 + signum and err.count("\n") == 1, (status, err)
        assert err.startswith(interrupted(signum)), err


@pytest.mark.parametrize(
    "signum, writers",
    [(signal.SIGTERM, 1), (signal.SIGHUP, 1), (signal.SIGINT, 1), (signal.SIGTERM, 2)],
    ids=["SIGTERM", "SIGHUP", "SIGINT", "two writers, SIGTERM"],
)
def test_stop_signal_at_random_moments_of_the_write_leaves_one_whole_set(tmp_path, signum, writers):
    rng = random.Random(signum * writers)
    for attempt in range(8):
        folder = tmp_path / f"try{attempt}"
        outputs.write_set(folder, SET_A)
        children = [in_child(writer, folder) for _ in range(writers)]
        assert [pipe.readline() for _, pipe in children] == ["ready\n"] * writers
        time.sleep(rng.uniform(0.0, 0.05 * writers))
        stop(children, signum)
        assert which_set(folder) in ("A", "B"), f"try {attempt}: {which_set(folder)}"


CUTS = {  # os call, which call (or a part of the path it names), what happens, the set left
    "a full disk while staging": ("fsync", 3, errno.ENOSPC, "A"),
    "a full disk in a new folder": ("fsync", 3, errno.ENOSPC, None),
    "Ctrl-C while staging": ("fsync", 2, signal.SIGINT, "B"),  # held: a set begun is finished
    "Ctrl-C as a file is staged": ("open", ".ws-", signal.SIGINT, "B"),
    "SIGTERM during the renames": ("replace", 1, signal.SIGTERM, "B"),
    "SIGHUP as the lock is released": ("unlink", outputs.LOCK_NAME, signal.SIGHUP, "B"),
    "an I/O error between two renames": ("replace", 2, errno.EIO, "new and old files"),
}


@pytest.mark.parametrize("case", list(CUTS))
def test_a_write_cut_short_says_what_it_left_in_one_line_and_no_temporary_file(
    tmp_path, capsys, monkeypatch, stop_signals, case
):
    """A failure before the renames leaves the previous set; a stop signal once the lock is
    taken is held until the set is whole and the lock released; an error between two renames
    leaves new files beside the old JSON (refused by the readers, as after SIGKILL)."""
    call, when, what, left = CUTS[case]
    folder = tmp_path / "out"
    if left is not None:
        outputs.write_set(folder, SET_A)
    if isinstance(what, signal.Signals):
        action = lambda: signal.raise_signal(what)
        told = 128 + what, interrupted(what, written=left == "B")
    else:
        action = raising(what, os.strerror(what))
        told = 1, f"error: {folder}: {os.strerror(what)} (writing the output files)"
    match = (lambda n, a: n == when) if isinstance(when, int) else lambda n, a: when in str(a[0])
    patched(monkeypatch, call, match, action, after=call == "open")
    status, line, _ = one_line(capsys, lambda argv: outputs.write_set(folder, SET_B))
    monkeypatch.undo()
    assert (status, line) == told
    assert which_set(folder) == {None: [], "new and old files": sorted(SET_A)}.get(left, left)


def test_three_writers_in_threads_each_write_whole_sets(tmp_path):
    folder, errors = tmp_path / "out", []

    def write(k):
        try:
            for _ in range(15):
                outputs.write_set(folder, {n: f"writer {k} {n}\n".encode() * 500 for n in SET_A})
        except BaseException as e:  # noqa: BLE001 - any exception fails the test
            errors.append(repr(e))

    threads = [threading.Thread(target=write, args=(k,)) for k in range(3)]
    [t.start() for t in threads]
    [t.join() for t in threads]
    found = contents(folder)
    assert errors == [] and sorted(found) == sorted(SET_A), (errors, sorted(found))
    assert len({v.split(b" ")[1] for v in found.values()}) == 1, "a mixed set"


def test_a_writer_that_cannot_get_the_lock_fails_in_one_line(tmp_path, capsys, monkeypatch):
    from filelock import FileLock

    folder = tmp_path / "out"
    outputs.write_set(folder, SET_A)
    monkeypatch.setattr(outputs, "LOCK_WAIT_S", 0.2)
    with FileLock(str(folder / outputs.LOCK_NAME)):
        status, line, _ = one_line(capsys, lambda argv: outputs.write_set(folder, SET_B))
    (folder / outputs.LOCK_NAME).unlink()  # the lock file this test's own FileLock left
    assert status == 1 and line.startswith(f"error: {folder}: another run has been writing")
    assert which_set(folder) == "A"


@pytest.mark.parametrize("umask, mode", [(0o022, 0o644), (0o027, 0o640)])
def test_the_files_are_real_files_with_the_mode_of_the_umask(tmp_path, umask, mode):
    folder = tmp_path / "out"
    outputs.write_set(folder, SET_A)
    saved = os.umask(umask)
    try:
        outputs.write_set(folder, SET_B)
    finally:
        os.umask(saved)
    assert which_set(folder) == "B"
    for st in (os.lstat(folder / name) for name in SET_B):  # no link to a file elsewhere
        assert (stat.S_ISREG(st.st_mode), st.st_nlink, stat.S_IMODE(st.st_mode)) == (1, 1, mode)


def test_files_take_the_umask_which_is_left_as_it_was(tmp_path):
    old = os.umask(0o027)
    try:
        paths = outputs.write_set(tmp_path, {"m.tflite": b"x", "m.json": b"{}"})
        assert {stat.S_IMODE(os.stat(p).st_mode) for p in paths} == {0o640}
        assert os.umask(0o027) == 0o027
    finally:
        os.umask(old)
