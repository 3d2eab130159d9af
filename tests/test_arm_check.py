"""tools/arm_check.py's own logic (the emulated run itself is CI's step, .ci/run): the Pi
requirement files it installs, and the comparison that makes it fail, fed with what
`kws_inference.py --json` prints for the runs it makes (its refusals: test_modelfile.py)."""

import copy
import json
import re

import pytest

from conftest import ROOT
from tools import arm_check

pytest.importorskip("tensorflow")
import kws_inference  # noqa: E402
from common.frontend_np import LABELS  # noqa: E402
from test_modelfile import tiny, write_set  # noqa: E402


def pins(path):
    """{name: version} of the `name==version` lines of a requirements file."""
    found = {}
    for line in (ROOT / path).read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            name, version = re.fullmatch(r"([A-Za-z0-9_.-]+)==([0-9.]+)", line.strip()).groups()
            found[name] = version
    return found


def test_the_64_bit_file_pins_the_training_versions_without_markers():
    pi, training = pins("requirements-pi.txt"), pins("requirements.txt")
    assert set(pi) == {"ai-edge-litert", "numpy", "scipy"}
    assert pi == {k: training[k] for k in pi}


def test_the_32_bit_file_is_tflite_runtime_with_numpy_1():
    pi32 = pins("requirements-pi32.txt")
    assert pi32["tflite-runtime"] == "2.14.0" and pi32["numpy"].startswith("1.")
    armhf = arm_check.SUITES["bookworm-armhf"]  # numpy, scipy: Debian's
    assert arm_check.requirement_lines(armhf) == ["tflite-runtime==2.14.0"]
    assert arm_check.requirement_lines(arm_check.SUITES["trixie-arm64"]) == [
        f"{k}=={v}" for k, v in pins("requirements-pi.txt").items()
    ]


def test_compare_on_what_kws_inference_prints(shared_data, tmp_path, capsys):
    """The runs of runs_of (latency mode on the .tflite.zip, --wav on the .tflite alone) of a
    tiny ex2_b model on 6 real wavs, made by kws_inference.main --json in this process."""
    model = write_set(tmp_path / "models", tiny()["b"], name="kws_b")
    wavs = []
    for label in ("yes", "no", "up"):
        (tmp_path / "wavs" / label).mkdir(parents=True)
        for wav in sorted((shared_data / "mini_speech_commands" / label).glob("*.wav"))[:2]:
            wavs.append(tmp_path / "wavs" / label / wav.name)
            wavs[-1].symlink_to(wav)
    argvs = arm_check.runs_of([str(model)], str(tmp_path / "wavs"), 2, str(tmp_path / "alone"))
    assert [argv[1] for argv in argvs] == [f"{model}.zip", str(tmp_path / "alone" / "kws_b.tflite")]
    x86 = [(argv, kws_inference.main(argv), json.loads(capsys.readouterr()[0])) for argv in argvs]
    (_, _, latency), (_, _, labelled) = x86
    rows = arm_check.wav_rows(labelled)
    assert sorted(rows) == sorted(map(str, wavs)) and {r[0] for r in rows.values()} <= set(LABELS)
    assert arm_check.os_words(x86) == kws_inference.system()["os"]
    assert arm_check.os_words([(argvs[0], 1, None), x86[1]]) == kws_inference.system()["os"]
    ms, accuracy = latency["latency"]["inference_ms"]["mean"], labelled["wav"]["accuracy"]
    assert arm_check.compare(x86, x86) == (
        [
            f"  kws_b.tflite.zip latency mode: exit 0, Inference Latency {ms:.2f}ms (emulated: "
            f"not a Pi's figure; x86 LiteRT: {ms:.2f}ms)",
            f"    {kws_inference.limit_line(latency)}",
            "  kws_b.tflite (alone) --wav: 6 of 6 files labelled, labels equal to x86: 6/6 (0.00 % "
            f"differ), largest score difference 0.000, accuracy {100 * accuracy:.2f} % (x86 "
            f"{100 * accuracy:.2f} %)",
        ],
        [],
    )
    arm = copy.deepcopy(x86)
    files = arm[1][2]["wav"]["files"]
    files[0]["label"] = next(lab for lab in LABELS if lab != files[0]["label"])
    files[1]["score"] -= 0.25
    lines, problems = arm_check.compare(x86, arm)
    assert problems == ["kws_b.tflite (alone) --wav: 1 of 6 labels differ from x86"]
    assert "labels equal to x86: 5/6 (16.67 % differ), largest score difference 0.250" in lines[-1]
    arm[0][2]["frontend"]["rate"] = 8000
    assert arm_check.compare(x86, arm)[1][0].startswith(
        "kws_b.tflite.zip: another front end or labels than on x86: {'rate': 8000, "
    )
    failed = arm_check.compare(x86, [(argvs[0], 1, None), x86[1]])[1]
    assert failed == ["kws_b.tflite.zip --runs 2 --json: exit status 1 (x86: 0)"]
