"""Keyword-spotting data, checked before any training: the dataset folder, the split files,
every wav of every split. numpy + scipy only (no TensorFlow import; pooch to download).

Checks: a split file that is missing, empty or names an unknown label folder, a listed wav
that is missing or unreadable: an error naming it. Duplicate lines: dropped, with a warning.
A file in two splits: one `warning:` line naming the two splits, the count and an example.
Wavs that are not 16 kHz mono 1 s: counted and reported once, with what was done to them.
"""

import base64
import binascii
import collections
import dataclasses
import hashlib
import os
from pathlib import Path

import numpy as np

from .download import Archive
from .errors import DataError
from .frontend_np import LABELS
from .macos_files import is_macos_metadata
from .splits import speaker_of
from .wav import WavError, read_wav

DATA_URL = "http://storage.googleapis.com/download.tensorflow.org/data/mini_speech_commands.zip"
ARCHIVE = Archive(
    DATA_URL,
    "mini_speech_commands.zip",
    size=182_082_353,
    sha256="49650f2341b26d886b46b3f4fb8fed59e30300b17550f1ee4a768b3106cf93a0",
)
DEFAULT_DATA = "data"
SPLITS = ("train", "val", "test")
LINE = "./data/mini_speech_commands/<label>/<file>.wav"


@dataclasses.dataclass
class Split:
    name: str  # train, val or test
    file: str  # the split file
    paths: list  # wav paths under the data folder
    label_ids: np.ndarray  # int64, index into LABELS
    waves: np.ndarray = None  # float32 [N, rate] once loaded

    @property
    def speakers(self):
        """Speaker of each file (name before `_nohash_`), None where the name has none."""
        return [speaker_of(p) if "_nohash_" in os.path.basename(p) else None for p in self.paths]


def _has_labels(d, labels=LABELS):
    return d.is_dir() and any((d / label).is_dir() for label in labels)


def resolve_data_dir(data=None, offline_hint=""):
    """The folder of `<label>/<file>.wav`: `data` itself or `data/mini_speech_commands`.

    `data` None means ./data, where the official mini_speech_commands.zip is downloaded when
    absent (a failed download's error ends with `offline_hint`: the caller's way to pass a
    copy). A given path that holds no dataset is an error (nothing is created)."""
    d = Path(DEFAULT_DATA if data is None else data)
    for candidate in (d, d / "mini_speech_commands"):
        if _has_labels(candidate):
            return candidate
    if data is not None:
        what = "no such folder" if not d.exists() else "no dataset there"
        raise DataError(
            f"{data}: {what}; expected a folder of <label>/<file>.wav "
            f"(labels {' '.join(LABELS)}) or a folder holding mini_speech_commands/"
        )
    try:
        return download(d)
    except DataError as e:
        raise DataError(f"{e}{'; ' + offline_hint if offline_hint else ''}") from None


def download(d, archive=None):
    """The official mini_speech_commands in `d`, downloaded and extracted when absent
    (common.download: size and sha256 checked, nothing half-extracted)."""
    from . import download as dl

    zip_path = dl.fetch(archive or ARCHIVE, d)
    return dl.extract(
        archive or ARCHIVE, zip_path, d, "mini_speech_commands", check=_check_extracted
    )


def _check_extracted(folder):
    if not _has_labels(folder):
        raise DataError(
            f"{folder}: no <label>/ folders in the extracted archive; expected {' '.join(LABELS)}"
        )


def split_file(split_dir, which, split_flag=None):
    """Path of split `which` in `split_dir`: `kws_split_{which}.txt` (this repository's
    naming) or `kws_{which}_split.txt` (the course's). `split_flag`: the caller's option
    that names the split folder, for the hint."""
    names = [f"kws_split_{which}.txt", f"kws_{which}_split.txt"]
    for n in names:
        if (Path(split_dir) / n).is_file():
            return Path(split_dir) / n
    given = f" ({split_flag})" if split_flag else ""
    raise DataError(
        f"{split_dir}: no split file {' or '.join(names)}; expected a folder "
        f"holding the three split files{given}"
    )


