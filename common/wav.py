"""Read a wav file into a fixed-length float32 mono signal. numpy + scipy only (runs on a Pi)."""
import math
import warnings

import numpy as np
from scipy import signal
from scipy.io import wavfile

BASE_RATE = 16000  # every file is brought to this rate before padding / trimming


FIX_CHANNELS = "several channels, mixed down to mono"
FIX_RATE = "another sample rate, resampled to 16 kHz"
FIX_PAD = "shorter than 1 s, zero-padded at the end"
FIX_TRIM = "longer than 1 s, trimmed at the end"


class WavError(ValueError):
    """A file that is not a readable, non-empty wav."""


def resample(x, from_rate, to_rate):
    """Resample `x` with scipy.signal.resample_poly (up/down from the gcd); float32."""
    from_rate, to_rate = int(from_rate), int(to_rate)
    if from_rate == to_rate:
        return np.asarray(x, np.float32)
    g = math.gcd(from_rate, to_rate)
    return signal.resample_poly(x, to_rate // g, from_rate // g).astype(np.float32)


def _to_float(data):
    """Integer or float PCM -> float in [-1, 1]."""
    if data.dtype == np.uint8:
        return (data.astype(np.float32) - 128.0) / 128.0
    if np.issubdtype(data.dtype, np.integer):
        return data.astype(np.float32) / float(-np.iinfo(data.dtype).min)
    return np.clip(data.astype(np.float32), -1.0, 1.0)


def _fit(x, n):
    """Zero-pad at the end or trim to exactly n samples."""
    return np.pad(x, (0, max(0, n - len(x))))[:n]


def read_wav(path, rate=16000, length=1.0, fixes=None):
    """The wav at `path` as float32 mono of exactly round(rate * length) samples.

    - int16 / int32 / uint8 PCM are scaled to [-1, 1]; float wavs are clipped to [-1, 1];
    - several channels -> their mean;
    - a file rate other than 16000 is first resampled to 16000 (resample_poly);
    - then, if `rate` != 16000, resampled to `rate` (resample_poly, up/down from the gcd);
    - then zero-padded at the end or trimmed to round(rate * length) samples (the course's
      pad; the seed's 8 kHz version resampled before padding, as here).
    A missing, unreadable, empty or non-wav file raises WavError naming the file.
    `fixes`, a collections.Counter, counts what was done to a file that is not 16 kHz mono
    of the given length (keys: the FIX_* strings above).
    """
    expected = "a non-empty PCM (int16/int32/uint8) or float wav file"
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", wavfile.WavFileWarning)
            file_rate, data = wavfile.read(str(path))
    except Exception as e:  # scipy raises ValueError, OSError, EOFError, struct.error...
        raise WavError(f"{path}: cannot read it as a wav ({type(e).__name__}: {e}); "
                       f"expected {expected}") from None
    if data.size == 0 or file_rate <= 0:
        raise WavError(f"{path}: empty wav (no samples); expected {expected}")
    x = _to_float(data)
    n = int(round(BASE_RATE * length))
    done = [FIX_CHANNELS if x.ndim == 2 else None, FIX_RATE if file_rate != BASE_RATE else None]
    if x.ndim == 2:
        x = x.mean(axis=1)
    x = resample(x, file_rate, BASE_RATE)
    done.append(FIX_PAD if len(x) < n else FIX_TRIM if len(x) > n else None)
    if fixes is not None:
        fixes.update(d for d in done if d)
    # as the seed's 8 kHz SignalGenerator: resample the file's samples, then pad (or trim)
    x = _fit(resample(x, BASE_RATE, rate), int(round(rate * length)))
    return np.ascontiguousarray(x, dtype=np.float32)
