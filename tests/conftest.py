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
    default_stop_signals()
    signal.signal(signal.SIGINT, signal.default_int_handler)
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


def every_nth_line(shared_data, folder, step):
    """(wav folder, `folder` holding every `step`-th line of the shared split files)."""
    for which in ("train", "val", "test"):
        name = f"kws_split_{which}.txt"
        lines = (shared_data / "mini_speech_commands_split" / name).read_text().split()
        (folder / name).write_text("\n".join(lines[::step]) + "\n")
    return shared_data / "mini_speech_commands", folder


@pytest.fixture(scope="session")
def subset(shared_data, tmp_path_factory):
    """A split folder with every 8th line of the shared speaker-disjoint split files."""
    return every_nth_line(shared_data, tmp_path_factory.mktemp("split"), 8)


@pytest.fixture(scope="session")
def tiny_subset(shared_data, tmp_path_factory):
    """A split folder with every 24th line of the shared split files (~89 / 13 / 9 files,
    every label in train): for runs whose figures are not checked."""
    return every_nth_line(shared_data, tmp_path_factory.mktemp("tiny_split"), 24)


def run_python(*args, timeout=900):
    """`python ARGS` in the repository root, umask 022: the CompletedProcess (text)."""
    return Started(*args).result(timeout)


class Started:
    """`python ARGS` started now in the repository root (umask 022), so that several runs share
    the machine's cores; `result()` waits for it: the CompletedProcess (text)."""

    def __init__(self, *args, cwd=ROOT):
        self.popen = subprocess.Popen(
            [sys.executable, *map(str, args)],
            cwd=cwd,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            umask=0o022,
        )
        self.done = None

    def result(self, timeout=900):
        p = self.popen
        if self.done is None:
            try:
                out, err = p.communicate(timeout=timeout)
            finally:
                if p.poll() is None:
                    p.kill()
                    p.wait()
            self.done = subprocess.CompletedProcess(p.args, p.returncode, out, err)
        return self.done


def pytest_collection_modifyitems(items):
    """The modules that hold slow tests first (pytest.ini: --no-loadscope-reorder), so that the
    quick modules fill the end of a run on two workers instead of waiting behind a slow one."""
    slow = {item.module for item in items if item.get_closest_marker("slow")}
    items.sort(key=lambda item: item.module not in slow)