def _split_names(path, labels, log):
    """(label, file) of each line of a split file, macOS metadata lines left out."""
    try:
        lines = [ln.strip() for ln in path.read_text().splitlines() if ln.strip()]
    except (OSError, UnicodeDecodeError) as e:
        raise DataError(f"{path}: unreadable split file ({e}); expected lines {LINE}") from None
    metadata = [ln for ln in lines if is_macos_metadata(ln)]
    if metadata:
        log(f"note: {path}: {len(metadata)} macOS metadata line(s) ignored (e.g. {metadata[0]})")
        lines = [ln for ln in lines if not is_macos_metadata(ln)]
    if not lines:
        raise DataError(f"{path}: empty split file; expected lines {LINE}")
    keys = [tuple(ln.replace("\\", "/").split("/")[-2:]) for ln in lines]
    bad = [ln for ln, k in zip(lines, keys) if len(k) < 2 or k[0] not in labels]
    if bad:
        raise DataError(
            f"{path}: line {bad[0]!r} has no known label folder; expected {LINE} "
            f"with label in {' '.join(labels)}"
        )
    unique = list(dict.fromkeys(keys))
    if len(unique) < len(keys):
        dup = collections.Counter(keys).most_common(1)[0][0]
        log(
            f"warning: {path}: {len(keys) - len(unique)} duplicate line(s) dropped "
            f"(e.g. {'/'.join(dup)})"
        )
    return unique


def fitting_splits(data_dir, labels=LABELS):
    """Folders beside `data_dir` (its siblings and their subfolders) holding three split
    files whose every line is a file of `data_dir`: the splits that fit a partial copy,
    those named after the data folder (`mini_speech_commands_split`) first."""
    data_dir = Path(data_dir).resolve()
    found = []
    siblings = sorted(p for p in data_dir.parent.iterdir() if p.is_dir() and p != data_dir)
    for parent in (data_dir.parent, *siblings):
        for folder in sorted(p for p in parent.iterdir() if p.is_dir() and p != data_dir):
            try:
                for which in SPLITS:
                    names = _split_names(split_file(folder, which), labels, log=lambda _: None)
                    if not all((data_dir / label / file).is_file() for label, file in names):
                        break
                else:
                    found.append(folder)
            except (DataError, OSError):
                continue
    found = list(dict.fromkeys(found))  # the data folder's own first (<data>_split)
    return sorted(found, key=lambda f: not f.name.startswith(data_dir.name))


def _shown(path):
    """A path as the user would type it: relative to the working folder when shorter."""
    relative = os.path.relpath(path)
    return relative if len(relative) < len(str(path)) else str(path)


def missing_files_hint(data_dir, which, split_flag):
    """What to do when a split lists files that `data_dir` lacks: the split beside the
    data that fits it, or the command that makes one of the files it has."""
    fits = fitting_splits(data_dir)
    flag = f"{split_flag} " if split_flag else ""
    if fits:
        target = fits[0] if split_flag in (None, "--split-dir") else split_file(fits[0], which)
        return f"the split beside that folder lists only files it has: {flag}{_shown(target)}"
    out = "my_split"
    target = out if split_flag in (None, "--split-dir") else f"{out}/kws_split_{which}.txt"
    return (
        f"for a partial copy, make a split of the files it has: python -m common.splits "
        f"--data {_shown(data_dir)} --out-dir {out}, then {flag}{target}"
    )


def read_split_file(path, data_dir, labels=LABELS, name="split", log=print, split_flag=None):
    """The Split of one file: each line ends in `<label>/<file>.wav`, resolved in `data_dir`.
    Duplicate lines are dropped with a warning, macOS metadata lines with a note; missing
    wavs are an error naming them and what to do (`split_flag`: the caller's option for
    the split, named in the hint)."""
    path = Path(path)
    unique = _split_names(path, labels, log)
    paths = [str(Path(data_dir) / label / file) for label, file in unique]
    missing = [p for p in paths if not os.path.isfile(p)]
    if missing:
        which = name if name in SPLITS else next((w for w in SPLITS if w in path.name), "test")
        raise DataError(
            f"{path}: {len(missing)} of {len(paths)} listed files missing under "
            f"{data_dir}, first: {', '.join(missing[:3])}; "
            + missing_files_hint(data_dir, which, split_flag)
        )
    ids = np.array([labels.index(label) for label, _ in unique], np.int64)
    return Split(name, str(path), paths, ids)


