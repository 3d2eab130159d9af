"""Keyword-spotting data checks before any training: split files, duplicates, files in two
splits, missing and unreadable wavs, wavs that are not 16 kHz mono 1 s; the stratified
calibration sample; speakers, unseen ones; the repository's split files."""

import re
import collections
import types

import numpy as np
import pytest
from scipy.io import wavfile

from common import kws, kws_data
from common.errors import DataError
from common.frontend_np import LABELS, MFCC_16K
from conftest import ROOT

PREFIX = "./data/mini_speech_commands/"


@pytest.fixture()
def data(tmp_path):
    """A data folder with 2 speakers x 8 labels of 1 s 16 kHz wavs."""
    root = tmp_path / "mini_speech_commands"
    rng = np.random.RandomState(0)
    for label in LABELS:
        (root / label).mkdir(parents=True)
        for speaker in ("aaaa0001", "bbbb0002"):
            wave = (rng.randn(16000) * 1000).astype(np.int16)
            wavfile.write(str(root / label / f"{speaker}_nohash_0.wav"), 16000, wave)
    return root


def write_splits(d, train=(), val=(), test=(), naming="kws_split_{}.txt"):
    """Split files in `d`: speaker aaaa0001's 8 files in train, bbbb0002's in val (4) and test
    (4), each followed by the lines given."""
    d.mkdir(exist_ok=True)
    a, b = lines("aaaa0001"), lines("bbbb0002")
    for which, base, more in (("train", a, train), ("val", b[:4], val), ("test", b[4:], test)):
        (d / naming.format(which)).write_text("".join(PREFIX + ln + "\n" for ln in [*base, *more]))
    return d


def lines(speaker, labels=LABELS):
    return [f"{label}/{speaker}_nohash_0.wav" for label in labels]


@pytest.mark.parametrize("naming", ["kws_split_{}.txt", "kws_{}_split.txt"])
def test_read_splits_in_both_namings_and_what_they_leave_out(data, tmp_path, naming):
    """macOS metadata lines and duplicates left out of a split, a note or a warning each; a
    file in two splits is one warning line; the test split's unseen speakers."""
    mac = "yes/._aaaa0001_nohash_0.wav"
    junk = [f"__MACOSX/mini_speech_commands/{mac}", mac]
    d = write_splits(
        tmp_path / "s", lines("aaaa0001")[:2] + junk, (), lines("aaaa0001")[:3], naming
    )
    said = []
    splits = kws_data.read_splits(d, data, log=said.append)
    assert [len(s.paths) for s in splits.values()] == [8, 4, 7]
    assert splits["train"].label_ids.tolist() == list(range(8))
    assert splits["val"].paths[0] == str(data / "down" / "bbbb0002_nohash_0.wav")
    assert not any("._" in p for p in splits["train"].paths)
    train, test = (d / naming.format(which) for which in ("train", "test"))
    example = "(e.g. down/aaaa0001_nohash_0.wav)"
    assert said == [
        f"note: {train}: 2 macOS metadata line(s) ignored (e.g. {PREFIX}{junk[0]})",
        f"warning: {train}: 2 duplicate line(s) dropped {example}",
        f"warning: {train} and {test}: 3 file(s) in both the train and the test split "
        f"{example}; the run goes on",
    ]
    mask = kws_data.unseen_speaker_mask(splits["train"], splits["test"])
    assert mask.tolist() == [True] * 4 + [False] * 3


def test_speaker_of():
    assert kws_data.speaker_of("down/004ae714_nohash_0.wav") == "004ae714"
    assert kws_data.speaker_of("./data/mini_speech_commands/up/ab_cd_nohash_3.wav") == "ab_cd"
    with pytest.raises(ValueError, match="nohash"):
        kws_data.speaker_of("down/foo.wav")


