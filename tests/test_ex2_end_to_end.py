"""The three exercise 2 scripts on a subset of the real wavs, few epochs: the JSON and the
verdict, figures re-computed independently (the course's front end, TensorFlow's
interpreter), the written model run by tools.evaluate and kws_inference.py, determinism and a
poisoned test split, the best epoch."""

import hashlib
import json
import os
import stat

import numpy as np
import pytest

from conftest import run_python

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
LABELS = ["down", "go", "left", "no", "right", "stop", "up", "yes"]


def run(*args, timeout=900):
    return run_python(*args, timeout=timeout)


def course_labels(tflite_path, data, split_file, frontend):
    """(true labels, labels with TensorFlow's interpreter under its default kernels, labels
    under its reference kernels) of every file of `split_file`: features by the course's
    SignalGenerator (tests/course_signal_generator.py: tf.audio.decode_wav, the seed's
    resample_poly for 8 kHz; nothing of the project), files and labels read straight from
    the split file."""
    import common  # noqa: F401
    import tensorflow as tf
    from course_signal_generator import SignalGenerator

    assert frontend["mfcc"] and frontend["resize"] is None
    assert frontend["fft_length"] == frontend["frame_length"]  # the course's stft
    course = SignalGenerator(
        LABELS,
        frontend["rate"],
        mfcc=True,
        **{
            k: frontend[k]
            for k in (
                "frame_length",
                "frame_step",
                "num_mel_bins",
                "lower_frequency",
                "upper_frequency",
                "num_coefficients",
            )
        },
    )
    kinds = tf.lite.experimental.OpResolverType
    interpreters = [
        tf.lite.Interpreter(model_path=str(tflite_path), experimental_op_resolver_type=kind)
        for kind in (kinds.AUTO, kinds.BUILTIN_REF)
    ]
    for interp in interpreters:
        interp.allocate_tensors()
    truth, default, reference = [], [], []
    for line in split_file.read_text().split():
        label, name = line.split("/")[-2:]
        features = course.preprocess(str(data / label / name)).numpy()[None]
        for interp, out in zip(interpreters, (default, reference)):
            interp.set_tensor(interp.get_input_details()[0]["index"], features)
            interp.invoke()
            out.append(
                LABELS[
                    int(np.argmax(interp.get_tensor(interp.get_output_details()[0]["index"])[0]))
                ]
            )
        truth.append(label)
    return np.array(truth), np.array(default), np.array(reference)


def is_count_of(value, n):
    """`value` is k / n for a whole k: an accuracy over the n files of a split."""
    return value is not None and abs(value * n - round(value * n)) < 1e-6


POISONED = "ex2_c.py on a poisoned test split"


@pytest.fixture(scope="module")
def poisoned(subset, kws_script_run, tmp_path_factory):
    """ex2_c on a copy of the subset whose test split is poisoned (poisoned_copy), started
    beside the three scripts' own runs: its data folder."""
    data_and_split = poisoned_copy(subset, tmp_path_factory.mktemp("poisoned"))
    kws_script_run.start(POISONED, "ex2_c.py", data_and_split)
    return data_and_split[0]


