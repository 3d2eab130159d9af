"""Checked downloads of the official archives (size and sha256), one-line errors, staged
extraction, one process at a time per archive; ML4IOT_MIRROR and the rest: docs/data.md."""

import contextlib
import dataclasses
import os
import re
import shutil
import tempfile
import zipfile
from pathlib import Path

from .errors import DataError
from .macos_files import is_macos_metadata
from .outputs import release_lock

SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"  # offline copies, ../shared
DOWNLOADS = "downloads"  # <data>/downloads/<archive>: the verified archives
RETRIES = 2  # further attempts after a failed connection (pooch's retry_if_failed)
STAGING = ".partial-"  # <data>/.partial-XXXX/: an extraction in progress
MIRROR = "ML4IOT_MIRROR"  # a base URL serving the archives by name (a course mirror, a test)
TIMEOUT_S = 60  # no byte for this long: the download has stalled
LOCK_WAIT_S = 4 * 3600  # another process's download of 182 MB at 13 kB/s


@dataclasses.dataclass(frozen=True)
class Archive:
    """An archive to download, with its size and sha256 where they are published."""

    url: str
    name: str
    size: int | None = None
    sha256: str | None = None

    def expected(self):
        size = [f"{self.size:,} bytes"] if self.size is not None else []
        size += [f"sha256 {self.sha256}"] if self.sha256 else []
        return ", ".join(size) or "a zip archive (its size and sha256 are not published)"


class WrongArchive(Exception):
    """A complete transfer that is not the pinned archive: not retried (not a ValueError)."""


def shown(path):
    """A path as the user would type it: relative to the working folder when shorter."""
    relative = os.path.relpath(path)
    return relative if len(relative) < len(str(path)) else str(path)


def local_copies(*names):
    """The paths of `names` that exist in ../shared/data: copies to use offline."""
    return [shown(SHARED_DATA / name) for name in names if (SHARED_DATA / name).exists()]


def reason(e):
    """The innermost reason of a failed download, without the connection objects' reprs."""
    import requests

    if isinstance(e, requests.TooManyRedirects):
        return "a redirect loop: the server redirected it 30 times"
    if isinstance(e, requests.Timeout):
        return f"timed out: no data for {TIMEOUT_S} s"
    response = getattr(e, "response", None)
    if response is not None and getattr(response, "status_code", None):
        return f"HTTP {response.status_code} {response.reason}"
    seen = set()
    while id(e) not in seen:
        seen.add(id(e))
        inner = getattr(e, "reason", None)
        if isinstance(inner, BaseException):
            e = inner
        elif e.args and isinstance(e.args[0], BaseException):
            e = e.args[0]
    text = e.args[0] if e.args and isinstance(e.args[0], str) else str(e) or type(e).__name__
    return re.sub(r"^\w+\(host=[^)]*\):\s*", "", text)


def _clear_leftovers(folder, pattern):
    for leftover in Path(folder).glob(pattern):
        if leftover.is_dir():
            shutil.rmtree(leftover, ignore_errors=True)
        else:
            leftover.unlink(missing_ok=True)


def mirrored(archive):
    """`archive`, served by $ML4IOT_MIRROR (a base URL) when it is set."""
    base = os.environ.get(MIRROR, "").rstrip("/")
    return dataclasses.replace(archive, url=f"{base}/{archive.name}") if base else archive


def obtain(archive, folder, member, check, offline_hint=""):
    """`<folder>/<member>`, downloaded and extracted from `archive` under its lock."""
    archive = mirrored(archive)
    target, store = Path(folder) / member, Path(folder) / DOWNLOADS
    created = [d for d in (store, *store.parents) if not d.exists()]
    try:
        with _lock(archive, folder):
            if target.exists():  # another process brought it while this one waited
                with contextlib.suppress(DataError):
                    check(target)
                    return target
            return extract(archive, fetch(archive, folder), folder, member, check)
    except BaseException as e:
        for d in created:  # the folders made for this download, if it left them empty
            with contextlib.suppress(OSError):
                d.rmdir()
        if isinstance(e, DataError) and offline_hint:
            raise DataError(f"{e}; {offline_hint}") from None
        raise


