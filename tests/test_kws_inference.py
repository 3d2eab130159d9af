"""kws_inference.py, the Pi side: the front end and labels from the model's metadata (flags that
agree accepted, --ignore-metadata for the course's defaults), latency with the version's Pi
limit and where it ran, labelling wavs with a summary and accuracy, --json, one-line errors,
no TensorFlow import. The one-line refusals shared with the other readers: test_modelfile.py."""

import json
import os
import platform
import re
import shlex
import shutil
import subprocess
import sys

import numpy as np
import pytest
from scipy.io import wavfile

from common.frontend_np import LABELS, MFCC_16K, FrontEnd
from conftest import ROOT

tf = pytest.importorskip("tensorflow")
import kws_inference  # noqa: E402
from common import kws_data, litert, modelfile  # noqa: E402
from test_modelfile import kws_report, tiny, write_set  # noqa: E402

FROM_METADATA = f"front end from the model's metadata: {MFCC_16K.to_dict()} -> input [49, 10, 1]"


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    """kws_b's .tflite and .tflite.zip alone in a folder (as copied to a Pi, no JSON), and a
    model without metadata (as the course's)."""
    out, t = tmp_path_factory.mktemp("models"), tiny()
    return {"b": write_set(out / "b", t["b"], name="kws_b"), "bare": write_set(out, t["bare"])}


def run_here(capsys, *args):
    """kws_inference.main in this process: (status, stdout, stderr)."""
    return (kws_inference.main([str(a) for a in args]), *capsys.readouterr())


def write_wavs(folder, names):
    rng = np.random.RandomState(0)
    for name in names:
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        wavfile.write(str(folder / name), 16000, (rng.randn(16000) * 3000).astype(np.int16))


def rows_of(out, folder):
    """The [path, label, score] of each wav line of `out`."""
    return [ln.split() for ln in out.splitlines() if ln.startswith(str(folder))]


def test_latency_mode_lines_and_json(models, capsys, monkeypatch):
    """The course's lines with the Pi limit's; --json the same run as one object."""
    monkeypatch.chdir(models["b"].parent)  # as on the Pi: the model alone, named relatively
    rc, out, err = run_here(capsys, "--model", "kws_b.tflite.zip", "--runs", 5)
    assert rc == 0 and err == "", err
    expected = [
        re.escape(FROM_METADATA),
        r"interpreter: ai-edge-litert \d+\.\d+\.\d+",
        *(rf"{what} Latency \d+\.\d\dms" for what in ("Inference", "Total")),
        *(rf"{what} p50 \d+\.\d\dms p90 \d+\.\d\dms \(5 runs\)" for what in ("Inference", "Total")),
        r"Pi limit of ex2_b: inference \d+\.\d\d ms \(mean\) < 1\.5 ms: not assessable: not a "
        r"Raspberry Pi, the limit is defined on one; ran on .+",
    ]
    lines = out.splitlines()
    assert len(lines) == len(expected) and all(map(re.fullmatch, expected, lines)), out
    rc, out, err = run_here(capsys, "--model", "kws_b.tflite", "--runs", 3, "--json")
    report = json.loads(out)  # all of stdout: one object
    keys = "model version source frontend input_shape labels interpreter machine latency"
    assert rc == 0 and err == "" and list(report) == keys.split()
    said = f"{report['source']}: {report['frontend']} -> input {report['input_shape']}"
    assert said == FROM_METADATA and report["model"] == "kws_b.tflite"
    assert report["version"] == "ex2_b" and report["labels"] == LABELS
    assert report["interpreter"] == lines[1].split(": ")[1] == kws_inference.interpreter_words()
    host = {"name": kws_inference.machine()[0], "raspberry_pi": False, **kws_inference.system()}
    latency, mean = report["latency"], report["latency"]["inference_ms"]["mean"]
    assert report["machine"] == host and latency["runs"] == 3
    assert list(latency) == ["inference_ms", "total_ms", "runs", "pi_limits"]
    assert latency["pi_limits"] == [
        {"metric": "pi_inference_ms", "limit": 1.5, "mean_ms": mean, "verdict": "not assessable"}
    ]
    assert f"inference {mean:.2f} ms (mean) < 1.5 ms" in kws_inference.limit_line(report)
    written = sorted(p.name for p in models["b"].parent.iterdir())
    assert written == ["kws_b.tflite", "kws_b.tflite.zip"]  # nothing written beside the model


