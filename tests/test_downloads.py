"""Checked downloads (common/download.py through kws_data and jena), against a real HTTP
server on 127.0.0.1 (http.server in a thread) serving small crafted archives: a good one, a
wrong one, a cut one, one with macOS metadata, a redirect loop, a stalled one. The server is
named by ML4IOT_MIRROR (as a course mirror would be); the pins (the archive's and the CSV's
size and hash) are swapped through the module constants, which only tests do. No internet."""

import functools
import hashlib
import http.server
import io
import itertools
import os
import shutil
import subprocess
import sys
import threading
import time
import types
import zipfile

import numpy as np
import pooch.core
import pytest
from scipy.io import wavfile

from common import download, jena, kws_data
from common.errors import DataError
from common.frontend_np import LABELS

SPEAKERS = ("aaaa0001", "bbbb0002")
WAVS = [f"mini_speech_commands/{lab}/{s}_nohash_0.wav" for lab in LABELS for s in SPEAKERS]


class Handler(http.server.BaseHTTPRequestHandler):
    """Serves `server.files[path] = (bytes, how)`, how in 'ok', 'cut' (the body is cut after
    half, the connection closed), 'cut-once' (cut on the first request only), 'slow' (half,
    a second's pause, the rest), 'loop' (redirected to itself), 'stall' (nothing for 2 s);
    every request's path is recorded in `server.requests`."""

    def do_GET(self):
        files, requests = self.server.files, self.server.requests
        requests.append(self.path)
        if self.path not in files:
            return self.send_error(404)
        body, how = files[self.path]
        if how in ("loop", "stall"):
            time.sleep(2 if how == "stall" else 0)
            self.send_response(302)
            self.send_header("Location", self.path)
            return self.end_headers()
        if how == "slow":
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body[: len(body) // 2])
            self.wfile.flush()
            time.sleep(1)
            return self.wfile.write(body[len(body) // 2 :])
        cut = how == "cut" or (how == "cut-once" and requests.count(self.path) == 1)
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body[: len(body) // 2] if cut else body)
        self.close_connection = True

    def log_message(self, *args):
        pass


@pytest.fixture()
def server():
    """A local HTTP server in a thread (Handler): its .files, .requests and .url(path)."""
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    httpd.files, httpd.requests = {}, []
    httpd.url = lambda path: f"http://127.0.0.1:{httpd.server_address[1]}{path}"
    httpd.daemon_threads = True
    # polled every 20 ms: shutdown() waits for the next poll (0.5 s by default)
    threading.Thread(target=httpd.serve_forever, args=(0.02,), daemon=True).start()
    yield httpd
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture()
def workdir(tmp_path, monkeypatch, server):
    """An empty working folder (./data does not exist), the archives served by the local
    server (ML4IOT_MIRROR), no retries, no pause before one."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv(download.MIRROR, server.url("/"))
    monkeypatch.setattr(download, "RETRIES", 0)
    monkeypatch.setattr(pooch.core, "time", types.SimpleNamespace(sleep=lambda seconds: None))
    return tmp_path


def zip_bytes(members):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in members.items():
            z.writestr(name, data)
    return buf.getvalue()


@functools.cache
def mini_speech_commands_zip():
    """Two wavs a label, a README, and the macOS metadata the official archive holds."""
    wav, mac = io.BytesIO(), b"\x00\x05\x16\x07 mac"
    wavfile.write(wav, 16000, (np.random.RandomState(0).randn(16000) * 1000).astype(np.int16))
    members = {"mini_speech_commands/README.md": b"readme", **dict.fromkeys(WAVS, wav.getvalue())}
    members["__MACOSX/mini_speech_commands/yes/._aaaa0001_nohash_0.wav"] = mac
    members["mini_speech_commands/yes/._aaaa0001_nohash_0.wav"] = mac
    members["mini_speech_commands/.DS_Store"] = b"Bud1"
    return zip_bytes(members)


@pytest.fixture()
def msc(server, workdir, monkeypatch):
    """kws_data's archive swapped for mini_speech_commands_zip() served at /mini_speech_commands.zip, pinned to
    its size and hash: the Archive (set server.files["/mini_speech_commands.zip"] to serve something else)."""
    data = mini_speech_commands_zip()
    server.files["/mini_speech_commands.zip"] = (data, "ok")
    sha256 = hashlib.sha256(data).hexdigest()
    archive = download.Archive(kws_data.ARCHIVE.url, "mini_speech_commands.zip", len(data), sha256)
    monkeypatch.setattr(kws_data, "ARCHIVE", archive)
    return download.mirrored(archive)


def everything_under(folder):
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file())


def test_the_official_archives_are_pinned():
    msc = kws_data.ARCHIVE
    assert msc.url.endswith("/mini_speech_commands.zip") and msc.size == 182_082_353
    assert msc.sha256 == "49650f2341b26d886b46b3f4fb8fed59e30300b17550f1ee4a768b3106cf93a0"
    assert jena.JENA_BYTES == 43_153_776
    assert jena.JENA_SHA256 == "eb3df9da6c25039f10814ded0a14138bb0afa3612be9cf79cafdf1cf6f95172e"
    # not published: the CSV is checked
    assert jena.ARCHIVE.sha256 is None and jena.ARCHIVE.size is None


def test_good_archive_is_verified_extracted_without_macos_metadata_and_kept(
    msc, server, workdir, capsys
):
    folder = kws_data.resolve_data_dir(None)
    assert str(folder) == os.path.join("data", "mini_speech_commands")
    assert everything_under(workdir / "data") == sorted(
        ["downloads/mini_speech_commands.zip", "mini_speech_commands/README.md", *WAVS]
    )
    kept = workdir / "data" / "downloads" / "mini_speech_commands.zip"
    assert kept.read_bytes() == mini_speech_commands_zip()
    assert "downloading " + msc.url in capsys.readouterr().out
    # the data layer reads it: a split of its files, every wav
    (workdir / "split").mkdir()
    for which, speaker in (("train", SPEAKERS[0]), ("val", SPEAKERS[1]), ("test", SPEAKERS[1])):
        lines = "".join(f"./data/{w}\n" for w in WAVS if speaker in w)
        (workdir / "split" / f"kws_split_{which}.txt").write_text(lines)
    kws_data.load_waves(kws_data.read_splits(workdir / "split", folder, log=lambda _: None), 16000)
    # a rerun finds the extracted folder; with it removed, the kept archive (no new request)
    assert kws_data.resolve_data_dir(None) == folder and server.requests == [
        "/mini_speech_commands.zip"
    ]
    shutil.rmtree(folder)
    assert kws_data.resolve_data_dir(None) == folder and server.requests == [
        "/mini_speech_commands.zip"
    ]
    assert "downloading" not in capsys.readouterr().out


def test_wrong_archive_is_one_error_naming_url_expected_and_arrived(msc, server, workdir):
    other = zip_bytes({"mini_speech_commands/yes/x_nohash_0.wav": b"x"})
    server.files["/mini_speech_commands.zip"] = (other, "ok")  # the server now has another file
    with pytest.raises(DataError) as e:
        kws_data.resolve_data_dir(None, offline_hint="the caller's hint")
    assert str(e.value).startswith(
        f"{msc.url}: the download is not the expected archive: "
        f"{len(other):,} bytes, sha256 {hashlib.sha256(other).hexdigest()} arrived; "
        f"expected {msc.size:,} bytes, sha256 {msc.sha256}"
    )
    assert str(e.value).endswith("; the caller's hint") and "\n" not in str(e.value)
    assert server.requests == [
        "/mini_speech_commands.zip"
    ]  # a complete wrong file is not downloaded again
    assert not (workdir / "data").exists()  # nothing kept, not even the folders


def test_a_cut_download_is_retried_and_cut_again_is_one_error_leaving_nothing(
    msc, server, workdir, monkeypatch
):
    monkeypatch.setattr(download, "RETRIES", 1)
    server.files["/mini_speech_commands.zip"] = (mini_speech_commands_zip(), "cut")
    with pytest.raises(DataError) as e:
        kws_data.resolve_data_dir(None)
    size = msc.size
    assert str(e.value).startswith(
        f"{msc.url}: download failed (Connection broken: IncompleteRead({size // 2} bytes read, "
        f"{size - size // 2} more expected)); expected {size:,} bytes, sha256 {msc.sha256}"
    )
    assert server.requests == ["/mini_speech_commands.zip"] * 2  # retried once
    assert not (workdir / "data").exists()
    server.requests.clear()
    server.files["/mini_speech_commands.zip"] = (mini_speech_commands_zip(), "cut-once")
    assert kws_data.resolve_data_dir(None).name == "mini_speech_commands"
    assert server.requests == ["/mini_speech_commands.zip"] * 2


@pytest.mark.parametrize(
    "how, reason",
    [
        ("missing", "HTTP 404 Not Found"),
        ("refused", "Failed to establish a new connection: [Errno 111] Connection refused"),
        ("loop", "a redirect loop: the server redirected it 30 times"),
        ("stall", "timed out: no data for 0.5 s"),
    ],
)
def test_failed_download_gives_the_real_reason(server, workdir, monkeypatch, how, reason):
    address = server.url("/" + jena.ARCHIVE.name)
    server.files["/" + jena.ARCHIVE.name] = (b"", how)
    monkeypatch.setattr(download, "TIMEOUT_S", 0.5)
    if how == "refused":  # the server closed: nothing listens on its port any more
        server.shutdown()
        server.server_close()
    if how in ("missing", "refused"):
        server.files.clear()
    with pytest.raises(DataError) as e:
        jena.resolve_csv(None, offline_hint="pass a Jena CSV with --data FILE")
    assert str(e.value) == (
        f"{address}: download failed ({reason}) (nothing was kept: run again to "
        "start over); pass a Jena CSV with --data FILE"
    )
    assert not (workdir / "data").exists()


def test_two_processes_download_once_the_second_waits_and_finds_the_data(msc, server, workdir):
    server.files["/mini_speech_commands.zip"] = (mini_speech_commands_zip(), "slow")
    code = (
        "import sys; sys.path.insert(0, sys.argv[1]); from common import download, kws_data; "
        f"kws_data.ARCHIVE = download.Archive('x', {msc.name!r}, {msc.size}, {msc.sha256!r}); "
        "print(kws_data.resolve_data_dir(None))"
    )
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    run = lambda: subprocess.Popen(  # noqa: E731
        [sys.executable, "-c", code, root], stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )
    first = run()
    time.sleep(0.6)  # the first one is half way through its download
    second = run()
    outs = [p.communicate(timeout=60)[0].decode() for p in (first, second)]
    assert [p.returncode for p in (first, second)] == [0, 0], outs
    assert "waiting: another process is downloading mini_speech_commands.zip" in outs[1]
    assert server.requests == ["/mini_speech_commands.zip"]
    assert sorted(os.listdir(workdir / "data")) == ["downloads", "mini_speech_commands"]


def test_interrupted_extraction_leaves_nothing_half_extracted_and_a_rerun_finishes(
    msc, server, workdir, monkeypatch
):
    real_extract, calls = zipfile.ZipFile.extract, itertools.count()

    def extract_then_ctrl_c(self, *args, **kwargs):  # the sixth member is not extracted
        if next(calls) == 5:
            raise KeyboardInterrupt
        return real_extract(self, *args, **kwargs)

    monkeypatch.setattr(zipfile.ZipFile, "extract", extract_then_ctrl_c)
    with pytest.raises(KeyboardInterrupt):
        kws_data.resolve_data_dir(None)
    assert everything_under(workdir / "data") == ["downloads/mini_speech_commands.zip"]
    assert os.listdir(workdir / "data") == ["downloads"]  # no staging folder either
    monkeypatch.setattr(zipfile.ZipFile, "extract", real_extract)
    assert kws_data.resolve_data_dir(None).name == "mini_speech_commands"
    assert server.requests == ["/mini_speech_commands.zip"]  # the verified archive was kept


def test_leftovers_of_a_run_killed_outright_are_cleared(msc, server, workdir):
    leftovers = ["downloads/tmpk1ll3d", "downloads/mini_speech_commands.zip", ".partial-x1/a.wav"]
    for name in leftovers:  # half a download, a corrupt archive, half an extraction
        (workdir / "data" / name).parent.mkdir(parents=True, exist_ok=True)
        (workdir / "data" / name).write_bytes(b"half a file")
    assert kws_data.resolve_data_dir(None).name == "mini_speech_commands"
    assert sorted(os.listdir(workdir / "data")) == ["downloads", "mini_speech_commands"]
    assert os.listdir(workdir / "data" / "downloads") == ["mini_speech_commands.zip"]
    assert server.requests == ["/mini_speech_commands.zip"]  # the corrupt archive was replaced


def test_a_jena_archive_that_fails_any_check_is_deleted_and_a_rerun_downloads_it(
    server, workdir, monkeypatch
):
    url, at = download.mirrored(jena.ARCHIVE).url, "/" + jena.ARCHIVE.name
    server.files[at] = (b"<html>a captive portal page</html>", "ok")
    with pytest.raises(DataError, match=r"not a readable zip archive .*; deleted: run again"):
        jena.resolve_csv(None)
    assert not (workdir / "data").exists()
    server.files[at] = (zip_bytes({"other.csv": b"x"}), "ok")  # a zip without the CSV
    with pytest.raises(DataError, match=r"no jena_climate_2009_2016.csv in this archive from "):
        jena.resolve_csv(None)
    assert not (workdir / "data").exists()
    csv = b"Date Time,T (degC),rh (%)\n01.01.2009 00:10:00,-8.02,93.3\n"
    macos = {f"__MACOSX/._{jena.JENA_CSV}": b"\x00\x05\x16\x07", ".DS_Store": b"Bud1"}
    server.files[at] = (zip_bytes({jena.JENA_CSV: csv, **macos}), "ok")
    # the official CSV's size and hash: this one is not it
    with pytest.raises(DataError) as e:
        jena.resolve_csv(None)
    assert str(e.value) == (
        f"{url}: its {jena.JENA_CSV} is {len(csv):,} bytes, sha256 "
        f"{hashlib.sha256(csv).hexdigest()}; expected the official 43,153,776 bytes, "
        f"sha256 {jena.JENA_SHA256} (the archive was deleted: run again to download it again)"
    )
    assert not (workdir / "data").exists()
    # pinned to this CSV (a test-only override), the same archive is accepted
    monkeypatch.setattr(jena, "JENA_BYTES", len(csv))
    monkeypatch.setattr(jena, "JENA_SHA256", hashlib.sha256(csv).hexdigest())
    path = jena.resolve_csv(None)
    assert path == os.path.join("data", jena.JENA_CSV) and open(path, "rb").read() == csv
    # no __MACOSX, no .DS_Store
    assert sorted(os.listdir(workdir / "data")) == ["downloads", jena.JENA_CSV]
    assert server.requests == [at] * 4


def test_reason_unwraps_the_innermost_cause():
    why = "Failed to resolve 'example.org' ([Errno -2] Name or service not known)"
    inner = OSError(f"HTTPSConnection(host='example.org', port=443): {why}")
    assert download.reason(RuntimeError(RuntimeError(inner))) == why
    assert download.reason(ValueError()) == "ValueError"
