"""Read a wav file into a fixed-length float32 mono signal. numpy + scipy only (runs on a Pi).

What a file may ask for is bounded before it costs anything (docs/robustness.md): at most
MAX_BYTES on disk (checked before reading: the samples read cost at most that), a sample
rate in [MIN_RATE, MAX_RATE] Hz and at most MAX_SECONDS of samples (checked before any
conversion or resampling, whose cost grows with the rate ratio and the length), and only
finite samples (a float wav may hold NaN or inf). A keyword clip is 1 s at 16 kHz (32 KB).
"""

import math
import os
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
    """Resample `x` with scipy.signal.resample_poly (up/down from the gcd); float32."""
    from_rate, to_rate = int(from_rate), int(to_rate)
    if from_rate == to_rate:
        return np.asarray(x, np.float32)
    from scipy import (
        signal,
    )  # here: its import is 0.4 s of every command's start, and most files need none

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
      pad; the original report's 8 kHz version resampled before padding, as here).
    A missing, unreadable, empty or non-wav file, one over the bounds above or holding NaN or
    inf samples raises WavError naming the file.
    `fixes`, a collections.Counter, counts what was done to a file that is not 16 kHz mono
    of the given length (keys: the FIX_* strings above).
    """
    expected = "a non-empty PCM (int16/int32/uint8) or float wav file"
    try:
        size = os.path.getsize(path)
    except OSError as e:
        raise WavError(
            f"{path}: cannot read it as a wav ({e.strerror}); expected {expected}"
        ) from None
    if size > MAX_BYTES:
        raise WavError(
            f"{path}: {size:,} bytes, over the bound of {MAX_BYTES:,} bytes for a wav "
            f"(at most {MAX_SECONDS} s is read); expected a short recording"
        )
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", wavfile.WavFileWarning)
            file_rate, data = wavfile.read(str(path))
    except Exception as e:  # scipy raises ValueError, OSError, EOFError, struct.error...
        raise WavError(
            f"{path}: cannot read it as a wav ({type(e).__name__}: {e}); expected {expected}"
        ) from None
    if data.size == 0:
        raise WavError(f"{path}: empty wav (no samples); expected {expected}")
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
    x = _to_float(data)
    n = int(round(BASE_RATE * length))
    done = [FIX_CHANNELS if x.ndim == 2 else None, FIX_RATE if file_rate != BASE_RATE else None]
    if x.ndim == 2:
        x = x.mean(axis=1)
    x = resample(x, file_rate, BASE_RATE)
    done.append(FIX_PAD if len(x) < n else FIX_TRIM if len(x) > n else None)
    if fixes is not None:
        fixes.update(d for d in done if d)
    # as the original report's 8 kHz SignalGenerator: resample the file's samples, then pad (or trim)
    x = _fit(resample(x, BASE_RATE, rate), int(round(rate * length)))
    return np.ascontiguousarray(x, dtype=np.float32)
