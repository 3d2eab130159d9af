import re

import numpy as np
import pytest

from conftest import ROOT

from common import splits
from common.frontend_np import LABELS
from common.kws_data import read_splits


def synthetic_files(n_speakers=300, seed=1):
    rng = np.random.RandomState(seed)
    return sorted(
        f"{LABELS[rng.randint(8)]}/{s:08x}_nohash_{k}.wav"
        for s in range(n_speakers)
        for k in range(rng.randint(1, 9))
    )


def touch(folder, files):
    for f in files:
        (folder / f).parent.mkdir(parents=True, exist_ok=True)
        (folder / f).write_bytes(b"")
    return folder


def check_split(out, files, tol=0.02):
    assert sorted(sum(out.values(), [])) == sorted(files)
    speakers = [{splits.speaker_of(f) for f in out[name]} for name in ("train", "val", "test")]
    assert sum(map(len, speakers)) == len(set.union(*speakers))  # no speaker in two splits
    for name, frac in (("train", 0.8), ("val", 0.1), ("test", 0.1)):
        assert abs(len(out[name]) / len(files) - frac) < tol, (name, len(out[name]), len(files))


def test_synthetic_split_disjoint_deterministic():
    files = synthetic_files()
    a = splits.split_by_speaker(files, seed=0)
    check_split(a, files, tol=0.03)
    assert a == splits.split_by_speaker(list(reversed(files)), seed=0)
    assert a != splits.split_by_speaker(files, seed=1)


def test_speaker_of():
    assert splits.speaker_of("down/004ae714_nohash_0.wav") == "004ae714"
    assert splits.speaker_of("./data/mini_speech_commands/up/ab_cd_nohash_3.wav") == "ab_cd"
    with pytest.raises(ValueError, match="nohash"):
        splits.speaker_of("down/foo.wav")


def test_real_file_list(shared_data, tmp_path):
    listed = shared_data / "mini_speech_commands_files.txt"
    files = splits.read_file_list(listed)
    assert len(files) == 8000
    out = splits.split_by_speaker(files)
    check_split(out, files)
    assert splits.main(["--files", str(listed), "--out-dir", str(tmp_path)]) == 0
    shipped = ROOT / "splits" / "speaker_disjoint"
    a_line = re.compile(r"\./data/mini_speech_commands/[^/]+/[^/]+\.wav")
    for name in ("train", "val", "test"):
        lines = (tmp_path / f"kws_split_{name}.txt").read_text().splitlines()
        assert lines == sorted(lines) and len(lines) == len(out[name])
        assert all(map(a_line.fullmatch, lines))
        # the shipped speaker-disjoint split is this tool's output with the default seed
        assert (shipped / f"kws_split_{name}.txt").read_text().splitlines() == lines


def test_top_level_split_files_are_the_courses_which_leak_speakers_and_ours_do_not(shared_data):
    """The homework's limits are defined on the course's split: the repository ships it."""

    def speakers(d, name):
        return {splits.speaker_of(ln) for ln in (d / f"kws_split_{name}.txt").read_text().split()}

    for name in ("train", "val", "test"):
        ours = (ROOT / f"kws_split_{name}.txt").read_text().splitlines()
        course = (shared_data / "course_splits" / f"kws_{name}_split.txt").read_text().splitlines()
        assert ours == course and len(ours) == {"train": 6400, "val": 800, "test": 800}[name]
    course_test = speakers(ROOT, "test")
    assert len(course_test) == 585 and len(course_test & speakers(ROOT, "train")) == 541
    d = ROOT / "splits" / "speaker_disjoint"
    assert not speakers(d, "test") & speakers(d, "train")
    assert not speakers(d, "val") & speakers(d, "train")


def test_errors_are_one_line(tmp_path, capsys):
    bad = tmp_path / "list.txt"
    bad.write_text("down/004ae714_nohash_0.wav\nnot-a-wav-line\n")
    assert splits.main(["--files", str(bad), "--out-dir", str(tmp_path)]) == 1
    assert capsys.readouterr().err.startswith(f"error: {bad}: line 'not-a-wav-line'")
    assert splits.main(["--files", str(tmp_path / "none.txt")]) == 1
    good = tmp_path / "good.txt"
    good.write_text("down/004ae714_nohash_0.wav\n")
    capsys.readouterr()
    assert splits.main(["--files", str(good), "--train", "1.5", "--out-dir", str(tmp_path)]) == 1
    assert capsys.readouterr().err.startswith("error: bad fractions --train 1.5")
    none = tmp_path / "none"
    assert splits.main(["--data", str(none), "--out-dir", str(tmp_path / "c")]) == 1
    err = capsys.readouterr().err
    assert err == f"error: {none}: no such folder; expected a folder of <label>/<file>.wav\n"
    assert not list(tmp_path.glob("kws_split_*")) and not (tmp_path / "c").exists()


def test_a_partial_copy_is_split_from_its_folder_and_read_back(tmp_path):
    """--data DIR splits the wavs a folder has (macOS metadata left out), as --files would;
    read_splits reads the split files back, under their names or the course's."""
    files = synthetic_files(40)
    data = touch(tmp_path / "mini_speech_commands", files)
    touch(data, ["yes/._x_nohash_0.wav", "__MACOSX/yes/y_nohash_0.wav", "README.md"])
    assert splits.list_folder(tmp_path) == splits.list_folder(data) == sorted(files)
    listed = tmp_path / "list.txt"
    listed.write_text("".join(f + "\n" for f in files))
    for source, out in ((["--data", str(data)], "a"), (["--files", str(listed)], "b")):
        assert splits.main([*source, "--out-dir", str(tmp_path / out), "--seed", "3"]) == 0
    out, course = splits.split_by_speaker(files, seed=3), tmp_path / "course"
    course.mkdir()
    for name in ("train", "val", "test"):
        lines = (tmp_path / "a" / f"kws_split_{name}.txt").read_text()
        assert lines == (tmp_path / "b" / f"kws_split_{name}.txt").read_text()
        (course / f"kws_{name}_split.txt").write_text(lines)  # the course's file naming
    for d in (tmp_path / "a", course):
        for name, split in read_splits(d, data, log=print).items():
            assert [p.split("/")[-2] for p in split.paths] == [LABELS[i] for i in split.label_ids]
            assert len(split.paths) == len(out[name])
