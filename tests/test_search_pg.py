"""Several search processes at once on one fresh storage, on SQLite and on a real PostgreSQL
server that the module starts (a throwaway cluster in a temporary folder, listening on
127.0.0.1 only, run as an unprivileged user when the tests run as root) and stops. The
PostgreSQL cases are skipped, with the reason, where PostgreSQL's initdb / pg_ctl or the psycopg
driver (requirements-search-pg.txt) is missing.

On a fresh storage, processes started at once all create Optuna's schema; without
tools.search's schema lock some fail (SQLite: table already exists, about half of such starts;
PostgreSQL: UniqueViolation on CREATE TYPE, 7 of 12; docs/robustness.md).
"""

import glob
import json
import os
import pwd
import shutil
import socket
import subprocess
import sys
import tempfile

import pytest

from conftest import ROOT, Started

HOSTS = 4  # processes opening one fresh storage at once


def pg_bin():
    """The folder of initdb and pg_ctl: $PG_BIN, the newest /usr/lib/postgresql/*/bin, or PATH."""
    candidates = [os.environ.get("PG_BIN")] + sorted(
        glob.glob("/usr/lib/postgresql/*/bin"), reverse=True
    )
    candidates.append(os.path.dirname(shutil.which("initdb") or ""))
    for folder in filter(None, candidates):
        if all(os.access(os.path.join(folder, t), os.X_OK) for t in ("initdb", "pg_ctl")):
            return folder
    return None


class Server:
    """A PostgreSQL cluster in a temporary folder on 127.0.0.1:<port>, superuser `postgres`,
    no password (trust, local only)."""

    def __init__(self, bin_dir):
        self.bin, self.count = bin_dir, 0
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self.folder = tempfile.mkdtemp(prefix="pg-", dir="/tmp")
        self.data, self.run_as = os.path.join(self.folder, "data"), {}
        if os.geteuid() == 0:  # initdb refuses root: an unprivileged account runs the server
            accounts = {a.pw_name: a for a in pwd.getpwall()}
            account = accounts.get("postgres") or accounts["nobody"]
            os.chown(self.folder, account.pw_uid, account.pw_gid)
            self.run_as = {"user": account.pw_uid, "group": account.pw_gid, "extra_groups": []}

    def tool(self, name, *args, check=True):
        r = subprocess.run(
            [os.path.join(self.bin, name), *args],
            capture_output=True,
            text=True,
            timeout=120,
            cwd=self.folder,
            **self.run_as,
        )
        assert r.returncode == 0 or not check, f"{name}: {r.stdout[-1500:]}{r.stderr[-1500:]}"

    def start(self):
        self.tool(
            "initdb", "-D", self.data, "-A", "trust", "-U", "postgres", "-E", "UTF8", "--no-sync"
        )
        options = f"-c listen_addresses=127.0.0.1 -p {self.port} -c unix_socket_directories='' -c fsync=off"
        log = os.path.join(self.folder, "log")
        self.tool("pg_ctl", "-D", self.data, "-l", log, "-w", "-o", options, "start")

    def stop(self):
        self.tool("pg_ctl", "-D", self.data, "-m", "immediate", "stop", check=False)
        shutil.rmtree(self.folder, ignore_errors=True)

    def fresh_database(self):
        """The URL of a new, empty database."""
        import psycopg

        self.count += 1
        address = f"host=127.0.0.1 port={self.port} user=postgres"
        with psycopg.connect(f"{address} dbname=postgres", autocommit=True) as connection:
            connection.execute(f"CREATE DATABASE study{self.count}")
        return f"postgresql://postgres@127.0.0.1:{self.port}/study{self.count}"


@pytest.fixture(scope="module")
def postgres():
    folder = pg_bin()
    if folder is None:
        pytest.skip("PostgreSQL's initdb and pg_ctl not found (set PG_BIN, or install postgresql)")
    pytest.importorskip(
        "psycopg", reason="the PostgreSQL driver: pip install -r requirements-search-pg.txt"
    )
    server = Server(folder)
    try:
        server.start()
        yield server
    finally:
        server.stop()


@pytest.fixture(params=["sqlite", "postgresql"])
def fresh(request, tmp_path):
    """The URL of a fresh storage: tmp_path/search.db, or a new database on the server."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'search.db'}"
    return request.getfixturevalue("postgres").fresh_database()


# Each process imports everything, says "ready", waits for "go" on stdin, then opens the study.
OPEN_AT_ONCE = """
import sys
import optuna
from tools import search
print("ready", flush=True)
sys.stdin.readline()
storage = search.open_storage(sys.argv[1])
optuna.create_study(study_name="shared", storage=storage, load_if_exists=True)
print("opened", flush=True)
"""


def test_fresh_storage_opened_by_several_processes_at_once(fresh):
    import optuna

    pipes = {"stdin": subprocess.PIPE, "stdout": subprocess.PIPE, "stderr": subprocess.PIPE}
    run = [sys.executable, "-c", OPEN_AT_ONCE, fresh]
    procs = [subprocess.Popen(run, cwd=ROOT, text=True, **pipes) for _ in range(HOSTS)]
    try:
        for p in procs:
            assert p.stdout.readline() == "ready\n", p.stderr.read()
        for p in procs:  # as close to one moment as a loop gets
            p.stdin.write("go\n")
            p.stdin.flush()
        results = [p.communicate(timeout=120) for p in procs]
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
    for p, (out, err) in zip(procs, results):
        assert p.returncode == 0 and out.endswith("opened\n"), err[-2000:]
    assert [s.study_name for s in optuna.get_all_study_summaries(fresh)] == ["shared"]


@pytest.mark.slow
def test_two_searches_at_once_on_a_fresh_study_both_get_their_trials(
    postgres, tiny_subset, tmp_path
):
    """Two `python -m tools.search` processes (other seeds; ex2_a on the tiny subset, 1 epoch, no
    quantization-aware ones, 2 folds, one trial each) started at once on one fresh PostgreSQL
    study, as on two machines (an output folder each, --storage): both finish, the study holds
    both trials (the same on SQLite in one folder: tests/test_search.py's ex2_search)."""
    import optuna

    fresh, outs = postgres.fresh_database(), [tmp_path / "host0", tmp_path / "host1"]
    argv = ["-m", "tools.search", "--version", "ex2_a", "--trials", "1", "--quiet"]
    argv += ["--epochs", "1", "--qat-epochs", "0"]
    argv += ["--data", tiny_subset[0], "--split-dir", tiny_subset[1], "--folds", "2"]
    procs = [
        Started(*argv, "--seed", i, "--out-dir", out, "--storage", fresh)
        for i, out in enumerate(outs)
    ]
    for r in [p.result() for p in procs]:
        assert r.returncode == 0 and "Traceback" not in r.stderr, r.stderr[-3000:]
    study = optuna.load_study(study_name="ex2_a", storage=fresh)
    finished = [t for t in study.trials if t.state.is_finished()]
    assert len(finished) == 2, [t.state for t in study.trials]
    assert study.user_attrs["references"]["current"]["zip_bytes"] > 0
    refs = json.loads((outs[0] / "ex2_a_search.json").read_text())["references"]
    assert refs["current"]["quality"] > 0 and refs["current"]["zip_bytes"] > 0
    tables = [(out / "ex2_a_search.md").read_text() for out in outs]
    assert any("2 finished trials" in t for t in tables)  # the host that finished last saw both
