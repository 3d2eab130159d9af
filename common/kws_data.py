"""Keyword-spotting data, checked before any training: the folder, the splits, their wavs."""

import base64
import binascii
import collections
import dataclasses
import hashlib
import itertools
import os
from pathlib import Path

import numpy as np

from .download import Archive, obtain, shown
from .errors import DataError, no_such, read_file
from .frontend_np import LABELS
from .macos_files import is_macos_metadata
from .wav import WavError, read_wav

ARCHIVE = Archive(
    "http://storage.googleapis.com/download.tensorflow.org/data/mini_speech_commands.zip",
    "mini_speech_commands.zip",
    size=182_082_353,
    sha256="49650f2341b26d886b46b3f4fb8fed59e30300b17550f1ee4a768b3106cf93a0",
)
SPLITS = ("train", "val", "test")
LINE = "./data/mini_speech_commands/<label>/<file>.wav"
MAX_LIST_BYTES = 16 * 2**20  # a split file: 8,000 lines are 500 kB
FINGERPRINT = (
    "sha256 of '<label>/<file>', first 4 bytes (big-endian), sorted, base64: "
    "4 bytes a training file"
)


def speaker_of(path):
    """`down/004ae714_nohash_0.wav` -> `004ae714`."""
    name = os.path.basename(path)
    if "_nohash_" not in name:
        raise ValueError(f"{path}: expected a file name <speaker>_nohash_<n>.wav")
    return name.split("_nohash_")[0]


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


def _has_labels(d):
    return d.is_dir() and any((d / label).is_dir() for label in LABELS)


def _check_extracted(folder):
    if not _has_labels(folder):
        raise DataError(
            f"{folder}: no <label>/ folders in the extracted archive; expected {' '.join(LABELS)}"
        )


def resolve_data_dir(data=None, offline_hint=""):
    """The folder of `<label>/<file>.wav` in `data` (None: ./data, downloaded when absent)."""
    d = Path("data" if data is None else data)
    for candidate in (d, d / "mini_speech_commands"):
        if _has_labels(candidate):
            return candidate
    if data is None:
        return obtain(ARCHIVE, d, "mini_speech_commands", _check_extracted, offline_hint)
    what = no_such(d, "folder") if not d.exists() else "no dataset there"
    raise DataError(
        f"{data}: {what}; expected a folder of <label>/<file>.wav "
        f"(labels {' '.join(LABELS)}) or a folder holding mini_speech_commands/"
    )


def split_file(split_dir, which, split_flag=None):
    """Path of split `which`: `kws_split_{which}.txt` (ours) or `kws_{which}_split.txt`."""
    names = [f"kws_split_{which}.txt", f"kws_{which}_split.txt"]
    for n in names:
        if (Path(split_dir) / n).is_file():
            return Path(split_dir) / n
    given = f" ({split_flag})" if split_flag else ""
    gone = "" if os.path.isdir(split_dir) else f", {no_such(split_dir, 'folder')}"
    raise DataError(
        f"{split_dir}: no split file {' or '.join(names)}{gone}; expected a folder "
        f"holding the three split files{given}"
    )


def _split_names(path, labels, log):
    """(label, file) of each line of a split file, duplicates and macOS metadata left out."""
    try:
        text = read_file(path, MAX_LIST_BYTES, f"a split file of lines {LINE}").decode()
    except UnicodeDecodeError as e:
        raise DataError(f"{path}: unreadable split file ({e}); expected lines {LINE}") from None
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    if metadata := [ln for ln in lines if is_macos_metadata(ln)]:
        log(f"note: {path}: {len(metadata)} macOS metadata line(s) ignored (e.g. {metadata[0]})")
        lines = [ln for ln in lines if not is_macos_metadata(ln)]
    if not lines:
        raise DataError(f"{path}: empty split file; expected lines {LINE}")
    keys = [tuple(ln.replace("\\", "/").split("/")[-2:]) for ln in lines]
    if bad := [ln for ln, k in zip(lines, keys) if len(k) < 2 or k[0] not in labels]:
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


def _fits(folder, data_dir):
    """Whether `folder` holds three split files whose every line is a file of `data_dir`."""
    try:
        for which in SPLITS:
            names = _split_names(split_file(folder, which), LABELS, log=lambda _: None)
            if not all((data_dir / label / file).is_file() for label, file in names):
                return False
    except (DataError, OSError):
        return False
    return True


def fitting_splits(data_dir):
    """The folders beside `data_dir` holding a split that fits it, `<data>_split` first."""
    data_dir = Path(os.path.abspath(data_dir))  # as typed: symbolic links not followed
    folders = lambda parent: sorted(p for p in parent.iterdir() if p.is_dir() and p != data_dir)
    found = [f for parent in (data_dir.parent, *folders(data_dir.parent)) for f in folders(parent)]
    found = [f for f in found if _fits(f, data_dir)]
    return sorted(found, key=lambda f: not f.name.startswith(data_dir.name))


