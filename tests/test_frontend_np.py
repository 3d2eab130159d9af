"""The numpy front end against references that are not the project's: settings other than the
two presets against the course's SignalGenerator (tests/course_signal_generator.py; the
presets themselves: tests/test_course_frontend.py), the STFT path against tf.signal.stft and
tf.image.resize called here, the mel matrix against TensorFlow's; and the settings' checks."""

import numpy as np
import pytest
from scipy.io import wavfile

from common.frontend_np import FrontEnd, NumpyFrontEnd, mel_weight_matrix
from common.wav import read_wav

tf = pytest.importorskip("tensorflow")
from course_signal_generator import SignalGenerator  # noqa: E402

LABELS = ["down", "go", "left", "no", "right", "stop", "up", "yes"]
# MFCC settings of neither preset: 8 kHz, 32 ms frames, 32 mel bins, 13 coefficients, 40-3800 Hz
OTHER_MFCC = FrontEnd(
    rate=8000,
    frame_length=256,
    frame_step=128,
    num_mel_bins=32,
    num_coefficients=13,
    lower_frequency=40,
    upper_frequency=3800,
)
STFT_CONFIGS = [
    FrontEnd(mfcc=False),
    FrontEnd(mfcc=False, resize=32),
    FrontEnd(rate=8000, frame_length=256, frame_step=128, mfcc=False, resize=24),
]


def course(cfg):
    """The course's SignalGenerator with the settings of `cfg`."""
    return SignalGenerator(
        LABELS,
        cfg.rate,
        cfg.frame_length,
        cfg.frame_step,
        cfg.num_mel_bins,
        cfg.lower_frequency,
        cfg.upper_frequency,
        cfg.num_coefficients,
        mfcc=cfg.mfcc,
    )


def tf_stft(x, cfg):
    """|STFT| (fft_length = frame_length, Hann window), then tf.image.resize when `cfg` says:
    TensorFlow's functions called directly."""
    spec = tf.abs(
        tf.signal.stft(
            tf.constant(x), cfg.frame_length, cfg.frame_step, fft_length=cfg.frame_length
        )
    )[..., None]
    return (tf.image.resize(spec, [cfg.resize, cfg.resize]) if cfg.resize else spec).numpy()


@pytest.fixture(scope="module")
def real_wavs(shared_data):
    files = sorted((shared_data / "mini_speech_commands").glob("*/*.wav"))
    if not files:
        pytest.skip("no wav under ../shared/data/mini_speech_commands")
    return files[:: max(1, len(files) // 20)][:20]


def test_other_mfcc_settings_give_the_course_features(real_wavs):
    ours, theirs = NumpyFrontEnd(OTHER_MFCC), course(OTHER_MFCC)
    worst = 0.0
    for path in real_wavs:
        a, b = ours(read_wav(path, rate=OTHER_MFCC.rate)), theirs.preprocess(str(path)).numpy()
        assert (
            a.shape == b.shape == tuple(OTHER_MFCC.input_shape) == (61, 13, 1)
            and a.dtype == np.float32
        )
        worst = max(worst, float(np.abs(a - b).max()))
    assert worst <= 1e-4, worst  # MFCC within 1e-4 (absolute), as for the presets


def test_silence_and_noise_give_the_course_features(tmp_path):
    """A silent clip (log of the 1e-6 floor everywhere) and full-scale noise, as wav files."""
    cfg = FrontEnd()
    noise = np.random.RandomState(0).randint(-32768, 32768, 16000).astype(np.int16)
    for name, pcm in (("silence", np.zeros(16000, np.int16)), ("noise", noise)):
        wavfile.write(tmp_path / f"{name}.wav", 16000, pcm)
        np.testing.assert_allclose(
            NumpyFrontEnd(cfg)(read_wav(tmp_path / f"{name}.wav")),
            course(cfg).preprocess(str(tmp_path / f"{name}.wav")).numpy(),
            atol=1e-4,
        )


def test_the_course_stft_path_resized_to_32x32(real_wavs):
    """The course's own STFT path (always resized to 32x32) at 16 kHz."""
    cfg = STFT_CONFIGS[1]
    worst = 0.0
    for path in real_wavs:
        a, b = NumpyFrontEnd(cfg)(read_wav(path)), course(cfg).preprocess(str(path)).numpy()
        assert a.shape == b.shape == (32, 32, 1)
        worst = max(worst, float(np.abs(a - b).max() / np.abs(b).max()))
    assert worst <= 1e-5, worst  # STFT within 1e-5 of the peak


@pytest.mark.parametrize("cfg", STFT_CONFIGS, ids=lambda c: f"{c.rate}-{c.resize}")
def test_stft_path_matches_tensorflow(real_wavs, cfg):
    fe = NumpyFrontEnd(cfg)
    worst = 0.0
    for path in real_wavs:
        x = read_wav(path, rate=cfg.rate)
        a, b = fe(x), tf_stft(x, cfg)
        assert a.shape == b.shape == tuple(cfg.input_shape) and a.dtype == np.float32
        worst = max(worst, float(np.abs(a - b).max() / np.abs(b).max()))
    assert worst <= 1e-5, worst  # STFT within 1e-5 of the peak


def test_mel_matrix_matches_tf():
    ours = mel_weight_matrix(40, 513, 16000, 20.0, 4000.0)
    ref = tf.signal.linear_to_mel_weight_matrix(40, 513, 16000, 20.0, 4000.0).numpy()
    np.testing.assert_allclose(ours, ref, atol=1e-5)


def test_settings_problems():
    assert FrontEnd().problems() == []
    assert "frame_step" in FrontEnd(frame_step=0).problems()[0]
    assert "upper_frequency" in FrontEnd(upper_frequency=9000).problems()[0]
    assert "num_coefficients" in FrontEnd(num_coefficients=50).problems()[0]
    assert FrontEnd.problems_of({"rate": "16k"})[0].startswith("'rate' is '16k'")
    assert FrontEnd.problems_of({"bogus": 1}) == []  # unknown keys are ignored


def test_dict_round_trip():
    cfg = FrontEnd(rate=8000, frame_length=320, frame_step=160)
    d = {**cfg.to_dict(), "input_shape": cfg.input_shape, "other": 1}
    assert FrontEnd.from_dict(d) == cfg