@pytest.mark.slow
@pytest.mark.parametrize(
    "script, name, rate",
    [("ex2_a.py", "kws_a", 16000), ("ex2_b.py", "kws_b", 16000), ("ex2_c.py", "kws_c", 8000)],
)
def test_script_end_to_end(subset, kws_script_run, poisoned, script, name, rate):
    data, split_dir = subset
    out, tmp_path = kws_script_run(script)
    assert out.returncode in (0, 2), out.stderr[-3000:]
    assert out.stderr == ""  # TensorFlow quiet, no warning
    assert "Verdict for ex2_" in out.stdout and "wrote " in out.stdout
    assert sorted(os.listdir(tmp_path)) == sorted(
        f"{name}{s}" for s in (".json", ".png", ".tflite", ".tflite.zip")
    )
    for f in os.listdir(tmp_path):  # the umask's mode (run under 022), not mkstemp's 0600
        assert stat.S_IMODE(os.stat(tmp_path / f).st_mode) == 0o644, f
    summary = json.loads(
        (tmp_path / f"{name}.json").read_text(),  # strict JSON: no NaN
        parse_constant=lambda c: pytest.fail(f"{name}.json holds {c}"),
    )
    assert summary["frontend"]["rate"] == rate and summary["frontend"]["input_shape"] == [49, 10, 1]
    assert summary["labels"] == LABELS
    m = summary["metrics"]
    assert set(m) == {
        "accuracy",
        "accuracy_reference_kernels",
        "reference_kernels_same_labels",
        "unseen_speaker_files",
        "accuracy_unseen_speakers",
        "val_accuracy",
        "float_val_accuracy",
        "float_val_accuracy_before_qat",
    }
    assert (
        summary["kernels"]["accuracy"] == "default"
        and summary["kernels"]["interpreter"] == "ai-edge-litert"
    )
    qat = script != "ex2_b.py"  # b declares no quantization-aware epochs
    # the stand-in split is speaker-disjoint: every test file is of an unseen speaker
    test_lines = (split_dir / "kws_split_test.txt").read_text().split()
    train_speakers = {
        ln.split("/")[-1].split("_nohash_")[0]
        for ln in (split_dir / "kws_split_train.txt").read_text().split()
    }
    unseen = [
        ln for ln in test_lines if ln.split("/")[-1].split("_nohash_")[0] not in train_speakers
    ]
    assert m["unseen_speaker_files"] == len(unseen) == len(test_lines)
    assert m["accuracy_unseen_speakers"] == m["accuracy"]
    # the int8 figures of the written file, computed another way (the course's features,
    # TensorFlow's interpreter), agree to one file
    truth, default, reference = course_labels(
        tmp_path / f"{name}.tflite", data, split_dir / "kws_split_test.txt", summary["frontend"]
    )
    n = len(truth)
    assert n == summary["data"]["test_files"] == len(test_lines)
    assert abs(np.mean(default == truth) - m["accuracy"]) <= 1 / n + 1e-9
    assert abs(np.mean(reference == truth) - m["accuracy_reference_kernels"]) <= 1 / n + 1e-9
    assert abs(np.mean(default == reference) - m["reference_kernels_same_labels"]) <= 1 / n + 1e-9
    assert (
        abs(m["accuracy_reference_kernels"] - m["accuracy"])
        <= 1 - m["reference_kernels_same_labels"] + 1e-9
    )
    val_truth, val_default, _ = course_labels(
        tmp_path / f"{name}.tflite", data, split_dir / "kws_split_val.txt", summary["frontend"]
    )
    n_val = len(val_truth)
    assert n_val == summary["data"]["val_files"]
    assert abs(np.mean(val_default == val_truth) - m["val_accuracy"]) <= 1 / n_val + 1e-9
    # the Keras model's figures: counts over the validation split; the converted model's is
    # the one Keras measured at the kept epoch (its weights restored; after quantization-aware
    # epochs nothing changes them, without them BatchNorm statistics are re-estimated)
    assert is_count_of(m["float_val_accuracy"], n_val)
    history, kept = summary["training"]["history"], summary["training"]["kept_epoch"]
    first = 2 if qat else 0  # the kept epoch is the best of the last phase (the first on ties)
    phase = history["val_accuracy"][first:]
    assert kept == first + 1 + phase.index(max(phase))
    if qat:
        assert m["float_val_accuracy"] == pytest.approx(history["val_accuracy"][kept - 1], abs=1e-6)
        assert is_count_of(m["float_val_accuracy_before_qat"], n_val)
    else:
        assert m["float_val_accuracy_before_qat"] is None
    assert (
        f"accuracy_reference_kernels {100 * m['accuracy_reference_kernels']:.2f} % "
        f"({100 * (m['accuracy_reference_kernels'] - m['accuracy']):+.2f} pt)"
    ) in " ".join(out.stdout.split())
    # verdict: the stand-in is not the course's split -> accuracy not assessable, size assessed
    v = summary["verdict"]
    assert (
        v["accuracy"]["result"] == "not assessable" and "course's split" in v["accuracy"]["reason"]
    )
    assert v["zip_bytes"]["result"] == (
        "pass" if summary["zip_bytes"] < summary["limits"]["zip_bytes"] else "fail"
    )
    assert summary["passed"] == (out.returncode == 0) == (v["zip_bytes"]["result"] == "pass")
    # 2 training epochs, then (a, c) 2 quantization-aware ones: --epochs 2 caps both
    assert len(summary["training"]["history"]["val_accuracy"]) == (4 if qat else 2)
    assert summary["training"]["qat_epochs"] == (2 if qat else 0)
    assert summary["training"]["kept_epoch"] in ((3, 4) if qat else (1, 2))
    train_labels = [
        ln.split("/")[-2] for ln in (split_dir / "kws_split_train.txt").read_text().split()
    ]
    assert summary["training"]["calibration_files"] == sum(
        min(125, train_labels.count(lab)) for lab in LABELS
    )

    ev = run(
        "-m",
        "tools.evaluate",
        str(tmp_path / f"{name}.tflite.zip"),
        "--data",
        str(data),
        "--split",
        str(split_dir / "kws_split_test.txt"),
    )
    assert ev.returncode == 0 and ev.stderr == "", ev.stderr[-2000:]
    assert f"accuracy {100 * m['accuracy']:.2f} % on {n} files" in ev.stdout

    lat = run("kws_inference.py", "--model", str(tmp_path / f"{name}.tflite.zip"), "--runs", "5")
    assert lat.returncode == 0, lat.stderr[-2000:]
    assert "Inference Latency" in lat.stdout and "Total Latency" in lat.stdout
    assert lat.stdout.startswith("front end from the model's metadata: ")
    # the model carries what its JSON says (read back without TensorFlow), and the JSON's
    # sha256, of the file with its metadata, covers it
    read = run(
        "-c",
        "import json, sys; from common import modelfile; "
        f"print(json.dumps(modelfile.metadata(open({str(tmp_path / (name + '.tflite'))!r}, 'rb').read()))); "
        "assert 'tensorflow' not in sys.modules",
    )
    assert read.returncode == 0, read.stderr[-2000:]
    assert json.loads(read.stdout) == {
        "version": script[:-3],
        "frontend": summary["frontend"],
        "labels": summary["labels"],
    }
    assert (
        hashlib.sha256((tmp_path / f"{name}.tflite").read_bytes()).hexdigest()
        == summary["tflite_sha256"]
    )
    pred = run(
        "kws_inference.py", "--model", str(tmp_path / f"{name}.tflite"), "--wav", str(data / "yes")
    )
    assert pred.returncode == 0, pred.stderr[-2000:]
    assert "Summary: " in pred.stdout and "Accuracy " in pred.stdout
    # the files of the model's training split among them are counted (from the JSON)
    trained = sum(
        ln.split("/")[-2] == "yes" for ln in (split_dir / "kws_split_train.txt").read_text().split()
    )
    labelled = len(list((data / "yes").glob("*.wav")))
    assert (
        f"note: {trained} of these {labelled} files are in the model's training split (by name)"
        in pred.stdout
    )
    # --split scores the test split's files only: the JSON's accuracy, the same code path
    scored = run(
        "kws_inference.py",
        "--model",
        str(tmp_path / f"{name}.tflite.zip"),
        "--wav",
        str(data),
        "--split",
        str(split_dir / "kws_split_test.txt"),
    )
    assert scored.returncode == 0, scored.stderr[-2000:]
    right = round(m["accuracy"] * n)
    assert f"Accuracy {100 * m['accuracy']:.2f} % ({right} of {n} files of " in scored.stdout
    # the headline: accuracy not assessable on the stand-in, never a bare PASS
    assert ("=> INCOMPLETE: accuracy not assessable on this data" in out.stdout) == (
        out.returncode == 0
    )


