"""Checked downloads of the official archives (pooch: sha256 before the file takes its name),
with the size checked too, one-line errors, and extraction staged so that nothing is ever left
half done. How a download goes: docs/data.md."""

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

SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"  # offline copies, ../shared
DOWNLOADS = "downloads"  # <data>/downloads/<archive>: the verified archives
RETRIES = 2  # further attempts after a failed connection (pooch's retry_if_failed)
STAGING = ".partial-"  # <data>/.partial-XXXX/: an extraction in progress


@dataclasses.dataclass(frozen=True)
class Archive:
    """An archive to download, with its size and sha256 where they are published."""

    url: str
    name: str
    size: int | None = None
    sha256: str | None = None

    def expected(self):
        size = [f"{self.size:,} bytes"] if self.size is not None else []
        sha256 = [f"sha256 {self.sha256}"] if self.sha256 else []
        return ", ".join(size + sha256) or "a zip archive (its size and sha256 are not published)"


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


def obtain(archive, folder, member, check, offline_hint=""):
    """`<folder>/<member>`, downloaded and extracted from `archive`; a failure's error ends
    with `offline_hint` (the caller's way to pass a copy)."""
    try:
        return extract(archive, fetch(archive, folder), folder, member, check)
    except DataError as e:
        raise DataError(f"{e}; {offline_hint}" if offline_hint else str(e)) from None


def fetch(archive, folder, log=print):
    """Path of the verified archive in `<folder>/downloads/`, downloaded when absent. A failure
    is one DataError naming the URL, what was expected and what arrived; nothing is kept."""
    import pooch
    import requests

    store = Path(folder) / DOWNLOADS
    created = [d for d in (store, *store.parents) if not d.exists()]
    store.mkdir(parents=True, exist_ok=True)
    _clear_leftovers(store, "tmp*")
    arrived = {}

    def checked_download(url, output_file, pooch_instance, check_only=False):
        pooch.HTTPDownloader(progressbar=False)(url, output_file, pooch_instance)
        arrived.update(size=os.path.getsize(output_file), sha256=pooch.file_hash(output_file))
        if (archive.size is not None and arrived["size"] != archive.size) or (
            archive.sha256 and arrived["sha256"] != archive.sha256
        ):
            raise WrongArchive()

    pooch.get_logger().setLevel("WARNING")
    registry = pooch.create(
        path=store,
        base_url="",
        registry={archive.name: f"sha256:{archive.sha256}" if archive.sha256 else None},
        urls={archive.name: archive.url},
        retry_if_failed=RETRIES,
    )
    target = store / archive.name
    if not (target.is_file() and pooch.file_hash(str(target)) == archive.sha256):
        log(f"downloading {archive.url} into {store}; expected: {archive.expected()}")
    try:
        return Path(registry.fetch(archive.name, downloader=checked_download))
    except BaseException as e:
        for d in created:  # the folders made for this download, if it left them empty
            with contextlib.suppress(OSError):
                d.rmdir()
        if isinstance(e, WrongArchive):
            raise DataError(
                f"{archive.url}: the download is not the expected archive: {arrived['size']:,} "
                f"bytes, sha256 {arrived['sha256']} arrived; expected {archive.expected()} (a "
                "cut download or a changed file; nothing was kept: run again to start over)"
            ) from None
        if isinstance(e, (requests.RequestException, ValueError, OSError)):
            pinned = archive.size or archive.sha256
            expected = f"; expected {archive.expected()}" if pinned else ""
            raise DataError(
                f"{archive.url}: download failed ({reason(e)}){expected} (nothing was "
                "kept: run again to start over)"
            ) from None
        raise


def _delete_unpinned(archive, zip_path):
    """An archive whose hash is not pinned is deleted when it fails: a rerun downloads it."""
    if not archive.sha256:
        os.unlink(zip_path)


def extract(archive, zip_path, folder, member, check=None):
    """Extract `member` of the archive (a folder or a file), macOS metadata left out, into a
    staging folder, `check` it (raises DataError), then rename it into `folder`."""
    target = Path(folder) / member
    if target.exists():
        raise DataError(
            f"{target}: exists but is not the complete data (a copy made by hand or by another "
            f"tool?); expected it absent before extracting {zip_path}: move it away and run again"
        )
    _clear_leftovers(folder, STAGING + "*")
    staging = Path(tempfile.mkdtemp(prefix=STAGING, dir=folder))
    try:
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
                        f"{zip_path}: no {member} in this archive from {archive.url}; "
                        f"expected {archive.expected()}"
                    )
                for m in members:
                    z.extract(m, staging)
        except (zipfile.BadZipFile, EOFError) as e:
            _delete_unpinned(archive, zip_path)
            raise DataError(
                f"{zip_path}: not a readable zip archive ({e}); expected the archive of "
                f"{archive.url} ({archive.expected()}); deleted: run again to download it again"
            ) from None
        if check is not None:
            try:
                check(staging / member)
            except DataError:
                _delete_unpinned(archive, zip_path)
                raise
        os.replace(staging / member, target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return target
