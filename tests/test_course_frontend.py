"""The project's front ends against the course's: a literal transcription of the course's
SignalGenerator (tests/course_signal_generator.py, which imports nothing of the project) on
real wavs. A grader feeds a submitted model the course's features: the features the project
trains and runs on must be those, within float32 round-off, for both presets (the course's
own options) and for other settings (the course's generator given the same settings)."""

import numpy as np
import pytest
from scipy.io import wavfile

from common.frontend_np import LABELS, MFCC_8K, MFCC_16K, FrontEnd, NumpyFrontEnd
from common.wav import read_wav

tf = pytest.importorskip("tensorflow")
from common.speech import tf_frontend  # noqa: E402
from course_signal_generator import MFCC_8K_OPTIONS, MFCC_OPTIONS, SignalGenerator  # noqa: E402

TOLERANCE = 1e-4  # absolute, on MFCCs (README); on STFTs 1e-5 of the peak
# MFCC settings of neither preset: rate 8 kHz, 32 ms frames (256 samples, step 128), 32 mel
# bins from 40 to 3800 Hz, 13 coefficients
OTHER_MFCC = FrontEnd(8000, 256, 128, 32, 40, 3800, 13)
STFT_32 = FrontEnd(mfcc=False, resize=32)  # the course's own STFT path: always resized to 32x32


def course(cfg, options=None):
    """The course's SignalGenerator with `options` or else the settings of `cfg`."""
    same = {k: v for k, v in cfg.to_dict().items() if k not in ("rate", "resize", "fft_length")}
    return SignalGenerator(LABELS, cfg.rate, **(options or same))


@pytest.fixture(scope="module")
def wavs(shared_data, tmp_path_factory):
    """24 real wavs, 3 of each label; 2 of them cut short (0.55 s, 0.8 s), which the course
    pads with zeros; a silent clip (log of the 1e-6 floor everywhere) and full-scale noise."""
    folder = shared_data / "mini_speech_commands"
    files = [f for label in LABELS for f in sorted((folder / label).glob("*.wav"))[5:8]]
    if len(files) < 24:
        pytest.skip("fewer than 3 wavs of each label under ../shared/data/mini_speech_commands")
    noise = np.random.RandomState(0).randint(-32768, 32768, 16000).astype(np.int16)
    made = {"silence": np.zeros(16000, np.int16), "noise": noise}
    for f, n in zip(files[:2], (8800, 12800)):
        made[f"short_{n}_{f.stem}"] = wavfile.read(f)[1][:n]
    out = tmp_path_factory.mktemp("made")
    for name, pcm in made.items():
        wavfile.write(out / f"{name}.wav", 16000, pcm)
        files.append(out / f"{name}.wav")
    return files


@pytest.mark.parametrize(
    "cfg, options, shape",
    [
        (MFCC_16K, MFCC_OPTIONS, (49, 10, 1)),
        (MFCC_8K, MFCC_8K_OPTIONS, (49, 10, 1)),
        (OTHER_MFCC, None, (61, 13, 1)),
        (STFT_32, None, (32, 32, 1)),
    ],
    ids=["16k", "8k", "other-mfcc", "stft-32x32"],
)
def test_both_front_ends_give_the_course_features(wavs, cfg, options, shape):
    theirs, ours = course(cfg, options), NumpyFrontEnd(cfg)
    errors = []  # numpy's, TensorFlow's, for each wav
    for path in wavs:
        want = theirs.preprocess(str(path)).numpy()
        x = read_wav(path, rate=cfg.rate)
        a, b = ours(x), tf_frontend(tf.constant(x), cfg).numpy()
        assert a.shape == b.shape == want.shape == tuple(cfg.input_shape) == shape
        assert a.dtype == b.dtype == np.float32
        scale = 1.0 if cfg.mfcc else float(np.abs(want).max()) or 1.0  # silence: no peak
        errors.append([np.abs(a - want).max() / scale, np.abs(b - want).max() / scale])
    worst = np.max(errors, axis=0)  # a NaN stays NaN, and fails
    assert (worst <= (TOLERANCE if cfg.mfcc else 1e-5)).all(), worst


def test_a_json_written_before_keeps_its_power_of_two_fft_which_is_not_the_courses(wavs):
    """The presets and settings built in code say the course's FFT length (frame_length). A
    sidecar with `fft_length` null (or without it) was trained on stft's default FFT, the
    next power of two: it keeps that, so old models keep their features, which are measurably
    not the course's (the check above can fail)."""
    assert (MFCC_16K.fft_length, MFCC_16K.fft_bins) == (640, 321)
    assert (MFCC_8K.fft_length, MFCC_8K.fft_bins) == (320, 161)
    assert FrontEnd(frame_length=480).fft_length == 480
    old = {k: v for k, v in MFCC_16K.to_dict().items() if k != "fft_length"}
    assert FrontEnd.from_dict(old).fft_length == 1024
    assert FrontEnd.from_dict({**old, "fft_length": None}).fft_length == 1024
    assert FrontEnd.from_dict({**MFCC_8K.to_dict(), "fft_length": None}).fft_length == 512
    # a round trip; the derived input_shape and unknown keys are ignored
    again = FrontEnd.from_dict({**MFCC_8K.to_dict(), "input_shape": [49, 10, 1], "other": 1})
    assert again == MFCC_8K
    x, want = read_wav(wavs[0]), course(MFCC_16K, MFCC_OPTIONS).preprocess(str(wavs[0])).numpy()
    power_of_two = NumpyFrontEnd(FrontEnd.from_dict({**old, "fft_length": None}))
    assert np.abs(power_of_two(x) - want).max() > 100 * TOLERANCE