def poisoned_copy(subset, root):
    """(data folder, split folder): the subset's train and val files as links to the real
    wavs; its test files replaced by noise, each filed under the next label of LABELS (every
    test label wrong). The split is speaker-disjoint, so no name meets a train or val file."""
    from scipy.io import wavfile

    data, split_dir = subset
    poisoned, split = root / "data", root / "split"
    split.mkdir(parents=True)
    rng = np.random.default_rng(7)
    for which in ("train", "val", "test"):
        lines = []
        for line in (split_dir / f"kws_split_{which}.txt").read_text().split():
            label, name = line.split("/")[-2:]
            if which == "test":
                label = LABELS[(LABELS.index(label) + 1) % len(LABELS)]
            (poisoned / label).mkdir(parents=True, exist_ok=True)
            target = poisoned / label / name
            assert not target.exists()
            if which == "test":
                wavfile.write(target, 16000, rng.integers(-20000, 20000, 16000).astype(np.int16))
            else:
                target.symlink_to(data / label / name)
            lines.append(f"./data/mini_speech_commands/{label}/{name}")
        (split / f"kws_split_{which}.txt").write_text("\n".join(lines) + "\n")
    return poisoned, split


@pytest.mark.slow
def test_same_seed_same_model_whatever_the_test_split(kws_script_run, poisoned):
    """ex2_c (8 kHz, quantization-aware epochs) again with the same arguments (seed 0, 2
    epochs), its test split poisoned (noise wavs, every label wrong): the same .tflite, the
    same history, kept epoch and calibration. The test split never reaches training, the
    epoch choice or the calibration, and a run is deterministic."""
    out, folder = kws_script_run(POISONED)
    assert out.returncode in (0, 2), out.stderr[-2000:]
    first = kws_script_run("ex2_c.py")[1]
    x, y = (json.loads((d / "kws_c.json").read_text()) for d in (first, folder))
    assert y["data"]["path"] == str(poisoned) and y["data"]["test_files"] == x["data"]["test_files"]
    assert (first / "kws_c.tflite").read_bytes() == (folder / "kws_c.tflite").read_bytes()
    assert x["training"] == {**y["training"], "seconds": x["training"]["seconds"]}
    for key in ("val_accuracy", "float_val_accuracy", "float_val_accuracy_before_qat"):
        assert x["metrics"][key] == y["metrics"][key]


