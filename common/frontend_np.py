"""The keyword-spotting front end's settings (FrontEnd) and the course's, in numpy (no TensorFlow):
STFT -> abs -> [mel -> log -> MFCC] or [bilinear resize], to float32 round-off."""

import dataclasses
import math
import reprlib

import numpy as np
import scipy.fft

LABELS = ["down", "go", "left", "no", "right", "stop", "up", "yes"]

# Upper bounds of the settings a JSON or flags may give (docs/robustness.md): far above any
# front end, low enough that its arrays stay within tens of MB (a Raspberry Pi's memory).
BOUNDS = {
    "rate": 48_000,
    "frame_length": 48_000,
    "frame_step": 48_000,
    "fft_length": 65_536,
    "num_mel_bins": 256,
    "num_coefficients": 256,
    "resize": 1_024,
}
MAX_ARRAY_VALUES = 2**22  # the spectrogram, mel or resize matrix: 16 MB of float32
SHORT = reprlib.Repr()  # a value in a message (here and in common.modelfile): 60 characters
SHORT.maxstring = SHORT.maxother = 60


@dataclasses.dataclass
class FrontEnd:
    """Front-end settings; signals are 1 s long at `rate`."""

    rate: int = 16000
    frame_length: int = 640
    frame_step: int = 320
    num_mel_bins: int = 40
    lower_frequency: float = 20.0
    upper_frequency: float = 4000.0
    num_coefficients: int = 10
    mfcc: bool = True
    resize: int | None = None  # STFT path only: resize the spectrogram to [resize, resize]
    fft_length: int | None = None  # FFT size; None: frame_length, as the course's stft

    def __post_init__(self):
        if self.fft_length is None:
            self.fft_length = self.frame_length

    @property
    def fft_size(self):
        return self.fft_length

    @property
    def num_frames(self):
        return 1 + (int(self.rate) - self.frame_length) // self.frame_step

    @property
    def fft_bins(self):
        return self.fft_size // 2 + 1

    @property
    def input_shape(self):
        """Shape of the features of one signal, e.g. [49, 10, 1]."""
        if self.mfcc:
            return [self.num_frames, self.num_coefficients, 1]
        if self.resize:
            return [self.resize, self.resize, 1]
        return [self.num_frames, self.fft_bins, 1]

    def to_dict(self):
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d):
        """From stored settings (a JSON's `frontend`), unknown keys ignored; a missing `fft_length`
        (an older JSON's) is tf.signal.stft's default: the next power of two >= frame_length."""
        names = {f.name for f in dataclasses.fields(cls)}
        d = {k: v for k, v in d.items() if k in names}
        frame = d.get("frame_length", cls.frame_length)
        if d.get("fft_length") is None and isinstance(frame, int) and frame >= 1:
            d["fft_length"] = 1 << (frame - 1).bit_length()
        return cls(**d)

    def problems(self):
        """What makes these settings unusable (messages; none when fine): types, ranges, BOUNDS."""

        def whole(name, low=1):
            v = getattr(self, name)
            return isinstance(v, int) and not isinstance(v, bool) and low <= v <= BOUNDS[name]

        found = []
        names = ("rate", "frame_length", "frame_step", "num_mel_bins", "num_coefficients", "resize")
        for n in names:
            if not whole(n) and not (n == "resize" and self.resize is None):
                null = "null or " if n == "resize" else ""
                found.append(
                    f"'{n}' is {SHORT.repr(getattr(self, n))}; expected {null}a whole number in "
                    f"[1, {BOUNDS[n]:,}]"
                )
        if not isinstance(self.mfcc, bool):
            found.append(f"'mfcc' is {SHORT.repr(self.mfcc)}; expected true or false")
        if found:
            return found
        if not whole("fft_length", self.frame_length):
            return [
                f"'fft_length' is {SHORT.repr(self.fft_length)}; expected a whole number in "
                f"[frame_length, {BOUNDS['fft_length']:,}] (the course's: frame_length, "
                f"{self.frame_length})"
            ]
        arrays = [("spectrogram (frames x FFT points)", self.num_frames, self.fft_size)]
        if self.mfcc:
            arrays.append(("mel matrix (FFT bins x mel bins)", self.fft_bins, self.num_mel_bins))
        elif self.resize:
            arrays.append(("resize matrix (FFT bins x resize)", self.fft_bins, self.resize))
        if self.frame_length > self.rate:
            found.append(
                f"'frame_length' {self.frame_length} is longer than the 1 s signal "
                f"({self.rate} samples)"
            )
        else:
            found += [
                f"the {what} ({rows:,} x {cols:,} = {rows * cols:,} values) is over the bound "
                f"of {MAX_ARRAY_VALUES:,}; expected smaller settings"
                for what, rows, cols in arrays
                if rows * cols > MAX_ARRAY_VALUES
            ]
        if self.mfcc:
            lo, hi = self.lower_frequency, self.upper_frequency
            numbers = all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in (lo, hi))
            if not (numbers and 0 <= lo < hi <= self.rate / 2):
                found.append(
                    f"'lower_frequency' {SHORT.repr(lo)} / 'upper_frequency' {SHORT.repr(hi)}: "
                    f"expected 0 <= lower < upper <= rate / 2 = {self.rate / 2:g} Hz"
                )
            if self.num_coefficients > self.num_mel_bins:
                found.append(
                    f"'num_coefficients' {self.num_coefficients} > 'num_mel_bins' "
                    f"{self.num_mel_bins}"
                )
        return found

    @classmethod
    def problems_of(cls, d):
        """Problems of a dict of settings (e.g. a JSON's 'frontend')."""
        try:
            return cls.from_dict(d).problems()
        except TypeError as e:
            return [f"front-end settings {SHORT.repr(d)} unusable ({e})"]