def test_the_limit_line_names_the_pi_its_os_and_the_verdict(tmp_path):
    dt, release = tmp_path / "model", tmp_path / "os-release"
    dt.write_bytes(b"Raspberry Pi 5 Model B Rev 1.0\0")
    release.write_text('NAME="Debian GNU/Linux"\nPRETTY_NAME="Debian GNU/Linux 13 (trixie)"\n')
    pi = kws_inference.machine(str(dt))
    assert pi == ("Raspberry Pi 5 Model B Rev 1.0", True)
    assert kws_inference.machine(str(tmp_path / "none"))[1] is False
    interpreter, bits = kws_inference.interpreter_words(), int(platform.architecture()[0][:2])
    assert kws_inference.system(str(release)) == {
        "os": f"Debian GNU/Linux 13 (trixie), {bits}-bit userland ({platform.machine()} kernel), "
        f"Python {platform.python_version()}, {interpreter}",
        "bits": bits,
    }
    assert kws_inference.system(str(tmp_path / "none"))["os"].startswith(f"{platform.system()}, ")
    latency = {"inference_ms": {"mean": 0.9}, "total_ms": {"mean": 41.0}}

    def line(version, on_pi=True, bits=64):
        described = modelfile.Described("m", b"", (), 8, version)
        rows = kws_inference.pi_limits(described, latency, on_pi)
        host = {"name": pi[0], "raspberry_pi": on_pi, "os": "Debian", "bits": bits}
        report = {"version": version, "machine": host, "latency": {"pi_limits": rows}}
        return kws_inference.limit_line(report)

    ran, total = f"ran on {pi[0]}; Debian", "Pi limit of ex2_c: total 41.00 ms (mean) < 40 ms:"
    assert line("ex2_c") == f"{total} FAIL; {ran}"
    assert line("ex2_b") == f"Pi limit of ex2_b: inference 0.90 ms (mean) < 1.5 ms: pass; {ran}"
    assert line("ex2_c", bits=32) == (
        f"{total} FAIL; {ran} (a 32-bit OS runs tflite-runtime 2.14; a 64-bit Raspberry Pi OS "
        "runs LiteRT: docs/raspberry-pi.md)"
    )
    assert line("ex2_c", on_pi=False, bits=32) == (
        f"{total} not assessable: not a Raspberry Pi, the limit is defined on one; {ran}"
    )
    assert line("ex2_a").startswith("Pi limit: none for ex2_a (limits only ex2_b inference")
    assert line(None).startswith("Pi limit: none for this model")


def test_wav_mode_labels_every_file_and_summarizes(models, tmp_path, capsys):
    """A line per wav (macOS metadata, e.g. `._a.wav` or `__MACOSX/`, left out), the summary,
    the accuracy on the files in label folders; --json the same as one object."""
    write_wavs(tmp_path, ["yes/a.wav", "yes/b.wav", "no/c.wav", "other/d.wav"])
    for junk in ("yes/._a.wav", "__MACOSX/yes/._a.wav", "__MACOSX/yes/a.wav", ".DS_Store"):
        (tmp_path / junk).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / junk).write_bytes(b"\x00\x05\x16\x07 Mac OS X")
    rc, out, err = run_here(capsys, "--model", f"{models['b']}.zip", "--wav", tmp_path)
    assert rc == 0 and err == "", err
    rows = rows_of(out, tmp_path)
    names = ("no/c.wav", "other/d.wav", "yes/a.wav", "yes/b.wav")
    assert [r[0] for r in rows] == [str(tmp_path / n) for n in names]
    assert all(r[1] in LABELS and re.fullmatch(r"0\.\d\d\d|1\.000", r[2]) for r in rows)
    counts = {lab: sum(r[1] == lab for r in rows) for lab in LABELS}
    predictions = ", ".join(f"{lab} {n}" for lab, n in counts.items() if n)
    right = sum(r[1] == r[0].split("/")[-2] for r in rows)
    assert out.splitlines()[-3:] == [
        f"Summary: 4 of 4 files labelled; predictions: {predictions}",
        f"Accuracy {100 * right / 3:.2f} % ({right} of 3 files in label folders)",
        "note: the model's JSON does not list its training files: some of these may have been "
        "trained on; --split FILE scores only the files of a split (e.g. its test split)",
    ]
    rc, out, err = run_here(capsys, "--model", models["b"], "--wav", tmp_path, "--json")
    wav = json.loads(out)["wav"]
    truth = {"other": None, "yes": "yes", "no": "no"}
    assert [(f["path"], f["label"], f"{f['score']:.3f}", f["truth"]) for f in wav["files"]] == [
        (*r, truth[r[0].split("/")[-2]]) for r in rows
    ]
    assert wav == {**wav, "unreadable": [], "scored": 3, "right": right, "in_training": None}
    assert wav["accuracy"] == pytest.approx(right / 3)