def read_splits(split_dir, data_dir, labels=LABELS, log=print, split_flag=None):
    """{train, val, test: Split}; a file listed in two splits is a warning (the run goes on)."""
    splits = {
        w: read_split_file(
            split_file(split_dir, w, split_flag), data_dir, labels, w, log, split_flag
        )
        for w in SPLITS
    }
    for i, a in enumerate(SPLITS):
        for b in SPLITS[i + 1 :]:
            both = sorted(set(splits[a].paths) & set(splits[b].paths))
            if both:
                log(
                    f"warning: {splits[a].file} and {splits[b].file}: {len(both)} file(s) in both "
                    f"the {a} and the {b} split (e.g. {os.path.relpath(both[0], data_dir)}); "
                    "the run goes on"
                )
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
        raise DataError(
            f"{bad[0]} ({len(bad)} of the {total} wav files of the splits unreadable{more})"
        )
    if odd:
        log(
            f"note: {odd:,} of {total:,} wavs are not 16 kHz mono 1 s: "
            + "; ".join(f"{n:,} {what}" for what, n in fixes.most_common())
        )
    return {"odd_files": odd, **{what: n for what, n in fixes.items()}}


def copies_of(train, test):
    """How many of `test`'s loaded waveforms are sample for sample one of `train`'s (a folder
    of copies, such as the synthetic full-size rehearsal's, scores its training files)."""
    import hashlib

    seen = {hashlib.blake2b(w.tobytes(), digest_size=16).digest() for w in train.waves}
    return sum(hashlib.blake2b(w.tobytes(), digest_size=16).digest() in seen for w in test.waves)


def unseen_speaker_mask(train, test):
    """Boolean mask of the test files whose speaker has no file in the train split; None
    when a file name does not tell its speaker."""
    seen, speakers = set(train.speakers), test.speakers
    if None in seen or None in speakers:
        return None
    return np.array([s not in seen for s in speakers], bool)


# ------------------------------------------------ the training files, as fingerprints
FINGERPRINT = (
    "sha256 of '<label>/<file>', first 4 bytes (big-endian), sorted, base64: "
    "4 bytes a training file"
)


def name_of(path):
    """`.../yes/abc_nohash_0.wav` -> `yes/abc_nohash_0.wav`: how a file is named in a split."""
    return "/".join(str(path).replace("\\", "/").split("/")[-2:])


def fingerprints(paths):
    """uint32 fingerprint of each file's `<label>/<file>` name."""
    return np.array(
        [int.from_bytes(hashlib.sha256(name_of(p).encode()).digest()[:4], "big") for p in paths],
        np.uint32,
    )


def training_files(split):
    """The JSON record of the training split's file names: {files, method, fingerprints}.
    A file of another split is taken for a training file with probability files / 2**32
    (1.5e-6 for the course's 6,400 names, which take 34,136 characters)."""
    packed = np.unique(fingerprints(split.paths)).astype(">u4").tobytes()
    return {
        "files": len(split.paths),
        "method": FINGERPRINT,
        "fingerprints": base64.b64encode(packed).decode("ascii"),
    }


def in_training(record, paths):
    """Boolean mask of `paths` whose names are among the training files of `record` (a
    training_files() dict), or None when there is no usable record."""
    if not isinstance(record, dict) or record.get("method") != FINGERPRINT:
        return None
    try:
        known = np.frombuffer(base64.b64decode(record["fingerprints"], validate=True), ">u4")
    except (ValueError, TypeError, KeyError, binascii.Error):
        return None
    return np.isin(fingerprints(paths), known.astype(np.uint32))
