"""The numpy front end against references that are not the project's: the STFT path against
tf.signal.stft and tf.image.resize called here, the mel matrix against TensorFlow's (the
course's SignalGenerator, presets and other settings: tests/test_course_frontend.py); and
the settings' checks."""

import numpy as np
import pytest

from common.frontend_np import FrontEnd, NumpyFrontEnd, mel_weight_matrix
from common.wav import read_wav

tf = pytest.importorskip("tensorflow")

STFT_CONFIGS = [
    FrontEnd(mfcc=False),
    FrontEnd(mfcc=False, resize=32),
    FrontEnd(rate=8000, frame_length=256, frame_step=128, mfcc=False, resize=24),
]


def tf_stft(x, cfg):
    """|STFT| (fft_length = frame_length, Hann window), then tf.image.resize when `cfg` says:
    TensorFlow's functions called directly."""
    stft = tf.signal.stft(tf.constant(x), cfg.frame_length, cfg.frame_step, cfg.frame_length)
    spec = tf.abs(stft)[..., None]
    return (tf.image.resize(spec, [cfg.resize, cfg.resize]) if cfg.resize else spec).numpy()


@pytest.fixture(scope="module")
def real_wavs(shared_data):
    files = sorted((shared_data / "mini_speech_commands").glob("*/*.wav"))
    if not files:
        pytest.skip("no wav under ../shared/data/mini_speech_commands")
    return files[:: max(1, len(files) // 20)][:20]


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
    assert "fft_length" in FrontEnd(frame_length=640, fft_length=512).problems()[0]
    assert FrontEnd.problems_of({"rate": "16k"})[0].startswith("'rate' is '16k'")
    assert FrontEnd.problems_of({"bogus": 1}) == []  # unknown keys are ignored