def missing_files_hint(data_dir, which, split_flag):
    """What to do when a split lists files that `data_dir` lacks: a split that fits, or what to pass."""
    flag = f"{split_flag} " if split_flag else ""
    folder = split_flag in (None, "--split-dir")  # the option names a folder, not a file
    if fits := fitting_splits(data_dir):
        target = fits[0] if folder else split_file(fits[0], which)
        return f"the split beside that folder lists only files it has: {flag}{shown(target)}"
    target = "DIR" if folder else f"DIR/kws_split_{which}.txt"
    return (
        f"for a partial copy, pass split files that list only the files it has: {flag}{target} "
        "(the shared copy's are in mini_speech_commands_split, beside it)"
    )


def read_split_file(path, data_dir, labels=LABELS, name="split", log=print, split_flag=None):
    """The Split of one file, its lines resolved in `data_dir`; missing wavs are an error."""
    path = Path(path)
    unique = _split_names(path, labels, log)
    paths = [str(Path(data_dir) / label / file) for label, file in unique]
    if missing := [p for p in paths if not os.path.isfile(p)]:
        which = name if name in SPLITS else next((w for w in SPLITS if w in path.name), "test")
        raise DataError(
            f"{path}: {len(missing)} of {len(paths)} listed files missing under "
            f"{data_dir}, first: {', '.join(missing[:3])}; "
            + missing_files_hint(data_dir, which, split_flag)
        )
    ids = np.array([labels.index(label) for label, _ in unique], np.int64)
    return Split(name, str(path), paths, ids)


def read_splits(split_dir, data_dir, log=print, split_flag=None):
    """{train, val, test: Split}; a file listed in two splits is a warning (the run goes on)."""
    splits = {}
    for w in SPLITS:
        path = split_file(split_dir, w, split_flag)
        splits[w] = read_split_file(path, data_dir, LABELS, w, log, split_flag)
    for a, b in itertools.combinations(SPLITS, 2):
        if both := sorted(set(splits[a].paths) & set(splits[b].paths)):
            log(
                f"warning: {splits[a].file} and {splits[b].file}: {len(both)} file(s) in both "
                f"the {a} and the {b} split (e.g. {os.path.relpath(both[0], data_dir)}); "
                "the run goes on"
            )
    return splits


def load_waves(splits, rate, log=print):
    """Read every wav of every split at `rate` into Split.waves; unreadable files: one error."""
    fixes, odd, bad = collections.Counter(), 0, []
    for split in splits.values():
        split.waves = np.zeros([len(split.paths), int(rate)], np.float32)
        for i, p in enumerate(split.paths):
            done = collections.Counter()
            try:
                split.waves[i] = read_wav(p, rate=rate, fixes=done)
            except WavError as e:
                bad.append(str(e))
            odd += bool(done)
            fixes.update(done)
    total = sum(len(split.paths) for split in splits.values())
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
    return {"odd_files": odd, **fixes}


def copies_of(train, test):
    """How many of `test`'s waveforms are sample for sample one of `train`'s."""
    digest = lambda w: hashlib.blake2b(w.tobytes(), digest_size=16).digest()
    seen = set(map(digest, train.waves))
    return sum(digest(w) in seen for w in test.waves)


def unseen_speaker_mask(train, test):
    """Boolean mask of the test files whose speaker is not in train; None: speakers unknown."""
    seen, speakers = set(train.speakers), test.speakers
    if None in seen or None in speakers:
        return None
    return np.array([s not in seen for s in speakers], bool)


def fingerprints(paths):
    """uint32 fingerprint of each file's `<label>/<file>` name (FINGERPRINT)."""
    names = ["/".join(str(p).replace("\\", "/").split("/")[-2:]) for p in paths]
    digests = [hashlib.sha256(os.fsencode(name)).digest() for name in names]  # not UTF-8: its bytes
    return np.array([int.from_bytes(d[:4], "big") for d in digests], np.uint32)


def training_files(split):
    """The JSON record of the training split's file names: {files, method, fingerprints}."""
    packed = np.unique(fingerprints(split.paths)).astype(">u4").tobytes()
    b64 = base64.b64encode(packed).decode("ascii")
    return {"files": len(split.paths), "method": FINGERPRINT, "fingerprints": b64}


def in_training(record, paths):
    """Boolean mask of `paths` among the files of a training_files() `record` (None: unusable)."""
    if not isinstance(record, dict) or record.get("method") != FINGERPRINT:
        return None
    try:
        known = np.frombuffer(base64.b64decode(record["fingerprints"], validate=True), ">u4")
    except (ValueError, TypeError, KeyError, binascii.Error):
        return None
    return np.isin(fingerprints(paths), known.astype(np.uint32))
