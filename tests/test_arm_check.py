"""tools/arm_check.py's own logic (the emulated run itself is CI's step, .ci/run): the Pi
requirement files it installs, and the comparison that makes it fail."""

import re
import sys

from conftest import ROOT

sys.path.insert(0, str(ROOT / "tools"))
import arm_check  # noqa: E402


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
    armhf = arm_check.SUITES["bookworm-armhf"]
    assert arm_check.requirement_lines(armhf) == [
        "tflite-runtime==2.14.0"
    ]  # numpy, scipy: Debian's
    assert arm_check.requirement_lines(arm_check.SUITES["trixie-arm64"]) == [
        f"{k}=={v}" for k, v in pins("requirements-pi.txt").items()
    ]


def test_a_differing_label_is_a_problem(tmp_path):
    wavs = str(tmp_path)
    argv_lat, argv_wav = (
        ["--model", "m.tflite.zip", "--runs", "2"],
        ["--model", "m.tflite", "--wav", wavs],
    )
    latency = [
        "front end from the model's metadata: {}",
        "Inference Latency 0.02ms",
        "Pi limit: none for ex2_a (...); ran on X; Debian, 64-bit userland, Python 3.13.5, LiteRT",
    ]
    x86 = [
        (argv_lat, 0, latency),
        (
            argv_wav,
            0,
            [
                "front end",
                f"{wavs}/yes/a.wav yes 0.900",
                f"{wavs}/no/b.wav no 0.600",
                "Accuracy 100.00 % (2 of 2)",
            ],
        ),
    ]
    same = [(argv_lat, 0, latency), (argv_wav, 0, list(x86[1][2]))]
    lines, problems = arm_check.compare(x86, same, wavs)
    assert (
        problems == []
        and "labels equal to x86: 2/2 (0.00 % differ), largest score difference 0.000" in lines[-1]
    )
    assert arm_check.os_words(same) == "Debian, 64-bit userland, Python 3.13.5, LiteRT"
    other = [
        (argv_lat, 0, latency),
        (
            argv_wav,
            0,
            [
                "front end",
                f"{wavs}/yes/a.wav yes 0.850",
                f"{wavs}/no/b.wav up 0.500",
                "Accuracy 50.00 % (1 of 2)",
            ],
        ),
    ]
    lines, problems = arm_check.compare(x86, other, wavs)
    assert problems == ["m.tflite (alone) --wav: 1 of 2 labels differ from x86"]
    assert (
        "1/2 (50.00 % differ), largest score difference 0.100, accuracy 50.00 % (x86 100.00 %)"
        in lines[-1]
    )
    failed = [(argv_lat, 1, []), (argv_wav, 0, list(x86[1][2]))]
    assert arm_check.compare(x86, failed, wavs)[1] == [
        "m.tflite.zip --runs 2: exit status 1 (x86: 0)"
    ]
