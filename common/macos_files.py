"""Files that macOS leaves beside data and that are not data (`__MACOSX/`, AppleDouble `._*`,
`.DS_Store`), ignored everywhere. No third-party import (runs on a Raspberry Pi)."""

import os

MACOSX_FOLDER = "__MACOSX"


def is_macos_metadata(path):
    """True for a path inside `__MACOSX/`, an AppleDouble `._*` file or a `.DS_Store`."""
    parts = [p for p in str(path).replace("\\", "/").split("/") if p]
    name = parts[-1] if parts else ""
    return MACOSX_FOLDER in parts or name.startswith("._") or name == ".DS_Store"


def walk_files(folder, suffix=""):
    """Sorted paths of the files under `folder` ending in `suffix` (any case), but macOS's."""
    found = []
    for d, dirs, files in os.walk(folder):
        dirs[:] = [x for x in dirs if x != MACOSX_FOLDER]
        found += [
            os.path.join(d, f)
            for f in files
            if f.lower().endswith(suffix.lower()) and not is_macos_metadata(f)
        ]
    return sorted(found)
