"""A run's output files, written as one set: everything to temporary names, then renamed.

- One writer at a time in a folder: an exclusive lock (the `filelock` library) on
  `<out_dir>/.write-set.lock` while a set is written; a second writer waits for it (at most
  LOCK_WAIT_S, then one error line). The holder removes the lock file before releasing it
  (filelock retries a lock whose file was removed meanwhile), so nothing stays behind.
- SIGINT, SIGTERM and SIGHUP are held back while the set is written (staged, renamed,
  cleaned up) and delivered after it, so the set on disk is always one run's (the old or the
  new). A failure before or during the renames puts the previous set back exactly.
- A process killed outright (SIGKILL, power loss) can leave a journal and backups. The next
  write into the folder rolls such an interrupted set back to the previous one, removes the
  leftovers (`.<name>.ws-<random>.tmp` / `.previous`) and says so in a `note:` line.
Files get the mode the umask gives (0644 under the usual 022), not mkstemp's 0600.
"""

import contextlib
import errno
import json
import os
import re
import secrets
import shutil
import tempfile
import threading
import time

from .errors import DataError
from .signals import Interrupted, stop_signals_held

LOCK_NAME, JOURNAL_NAME = ".write-set.lock", ".write-set.journal"
LOCK_WAIT_S = 120  # a set takes milliseconds to write: a longer wait means a stuck writer
LOCK_POLL_S = 0.02
LEFTOVER = re.compile(r"\..+\.ws-[A-Za-z0-9_]+\.(tmp|previous)")


def check_out_dir(path, flag="--out-dir"):
    """The absolute, resolved `path` (symbolic links followed), or an error before any
    training when it cannot hold the outputs: it is a file, a symbolic link loop, a link to
    nothing, it lies under a file, or it or its nearest existing parent folder is not writable.
    Creates nothing that stays. `flag`: the caller's option that gave the folder, named in
    the errors."""
    path = os.path.abspath(os.fspath(path))
    probe = path
    while not os.path.lexists(probe):
        probe = os.path.dirname(probe)
    try:
        real = os.path.realpath(probe, strict=True)
    except FileNotFoundError:
        raise DataError(
            f"{path}: {flag} is, or lies under, a symbolic link to nothing ({probe}); "
            "expected a folder (existing or new)"
        ) from None
    except OSError as e:  # ELOOP: a symbolic link loop
        raise DataError(
            f"{path}: {flag} cannot be resolved ({e.strerror} at {probe}); "
            "expected a folder (existing or new)"
        ) from None
    if not os.path.isdir(real):
        where = "is a file" if probe == path else f"lies under the file {probe}"
        raise DataError(f"{path}: {flag} {where}; expected a folder (existing or new)")
    try:
        fd, tmp = tempfile.mkstemp(dir=real, prefix=".probe-")
        os.close(fd)
        os.unlink(tmp)
    except OSError as e:
        raise DataError(
            f"{path}: {flag} is not writable ({e.strerror} in {real}); "
            "expected a folder this user can write to"
        ) from None
    return os.path.join(real, os.path.relpath(path, probe)) if probe != path else real


_UMASK_LOCK = threading.Lock()


def _mode():
    """0666 less the umask, read without changing it where /proc tells it (threads)."""
    try:
        with open("/proc/self/status") as f:
            mask = next(int(ln.split()[1], 8) for ln in f if ln.startswith("Umask:"))
    except (OSError, StopIteration, ValueError, IndexError):
        with _UMASK_LOCK:
            mask = os.umask(0)
            os.umask(mask)
    return 0o666 & ~mask


def write_set(out_dir, files, log=print):
    """Write `files` ({file name: bytes}) into `out_dir` as one set; return their paths.
    An OSError without a file name (a full disk, an I/O error) is given the folder's."""
    out_dir = os.path.abspath(os.fspath(out_dir))
    try:
        os.makedirs(out_dir, exist_ok=True)
        with folder_lock(out_dir):
            recover(out_dir, log)
            return _write(out_dir, files)
    except OSError as e:
        if e.filename is None and e.strerror:
            raise OSError(e.errno, f"{e.strerror} (writing the output files)", out_dir) from None
        raise


@contextlib.contextmanager
def folder_lock(out_dir):
    """Hold the folder's write lock (waiting for another writer at most LOCK_WAIT_S) with the
    stop signals held back; remove the lock file before releasing it."""
    try:
        with stop_signals_held(then=Interrupted):  # an import cut short breaks the module
            from filelock import FileLock
    except ImportError:
        raise DataError(
            f"{out_dir}: cannot lock the folder to write the output files: the "
            "filelock package is missing; pip install -r requirements.txt"
        ) from None
    path = os.path.join(out_dir, LOCK_NAME)
    lock = FileLock(path)
    _acquire(lock, path, out_dir)
    try:
        with stop_signals_held():
            try:
                yield
            finally:
                _unlock(lock, path)
    finally:
        if lock.is_locked:  # a signal came between the acquisition and the block
            _unlock(lock, path)