def test_top_level_split_files_are_the_courses_which_leak_speakers_and_ours_do_not(shared_data):
    """The homework's limits are defined on the course's split: the repository ships it."""

    def speakers(d, name):
        return {kws_data.speaker_of(ln) for ln in (d / f"kws_split_{name}.txt").read_text().split()}

    for name in ("train", "val", "test"):
        ours = (ROOT / f"kws_split_{name}.txt").read_text().splitlines()
        course = (shared_data / "course_splits" / f"kws_{name}_split.txt").read_text().splitlines()
        assert ours == course and len(ours) == {"train": 6400, "val": 800, "test": 800}[name]
    course_test = speakers(ROOT, "test")
    assert len(course_test) == 585 and len(course_test & speakers(ROOT, "train")) == 541
    d = ROOT / "splits" / "speaker_disjoint"
    assert not speakers(d, "test") & speakers(d, "train")
    assert not speakers(d, "val") & speakers(d, "train")


def test_split_file_and_data_folder_errors(data, tmp_path, monkeypatch):
    d = write_splits(tmp_path / "u", ["cat/x_nohash_0.wav"])
    with pytest.raises(DataError, match="label folder"):
        kws_data.read_splits(d, data)
    (d / "kws_split_train.txt").write_text("")
    with pytest.raises(DataError, match="empty split file"):
        kws_data.read_splits(d, data)
    with pytest.raises(DataError, match="kws_split_val.txt or kws_val_split.txt"):
        kws_data.split_file(tmp_path / "nothing", "val")
    assert kws_data.resolve_data_dir(data) == data
    assert kws_data.resolve_data_dir(data.parent) == data
    with pytest.raises(DataError, match="nowhere: no such folder"):
        kws_data.resolve_data_dir(tmp_path / "nowhere")
    assert not (tmp_path / "nowhere").exists()
    monkeypatch.chdir(tmp_path)  # a relative path says which folder it is relative to
    with pytest.raises(
        DataError, match=re.escape(f"nowhere: no such folder (relative to {tmp_path});")
    ):
        kws_data.resolve_data_dir("nowhere")
    with pytest.raises(
        DataError, match=re.escape(f"split.txt, no such folder (relative to {tmp_path});")
    ):
        kws_data.split_file("none", "val")


def test_missing_files_lead_to_the_split_that_fits_or_say_what_to_pass(data, tmp_path):
    """A split listing files the folder lacks (the course's split on a partial copy): the
    error names the split beside the data that fits it, else says to pass one that fits."""
    course = write_splits(tmp_path / "course", ["yes/gone_nohash_0.wav"])
    missing = r"kws_split_train.txt: 1 of 9 listed files missing .*gone_nohash_0.wav"
    with pytest.raises(DataError, match=missing) as e:
        kws_data.read_splits(course, data, split_flag="--split-dir")
    assert str(e.value).endswith(
        "; for a partial copy, pass split files that list only the files it has: --split-dir "
        "DIR (the shared copy's are in mini_speech_commands_split, beside it)"
    )
    fits = write_splits(tmp_path / "mini_speech_commands_split")
    with pytest.raises(DataError) as e:
        kws_data.read_splits(course, data, split_flag="--split-dir")
    beside = "the split beside that folder lists only files it has"
    assert str(e.value).endswith(f"; {beside}: --split-dir {kws_data.shown(fits)}")
    with pytest.raises(DataError) as e:  # a command whose option is one split file
        kws_data.read_split_file(course / "kws_split_train.txt", data, split_flag="--split")
    assert str(e.value).endswith(f"--split {kws_data.shown(fits / 'kws_split_train.txt')}")
    (tmp_path / "link").symlink_to(data.parent)  # the hint names the path as typed, not its target
    with pytest.raises(DataError) as e:
        kws_data.read_splits(course, tmp_path / "link" / data.name, split_flag="--split-dir")
    assert str(e.value).endswith(f"--split-dir {kws_data.shown(tmp_path / 'link' / fits.name)}")