def test_split_and_the_models_training_files(tmp_path, capsys):
    """--split scores only the files it lists; the files of the model's own training split
    (known from the fingerprints of their names in its JSON) are counted, so an inflated
    accuracy says so."""
    names = [f"{w}_nohash_0.wav" for w in ("yes/s1", "yes/s2", "no/s1", "no/s3")]
    write_wavs(tmp_path / "wavs", names)
    write_wavs(tmp_path / "others", ["up/s8_nohash_0.wav", "no/s9_nohash_0.wav"])
    trained = [f"/elsewhere/{n}" for n in names[:3]] + ["/x/up/s7_nohash_0.wav"]
    record = kws_data.training_files(kws_data.Split("train", "kws_split_train.txt", trained, None))
    assert record["files"] == 4 and len(record["fingerprints"]) == 24  # 4 bytes a name, base64
    a = tiny()["a"]
    model = write_set(tmp_path, a, kws_report(a, data={"training_files": record}))
    split = tmp_path / "kws_split_train.txt"
    split.write_text("".join(f"./data/mini_speech_commands/{n}\n" for n in names[1:]))
    rc, out, err = run_here(capsys, "--model", model, "--wav", tmp_path / "wavs", "--split", split)
    rows = rows_of(out, tmp_path)
    assert rc == 0 and [r[0] for r in rows] == [str(tmp_path / "wavs" / n) for n in names[1:]]
    right = sum(r[1] == r[0].split("/")[-2] for r in rows)
    counted = "the model's training split (by name): the accuracy above counts them"
    assert out.splitlines()[-2:] == [
        f"Accuracy {100 * right / 3:.2f} % ({right} of 3 files of {split})",
        f"note: 2 of these 3 files are in {counted}",  # no advice to use --split
    ]
    advice = "; --split FILE scores only the files of a split (e.g. its test split)"
    none = "none of these 2 files is in the model's training split (by name)"
    for wavs, note in (("wavs", f"3 of these 4 files are in {counted}{advice}"), ("others", none)):
        rc, out, err = run_here(capsys, "--model", model, "--wav", tmp_path / wavs)
        assert rc == 0 and out.splitlines()[-1] == f"note: {note}", out
    # the course's 6,400 training names against its 1,600 val and test names: no false match
    lists = {w: (ROOT / f"kws_split_{w}.txt").read_text().split() for w in ("train", "val", "test")}
    course = kws_data.training_files(kws_data.Split("train", "x", lists["train"], None))
    assert len(course["fingerprints"]) == 34_136  # the JSON's share: 4 bytes a name, base64
    assert kws_data.in_training(course, lists["train"]).all()
    assert not kws_data.in_training(course, lists["val"] + lists["test"]).any()
    assert kws_data.in_training({"method": "another"}, lists["val"]) is None
    split.write_text("./data/mini_speech_commands/left/s9_nohash_0.wav\n")
    rc, out, err = run_here(capsys, "--model", model, "--wav", tmp_path / "wavs", "--split", split)
    assert rc == 1 and err.startswith(f"error: {split}: 1 of 1 listed files missing"), err
    assert err.count("\n") == 1


