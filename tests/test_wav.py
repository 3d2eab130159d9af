import collections

import numpy as np
import pytest
from scipy.io import wavfile

from common import wav
from common.wav import WavError, read_wav, resample


def write(path, rate, data):
    wavfile.write(str(path), rate, data)
    return path


def tone(rate, seconds=1.0, freq=440.0):
    t = np.arange(int(rate * seconds)) / rate
    return 0.5 * np.sin(2 * np.pi * freq * t)


@pytest.mark.parametrize(
    "dtype, scale, offset",
    [
        (np.int16, 2.0**15, 0),
        (np.int32, 2.0**31, 0),
        (np.float32, 1.0, 0),
        (np.float64, 1.0, 0),
        (np.uint8, 128.0, 128),
    ],
)
def test_sample_formats_scaled(tmp_path, dtype, scale, offset):
    data = (tone(16000) * (scale - (scale > 1)) + offset).astype(dtype)
    x = read_wav(write(tmp_path / "f.wav", 16000, data))
    assert x.dtype == np.float32 and x.shape == (16000,)
    np.testing.assert_allclose(x, (data.astype(np.float64) - offset) / scale, atol=1e-7)


@pytest.mark.parametrize(
    "file_rate, rate, length",
    [(8000, 16000, 1), (44100, 16000, 1), (48000, 16000, 1), (16000, 8000, 1), (16000, 16000, 0.5)],
)
def test_resampled_to_the_rate_and_cut_to_the_length(tmp_path, file_rate, rate, length):
    data = (tone(file_rate) * 32767).astype(np.int16)
    x = read_wav(write(tmp_path / "r.wav", file_rate, data), rate=rate, length=length)
    assert x.dtype == np.float32 and x.shape == (int(rate * length),)
    np.testing.assert_allclose(x[200:-200], tone(rate, length)[200:-200], atol=0.02)


def test_channels_mixed_short_padded_long_trimmed_and_each_fix_counted(tmp_path):
    pcm, fixes = (tone(16000, 1.7) * 20000).astype(np.int16), collections.Counter()
    read_wav(write(tmp_path / "ok.wav", 16000, pcm[:16000]), fixes=fixes)
    assert fixes == {}
    x = read_wav(write(tmp_path / "long.wav", 16000, pcm), fixes=fixes)
    np.testing.assert_allclose(x, pcm[:16000] / 32768.0, atol=1e-7)
    stereo = np.stack([pcm[:8000], np.zeros(8000, np.int16)], 1)  # and 0.5 s
    x = read_wav(write(tmp_path / "stereo.wav", 16000, stereo), fixes=fixes)
    np.testing.assert_allclose(x[:8000], pcm[:8000] / 32768.0 / 2, atol=1e-7)
    assert not x[8000:].any()
    read_wav(write(tmp_path / "8k.wav", 8000, pcm[:8000]), fixes=fixes)
    assert fixes == {wav.FIX_CHANNELS: 1, wav.FIX_RATE: 1, wav.FIX_PAD: 1, wav.FIX_TRIM: 1}


def test_bad_files_raise_wav_error_naming_file(tmp_path):
    write(tmp_path / "empty.wav", 16000, np.zeros(0, np.int16))
    (tmp_path / "garbage.wav").write_bytes(b"this is not a wav file at all")
    (tmp_path / "zero.wav").write_bytes(b"")
    for name in ("empty.wav", "garbage.wav", "zero.wav", "missing.wav"):
        with pytest.raises(WavError, match=name):
            read_wav(tmp_path / name)
    assert issubclass(WavError, ValueError)


def test_resample_lengths():
    x = np.random.RandomState(0).randn(48000)
    assert resample(x, 48000, 16000).shape == (16000,)
    assert resample(x, 48000, 8000).dtype == np.float32
    assert resample(x[:16000], 16000, 16000).shape == (16000,)