def test_the_course_split_is_the_default(shared_data, tmp_path):
    """Without --split-dir the course's split is used: on the partial stand-in data most of
    its files are missing, which is an error before any training."""
    out = run(
        "ex2_a.py",
        "--data",
        str(shared_data / "mini_speech_commands"),
        "--out-dir",
        str(tmp_path),
        timeout=120,
    )
    assert out.returncode == 1 and "Epoch" not in out.stdout and out.stderr.count("\n") == 1
    assert out.stderr.startswith(
        f"error: {ROOT}/kws_split_train.txt: 5911 of 6400 listed files missing"
    )


@pytest.mark.slow
def test_kept_weights_are_those_of_the_best_validation_epoch():
    import common  # noqa: F401
    import tensorflow as tf
    from common import kws, runtime
    from common.frontend_np import MFCC_16K

    runtime.set_seed(0)
    rng = np.random.default_rng(0)
    x = rng.normal(size=(96, 49, 10, 1)).astype(np.float32)
    y = rng.integers(0, 8, 96)
    x[np.arange(96), y * 5, :, 0] += 3.0  # a learnable, noisy cue
    train_ds = tf.data.Dataset.from_tensor_slices((x[:64], y[:64])).batch(16)
    val_ds = tf.data.Dataset.from_tensor_slices((x[64:], y[64:])).batch(32)
    # the restore alone: re-estimated BatchNorm statistics would change the kept model's accuracy
    spec = kws.KWSVersion(
        "ex2_a", MFCC_16K, filters=(8, 8), learning_rate=0.03, bn_momentum=0.1, bn_reestimate=False
    )
    model, history, kept = kws.train(spec, train_ds, val_ds, epochs=6, verbose=0)
    best = max(history["val_accuracy"])
    assert kept == 1 + history["val_accuracy"].index(best)
    assert history["val_accuracy"][-1] < best or kept == 6  # a later epoch was worse, or none
    predicted = np.argmax(model.predict(x[64:], verbose=0), axis=1)
    assert np.mean(predicted == y[64:]) == pytest.approx(best)