def test_a_fifo_is_listed_unreadable_unopened_and_names_not_utf8_are_carried(tmp_path):
    """A named pipe called x.wav is listed unreadable (opened, it would block); a wav whose name
    is not UTF-8 is labelled and its name printed with the bytes escaped, the training-files
    note computed from its bytes."""
    a, names = tiny()["a"], ["yes/a_nohash_0.wav"]
    write_wavs(tmp_path / "wavs", names)
    os.mkfifo(tmp_path / "wavs" / "yes" / "x.wav")
    cafe = os.fsencode(tmp_path / "wavs" / "no") + b"/caf\xe9_nohash_0.wav"
    os.mkdir(os.path.dirname(cafe))
    wavfile.write(cafe, 16000, np.zeros(16000, np.int16))
    trained = [b"/elsewhere/no/caf\xe9_nohash_0.wav".decode(errors="surrogateescape")]
    record = kws_data.training_files(kws_data.Split("train", "x", trained, None))
    model = write_set(tmp_path, a, kws_report(a, data={"training_files": record}))
    cmd = [sys.executable, "kws_inference.py", "--model", model, "--wav", tmp_path / "wavs"]
    out = subprocess.run(cmd, cwd=ROOT, capture_output=True, timeout=120)
    lines = out.stdout.decode().splitlines()
    assert out.returncode == 1 and out.stderr.decode() == (
        f"error: {tmp_path / 'wavs'}: 1 of 3 wav files unreadable (listed above); expected "
        "readable wav files\n"
    )
    assert lines[-1].startswith(f"unreadable: {tmp_path}/wavs/yes/x.wav: not a regular file; ")
    assert f"{tmp_path}/wavs/no/caf\\udce9_nohash_0.wav " in lines[2]  # the byte escaped
    assert "note: 1 of these 2 files are in the model's training split" in lines[-2]


def test_flags_that_agree_are_accepted_and_ignore_metadata_runs_the_flags(models, capsys):
    agree = "--rate 16000 --mfcc --length 640 --stride 320 --bins 40 --coeff 10 --resize 0"
    agree += " --lower-frequency 20 --upper-frequency 4000"
    rc, out, err = run_here(capsys, "--model", models["b"], "--runs", 2, *agree.split())
    assert rc == 0 and out.splitlines()[0] == FROM_METADATA, err
    course = (FrontEnd(mfcc=True, resize=32).to_dict(), None, LABELS)  # its defaults, --mfcc
    for model, ignore, source in (
        (models["b"], ["--ignore-metadata"], "the model's metadata ignored"),
        (models["bare"], [], "no metadata in the model"),
    ):
        report = json.loads(run_here(capsys, "--model", model, "--mfcc", *ignore, "--json")[1])
        assert report["source"] == f"{source}: the course's front end with the flags"
        assert (report["frontend"], report["version"], report["labels"]) == course
        assert kws_inference.limit_line(report).startswith("Pi limit: none for this model")


AGAIN = "expected the flag left out, or kws_inference.py --ignore-metadata to run the flags instead"
ERRORS = {
    "--model {tmp}/none.tflite": "{tmp}/none.tflite: no such model file (expected a .tflite or "
    ".tflite.zip)",
    "--model {b} --runs 0": "kws_inference.py: argument --runs: 0 is not allowed; expected a "
    "whole number in [1, 100,000]",
    "--model {b} --threads 100000": "kws_inference.py: argument --threads: 100000 is not allowed; "
    "expected a whole number in [1, 64]",
    "--model {b} --wav {tmp} --split /dev/zero": "/dev/zero: not a regular file; expected a split "
    "file of lines ./data/mini_speech_commands/<label>/<file>.wav",
    "--model {b} --split x.txt": "kws_inference.py: --split needs --wav DIR, the folder the "
    "split's files are in",
    "--model {b} --bins 20": "{b}: --bins 20 contradicts the model's metadata (num_mel_bins 40); "
    + AGAIN,
    "--model {b} --ignore-metadata": "{b}: model input shape [1, 49, 10, 1] != the front end's "
    "[1, 32, 32, 1] (the model's metadata ignored: the course's default front end); expected the "
    "front end the model was trained with",
    "--model {bare} --mfcc --bins 4": "front end {course} (flags): 'num_coefficients' 10 > "
    "'num_mel_bins' 4",
    "--model {b} --wav {tmp}": "{tmp}: 1 of 2 wav files unreadable (listed above); expected "
    "readable wav files",
    "--model {bare}": "{bare}: model input shape [1, 49, 10, 1] != the front end's [1, 32, 32, 1] "
    "(no metadata in the model: the course's default front end); expected the front end the "
    "model was trained with",
}


@pytest.mark.parametrize("args", ERRORS)
def test_errors_are_one_line(models, tmp_path, capsys, args):
    write_wavs(tmp_path, ["yes/a.wav"])
    (tmp_path / "yes" / "b.wav").write_bytes(b"RIFF not a wav")
    course = FrontEnd(mfcc=True, resize=32, num_mel_bins=4).to_dict()
    where = {"tmp": tmp_path, "b": models["b"], "bare": models["bare"], "course": course}
    rc, out, err = run_here(capsys, *args.format(**where).split())
    assert (rc, err) == (1, f"error: {ERRORS[args].format(**where)}\n")


