"""Keyword-spotting data, checked before any training: the dataset folder, the split files,
every wav of every split. numpy + scipy only (no TensorFlow import, except to download).

Checks: a split file that is missing, empty or names an unknown label folder, a listed wav
that is missing or unreadable: an error naming it. Duplicate lines: dropped, with a warning.
A file in two splits: one `warning:` line naming the two splits, the count and an example.
Wavs that are not 16 kHz mono 1 s: counted and reported once, with what was done to them.
"""
import collections
import dataclasses
import os
from pathlib import Path

import numpy as np

from .errors import DataError
from .frontend_np import LABELS
from .splits import speaker_of
from .wav import WavError, read_wav

DATA_URL = "http://storage.googleapis.com/download.tensorflow.org/data/mini_speech_commands.zip"
DEFAULT_DATA = "data"
SPLITS = ("train", "val", "test")
LINE = "./data/mini_speech_commands/<label>/<file>.wav"


@dataclasses.dataclass
class Split:
    name: str                # train, val or test
    file: str                # the split file
    paths: list              # wav paths under the data folder
    label_ids: np.ndarray    # int64, index into LABELS
    waves: np.ndarray = None  # float32 [N, rate] once loaded

    @property
    def speakers(self):
        """Speaker of each file (name before `_nohash_`), None where the name has none."""
        return [speaker_of(p) if "_nohash_" in os.path.basename(p) else None for p in self.paths]


def _has_labels(d, labels=LABELS):
    return d.is_dir() and any((d / label).is_dir() for label in labels)


def resolve_data_dir(data=None):
    """The folder of `<label>/<file>.wav`: `data` itself or `data/mini_speech_commands`.

    `data` None means ./data, where the official mini_speech_commands.zip is downloaded when
    absent. A given path that holds no dataset is an error (nothing is created)."""
    d = Path(DEFAULT_DATA if data is None else data)
    for candidate in (d, d / "mini_speech_commands"):
        if _has_labels(candidate):
            return candidate
    if data is not None:
        what = "no such folder" if not d.exists() else "no dataset there"
        raise DataError(f"{data}: {what}; expected a folder of <label>/<file>.wav "
                        f"(labels {' '.join(LABELS)}) or a folder holding mini_speech_commands/")
    return download(d)


def download(d):
    from .cli import tensorflow
    tf = tensorflow()
    try:
        zip_path = tf.keras.utils.get_file("mini_speech_commands.zip", origin=DATA_URL,
                                           extract=True, cache_dir=str(d.parent or "."),
                                           cache_subdir=d.name)
    except Exception as e:
        raise DataError(f"{d}: no dataset there and the download of {DATA_URL} failed ({e}); "
                        "pass --data DIR with a folder of <label>/<file>.wav") from None
    for root, dirs, _ in os.walk(Path(zip_path).parent):
        if "mini_speech_commands" in dirs and _has_labels(Path(root) / "mini_speech_commands"):
            return Path(root) / "mini_speech_commands"
    raise DataError(f"downloaded {zip_path} but found no mini_speech_commands/<label>/ folders")


def split_file(split_dir, which):
    """Path of split `which` in `split_dir`: `kws_split_{which}.txt` (this repository's
    naming) or `kws_{which}_split.txt` (the course's)."""
    names = [f"kws_split_{which}.txt", f"kws_{which}_split.txt"]
    for n in names:
        if (Path(split_dir) / n).is_file():
            return Path(split_dir) / n
    raise DataError(f"{split_dir}: no split file {' or '.join(names)}; expected a folder "
                    "holding the three split files (--split-dir)")


def read_split_file(path, data_dir, labels=LABELS, name="split", log=print):
    """The Split of one file: each line ends in `<label>/<file>.wav`, resolved in `data_dir`.
    Duplicate lines are dropped with a warning; a missing wav is an error naming it."""
    path = Path(path)
    try:
        lines = [ln.strip() for ln in path.read_text().splitlines() if ln.strip()]
    except (OSError, UnicodeDecodeError) as e:
        raise DataError(f"{path}: unreadable split file ({e}); expected lines {LINE}") from None
    if not lines:
        raise DataError(f"{path}: empty split file; expected lines {LINE}")
    keys = [tuple(ln.replace("\\", "/").split("/")[-2:]) for ln in lines]
    bad = [ln for ln, k in zip(lines, keys) if len(k) < 2 or k[0] not in labels]
    if bad:
        raise DataError(f"{path}: line {bad[0]!r} has no known label folder; expected {LINE} "
                        f"with label in {' '.join(labels)}")
    unique = list(dict.fromkeys(keys))
    if len(unique) < len(keys):
        dup = collections.Counter(keys).most_common(1)[0][0]
        log(f"warning: {path}: {len(keys) - len(unique)} duplicate line(s) dropped "
            f"(e.g. {'/'.join(dup)})")
    paths = [str(Path(data_dir) / label / file) for label, file in unique]
    missing = [p for p in paths if not os.path.isfile(p)]
    if missing:
        raise DataError(f"{path}: {len(missing)} of {len(paths)} listed files missing under "
                        f"{data_dir}, first: {', '.join(missing[:3])}")
    ids = np.array([labels.index(label) for label, _ in unique], np.int64)
    return Split(name, str(path), paths, ids)


def read_splits(split_dir, data_dir, labels=LABELS, log=print):
    """{train, val, test: Split}; a file listed in two splits is a warning (the run goes on)."""
    splits = {w: read_split_file(split_file(split_dir, w), data_dir, labels, w, log) for w in SPLITS}
    for i, a in enumerate(SPLITS):
        for b in SPLITS[i + 1:]:
            both = sorted(set(splits[a].paths) & set(splits[b].paths))
            if both:
                log(f"warning: {splits[a].file} and {splits[b].file}: {len(both)} file(s) in both "
                    f"the {a} and the {b} split (e.g. {os.path.relpath(both[0], data_dir)}); "
                    "the run goes on")
    return splits


def load_waves(splits, rate, log=print):
    """Read every wav of every split at `rate` (in place: Split.waves). Unreadable files are
    one error listing them; files that are not 16 kHz mono 1 s are reported once."""
    fixes, odd, bad, total = collections.Counter(), 0, [], 0
    for split in splits.values():
        waves = np.zeros([len(split.paths), int(rate)], np.float32)
        for i, p in enumerate(split.paths):
            done = collections.Counter()
            try:
                waves[i] = read_wav(p, rate=rate, fixes=done)
            except WavError as e:
                bad.append(str(e))
            odd += bool(done)
            fixes.update(done)
        split.waves, total = waves, total + len(split.paths)
    if bad:  # WavError messages start with the file
        more = f"; and {len(bad) - 1} more" if len(bad) > 1 else ""
        raise DataError(f"{bad[0]} ({len(bad)} of the {total} wav files of the splits unreadable{more})")
    if odd:
        log(f"note: {odd:,} of {total:,} wavs are not 16 kHz mono 1 s: "
            + "; ".join(f"{n:,} {what}" for what, n in fixes.most_common()))
    return {"odd_files": odd, **{what: n for what, n in fixes.items()}}


def unseen_speaker_mask(train, test):
    """Boolean mask of the test files whose speaker has no file in the train split; None
    when a file name does not tell its speaker."""
    seen, speakers = set(train.speakers), test.speakers
    if None in seen or None in speakers:
        return None
    return np.array([s not in seen for s in speakers], bool)
