import numpy as np
import pytest

from common.frontend_np import FrontEnd, NumpyFrontEnd, mel_weight_matrix
from common.wav import read_wav

tf = pytest.importorskip("tensorflow")
from common.speech import tf_frontend  # noqa: E402

CONFIGS = [FrontEnd(), FrontEnd(rate=8000, frame_length=320, frame_step=160),
           FrontEnd(rate=8000, frame_length=256, frame_step=128, num_mel_bins=32,
                    num_coefficients=13, lower_frequency=40, upper_frequency=3800),
           FrontEnd(mfcc=False), FrontEnd(mfcc=False, resize=32),
           FrontEnd(rate=8000, frame_length=256, frame_step=128, mfcc=False, resize=24)]


@pytest.fixture(scope="module")
def real_wavs(shared_data):
    files = sorted((shared_data / "mini_speech_commands").glob("*/*.wav"))
    if not files:
        pytest.skip("no wav under ../shared/data/mini_speech_commands")
    return files[:: max(1, len(files) // 20)][:20]


@pytest.mark.parametrize("cfg", CONFIGS, ids=lambda c: f"{c.rate}-{'mfcc' if c.mfcc else 'stft'}-{c.resize}")
def test_numpy_matches_tf(real_wavs, cfg):
    fe = NumpyFrontEnd(cfg)
    worst = 0.0
    for path in real_wavs:
        x = read_wav(path, rate=cfg.rate)
        a, b = fe(x), tf_frontend(tf.constant(x), cfg).numpy()
        assert a.shape == b.shape == tuple(cfg.input_shape) and a.dtype == np.float32
        worst = max(worst, float(np.abs(a - b).max() / (1.0 if cfg.mfcc else np.abs(b).max())))
    # what the README states: MFCC within 1e-4 (absolute), STFT within 1e-5 of the peak
    assert worst <= (1e-4 if cfg.mfcc else 1e-5), worst


def test_silence_and_noise_match():
    cfg = FrontEnd()
    fe = NumpyFrontEnd(cfg)
    for x in (np.zeros(16000, np.float32), np.random.RandomState(0).rand(16000).astype(np.float32)):
        np.testing.assert_allclose(fe(x), tf_frontend(tf.constant(x), cfg).numpy(), atol=1e-4)


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
