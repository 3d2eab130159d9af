"""A run's output files, written as one set: everything to temporary names, then renamed.

A failure or Ctrl-C before the renames leaves the previous set untouched; Ctrl-C during the
renames is held back until they are done, so the set on disk is always one run's (the old or
the new). Files get the mode the umask gives (0644 under the usual 022), not mkstemp's 0600.
"""
import contextlib
import os
import shutil
import signal
import tempfile

from .errors import DataError


def check_out_dir(path, flag="--out-dir"):
    """Fail early (before any training) when `path` cannot hold the outputs: it is a file, or
    it or its nearest existing parent folder is not writable. Creates nothing that stays.
    `flag`: the caller's option that gave the folder, named in the errors."""
    path = os.path.abspath(str(path))
    if os.path.exists(path) and not os.path.isdir(path):
        raise DataError(f"{path}: {flag} is a file; expected a folder (existing or new)")
    probe = path
    while not os.path.exists(probe):
        probe = os.path.dirname(probe)
    if not os.path.isdir(probe):
        raise DataError(f"{path}: {flag} lies under the file {probe}; expected a folder")
    try:
        fd, tmp = tempfile.mkstemp(dir=probe, prefix=".probe-")
        os.close(fd)
        os.unlink(tmp)
    except OSError as e:
        raise DataError(f"{path}: {flag} is not writable ({e.strerror} in {probe}); "
                        "expected a folder this user can write to") from None
    return path


def _mode():
    mask = os.umask(0)
    os.umask(mask)
    return 0o666 & ~mask


class InterruptedAfterWriting(KeyboardInterrupt):
    """Ctrl-C arrived while the output set was being renamed: the new set is complete."""


@contextlib.contextmanager
def sigint_held():
    """Hold Ctrl-C back until the block ends (main thread only), then deliver it."""
    caught = []
    try:
        previous = signal.signal(signal.SIGINT, lambda *a: caught.append(a))
    except ValueError:  # not the main thread: nothing to hold
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
    if caught:  # the block finished: say so
        raise InterruptedAfterWriting


def write_set(out_dir, files):
    """Write `files` ({file name: bytes}) into `out_dir` as one set; return their paths."""
    os.makedirs(out_dir, exist_ok=True)
    staged = []
    try:
        for name, data in files.items():
            fd, tmp = tempfile.mkstemp(dir=out_dir, prefix=f".{name}.", suffix=".tmp")
            staged.append((tmp, os.path.join(out_dir, name)))
            with os.fdopen(fd, "wb") as f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
            os.chmod(tmp, _mode())
        with sigint_held():
            _replace_all(staged)
    finally:
        for tmp, _ in staged:
            if os.path.exists(tmp):
                os.unlink(tmp)
    return [final for _, final in staged]


def _backup(final):
    """Keep the previous `final` under `final.previous`: a hard link (`final` stays in
    place meanwhile), or a copy where the file system has no hard links."""
    backup = f"{final}.previous"
    if os.path.lexists(backup):
        os.unlink(backup)
    try:
        os.link(final, backup)
    except OSError:
        shutil.copy2(final, backup)
    return backup


def _replace_all(staged):
    """Rename every (tmp, final); if one step fails, put the previous set back exactly."""
    existed = {final for _, final in staged if os.path.exists(final)}
    backups, renamed = {}, set()
    try:
        for final in sorted(existed):
            backups[final] = _backup(final)
        for tmp, final in staged:
            os.replace(tmp, final)
            renamed.add(final)
    except BaseException:
        for final, backup in backups.items():
            os.replace(backup, final)  # a no-op where both are links to the old file
            if os.path.exists(backup):
                os.unlink(backup)
        for final in renamed - existed:
            os.unlink(final)
        raise
    for backup in backups.values():
        os.unlink(backup)


def write_file(path, data):
    """One file, atomically (a set of one)."""
    return write_set(os.path.dirname(os.path.abspath(str(path))), {os.path.basename(str(path)): data})[0]