# The exercises' front ends: 16 kHz (versions a, b) and 8 kHz after resample_poly (c).
MFCC_16K = FrontEnd(
    rate=16000, frame_length=640, frame_step=320, lower_frequency=20, upper_frequency=4000
)
MFCC_8K = FrontEnd(
    rate=8000, frame_length=320, frame_step=160, lower_frequency=20, upper_frequency=4000
)


def hann_window(n):
    """tf.signal.hann_window(n), in float32, TensorFlow's order (float64: MFCCs off by 2e-4)."""
    arg = np.float32(2.0 * np.pi) * np.arange(n, dtype=np.float32) / np.float32(n)
    return np.float32(0.5) - np.float32(0.5) * np.cos(arg)


def mel_weight_matrix(num_mel_bins, fft_bins, rate, lower, upper):
    """numpy twin of tf.signal.linear_to_mel_weight_matrix: [fft_bins, num_mel_bins], HTK mel."""
    mel = lambda f: 1127.0 * np.log1p(np.asarray(f, np.float64) / 700.0)
    freqs = mel(np.linspace(0.0, rate / 2.0, fft_bins)[1:])[:, None]
    edges = np.linspace(mel(lower), mel(upper), num_mel_bins + 2)
    lo, center, hi = edges[:-2], edges[1:-1], edges[2:]
    weights = np.maximum(
        0.0, np.minimum((freqs - lo) / (center - lo), (hi - freqs) / (hi - center))
    )
    return np.pad(weights, [(1, 0), (0, 0)]).astype(np.float32)  # bin 0 (DC) zeroed


def dct_matrix(num_mel_bins, num_coefficients):
    """[M, K] matrix of tf.signal.mfccs_from_log_mel_spectrograms: DCT-II / sqrt(2 M)."""
    n, k = np.arange(num_mel_bins)[:, None], np.arange(num_coefficients)[None, :]
    basis = 2.0 * np.cos(np.pi * k * (2 * n + 1) / (2 * num_mel_bins))
    return (basis / math.sqrt(2.0 * num_mel_bins)).astype(np.float32)


def resize_matrix(in_size, out_size):
    """[out, in] weights of tf.image.resize bilinear (half-pixel centers, no antialias)."""
    scale = in_size / out_size
    m = np.zeros((out_size, in_size), np.float64)
    for i in range(out_size):
        x0 = math.floor(x := (i + 0.5) * scale - 0.5)
        lo, hi, w = max(x0, 0), min(math.ceil(x), in_size - 1), x - x0
        m[i, lo] += 1.0 - w
        m[i, hi] += w
    return m.astype(np.float32)


class NumpyFrontEnd:
    """Callable: float32 waveform [rate samples] -> float32 features [*cfg.input_shape]."""

    def __init__(self, cfg):
        self.cfg = cfg
        self.window = hann_window(cfg.frame_length)
        if cfg.mfcc:
            self.mel = mel_weight_matrix(
                cfg.num_mel_bins, cfg.fft_bins, cfg.rate, cfg.lower_frequency, cfg.upper_frequency
            )
            self.dct = dct_matrix(cfg.num_mel_bins, cfg.num_coefficients)
        elif cfg.resize:
            self.rows = resize_matrix(cfg.num_frames, cfg.resize)
            self.cols = resize_matrix(cfg.fft_bins, cfg.resize).T.copy()

    def __call__(self, waveform):
        cfg = self.cfg
        x = np.asarray(waveform, np.float32)
        frames = np.lib.stride_tricks.sliding_window_view(x, cfg.frame_length)[:: cfg.frame_step]
        spec = np.abs(scipy.fft.rfft(frames * self.window, n=cfg.fft_size, axis=-1))
        feats = spec
        if cfg.mfcc:
            feats = np.log(spec @ self.mel + np.float32(1e-6)) @ self.dct
        elif cfg.resize:
            feats = self.rows @ spec @ self.cols
        return feats.astype(np.float32, copy=False)[..., None]
