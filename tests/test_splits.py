import numpy as np
import pytest

from conftest import ROOT

from common import splits


def synthetic_files(n_speakers=300, seed=1):
    rng = np.random.RandomState(seed)
    labels = ["down", "go", "left", "no", "right", "stop", "up", "yes"]
    files = []
    for s in range(n_speakers):
        for k in range(rng.randint(1, 9)):
            files.append(f"{labels[rng.randint(8)]}/{s:08x}_nohash_{k}.wav")
    return sorted(files)


def check_split(out, files, tol=0.02):
    n = len(files)
    assert sorted(sum(out.values(), [])) == sorted(files)
    speakers = {k: {splits.speaker_of(f) for f in v} for k, v in out.items()}
    assert not speakers["train"] & speakers["val"]
    assert not speakers["train"] & speakers["test"]
    assert not speakers["val"] & speakers["test"]
    for name, frac in (("train", 0.8), ("val", 0.1), ("test", 0.1)):
        assert abs(len(out[name]) / n - frac) < tol, (name, len(out[name]), n)


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
    files = splits.read_file_list(shared_data / "mini_speech_commands_files.txt")
    assert len(files) == 8000
    out = splits.split_by_speaker(files)
    check_split(out, files)
    assert (
        splits.main(
            [
                "--files",
                str(shared_data / "mini_speech_commands_files.txt"),
                "--out-dir",
                str(tmp_path),
            ]
        )
        == 0
    )
    for name in ("train", "val", "test"):
        lines = (tmp_path / f"kws_split_{name}.txt").read_text().splitlines()
        assert lines == sorted(lines) and len(lines) == len(out[name])
        assert all(
            ln.startswith("./data/mini_speech_commands/")
            and ln.endswith(".wav")
            and ln.count("/") == 4
            for ln in lines
        )
        # the shipped speaker-disjoint split is this tool's output with the default seed
        shipped = (
            (ROOT / "splits" / "speaker_disjoint" / f"kws_split_{name}.txt")
            .read_text()
            .splitlines()
        )
        assert shipped == lines


def test_top_level_split_files_are_the_courses(shared_data):
    """The homework's limits are defined on the course's split: the repository ships it."""
    for name in ("train", "val", "test"):
        ours = (ROOT / f"kws_split_{name}.txt").read_text().splitlines()
        course = (shared_data / "course_splits" / f"kws_{name}_split.txt").read_text().splitlines()
        assert ours == course and len(ours) == {"train": 6400, "val": 800, "test": 800}[name]


def test_the_courses_split_leaks_speakers_and_ours_does_not():
    def speakers(d, name):
        return {splits.speaker_of(ln) for ln in (d / f"kws_split_{name}.txt").read_text().split()}

    course_test = speakers(ROOT, "test")
    assert len(course_test) == 585 and len(course_test & speakers(ROOT, "train")) == 541
    d = ROOT / "splits" / "speaker_disjoint"
    assert not speakers(d, "test") & speakers(d, "train") and not speakers(d, "val") & speakers(
        d, "train"
    )


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
    assert not list(tmp_path.glob("kws_split_*"))


def test_a_partial_copy_is_split_from_its_folder(tmp_path, capsys):
    """--data DIR splits the wavs a folder has (macOS metadata left out), as --files would."""
    files = synthetic_files(40)
    data = tmp_path / "mini_speech_commands"
    for f in files:
        (data / f).parent.mkdir(parents=True, exist_ok=True)
        (data / f).write_bytes(b"")
    (data / "yes" / "._x_nohash_0.wav").write_bytes(b"")
    (data / "__MACOSX" / "yes").mkdir(parents=True)
    (data / "__MACOSX" / "yes" / "y_nohash_0.wav").write_bytes(b"")
    (data / "README.md").write_text("")
    assert splits.list_folder(tmp_path) == splits.list_folder(data) == sorted(files)
    listed = tmp_path / "list.txt"
    listed.write_text("".join(f + "\n" for f in files))
    for source, out in ((["--data", str(data)], "a"), (["--files", str(listed)], "b")):
        assert splits.main([*source, "--out-dir", str(tmp_path / out), "--seed", "3"]) == 0
    for name in ("train", "val", "test"):
        assert (tmp_path / "a" / f"kws_split_{name}.txt").read_bytes() == (
            tmp_path / "b" / f"kws_split_{name}.txt"
        ).read_bytes()
    capsys.readouterr()
    assert splits.main(["--data", str(tmp_path / "none"), "--out-dir", str(tmp_path / "c")]) == 1
    assert (
        capsys.readouterr().err
        == f"error: {tmp_path / 'none'}: no such folder; expected a folder of <label>/<file>.wav\n"
    )


def test_split_files_readable_by_read_split(tmp_path):
    from common.frontend_np import LABELS
    from common.kws_data import read_splits

    files = synthetic_files(40)
    data = tmp_path / "data"
    for f in files:
        (data / f).parent.mkdir(parents=True, exist_ok=True)
        (data / f).write_bytes(b"")
    out = splits.split_by_speaker(files)
    ours, course = tmp_path / "ours", tmp_path / "course"
    ours.mkdir(), course.mkdir()
    splits.write_splits(out, ours)
    for name, v in out.items():  # the course's file naming
        (course / f"kws_{name}_split.txt").write_text(splits.format_lines(v))
    for d in (ours, course):
        for name, split in read_splits(d, data, log=print).items():
            assert [p.split("/")[-2] for p in split.paths] == [LABELS[i] for i in split.label_ids]
            assert len(split.paths) == len(out[name])
