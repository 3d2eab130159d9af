"""Checked downloads of the official archives, with pooch (https://www.fatiando.org/pooch).

pooch streams the archive to a temporary file beside its final place, checks its sha256
against the pinned one, and only then moves it into place; it deletes the temporary file on
any failure (Ctrl-C included), retries a failed connection, and on a rerun keeps an archive
already there whose hash matches (one that does not match is downloaded again). On top of
it, here: the size is checked too, what arrived is reported beside what was expected, the
real reason of a failed connection is given, and extraction goes to a staging folder that is
renamed into place only when complete (and, for the Jena CSV, verified): a failed or
interrupted run leaves no half-extracted data. macOS metadata in an archive (`__MACOSX/`,
`._*`, `.DS_Store`) is not extracted.

Verified archives stay in `<data>/downloads/`; a rerun after a failure starts clean (the
leftovers of a run killed outright, pooch's `tmp*` files and `.partial-*` staging folders,
are removed first).
"""

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

ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = ROOT.parent / "shared" / "data"  # this project's machines: no internet, a copy here
DOWNLOADS = "downloads"  # <data>/downloads/<archive>: the verified archives
RETRIES = 2  # further attempts after a failed connection (pooch's retry_if_failed)
STAGING = ".partial-"  # <data>/.partial-XXXX/: an extraction in progress


@dataclasses.dataclass(frozen=True)
class Archive:
    """An archive to download: where from, its file name, and its size and sha256 where
    they are published (None: not pinned, the extracted file is checked instead)."""

    url: str
    name: str
    size: int | None = None
    sha256: str | None = None

    def expected(self):
        pinned = [
            f"{self.size:,} bytes" if self.size is not None else None,
            f"sha256 {self.sha256}" if self.sha256 else None,
        ]
        return (
            ", ".join(p for p in pinned if p)
            or "a zip archive (its size and sha256 are not published)"
        )


class WrongArchive(Exception):
    """A complete transfer whose size or sha256 is not the pinned one (not retried: the
    server sent what it has). Not a ValueError, which pooch would retry."""


def local_copies(*names):
    """The paths (as the user would type them) of `names` in this project's shared data
    folder (../shared/data beside the repository) that exist: copies to use offline."""
    found = []
    for name in names:
        path = SHARED_DATA / name
        if path.exists():
            relative = os.path.relpath(path)
            found.append(relative if len(relative) < len(str(path)) else str(path))
    return found


def reason(e):
    """The innermost reason of a failed download, without the connection objects' reprs:
    'Failed to resolve 'host' ([Errno -2] Name or service not known)', 'HTTP 404 Not Found',
    'Connection broken: IncompleteRead(...)'."""
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


def fetch(archive, folder, log=print):
    """Path of the verified archive in `<folder>/downloads/`, downloaded when absent.
    A failed download, a wrong size or hash: one DataError naming the URL, what was expected
    and what arrived; nothing is left behind."""
    import pooch

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
    known = f"sha256:{archive.sha256}" if archive.sha256 else None
    registry = pooch.create(
        path=store,
        base_url="",
        registry={archive.name: known},
        urls={archive.name: archive.url},
        retry_if_failed=RETRIES,
    )
    target = store / archive.name
    if not (target.is_file() and pooch.file_hash(str(target)) == archive.sha256):
        log(f"downloading {archive.url} into {store}; expected: {archive.expected()}")
    try:
        try:
            return Path(registry.fetch(archive.name, downloader=checked_download))
        except BaseException:
            for d in created:  # the folders made for this download, if it left them empty
                with contextlib.suppress(OSError):
                    d.rmdir()
            raise
    except WrongArchive:
        raise DataError(
            f"{archive.url}: the download is not the expected archive: "
            f"{arrived['size']:,} bytes, sha256 {arrived['sha256']} arrived; expected "
            f"{archive.expected()} (a cut download or a changed file; nothing was "
            "kept: run again to start over)"
        ) from None
    except Exception as e:  # requests' errors, pooch's ValueError, OSError (disk full)
        import requests

        if not isinstance(e, (requests.RequestException, ValueError, OSError)):
            raise
        expected = f"; expected {archive.expected()}" if archive.size or archive.sha256 else ""
        raise DataError(
            f"{archive.url}: download failed ({reason(e)}){expected} (nothing was "
            "kept: run again to start over)"
        ) from None


def extract(archive, zip_path, folder, member, check=None):
    """Extract `member` of the archive (a folder and everything under it, or one file),
    macOS metadata left out, into `folder`: first into a staging folder beside it, then,
    once complete and `check`ed (a function of the staged path that raises DataError),
    renamed into place. Returns the extracted path. An archive that cannot be read, or that
    fails the check when its hash is not pinned, is deleted, so that a rerun downloads it
    again."""
    folder = Path(folder)
    target = folder / member
    if target.exists():
        raise DataError(
            f"{target}: exists but is not the complete data (a copy made by hand or "
            f"by another tool?); expected it absent before extracting {zip_path}: "
            "move it away and run again"
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
            if not archive.sha256:
                os.unlink(zip_path)
            raise DataError(
                f"{zip_path}: not a readable zip archive ({e}); expected the archive of "
                f"{archive.url} ({archive.expected()}); deleted: run again to download "
                "it again"
            ) from None
        if check is not None:
            try:
                check(staging / member)
            except DataError:
                if not archive.sha256:
                    os.unlink(zip_path)
                raise
        os.replace(staging / member, target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return target
