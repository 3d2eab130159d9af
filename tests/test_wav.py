import numpy as np
import pytest
from scipy.io import wavfile

from common.wav import WavError, read_wav, resample


def write(path, rate, data):
    wavfile.write(str(path), rate, data)
    return path


def tone(rate, seconds=1.0, freq=440.0):
    t = np.arange(int(rate * seconds)) / rate
    return 0.5 * np.sin(2 * np.pi * freq * t)


def test_int16_mono_exact(tmp_path):
    data = (tone(16000) * 32767).astype(np.int16)
    x = read_wav(write(tmp_path / "a.wav", 16000, data))
    assert x.dtype == np.float32 and x.shape == (16000,)
    np.testing.assert_allclose(x, data / 32768.0, atol=1e-7)


def test_stereo_is_mean_of_channels(tmp_path):
    left = (tone(16000) * 20000).astype(np.int16)
    right = np.zeros_like(left)
    x = read_wav(write(tmp_path / "s.wav", 16000, np.stack([left, right], 1)))
    np.testing.assert_allclose(x, left / 32768.0 / 2, atol=1e-6)


@pytest.mark.parametrize("rate", [8000, 44100, 48000])
def test_other_rates_resampled_to_16k(tmp_path, rate):
    data = (tone(rate) * 32767).astype(np.int16)
    x = read_wav(write(tmp_path / "r.wav", rate, data))
    assert x.shape == (16000,)
    ref = tone(16000)
    np.testing.assert_allclose(x[200:-200], ref[200:-200], atol=0.02)


def test_short_padded_long_trimmed(tmp_path):
    short = (tone(16000, 0.5) * 32767).astype(np.int16)
    x = read_wav(write(tmp_path / "short.wav", 16000, short))
    assert x.shape == (16000,) and np.all(x[8000:] == 0) and np.any(x[:8000] != 0)
    long = (tone(16000, 1.7) * 32767).astype(np.int16)
    y = read_wav(write(tmp_path / "long.wav", 16000, long))
    np.testing.assert_allclose(y, long[:16000] / 32768.0, atol=1e-7)


@pytest.mark.parametrize(
    "dtype,scale,offset",
    [(np.int32, 2.0**31, 0), (np.float32, 1.0, 0), (np.float64, 1.0, 0), (np.uint8, 128.0, 128)],
)
def test_sample_formats_scaled(tmp_path, dtype, scale, offset):
    ref = tone(16000)
    data = (ref * (scale - (scale > 1)) + offset).astype(dtype)
    x = read_wav(write(tmp_path / "f.wav", 16000, data))
    assert x.dtype == np.float32
    np.testing.assert_allclose(x, ref, atol=1.5 / 128 if dtype == np.uint8 else 1e-6)


def test_target_rate_and_length(tmp_path):
    data = (tone(16000) * 32767).astype(np.int16)
    path = write(tmp_path / "a.wav", 16000, data)
    assert read_wav(path, rate=8000).shape == (8000,)
    assert read_wav(path, rate=8000).dtype == np.float32
    assert read_wav(path, rate=16000, length=0.5).shape == (8000,)


def test_bad_files_raise_wav_error_naming_file(tmp_path):
    empty = write(tmp_path / "empty.wav", 16000, np.zeros(0, np.int16))
    garbage = tmp_path / "garbage.wav"
    garbage.write_bytes(b"this is not a wav file at all")
    zero = tmp_path / "zero.wav"
    zero.write_bytes(b"")
    for path in (empty, garbage, zero, tmp_path / "missing.wav"):
        with pytest.raises(WavError, match=str(path.name)):
            read_wav(path)
    assert issubclass(WavError, ValueError)


def test_resample_lengths():
    x = np.random.RandomState(0).randn(48000)
    assert resample(x, 48000, 16000).shape == (16000,)
    assert resample(x, 48000, 8000).dtype == np.float32
    assert resample(x[:16000], 16000, 16000).shape == (16000,)


def test_what_was_done_is_counted(tmp_path):
    import collections

    fixes = collections.Counter()
    read_wav(write(tmp_path / "ok.wav", 16000, np.zeros(16000, np.int16)), fixes=fixes)
    assert fixes == {}
    read_wav(write(tmp_path / "st.wav", 8000, np.zeros((4000, 2), np.int16)), fixes=fixes)
    read_wav(write(tmp_path / "long.wav", 16000, np.zeros(17000, np.int16)), fixes=fixes)
    from common import wav

    assert fixes == {wav.FIX_CHANNELS: 1, wav.FIX_RATE: 1, wav.FIX_PAD: 1, wav.FIX_TRIM: 1}
