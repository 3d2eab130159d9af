"""The project's front ends against the course's: a literal transcription of the course's
SignalGenerator (tests/course_signal_generator.py, which imports nothing of the project) on
real wavs. A grader feeds a submitted model the course's features: the features the project
trains and runs on must be those, within float32 round-off."""

import numpy as np
import pytest
from scipy.io import wavfile

from common.frontend_np import MFCC_8K, MFCC_16K, FrontEnd, NumpyFrontEnd
from common.wav import read_wav

tf = pytest.importorskip("tensorflow")
from common.speech import tf_frontend  # noqa: E402
from course_signal_generator import MFCC_8K_OPTIONS, MFCC_OPTIONS, SignalGenerator  # noqa: E402

LABELS = ["down", "go", "left", "no", "right", "stop", "up", "yes"]
TOLERANCE = 1e-4  # absolute, on MFCCs (README)


@pytest.fixture(scope="module")
def wavs(shared_data, tmp_path_factory):
    """24 real wavs, 3 of each label, and 2 of them cut short (0.55 s, 0.8 s), which the
    course pads with zeros."""
    folder = shared_data / "mini_speech_commands"
    files = [f for label in LABELS for f in sorted((folder / label).glob("*.wav"))[5:8]]
    if len(files) < 24:
        pytest.skip("fewer than 3 wavs of each label under ../shared/data/mini_speech_commands")
    short = tmp_path_factory.mktemp("short")
    for f, n in zip(files[:2], (8800, 12800)):
        rate, data = wavfile.read(f)
        wavfile.write(short / f"short_{n}_{f.name}", rate, data[:n])
        files.append(short / f"short_{n}_{f.name}")
    return files


@pytest.mark.parametrize(
    "preset, options", [(MFCC_16K, MFCC_OPTIONS), (MFCC_8K, MFCC_8K_OPTIONS)], ids=["16k", "8k"]
)
def test_both_front_ends_give_the_course_features(wavs, preset, options):
    course = SignalGenerator(LABELS, preset.rate, **options)
    ours = NumpyFrontEnd(preset)
    worst_np = worst_tf = 0.0
    for path in wavs:
        want = course.preprocess(str(path)).numpy()
        x = read_wav(path, rate=preset.rate)
        assert want.shape == tuple(preset.input_shape) == (49, 10, 1)
        worst_np = max(worst_np, float(np.abs(ours(x) - want).max()))
        worst_tf = max(
            worst_tf, float(np.abs(tf_frontend(tf.constant(x), preset).numpy() - want).max())
        )
    assert worst_np <= TOLERANCE, worst_np
    assert worst_tf <= TOLERANCE, worst_tf


def test_the_presets_say_the_course_fft_length():
    assert (MFCC_16K.fft_length, MFCC_16K.fft_bins) == (640, 321)
    assert (MFCC_8K.fft_length, MFCC_8K.fft_bins) == (320, 161)
    assert FrontEnd(frame_length=480).fft_length == 480  # built in code: the course's


def test_a_power_of_two_fft_is_not_the_course_features(wavs):
    """The check can fail: the 1024-point FFT the project used before is measurably off."""
    course = SignalGenerator(LABELS, 16000, **MFCC_OPTIONS)
    old = NumpyFrontEnd(FrontEnd.from_dict({**MFCC_16K.to_dict(), "fft_length": None}))
    x = read_wav(wavs[0], rate=16000)
    assert np.abs(old(x) - course.preprocess(str(wavs[0])).numpy()).max() > 100 * TOLERANCE


def test_a_json_written_before_keeps_its_fft_length():
    """A sidecar with `fft_length` null (or without it) was trained on stft's default FFT,
    the next power of two: it keeps that, so old models keep their features."""
    old = {k: v for k, v in MFCC_16K.to_dict().items() if k != "fft_length"}
    assert FrontEnd.from_dict(old).fft_length == 1024
    assert FrontEnd.from_dict({**old, "fft_length": None}).fft_length == 1024
    assert FrontEnd.from_dict({**MFCC_8K.to_dict(), "fft_length": None}).fft_length == 512
    assert FrontEnd.from_dict(MFCC_8K.to_dict()) == MFCC_8K
    assert "fft_length" in FrontEnd(frame_length=640, fft_length=512).problems()[0]
