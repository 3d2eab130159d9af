"""Read a wav file into a fixed-length float32 mono signal, refusing what a broken or hostile
file may ask for (the bounds below: docs/robustness.md). numpy + scipy only (runs on a Pi)."""

import collections
import math
import os
import stat
import warnings

import numpy as np
from scipy.io import wavfile

BASE_RATE = 16000  # every file is brought to this rate before padding / trimming

FIX_CHANNELS = "several channels, mixed down to mono"
FIX_RATE = "another sample rate, resampled to 16 kHz"
FIX_PAD = "shorter than 1 s, zero-padded at the end"
FIX_TRIM = "longer than 1 s, trimmed at the end"

MAX_BYTES = 64 * 2**20  # 35 min of 16 kHz int16; a minute of 48 kHz stereo float is 23 MB
MIN_RATE, MAX_RATE = 1_000, 384_000  # Hz: real audio is 8 kHz and more, studio gear 384 kHz at most
MAX_SECONDS = 60  # only the first second is used; a minute is far beyond a keyword clip


class WavError(ValueError):
    """A file that is not a readable, non-empty wav."""


def resample(x, from_rate, to_rate):
    """`x` resampled with scipy.signal.resample_poly (up/down from the gcd), float32."""
    from_rate, to_rate = int(from_rate), int(to_rate)
    if from_rate == to_rate:
        return np.asarray(x, np.float32)
    from scipy import signal  # here: its import is 0.4 s of every command's start

    g = math.gcd(from_rate, to_rate)
    return signal.resample_poly(x, to_rate // g, from_rate // g).astype(np.float32)


def _to_float(data):
    """Integer or float PCM -> float in [-1, 1]."""
    if data.dtype == np.uint8:
        return (data.astype(np.float32) - 128.0) / 128.0
    if np.issubdtype(data.dtype, np.integer):
        return data.astype(np.float32) / float(-np.iinfo(data.dtype).min)
    return np.clip(data.astype(np.float32), -1.0, 1.0)


def read_wav(path, rate=16000, length=1.0, fixes=None):
    """The wav at `path` as float32 mono of round(rate * length) samples: channels averaged,
    resampled to 16 kHz then to `rate`, zero-padded or trimmed at the end. `fixes` (a Counter)
    counts the FIX_* done. WavError, naming the file, for anything unreadable or out of bounds."""
    expected = "expected a non-empty PCM (int16/int32/uint8) or float wav file"
    try:
        st = os.stat(path)
    except OSError as e:
        raise WavError(f"{path}: cannot read it as a wav ({e.strerror}); {expected}") from None
    if not stat.S_ISREG(st.st_mode):  # a FIFO would block, a device never end: never opened
        raise WavError(f"{path}: not a regular file; {expected}")
    if st.st_size > MAX_BYTES:
        raise WavError(
            f"{path}: {st.st_size:,} bytes, over the bound of {MAX_BYTES:,} bytes for a wav "
            f"(at most {MAX_SECONDS} s is read); expected a short recording"
        )
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", wavfile.WavFileWarning)
            file_rate, data = wavfile.read(str(path))
    except Exception as e:  # scipy raises ValueError, OSError, EOFError, struct.error...
        raise WavError(
            f"{path}: cannot read it as a wav ({type(e).__name__}: {e}); {expected}"
        ) from None
    if data.size == 0:
        raise WavError(f"{path}: empty wav (no samples); {expected}")
    if not MIN_RATE <= file_rate <= MAX_RATE:
        raise WavError(
            f"{path}: sample rate {file_rate:,} Hz, outside the bounds "
            f"[{MIN_RATE:,}, {MAX_RATE:,}] Hz; expected a real recording's rate (e.g. 16,000)"
        )
    if len(data) > MAX_SECONDS * file_rate:
        raise WavError(
            f"{path}: {len(data) / file_rate:,.1f} s of samples, over the bound of "
            f"{MAX_SECONDS} s; expected a short recording (1 s is used)"
        )
    nonfinite = data.size - np.count_nonzero(np.isfinite(data)) if data.dtype.kind == "f" else 0
    if nonfinite:
        raise WavError(
            f"{path}: {nonfinite:,} of {data.size:,} samples are NaN or infinite; "
            "expected finite samples in [-1, 1]"
        )
    fixes = collections.Counter() if fixes is None else fixes
    x = _to_float(data)
    if x.ndim == 2:
        fixes[FIX_CHANNELS] += 1
        x = x.mean(axis=1)
    if file_rate != BASE_RATE:
        fixes[FIX_RATE] += 1
    x = resample(x, file_rate, BASE_RATE)
    n = int(round(BASE_RATE * length))
    if len(x) != n:
        fixes[FIX_PAD if len(x) < n else FIX_TRIM] += 1
    # as the original report's 8 kHz SignalGenerator: resample the file's samples, then pad or trim
    x = resample(x, BASE_RATE, rate)
    n = int(round(rate * length))
    return np.ascontiguousarray(np.pad(x, (0, max(0, n - len(x))))[:n], dtype=np.float32)
