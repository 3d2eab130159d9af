"""Shared test fixtures. Real data is read from ../shared/data (never copied here)."""
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
import common  # noqa: E402,F401  (sets TF_USE_LEGACY_KERAS before any TensorFlow import)


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