def _acquire(lock, path, out_dir):
    """Take `lock`, trying every LOCK_POLL_S for at most LOCK_WAIT_S. Each try runs with the
    stop signals held, so a signal never leaves a lock file behind; between tries they act."""
    from filelock import Timeout

    deadline = time.monotonic() + LOCK_WAIT_S
    while True:
        try:
            with stop_signals_held(then=Interrupted), contextlib.suppress(Timeout):
                lock.acquire(timeout=0)
        except Interrupted:
            if lock.is_locked:
                _unlock(lock, path)
            raise
        if lock.is_locked:
            return
        if time.monotonic() >= deadline:
            raise DataError(
                f"{out_dir}: another run has been writing its output files here for "
                f"{LOCK_WAIT_S} s (it holds {LOCK_NAME}); expected one writer at a "
                "time: run again when it has finished"
            )
        time.sleep(LOCK_POLL_S)


def _unlock(lock, path):
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)
    lock.release()


def _write(out_dir, files):
    """Stage, back up, journal, rename, commit: the steps of write_set (under the lock)."""
    names = list(files)
    staged, backups, renamed = {}, {}, []
    journal = os.path.join(out_dir, JOURNAL_NAME)
    committed = False
    try:
        for name, data in files.items():
            fd, staged[name] = tempfile.mkstemp(dir=out_dir, prefix=f".{name}.ws-", suffix=".tmp")
            with os.fdopen(fd, "wb") as f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
            os.chmod(staged[name], _mode())
        for name in names:
            if os.path.exists(os.path.join(out_dir, name)):
                backups[name] = _backup(out_dir, name)
        _write_journal(
            journal,
            [
                {"name": n, "tmp": os.path.basename(staged[n]), "backup": backups.get(n)}
                for n in names
            ],
        )
        for name in names:
            os.replace(staged[name], os.path.join(out_dir, name))
            renamed.append(name)
        _fsync_dir(out_dir)
        os.unlink(journal)  # the commit: from here on the new set stands
        committed = True
    except BaseException:
        _roll_back(out_dir, renamed, backups)
        with contextlib.suppress(FileNotFoundError):
            os.unlink(journal)
        raise
    finally:
        for path in list(staged.values()) + (
            [os.path.join(out_dir, b) for b in backups.values()] if committed else []
        ):
            with contextlib.suppress(FileNotFoundError):
                os.unlink(path)
    return [os.path.join(out_dir, n) for n in names]


def _backup(out_dir, name):
    """Keep the current `name` under a name of its own (`.<name>.ws-<random>.previous`): a hard
    link (`name` stays in place meanwhile), or a copy where the file system has no hard links."""
    backup = f".{name}.ws-{secrets.token_hex(6)}.previous"
    final, path = os.path.join(out_dir, name), os.path.join(out_dir, backup)
    try:
        os.link(final, path)
    except OSError:
        shutil.copy2(final, path)
    return backup


def _restore(out_dir, name, backup):
    """Put `backup` back as `name` (a rename is a no-op when both are links to one file)."""
    final, path = os.path.join(out_dir, name), os.path.join(out_dir, backup)
    os.replace(path, final)
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)


def _roll_back(out_dir, renamed, backups):
    """Put the previous set back: the backups over the renamed files, the new files removed."""
    for name, backup in backups.items():
        _restore(out_dir, name, backup)
    for name in renamed:
        if name not in backups:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(os.path.join(out_dir, name))


def _write_journal(path, entries):
    with open(path, "w", encoding="utf-8") as f:
        json.dump(entries, f)
        f.flush()
        os.fsync(f.fileno())
    _fsync_dir(os.path.dirname(path))


def _fsync_dir(folder):
    """Make the folder's entries (renames, new files) durable, where the platform allows it."""
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


def recover(out_dir, log=print):
    """Undo what a killed writer left in `out_dir`: an interrupted set (journal present) is
    rolled back to the previous one; staged files and backups are removed. Says so."""
    journal, restored = os.path.join(out_dir, JOURNAL_NAME), []
    try:
        with open(journal, encoding="utf-8") as f:
            entries = json.load(f)
    except FileNotFoundError:
        entries = None
    except ValueError:  # written only in part: no file had been renamed yet
        entries = []
    if not (
        isinstance(entries, list)
        and all(
            isinstance(e, dict) and isinstance(e.get("name"), str) and isinstance(e.get("tmp"), str)
            for e in entries
        )
    ):
        entries = None if entries is None else []  # unreadable: written before any rename
    for entry in entries or []:
        name, tmp, backup = entry["name"], entry["tmp"], entry.get("backup")
        if backup and os.path.lexists(os.path.join(out_dir, backup)):
            _restore(out_dir, name, backup)
            restored.append(name)
        elif not backup and not os.path.lexists(os.path.join(out_dir, tmp)):
            with contextlib.suppress(FileNotFoundError):  # renamed into place: a new file
                os.unlink(os.path.join(out_dir, name))
                restored.append(name)
    if entries is not None:
        os.unlink(journal)
    leftovers = sorted(n for n in os.listdir(out_dir) if LEFTOVER.fullmatch(n))
    for name in leftovers:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(os.path.join(out_dir, name))
    if entries is not None or leftovers:
        what = [f"{len(leftovers)} leftover file(s) removed"] if leftovers else []
        if entries is not None:
            what.insert(
                0,
                f"the set it was writing rolled back to the previous one "
                f"({', '.join(restored) or 'nothing had been renamed'})",
            )
        log(f"note: {out_dir}: an earlier write was killed before it finished: " + "; ".join(what))


def write_file(path, data):
    """One file, atomically (a set of one)."""
    return write_set(
        os.path.dirname(os.path.abspath(str(path))), {os.path.basename(str(path)): data}
    )[0]
