"""Speaker-disjoint train/val/test split files for mini_speech_commands.

    python -m common.splits --files ../shared/data/mini_speech_commands_files.txt \\
        --out-dir splits/speaker_disjoint
    python -m common.splits --data ../shared/data/mini_speech_commands --out-dir my_split

Each speaker's files all go to one split (docs/data.md). No TensorFlow import.
"""

import os
import sys
from collections import defaultdict

import numpy as np

from .cli import Parser, exit_status, seed
from .errors import DataError, read_file
from .macos_files import is_macos_metadata, walk_files
from .outputs import check_out_dir, write_set

PREFIX = "./data/mini_speech_commands/"
SPLITS = ("train", "val", "test")
MAX_LIST_BYTES = 16 * 2**20  # a split file or a file list: 8,000 lines are 500 kB


def speaker_of(path):
    """`down/004ae714_nohash_0.wav` -> `004ae714`."""
    name = os.path.basename(path)
    if "_nohash_" not in name:
        raise ValueError(f"{path}: expected a file name <speaker>_nohash_<n>.wav")
    return name.split("_nohash_")[0]


def read_file_list(path):
    """`<label>/<file>.wav` of each line of a file list, leading folders and macOS metadata out."""
    try:
        text = read_file(path, MAX_LIST_BYTES, "a file list of lines <label>/<file>.wav").decode()
    except UnicodeDecodeError as e:
        raise DataError(
            f"{path}: unreadable file list ({e}); expected lines <label>/<file>.wav"
        ) from None
    lines = [ln.strip().replace("\\", "/") for ln in text.splitlines() if ln.strip()]
    files = ["/".join(ln.split("/")[-2:]) for ln in lines if not is_macos_metadata(ln)]
    return _checked(path, files)


def list_folder(folder):
    """`<label>/<file>.wav` of every wav in `folder` (or its mini_speech_commands/)."""
    if not os.path.isdir(folder):
        raise DataError(f"{folder}: no such folder; expected a folder of <label>/<file>.wav")
    inner = os.path.join(folder, "mini_speech_commands")
    root = inner if os.path.isdir(inner) else folder
    files = [os.path.relpath(p, root).replace(os.sep, "/") for p in walk_files(root, ".wav")]
    return _checked(folder, files, "wav file")


def _checked(source, files, what="line"):
    bad = [f for f in files if f.count("/") != 1 or not f.endswith(".wav") or "_nohash_" not in f]
    if not files or bad:
        found = f"{what} {bad[0]!r}" if bad else f"no {what}"
        raise DataError(f"{source}: {found}; expected {what}s <label>/<speaker>_nohash_<n>.wav")
    return sorted(set(files))


def assign_speakers(counts, order, targets):
    """The group of each speaker (by file count, in `order`): to the group furthest below target."""
    filled, group = np.zeros(len(targets)), np.zeros(len(counts), np.int64)
    for i in order:
        g = int(np.argmax(np.asarray(targets, np.float64) - filled))
        group[i], filled[g] = g, filled[g] + counts[i]
    return group


def split_by_speaker(files, seed=0, train=0.8, val=0.1):
    """{'train'|'val'|'test': sorted files}, no speaker in two splits."""
    if not (0 < train < 1 and val >= 0 and train + val <= 1):
        raise ValueError(
            f"bad fractions --train {train} --val {val}; expected 0 < train < 1, "
            "val >= 0, train + val <= 1"
        )
    by_speaker = defaultdict(list)
    for f in files:
        by_speaker[speaker_of(f)].append(f)
    speakers = sorted(by_speaker)
    order = np.random.RandomState(seed).permutation(len(speakers))
    targets = (train * len(files), val * len(files), (1 - train - val) * len(files))
    group = assign_speakers([len(by_speaker[s]) for s in speakers], order, targets)
    out = {s: [] for s in SPLITS}
    for speaker, g in zip(speakers, group):
        out[SPLITS[g]].extend(by_speaker[speaker])
    return {s: sorted(v) for s, v in out.items()}


def write_splits(splits, out_dir):
    """Write kws_split_<name>.txt for each split, as one set; return their paths."""
    check_out_dir(out_dir)
    files = {
        f"kws_split_{name}.txt": "".join(PREFIX + f + "\n" for f in sorted(v)).encode()
        for name, v in splits.items()
    }
    return write_set(out_dir, files)


def run(argv=None):
    p = Parser(prog="python -m common.splits", description=__doc__.split("\n")[0])
    source = p.add_mutually_exclusive_group(required=True)
    source.add_argument(
        "--files", help="a list of <label>/<file>.wav, one a line (e.g. the 8,000 official names)"
    )
    source.add_argument(
        "--data", help="a folder of <label>/<file>.wav: split the files it has (a partial copy)"
    )
    p.add_argument(
        "--out-dir",
        default=".",
        help="where kws_split_{train,val,test}.txt go (default: the working folder)",
    )
    p.add_argument("--seed", type=seed, default=0, help="shuffles the speakers (default: 0)")
    p.add_argument(
        "--train", type=float, default=0.8, help="share of the files for training (default: 0.8)"
    )
    p.add_argument(
        "--val",
        type=float,
        default=0.1,
        help="share for validation (default: 0.1); the rest is the test split",
    )
    args = p.parse_args(argv)
    files = read_file_list(args.files) if args.files else list_folder(args.data)
    splits = split_by_speaker(files, args.seed, args.train, args.val)
    if empty := [name for name, v in splits.items() if not v]:
        speakers = len({speaker_of(f) for f in files})
        raise DataError(
            f"{args.files or args.data}: {len(files)} files of {speakers} speakers leave "
            f"the {' and '.join(empty)} split empty; expected enough speakers for three "
            "splits (each speaker's files all go to one)"
        )
    for path, v in zip(write_splits(splits, args.out_dir), splits.values()):
        speakers = len({speaker_of(f) for f in v})
        print(f"{path}: {len(v)} files ({100 * len(v) / len(files):.1f} %), {speakers} speakers")
    return 0


def main(argv=None):
    return exit_status(run, argv)


if __name__ == "__main__":
    sys.exit(main())
