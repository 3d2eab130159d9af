"""Shared test fixtures. Real data is read from ../shared/data (never copied here)."""
import signal
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
        lines = (shared_data / "mini_speech_commands_split" / f"kws_split_{which}.txt").read_text().split()
        (out / f"kws_split_{which}.txt").write_text("\n".join(lines[::8]) + "\n")
    return shared_data / "mini_speech_commands", out