def test_every_wav_is_read_and_odd_ones_reported_once(data, tmp_path):
    stereo = np.zeros((60000, 2), np.int16)  # and 44.1 kHz, longer than 1 s
    wavfile.write(str(data / "yes" / "cccc0003_nohash_0.wav"), 44100, stereo)
    wavfile.write(str(data / "no" / "cccc0003_nohash_0.wav"), 16000, np.ones(9000, np.int16))
    d = write_splits(tmp_path / "s", test=["yes/cccc0003_nohash_0.wav", "no/cccc0003_nohash_0.wav"])
    splits, said = kws_data.read_splits(d, data), []
    report = kws_data.load_waves(splits, 8000, log=said.append)
    assert splits["test"].waves.shape == (6, 8000) and splits["train"].waves.dtype == np.float32
    assert report["odd_files"] == 2 and len(said) == 1
    assert said[0].startswith("note: 2 of 18 wavs are not 16 kHz mono 1 s: ")
    for what in (
        "1 several channels, mixed down to mono",
        "1 another sample rate, resampled to 16 kHz",
        "1 shorter than 1 s, zero-padded at the end",
        "1 longer than 1 s",
    ):
        assert what in said[0]
    (data / "up" / "aaaa0001_nohash_0.wav").write_bytes(b"garbage")
    unreadable = r"up/aaaa0001_nohash_0.wav: cannot read it as a wav .* \(1 of the 18 wav files"
    with pytest.raises(DataError, match=unreadable):
        kws_data.load_waves(kws_data.read_splits(d, data), 16000, log=said.append)


@pytest.mark.parametrize("sorted_by_label", [True, False])
def test_calibration_is_stratified_random_and_seeded(sorted_by_label):
    ids = np.repeat(np.arange(8), [800, 700, 900, 50, 800, 800, 800, 800])
    if not sorted_by_label:
        ids = np.random.RandomState(3).permutation(ids)
    picked = kws.calibration_indices(ids, 40, seed=0)
    counts = collections.Counter(ids[picked].tolist())
    assert sorted(counts) == list(range(8)), "a label is missing from the calibration sample"
    assert all(n == 40 for n in counts.values()) and len(set(picked.tolist())) == 320
    assert picked.max() > 5000 and not np.all(np.diff(ids[picked]) >= 0)  # across the split, mixed
    np.testing.assert_array_equal(picked, kws.calibration_indices(ids, 40, seed=0))
    assert not np.array_equal(picked, kws.calibration_indices(ids, 40, seed=1))
    few = kws.calibration_indices(np.array([0, 0, 1]), 40, seed=0)
    assert sorted(few.tolist()) == [0, 1, 2]


def test_test_files_that_copy_training_files_leave_the_accuracy_unassessed(monkeypatch):
    """A folder of the official names whose files are copies (the synthetic full-size
    rehearsal) scores its training files: its accuracy is not the limit's."""
    rng = np.random.RandomState(0)
    train_waves, other = np.split(rng.uniform(-1, 1, (5, 16000)).astype(np.float32), [4])

    def split(name, waves):
        names = [f"down/{i:08x}_nohash_0.wav" for i in range(len(waves))]
        return kws_data.Split(name, f"{name}.txt", names, np.zeros(len(waves), np.int64), waves)

    train = split("train", train_waves)
    copied = split("test", np.concatenate([train_waves[[2, 0]], other]))
    fresh = split("test", np.concatenate([other, other * 0.5]))
    assert kws_data.copies_of(train, copied) == 2 and kws_data.copies_of(train, fresh) == 0
    monkeypatch.setattr(kws, "is_course_split", lambda splits: True)
    spec = kws.KWSVersion("ex2_a", MFCC_16K)
    data = lambda test: types.SimpleNamespace(splits={"train": train, "val": fresh, "test": test})  # noqa: E731
    copies = "2 of the 3 test files of this folder are copies of training files"
    assert copies in kws.unassessable(spec, data(copied), latency=None)["accuracy"]
    assert kws.unassessable(spec, data(fresh), latency=None) == {}