@contextlib.contextmanager
def _lock(archive, folder):
    """Hold `<folder>/.<archive>.lock` (waiting up to LOCK_WAIT_S), removed before its release."""
    from filelock import FileLock, Timeout

    Path(folder).mkdir(parents=True, exist_ok=True)
    lock = FileLock(path := os.path.join(folder, f".{archive.name}.lock"))
    try:
        try:
            lock.acquire(timeout=0)
        except Timeout:
            print(f"waiting: another process is downloading {archive.name} into {folder}")
            lock.acquire(timeout=LOCK_WAIT_S)
        yield
    except Timeout:
        raise DataError(
            f"{path}: another process has held this download for {LOCK_WAIT_S} s; expected "
            "one download at a time: run again when it has finished"
        ) from None
    finally:
        release_lock(lock, path)


def fetch(archive, folder):
    """Path of the verified archive in `<folder>/downloads/`, downloaded when absent."""
    import pooch
    import requests

    store = Path(folder) / DOWNLOADS
    store.mkdir(parents=True, exist_ok=True)
    _clear_leftovers(store, "tmp*")
    arrived = {}

    def checked_download(url, output_file, pooch_instance, check_only=False):
        pooch.HTTPDownloader(progressbar=False, timeout=TIMEOUT_S)(url, output_file, pooch_instance)
        arrived.update(size=os.path.getsize(output_file), sha256=pooch.file_hash(output_file))
        if (archive.size is not None and arrived["size"] != archive.size) or (
            archive.sha256 and arrived["sha256"] != archive.sha256
        ):
            raise WrongArchive()

    pooch.get_logger().setLevel("WARNING")
    known = {archive.name: f"sha256:{archive.sha256}" if archive.sha256 else None}
    urls = {archive.name: archive.url}
    registry = pooch.create(store, "", registry=known, urls=urls, retry_if_failed=RETRIES)
    target = store / archive.name
    if not (target.is_file() and pooch.file_hash(str(target)) == archive.sha256):
        print(f"downloading {archive.url} into {store}; expected: {archive.expected()}")
    try:
        return Path(registry.fetch(archive.name, downloader=checked_download))
    except WrongArchive:
        raise DataError(
            f"{archive.url}: the download is not the expected archive: {arrived['size']:,} "
            f"bytes, sha256 {arrived['sha256']} arrived; expected {archive.expected()} (a "
            "cut download or a changed file; nothing was kept: run again to start over)"
        ) from None
    except (requests.RequestException, ValueError, OSError) as e:
        expected = f"; expected {archive.expected()}" if archive.size or archive.sha256 else ""
        raise DataError(
            f"{archive.url}: download failed ({reason(e)}){expected} (nothing was "
            "kept: run again to start over)"
        ) from None


def extract(archive, zip_path, folder, member, check):
    """Extract `member` of the archive staged, `check` it, rename it into `folder`."""
    target = Path(folder) / member
    if target.exists():
        raise DataError(
            f"{target}: exists but is not the complete data (a copy made by hand or by another "
            f"tool?); expected it absent before extracting {zip_path}: move it away and run again"
        )
    _clear_leftovers(folder, STAGING + "*")
    staging = Path(tempfile.mkdtemp(prefix=STAGING, dir=folder))
    try:
        with zipfile.ZipFile(zip_path) as z:
            members = [
                m
                for m in z.infolist()
                if not is_macos_metadata(m.filename)
                and (m.filename.rstrip("/") == member or m.filename.startswith(member + "/"))
            ]
            if not members:
                raise DataError(
                    f"{zip_path}: no {member} in this archive from {archive.url}; expected "
                    f"{archive.expected()}; deleted: run again to download it again"
                )
            for m in members:
                z.extract(m, staging)
        check(staging / member)
        os.replace(staging / member, target)
    except (DataError, zipfile.BadZipFile, EOFError) as e:  # any check failed: a rerun downloads
        os.unlink(zip_path)
        if not isinstance(e, DataError):
            raise DataError(
                f"{zip_path}: not a readable zip archive ({e}); expected the archive of "
                f"{archive.url} ({archive.expected()}); deleted: run again to download it again"
            ) from None
        raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return target
