"""Shared test fixtures. Real data is read from ../shared/data (never copied here)."""

import signal
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
import common  # noqa: E402,F401  (sets TF_USE_LEGACY_KERAS before any TensorFlow import)


STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


def default_stop_signals():
    """SIGINT, SIGTERM and SIGHUP back to their default action (a Popen preexec_fn): a test
    that sends them must not inherit them ignored (a suite started as a background job
    ignores SIGINT, one under nohup SIGHUP)."""
    for signum in STOP_SIGNALS:
        signal.signal(signum, signal.SIG_DFL)


@pytest.fixture
def stop_signals():
    """This process reacts to SIGINT, SIGTERM and SIGHUP by default during the test (Ctrl-C as
    KeyboardInterrupt), whatever the suite inherited; restored after."""
    previous = {s: signal.getsignal(s) for s in STOP_SIGNALS}
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.signal(signal.SIGHUP, signal.SIG_DFL)
    yield
    for signum, handler in previous.items():
        signal.signal(signum, handler)


@pytest.fixture(scope="session")
def shared_data():
    """Path of ../shared/data relative to the repository root; skips when absent."""
    path = (ROOT / ".." / "shared" / "data").resolve()
    if not path.is_dir():
        pytest.skip(f"real data folder {path} (../shared/data from the repo root) not found")
    return path


@pytest.fixture(scope="session")
def subset(shared_data, tmp_path_factory):
    """A split folder with every 8th line of the shared speaker-disjoint split files."""
    out = tmp_path_factory.mktemp("split")
    for which in ("train", "val", "test"):
        lines = (
            (shared_data / "mini_speech_commands_split" / f"kws_split_{which}.txt")
            .read_text()
            .split()
        )
        (out / f"kws_split_{which}.txt").write_text("\n".join(lines[::8]) + "\n")
    return shared_data / "mini_speech_commands", out


@pytest.fixture(scope="session")
def tiny_subset(shared_data, tmp_path_factory):
    """A split folder with every 24th line of the shared split files (~89 / 13 / 9 files,
    every label in train): for runs whose figures are not checked."""
    out = tmp_path_factory.mktemp("tiny_split")
    for which in ("train", "val", "test"):
        lines = (
            (shared_data / "mini_speech_commands_split" / f"kws_split_{which}.txt")
            .read_text()
            .split()
        )
        (out / f"kws_split_{which}.txt").write_text("\n".join(lines[::24]) + "\n")
    return shared_data / "mini_speech_commands", out


def run_python(*args, timeout=900):
    """`python ARGS` in the repository root, umask 022: the CompletedProcess (text)."""
    return Started(*args).result(timeout)


class Started:
    """`python ARGS` started now in the repository root (umask 022), so that several runs share
    the machine's cores; `result()` waits for it: the CompletedProcess (text)."""

    def __init__(self, *args):
        self.popen = subprocess.Popen(
            [sys.executable, *map(str, args)],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            umask=0o022,
        )
        self.done = None

    def result(self, timeout=900):
        if self.done is None:
            try:
                out, err = self.popen.communicate(timeout=timeout)
            finally:
                if self.popen.poll() is None:
                    self.popen.kill()
                    self.popen.wait()
            self.done = subprocess.CompletedProcess(
                self.popen.args, self.popen.returncode, out, err
            )
        return self.done


def kws_script_args(data_and_split, out_dir):
    """The flags of the exercise 2 runs of the tests: 2 epochs (and at most 2 quantization-aware
    ones), 5 latency runs, no progress bars."""
    data, split_dir = data_and_split
    return [
        "--data",
        str(data),
        "--split-dir",
        str(split_dir),
        "--out-dir",
        str(out_dir),
        "--epochs",
        "2",
        "--latency-runs",
        "5",
        "--quiet",
    ]


class KwsScriptRuns:
    """The exercise 2 runs of a session (kws_script_args), each started once and side by side:
    asking for one of the three scripts on the subset starts all three (and whatever else was
    started), then waits for the one asked for. Tests copy a folder before changing it."""

    SCRIPTS = ("ex2_a.py", "ex2_b.py", "ex2_c.py")

    def __init__(self, subset, tmp_path_factory):
        self.subset, self.factory, self.runs = subset, tmp_path_factory, {}

    def start(self, key, script, data_and_split):
        """Start `script` on (data, split folder) under the name `key`, unless already started."""
        if key not in self.runs:
            folder = self.factory.mktemp(key.replace(" ", "_").replace(".py", ""))
            self.runs[key] = (Started(script, *kws_script_args(data_and_split, folder)), folder)

    def __call__(self, key):
        """(CompletedProcess, output folder) of the run `key` (a script's name: on the subset)."""
        for script in self.SCRIPTS:
            self.start(script, script, self.subset)
        started, folder = self.runs[key]
        return started.result(), folder


@pytest.fixture(scope="session")
def kws_script_run(subset, tmp_path_factory):
    return KwsScriptRuns(subset, tmp_path_factory)
