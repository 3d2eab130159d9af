"""The search on a PostgreSQL study shared by several hosts, against a real PostgreSQL server
that the module starts (a throwaway cluster in a temporary folder, listening on 127.0.0.1 only,
run as an unprivileged user when the tests run as root) and stops. Skipped, with the reason,
where PostgreSQL's initdb / pg_ctl or the psycopg driver (requirements-search-pg.txt) is missing.

On a fresh database, processes started at once all create Optuna's schema; without
tools.search's advisory lock some fail with UniqueViolation on CREATE TYPE (docs/robustness.md).
"""

import glob
import os
import pwd
import shutil
import socket
import subprocess
import sys
import tempfile
import textwrap

import pytest

from conftest import ROOT

HOSTS = 4  # processes opening one fresh database at once (without the lock: 7 of 12 failed)


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


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """A PostgreSQL cluster in a temporary folder on 127.0.0.1:<port>, superuser `postgres`,
    no password (trust, local only)."""

    def __init__(self, bin_dir):
        self.bin, self.port, self.count = bin_dir, free_port(), 0
        self.folder = tempfile.mkdtemp(prefix="pg-", dir="/tmp")
        self.run_as = {}
        if os.geteuid() == 0:  # initdb refuses root: an unprivileged account runs the server
            account = next(pwd.getpwnam(n) for n in ("postgres", "nobody") if _exists(n))
            os.chown(self.folder, account.pw_uid, account.pw_gid)
            self.run_as = {"user": account.pw_uid, "group": account.pw_gid, "extra_groups": []}

    def tool(self, name, *args):
        r = subprocess.run(
            [os.path.join(self.bin, name), *args],
            capture_output=True,
            text=True,
            timeout=120,
            cwd=self.folder,
            **self.run_as,
        )
        assert r.returncode == 0, f"{name}: {r.stdout[-1500:]}{r.stderr[-1500:]}"

    def start(self):
        data = os.path.join(self.folder, "data")
        self.tool("initdb", "-D", data, "-A", "trust", "-U", "postgres", "-E", "UTF8", "--no-sync")
        options = f"-c listen_addresses=127.0.0.1 -p {self.port} -c unix_socket_directories='' -c fsync=off"
        self.tool(
            "pg_ctl",
            "-D",
            data,
            "-l",
            os.path.join(self.folder, "log"),
            "-w",
            "-o",
            options,
            "start",
        )

    def stop(self):
        subprocess.run(
            [
                os.path.join(self.bin, "pg_ctl"),
                "-D",
                os.path.join(self.folder, "data"),
                "-m",
                "immediate",
                "stop",
            ],
            capture_output=True,
            timeout=60,
            cwd="/",
            **self.run_as,
        )
        shutil.rmtree(self.folder, ignore_errors=True)

    def fresh_database(self):
        """The URL of a new, empty database."""
        import psycopg

        self.count += 1
        name = f"study{self.count}"
        with psycopg.connect(
            f"host=127.0.0.1 port={self.port} user=postgres dbname=postgres", autocommit=True
        ) as connection:
            connection.execute(f"CREATE DATABASE {name}")
        return f"postgresql://postgres@127.0.0.1:{self.port}/{name}"


def _exists(account):
    try:
        pwd.getpwnam(account)
        return True
    except KeyError:
        return False


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


# Each process imports everything, says "ready", waits for "go" on stdin, then opens the study.
OPEN_AT_ONCE = textwrap.dedent("""
    import sys
    sys.path.insert(0, {root!r})
    import optuna
    from tools import search
    print("ready", flush=True)
    sys.stdin.readline()
    storage = search.open_storage(sys.argv[1])
    optuna.create_study(study_name="shared", storage=storage, load_if_exists=True)
    print("opened", flush=True)
""")


def test_fresh_database_opened_by_several_processes_at_once(postgres):
    import optuna

    url = postgres.fresh_database()
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", OPEN_AT_ONCE.format(root=str(ROOT)), url],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(HOSTS)
    ]
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
    assert [s.study_name for s in optuna.get_all_study_summaries(url)] == ["shared"]


@pytest.mark.slow
def test_two_hosts_on_a_fresh_database_both_get_their_trials(postgres, shared_data, tmp_path):
    """Two `python -m tools.search` processes, as on two machines, started at once on one
    fresh database (ex1_b, 1 epoch, one trial each): both finish, the study holds both trials."""
    import optuna

    url = postgres.fresh_database()
    csv = shared_data / "jena_climate_2009_sample.csv"
    procs = [
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "tools.search",
                "--version",
                "ex1_b",
                "--data",
                str(csv),
                "--epochs",
                "1",
                "--trials",
                "1",
                "--storage",
                url,
                "--seed",
                str(host),
                "--out-dir",
                str(tmp_path / f"host{host}"),
                "--quiet",
            ],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for host in range(2)
    ]
    try:
        results = [p.communicate(timeout=900) for p in procs]
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
    for p, (_, err) in zip(procs, results):
        assert p.returncode == 0, err[-3000:]
        assert "Traceback" not in err
    study = optuna.load_study(study_name="ex1_b", storage=url)
    finished = [t for t in study.trials if t.state.is_finished()]
    assert len(finished) == 2, [t.state for t in study.trials]
    assert study.user_attrs["references"]["current"]["zip_bytes"] > 0
    tables = [(tmp_path / f"host{host}" / "ex1_b_search.md").read_text() for host in range(2)]
    assert any("2 finished trials" in t for t in tables)  # the host that finished last saw both
