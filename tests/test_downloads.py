"""Checked downloads (common/download.py through kws_data and jena), against a real HTTP
server on 127.0.0.1 (http.server in a thread) serving small crafted archives: a good one, a
wrong one, a cut one, one with macOS metadata; the pinned archives are swapped for them
through the module constants (ARCHIVE, and the CSV's size and hash), which only tests do.
No internet is needed."""

import hashlib
import http.server
import io
import os
import socket
import threading
import zipfile

import numpy as np
import pytest
from scipy.io import wavfile

from common import download, jena, kws_data
from common.errors import DataError
from common.frontend_np import LABELS


class Server:
    """A local HTTP server: `files[path] = (bytes, how)`, how in 'ok', 'cut' (the body is
    cut after half, the connection closed), 'cut-once' (cut on the first request only);
    every request's path is recorded."""

    def __init__(self):
        self.files, self.requests = {}, []
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                server.requests.append(self.path)
                if self.path not in server.files:
                    self.send_error(404)
                    return
                body, how = server.files[self.path]
                cut = how == "cut" or (how == "cut-once" and server.requests.count(self.path) == 1)
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body[: len(body) // 2] if cut else body)
                self.close_connection = True

            def log_message(self, *args):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        # polled every 20 ms: shutdown() waits for the next poll (0.5 s by default)
        self.thread = threading.Thread(
            target=self.httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )
        self.thread.start()

    def url(self, path):
        return f"http://127.0.0.1:{self.httpd.server_address[1]}{path}"

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture()
def server():
    s = Server()
    yield s
    s.close()


@pytest.fixture()
def workdir(tmp_path, monkeypatch):
    """An empty working folder (./data does not exist) and no retry pauses."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(download, "RETRIES", 0)
    return tmp_path


def wav_bytes(seed):
    buf = io.BytesIO()
    wavfile.write(buf, 16000, (np.random.RandomState(seed).randn(16000) * 1000).astype(np.int16))
    return buf.getvalue()


def zip_bytes(members):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in members.items():
            z.writestr(name, data)
    return buf.getvalue()


def mini_speech_commands_zip():
    """Two wavs a label, a README, and the macOS metadata the official archive holds."""
    members = {"mini_speech_commands/README.md": b"readme"}
    for i, label in enumerate(LABELS):
        for speaker in ("aaaa0001", "bbbb0002"):
            members[f"mini_speech_commands/{label}/{speaker}_nohash_0.wav"] = wav_bytes(i)
    members["__MACOSX/mini_speech_commands/yes/._aaaa0001_nohash_0.wav"] = b"\x00\x05\x16\x07 mac"
    members["mini_speech_commands/yes/._aaaa0001_nohash_0.wav"] = b"\x00\x05\x16\x07 mac"
    members["mini_speech_commands/.DS_Store"] = b"Bud1"
    return zip_bytes(members)


def pinned(server, path, data, how="ok", name="mini_speech_commands.zip"):
    """Serve `data` at `path` and return an Archive pinned to `data`'s size and hash."""
    server.files[path] = (data, how)
    return download.Archive(server.url(path), name, len(data), hashlib.sha256(data).hexdigest())


def everything_under(folder):
    return sorted(
        os.path.relpath(os.path.join(d, f), folder) for d, _, fs in os.walk(folder) for f in fs
    )


def test_the_official_archives_are_pinned():
    assert kws_data.ARCHIVE.size == 182_082_353
    assert (
        kws_data.ARCHIVE.sha256
        == "49650f2341b26d886b46b3f4fb8fed59e30300b17550f1ee4a768b3106cf93a0"
    )
    assert kws_data.ARCHIVE.url.endswith("/mini_speech_commands.zip")
    assert (jena.JENA_BYTES, jena.JENA_SHA256) == (
        43_153_776,
        "eb3df9da6c25039f10814ded0a14138bb0afa3612be9cf79cafdf1cf6f95172e",
    )
    assert (
        jena.ARCHIVE.sha256 is None and jena.ARCHIVE.size is None
    )  # not published: the CSV is checked


def test_good_archive_is_verified_extracted_without_macos_metadata_and_kept(
    server, workdir, monkeypatch, capsys
):
    data = mini_speech_commands_zip()
    monkeypatch.setattr(kws_data, "ARCHIVE", pinned(server, "/msc.zip", data))
    folder = kws_data.resolve_data_dir(None)
    assert str(folder) == os.path.join("data", "mini_speech_commands")
    files = everything_under(workdir / "data")
    assert files == sorted(
        [
            "downloads/mini_speech_commands.zip",
            "mini_speech_commands/README.md",
            *(
                f"mini_speech_commands/{lab}/{s}_nohash_0.wav"
                for lab in LABELS
                for s in ("aaaa0001", "bbbb0002")
            ),
        ]
    )
    assert (workdir / "data" / "downloads" / "mini_speech_commands.zip").read_bytes() == data
    assert "downloading " + server.url("/msc.zip") in capsys.readouterr().out
    # the data layer reads it: a split of its files, every wav
    split_dir = workdir / "split"
    split_dir.mkdir()
    for which, speaker in (("train", "aaaa0001"), ("val", "bbbb0002"), ("test", "bbbb0002")):
        (split_dir / f"kws_split_{which}.txt").write_text(
            "".join(f"./data/mini_speech_commands/{lab}/{speaker}_nohash_0.wav\n" for lab in LABELS)
        )
    splits = kws_data.read_splits(split_dir, folder, log=lambda _: None)
    kws_data.load_waves(splits, 16000)
    # a rerun finds the extracted folder; with it removed, the kept archive (no new request)
    assert kws_data.resolve_data_dir(None) == folder and server.requests == ["/msc.zip"]
    import shutil

    shutil.rmtree(folder)
    assert kws_data.resolve_data_dir(None) == folder and server.requests == ["/msc.zip"]
    assert "downloading" not in capsys.readouterr().out


def test_wrong_archive_is_one_error_naming_url_expected_and_arrived(server, workdir, monkeypatch):
    good, other = (
        mini_speech_commands_zip(),
        zip_bytes({"mini_speech_commands/yes/x_nohash_0.wav": b"x"}),
    )
    archive = pinned(server, "/msc.zip", good)
    server.files["/msc.zip"] = (other, "ok")  # the server now has another file
    monkeypatch.setattr(kws_data, "ARCHIVE", archive)
    with pytest.raises(DataError) as e:
        kws_data.resolve_data_dir(None, offline_hint="the caller's hint")
    message = str(e.value)
    assert message.startswith(
        f"{archive.url}: the download is not the expected archive: "
        f"{len(other):,} bytes, sha256 {hashlib.sha256(other).hexdigest()} arrived; "
        f"expected {len(good):,} bytes, sha256 {archive.sha256}"
    )
    assert message.endswith("; the caller's hint") and "\n" not in message
    assert server.requests == ["/msc.zip"]  # a complete wrong file is not downloaded again
    assert not (workdir / "data").exists()  # nothing kept, not even the folders


def test_cut_download_is_one_error_and_leaves_nothing(server, workdir, monkeypatch):
    archive = pinned(server, "/msc.zip", mini_speech_commands_zip(), how="cut")
    monkeypatch.setattr(kws_data, "ARCHIVE", archive)
    monkeypatch.setattr(download, "RETRIES", 1)
    with pytest.raises(DataError) as e:
        kws_data.resolve_data_dir(None)
    size = archive.size
    assert str(e.value).startswith(
        f"{archive.url}: download failed (Connection broken: IncompleteRead({size // 2} bytes read, "
        f"{size - size // 2} more expected)); expected {size:,} bytes, sha256 {archive.sha256}"
    )
    assert server.requests == ["/msc.zip"] * 2  # retried once
    assert not (workdir / "data").exists()


def test_a_cut_connection_is_retried(server, workdir, monkeypatch):
    monkeypatch.setattr(
        kws_data, "ARCHIVE", pinned(server, "/msc.zip", mini_speech_commands_zip(), "cut-once")
    )
    monkeypatch.setattr(download, "RETRIES", 1)
    assert kws_data.resolve_data_dir(None).name == "mini_speech_commands"
    assert server.requests == ["/msc.zip"] * 2


@pytest.mark.parametrize(
    "url, reason",
    [
        ("/missing.zip", "HTTP 404 Not Found"),
        (None, "Failed to establish a new connection: [Errno 111] Connection refused"),
    ],
)
def test_failed_download_gives_the_real_reason(server, workdir, monkeypatch, url, reason):
    if url is None:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            address = f"http://127.0.0.1:{s.getsockname()[1]}/x.zip"
    else:
        address = server.url(url)
    monkeypatch.setattr(jena, "ARCHIVE", download.Archive(address, "jena.zip"))
    with pytest.raises(DataError) as e:
        jena.resolve_csv(None, offline_hint="pass a Jena CSV with --data FILE")
    assert str(e.value) == (
        f"{address}: download failed ({reason}) (nothing was kept: run again to "
        "start over); pass a Jena CSV with --data FILE"
    )
    assert not (workdir / "data").exists()


def test_interrupted_extraction_leaves_nothing_half_extracted_and_a_rerun_finishes(
    server, workdir, monkeypatch
):
    monkeypatch.setattr(kws_data, "ARCHIVE", pinned(server, "/msc.zip", mini_speech_commands_zip()))
    real_extract, done = zipfile.ZipFile.extract, []

    def extract_then_ctrl_c(self, member, path=None, pwd=None):
        if len(done) == 5:
            raise KeyboardInterrupt
        done.append(member)
        return real_extract(self, member, path, pwd)

    monkeypatch.setattr(zipfile.ZipFile, "extract", extract_then_ctrl_c)
    with pytest.raises(KeyboardInterrupt):
        kws_data.resolve_data_dir(None)
    assert everything_under(workdir / "data") == ["downloads/mini_speech_commands.zip"]
    assert os.listdir(workdir / "data") == ["downloads"]  # no staging folder either
    monkeypatch.setattr(zipfile.ZipFile, "extract", real_extract)
    assert kws_data.resolve_data_dir(None).name == "mini_speech_commands"
    assert server.requests == ["/msc.zip"]  # the verified archive was kept


def test_leftovers_of_a_run_killed_outright_are_cleared(server, workdir, monkeypatch):
    monkeypatch.setattr(kws_data, "ARCHIVE", pinned(server, "/msc.zip", mini_speech_commands_zip()))
    (workdir / "data" / "downloads").mkdir(parents=True)
    (workdir / "data" / "downloads" / "tmpk1ll3d").write_bytes(b"half a download")
    (workdir / "data" / "downloads" / "mini_speech_commands.zip").write_bytes(b"a corrupt archive")
    (workdir / "data" / ".partial-x1y2").mkdir()
    (workdir / "data" / ".partial-x1y2" / "half.wav").write_bytes(b"")
    assert kws_data.resolve_data_dir(None).name == "mini_speech_commands"
    assert sorted(os.listdir(workdir / "data")) == ["downloads", "mini_speech_commands"]
    assert os.listdir(workdir / "data" / "downloads") == ["mini_speech_commands.zip"]
    assert server.requests == ["/msc.zip"]  # the corrupt archive was replaced


def jena_zip(csv_bytes):
    return zip_bytes(
        {
            jena.JENA_CSV: csv_bytes,
            f"__MACOSX/._{jena.JENA_CSV}": b"\x00\x05\x16\x07",
            ".DS_Store": b"Bud1",
        }
    )


def test_jena_csv_is_verified_before_it_is_put_in_place(server, workdir, monkeypatch):
    csv = b"Date Time,T (degC),rh (%)\n01.01.2009 00:10:00,-8.02,93.3\n"
    server.files["/jena.zip"] = (jena_zip(csv), "ok")
    archive = download.Archive(server.url("/jena.zip"), jena.JENA_CSV + ".zip")
    monkeypatch.setattr(jena, "ARCHIVE", archive)
    # the official CSV's size and hash: this one is not it
    with pytest.raises(DataError) as e:
        jena.resolve_csv(None)
    assert str(e.value) == (
        f"{archive.url}: its {jena.JENA_CSV} is {len(csv):,} bytes, sha256 "
        f"{hashlib.sha256(csv).hexdigest()}; expected the official 43,153,776 bytes, "
        f"sha256 {jena.JENA_SHA256} (the archive was deleted: run again to download it again)"
    )
    assert os.listdir(workdir / "data") == ["downloads"] and not os.listdir(
        workdir / "data" / "downloads"
    )
    # pinned to this CSV (a test-only override), the same archive is accepted
    monkeypatch.setattr(jena, "JENA_BYTES", len(csv))
    monkeypatch.setattr(jena, "JENA_SHA256", hashlib.sha256(csv).hexdigest())
    path = jena.resolve_csv(None)
    assert path == os.path.join("data", jena.JENA_CSV) and open(path, "rb").read() == csv
    assert sorted(os.listdir(workdir / "data")) == [
        "downloads",
        jena.JENA_CSV,
    ]  # no __MACOSX, no .DS_Store
    assert server.requests == ["/jena.zip"] * 2


def test_an_unreadable_unpinned_archive_is_deleted(server, workdir, monkeypatch):
    server.files["/jena.zip"] = (b"<html>a captive portal page</html>", "ok")
    archive = download.Archive(server.url("/jena.zip"), jena.JENA_CSV + ".zip")
    monkeypatch.setattr(jena, "ARCHIVE", archive)
    with pytest.raises(DataError, match=r"not a readable zip archive .*; deleted: run again"):
        jena.resolve_csv(None)
    assert not os.listdir(workdir / "data" / "downloads")


def test_reason_unwraps_the_innermost_cause():
    class Wrapper(Exception):
        pass

    inner = OSError(
        "HTTPSConnection(host='example.org', port=443): Failed to resolve 'example.org' "
        "([Errno -2] Name or service not known)"
    )
    assert download.reason(Wrapper(Wrapper(inner))) == (
        "Failed to resolve 'example.org' ([Errno -2] Name or service not known)"
    )
    assert download.reason(ValueError()) == "ValueError"
