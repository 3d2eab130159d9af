"""A run's output files, written as one set: staged, renamed with the stop signals held, the JSON
last; one writer at a time per folder (docs/robustness.md, 4). The stop signals: SIGTERM and
SIGHUP act like Ctrl-C (SIGINT); one the process was started ignoring (SIGHUP under nohup, SIGINT
in a background job) stays ignored; threads other than the main one: no change."""

import contextlib
import errno
import os
import re
import secrets
import signal
import tempfile
import time

from .errors import DataError

LOCK_NAME = ".write-set.lock"
LOCK_WAIT_S = 120  # a set takes milliseconds to write: a longer wait means a stuck writer
BINARY = getattr(os, "O_BINARY", 0)  # Windows: no newline translation
LEFTOVER = re.compile(r"\.ws-[A-Za-z0-9_]+\.tmp")  # staged: whatever the target name's length


def check_out_dir(path, flag="--out-dir"):
    """The absolute `path`, links followed, or a DataError when it cannot hold the outputs."""
    typed, path = os.fspath(path), os.path.abspath(os.fspath(path))  # messages: as typed
    probe = path
    while not os.path.lexists(probe):
        probe = os.path.dirname(probe)
    try:
        real = os.path.realpath(probe, strict=True)
    except OSError as e:  # a symbolic link loop, or a link to nothing
        why = "a symbolic link to nothing" if isinstance(e, FileNotFoundError) else e.strerror
        raise DataError(
            f"{typed}: {flag} cannot be resolved ({why} at {probe}); "
            "expected a folder (existing or new)"
        ) from None
    if not os.path.isdir(real):
        where = "is a file" if probe == path else f"lies under the file {probe}"
        raise DataError(f"{typed}: {flag} {where}; expected a folder (existing or new)")
    try:
        tempfile.TemporaryFile(dir=real).close()
    except OSError as e:
        raise DataError(
            f"{typed}: {flag} is not writable ({e.strerror} in {real}); "
            "expected a folder this user can write to"
        ) from None
    return os.path.join(real, os.path.relpath(path, probe)) if probe != path else real


def write_set(out_dir, files):
    """Write `files` ({name: bytes}) into `out_dir` as one set, a `.json` last; their paths."""
    out_dir = os.path.abspath(os.fspath(out_dir))
    names = sorted(files, key=lambda n: n.endswith(".json"))  # the commit record last
    try:
        os.makedirs(out_dir, exist_ok=True)
        with folder_lock(out_dir):
            for leftover in filter(LEFTOVER.fullmatch, os.listdir(out_dir)):
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(os.path.join(out_dir, leftover))
            staged = {}
            try:
                for name in names:  # created as open() does: 0666 less the umask
                    staged[name] = os.path.join(out_dir, f".ws-{secrets.token_hex(8)}.tmp")
                    fd = os.open(staged[name], os.O_WRONLY | os.O_CREAT | os.O_EXCL | BINARY, 0o666)
                    with os.fdopen(fd, "wb") as f:
                        f.write(files[name])
                        f.flush()
                        os.fsync(f.fileno())
                for name in names:
                    os.replace(staged[name], os.path.join(out_dir, name))
                    del staged[name]
                _fsync_dir(out_dir)
            finally:
                for path in staged.values():  # not renamed: a failure before the renames
                    with contextlib.suppress(FileNotFoundError):
                        os.unlink(path)
    except OSError as e:
        if e.filename is None and e.strerror:
            raise OSError(e.errno, f"{e.strerror} (writing the output files)", out_dir) from None
        raise
    return [os.path.join(out_dir, n) for n in names]


@contextlib.contextmanager
def folder_lock(out_dir):
    """Hold the folder's write lock (removed on release) and the stop signals until its release."""
    from filelock import FileLock, Timeout

    path = os.path.join(out_dir, LOCK_NAME)
    lock, deadline = FileLock(path), time.monotonic() + LOCK_WAIT_S
    try:
        while True:  # each try with the signals held: they act between tries
            with stop_signals_held(then=Interrupted), contextlib.suppress(Timeout):
                lock.acquire(timeout=0)
            if lock.is_locked:
                break
            if time.monotonic() > deadline:
                raise DataError(
                    f"{out_dir}: another run has been writing its output files here for "
                    f"{LOCK_WAIT_S} s (it holds {LOCK_NAME}); expected one writer at a time: run "
                    "again when it has finished"
                )
            time.sleep(0.02)
        with stop_signals_held():  # a signal that came is raised once the lock is released
            try:
                yield
            finally:
                release_lock(lock, path)
                lock = None  # its finalizer runs here, signals held: one raised in it is lost
    except BaseException:  # a stop signal between two steps: no lock file left
        if lock is not None:
            release_lock(lock, path)
        raise


def release_lock(lock, path):
    """Remove the lock file, then release `lock` (a filelock held on `path`): nothing stays."""
    if lock.is_locked:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path)
        lock.release()


def _fsync_dir(folder):
    """Make the folder's renames durable, where the platform allows it."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError as e:
        if e.errno not in (errno.EINVAL, errno.EBADF, errno.EACCES):
            raise
    finally:
        os.close(fd)


def write_file(path, data):
    """One file, atomically (a set of one)."""
    folder, name = os.path.split(os.path.abspath(os.fspath(path)))
    return write_set(folder, {name: data})[0]


STOP_SIGNALS = tuple(
    getattr(signal, n) for n in ("SIGINT", "SIGTERM", "SIGHUP") if hasattr(signal, n)
)


class Interrupted(KeyboardInterrupt):
    """A stop signal turned into an exception; `signum` says which."""

    def __init__(self, signum=signal.SIGINT):
        super().__init__(signum)
        self.signum = signum


class InterruptedAfterWriting(Interrupted):
    """A stop signal arrived while the output set was being written: the new set is complete."""


@contextlib.contextmanager
def _handling(signums, handler):
    """`handler` for each of `signums` during the block (main thread only), then the previous."""
    previous = {}
    with contextlib.suppress(ValueError):  # not the main thread
        for signum in signums:
            previous[signum] = signal.signal(signum, handler)
    try:
        yield
    finally:
        for signum, old in previous.items():
            signal.signal(signum, old)


def raise_on_stop_signals():
    """A context in which SIGTERM and SIGHUP raise Interrupted, so that such a run cleans up."""

    def stop(signum, frame):
        raise Interrupted(signum)

    defaults = [
        n for n in STOP_SIGNALS if n != signal.SIGINT and signal.getsignal(n) == signal.SIG_DFL
    ]
    return _handling(defaults, stop)


@contextlib.contextmanager
def stop_signals_held(then=InterruptedAfterWriting):
    """Hold the stop signals back until the block ends; then raise `then` with one that came."""
    caught = []
    handled = [n for n in STOP_SIGNALS if signal.getsignal(n) not in (signal.SIG_IGN, None)]
    with _handling(handled, lambda n, frame: caught.append(n)):
        yield
    if caught:
        raise then(caught[0])