def test_latency_loop_times_what_it_says(models, monkeypatch):
    """A fake clock: the front end takes 2 ms, invoke 5 ms; nothing else advances it."""
    clock = [0.0]
    monkeypatch.setattr(litert.time, "perf_counter", lambda: clock[0])
    advance = lambda seconds: clock.__setitem__(0, clock[0] + seconds)
    taking = lambda f, seconds: lambda *args: (advance(seconds), f(*args))[1]  # f, `seconds` long
    m, bare = litert.Model(models["b"], MFCC_16K), litert.Model(models["b"])
    m.frontend = taking(m.frontend, 0.002)
    m.interpreter.invoke = taking(m.interpreter.invoke, 0.005)
    r = litert.measure_latency(m, runs=4)
    assert r["inference_ms"] == pytest.approx({"mean": 5.0, "p50": 5.0, "p90": 5.0})
    assert r["total_ms"] == pytest.approx({"mean": 7.0, "p50": 7.0, "p90": 7.0})
    assert litert.measure_latency(m, cfg=None, runs=3)["total_ms"] is not None  # m.cfg is used
    bare.interpreter.invoke = taking(bare.interpreter.invoke, 0.005)
    r = litert.measure_latency(bare, runs=3)
    assert r["total_ms"] is None and r["inference_ms"]["p50"] == pytest.approx(5.0)


def test_interpreter_falls_back_to_tensorflow(monkeypatch):
    monkeypatch.setattr(litert, "interpreter_class", litert.interpreter_class.__wrapped__)
    for name in ("ai_edge_litert", "tflite_runtime"):
        monkeypatch.setitem(sys.modules, name, None)
        monkeypatch.setitem(sys.modules, f"{name}.interpreter", None)
    cls, origin = litert.interpreter_class()
    assert cls is tf.lite.Interpreter and origin.startswith("tensorflow")


def test_no_tensorflow_import(models):
    """The metadata is read, the model run, without TensorFlow (a Pi has none)."""
    code = (
        "import sys, kws_inference; assert 'tensorflow' not in sys.modules; "
        f"kws_inference.main(['--model', {str(models['b'])!r}, '--runs', '2']); "
        "assert 'tensorflow' not in sys.modules, 'tensorflow was imported'"
    )
    r = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)
    assert r.returncode == 0 and r.stdout.splitlines()[0] == FROM_METADATA, r.stderr


def test_the_readme_pi_section_runs_as_copied(tmp_path):
    """README's Pi commands, run in a folder holding only what it says to copy (what the
    repository has of it), two models and the wavs: recordings, and stand-ins named as the
    official files of the split it names."""
    section = (ROOT / "README.md").read_text().split("## On the Raspberry Pi")[1]
    told, block = section.split("```bash")
    for name in re.findall(r"`([^`]+)`", told):
        if (ROOT / name).is_dir():
            shutil.copytree(ROOT / name, tmp_path / name, ignore=shutil.ignore_patterns("__py*"))
        elif (ROOT / name).is_file():
            shutil.copy(ROOT / name, tmp_path / name)
    t = tiny()
    write_set(tmp_path, t["b"], name="kws_b"), write_set(tmp_path, t["c8"], name="kws_c")
    write_wavs(tmp_path / "recordings", ["one.wav", "two.wav"])
    write_wavs(tmp_path, ["stand-in.wav"])
    for line in (ROOT / "kws_split_test.txt").read_text().split():
        wav = tmp_path / "mini_speech_commands" / "/".join(line.split("/")[-2:])
        wav.parent.mkdir(parents=True, exist_ok=True)
        os.link(tmp_path / "stand-in.wav", wav)
    commands = [ln.split("  #")[0] for ln in block.split("```")[0].splitlines() if ln]
    assert (tmp_path / commands[0].split("-r ")[1].split()[0]).is_file()  # the requirements
    for command in commands[1:]:
        argv = [sys.executable, *shlex.split(command)[1:]]
        done = subprocess.run(argv, cwd=tmp_path, capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, (command, done.stderr)
    assert "Summary: 800 of 800 files labelled" in done.stdout
