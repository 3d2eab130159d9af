"""Keyword-spotting data: the dataset folder, split files, the TensorFlow front end, tf.data."""
import dataclasses
import functools
import os
from pathlib import Path

import numpy as np
import tensorflow as tf

from common.errors import DataError
from common.frontend_np import LABELS, FrontEnd
from common.wav import WavError, read_wav

DATA_URL = "http://storage.googleapis.com/download.tensorflow.org/data/mini_speech_commands.zip"
DEFAULT_DATA = "./data"


def _has_labels(d, labels=LABELS):
    return d.is_dir() and any((d / label).is_dir() for label in labels)


def resolve_data_dir(data=DEFAULT_DATA):
    """The folder of `<label>/<file>.wav`: `data` itself or `data/mini_speech_commands`.

    With the default `./data` and no dataset there, download the official
    mini_speech_commands.zip into ./data (tf.keras.utils.get_file extracts it next to the
    zip, i.e. ./data/mini_speech_commands/). Raises DataError when nothing is found.
    """
    d = Path(data)
    for candidate in (d, d / "mini_speech_commands"):
        if _has_labels(candidate):
            return candidate
    if os.path.normpath(str(data)) != os.path.normpath(DEFAULT_DATA):
        raise DataError(f"{data}: no dataset there; expected a folder of <label>/<file>.wav "
                        f"(labels {' '.join(LABELS)}) or a folder holding mini_speech_commands/")
    try:
        zip_path = tf.keras.utils.get_file("mini_speech_commands.zip", origin=DATA_URL,
                                           extract=True, cache_dir=".", cache_subdir="data")
    except Exception as e:
        raise DataError(f"could not download {DATA_URL} ({e}); pass --data DIR with a folder "
                        f"of <label>/<file>.wav or one holding mini_speech_commands/") from None
    extracted = Path(zip_path).parent / "mini_speech_commands"
    if not _has_labels(extracted):
        raise DataError(f"downloaded {zip_path} but found no {extracted}/<label>/ folders")
    return extracted


def split_file(split_dir, which):
    """Path of split `which` (train/val/test) in `split_dir`: `kws_split_{which}.txt` (ours)
    or `kws_{which}_split.txt` (the course's)."""
    if which not in ("train", "val", "test"):
        raise ValueError(f"split must be train, val or test, not {which!r}")
    names = [f"kws_split_{which}.txt", f"kws_{which}_split.txt"]
    files = [Path(split_dir) / n for n in names if (Path(split_dir) / n).is_file()]
    if not files:
        raise FileNotFoundError(f"{split_dir}: no split file {' or '.join(names)}")
    return files[0]


def read_split(split_dir, which, data_dir, labels=LABELS, allow_missing=False):
    """(paths, label_ids) of split `which` of `split_dir`, see read_split_file."""
    return read_split_file(split_file(split_dir, which), data_dir, labels, allow_missing)


def read_split_file(path, data_dir, labels=LABELS, allow_missing=False):
    """(paths, label_ids) of a split file resolved against `data_dir`: each line ends in
    `<label>/<file>.wav`. Missing files raise FileNotFoundError (or are skipped with a note
    when allow_missing)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such split file")
    lines = [ln.strip() for ln in path.read_text().splitlines() if ln.strip()]
    if not lines:
        raise ValueError(f"{path}: empty split file; expected lines "
                         f"./data/mini_speech_commands/<label>/<file>.wav")
    paths, ids, missing = [], [], []
    for line in lines:
        parts = line.replace("\\", "/").split("/")
        if len(parts) < 2 or parts[-2] not in labels:
            raise ValueError(f"{path}: line {line!r} has no known label folder; "
                             f"expected .../<label>/<file>.wav with label in {labels}")
        wav = Path(data_dir) / parts[-2] / parts[-1]
        if not wav.is_file():
            missing.append(str(wav))
            continue
        paths.append(str(wav))
        ids.append(labels.index(parts[-2]))
    if missing and not allow_missing:
        raise FileNotFoundError(f"{path}: {len(missing)} of {len(lines)} files missing "
                                f"under {data_dir}, first: {missing[:5]}")
    if missing:
        print(f"note: {path}: skipped {len(missing)} of {len(lines)} missing files")
    if not paths:
        raise FileNotFoundError(f"{path}: none of its {len(lines)} files is under {data_dir}")
    return paths, np.array(ids, np.int64)


@functools.lru_cache(maxsize=16)
def _mel_matrix(num_mel_bins, fft_bins, rate, lower, upper):
    """tf.signal.linear_to_mel_weight_matrix, computed once (eagerly, even inside tf.data)."""
    with tf.init_scope():
        return tf.signal.linear_to_mel_weight_matrix(num_mel_bins, fft_bins, rate, lower, upper)


def tf_frontend(waveform, cfg, spec_hook=None):
    """TensorFlow front end of one waveform [rate samples] -> features [*cfg.input_shape].

    `spec_hook(x) -> x`, if given, edits the log-mel spectrogram (MFCC path) or the
    magnitude spectrogram (STFT path) before the DCT / resize; used for SpecAugment.
    """
    stft = tf.signal.stft(waveform, cfg.frame_length, cfg.frame_step, fft_length=cfg.fft_size,
                          window_fn=tf.signal.hann_window, pad_end=False)
    spec = tf.abs(stft)
    if cfg.mfcc:
        mel_matrix = _mel_matrix(cfg.num_mel_bins, cfg.fft_bins, cfg.rate,
                                 float(cfg.lower_frequency), float(cfg.upper_frequency))
        log_mel = tf.math.log(tf.tensordot(spec, mel_matrix, 1) + 1e-6)
        if spec_hook is not None:
            log_mel = spec_hook(log_mel)
        feats = tf.signal.mfccs_from_log_mel_spectrograms(log_mel)[..., :cfg.num_coefficients]
        return feats[..., None]
    if spec_hook is not None:
        spec = spec_hook(spec)
    feats = spec[..., None]
    if cfg.resize:
        feats = tf.image.resize(feats, [cfg.resize, cfg.resize])
    return feats


@dataclasses.dataclass
class Augment:
    """Training-time augmentation; zero disables each part."""
    shift_ms: float = 0.0  # random time shift in [-shift_ms, shift_ms], zero fill
    noise: float = 0.0  # gaussian noise of std uniform in [0, noise] * peak amplitude
    gain_db: float = 0.0  # random gain uniform in [-gain_db, gain_db] dB (recording level)
    time_masks: int = 0  # SpecAugment masks of width uniform in [0, width] ...
    time_mask_width: int = 0  # ... frames
    freq_masks: int = 0
    freq_mask_width: int = 0  # mel bins (MFCC path) or FFT bins (STFT path)

    @classmethod
    def of(cls, a):
        """None, a dict or an Augment -> Augment or None (when it does nothing)."""
        if a is None:
            return None
        a = a if isinstance(a, cls) else cls(**a)
        return a if any(dataclasses.astuple(a)) else None


@tf.autograph.experimental.do_not_convert  # plain TF ops, static Python loop
def _mask(x, axis, count, width, seed):
    """Set `count` random bands (width uniform in [0, width]) along `axis` to the mean of x."""
    size = tf.shape(x)[axis]
    pos = tf.range(size)
    mean = tf.reduce_mean(x)
    for i in range(count):
        s = tf.random.experimental.stateless_split(seed, 2)
        w = tf.random.stateless_uniform([], s[0], 0, width + 1, dtype=tf.int32)
        t0 = tf.random.stateless_uniform([], s[1], 0, tf.maximum(size - w, 0) + 1, dtype=tf.int32)
        band = (pos >= t0) & (pos < t0 + w)
        band = band[:, None] if axis == 0 else band[None, :]
        x = tf.where(band, mean, x)
        seed = tf.random.experimental.stateless_split(seed, 1)[0]
    return x


@tf.autograph.experimental.do_not_convert
def augment_and_frontend(waveform, cfg, aug, seed):
    """Augment one waveform (shift, gain, noise), then run tf_frontend with SpecAugment masks."""
    seeds = tf.random.experimental.stateless_split(seed, 5)
    n = tf.shape(waveform)[0]
    if aug.shift_ms:
        s = int(aug.shift_ms * cfg.rate / 1000)
        shift = tf.random.stateless_uniform([], seeds[0], -s, s + 1, dtype=tf.int32)
        padded = tf.pad(waveform, [[s, s]])
        waveform = padded[s - shift:s - shift + n]
    if aug.gain_db:
        db = tf.random.stateless_uniform([], seeds[4], -aug.gain_db, aug.gain_db)
        waveform = waveform * tf.pow(10.0, db / 20.0)
    if aug.noise:
        peak = tf.reduce_max(tf.abs(waveform))
        std = tf.random.stateless_uniform([], seeds[1], 0.0, aug.noise) * peak
        waveform = waveform + std * tf.random.stateless_normal([n], seeds[1][::-1])

    def hook(x):
        x = _mask(x, 0, aug.time_masks, aug.time_mask_width, seeds[2])
        return _mask(x, 1, aug.freq_masks, aug.freq_mask_width, seeds[3])

    return tf_frontend(waveform, cfg, hook)


class SignalGenerator:
    """Builds tf.data pipelines of (features, label_id) for a FrontEnd."""

    def __init__(self, cfg: FrontEnd, labels=LABELS):
        self.cfg, self.labels = cfg, list(labels)

    def load(self, paths):
        """All waveforms [N, rate] (float32); every file is checked, errors name the files."""
        waves, bad = [], []
        for p in paths:
            try:
                waves.append(read_wav(p, rate=self.cfg.rate))
            except WavError as e:
                bad.append(str(e))
        if bad:
            raise WavError(f"{len(bad)} of {len(paths)} wav files unreadable; first: "
                           + "; ".join(bad[:5]))
        return np.stack(waves) if waves else np.zeros([0, int(self.cfg.rate)], np.float32)

    def make_dataset(self, paths, label_ids, train, batch_size=32, augment=None, seed=0):
        """Batched, prefetched dataset; shuffled (seeded) and augmented only when `train`."""
        if len(paths) != len(label_ids):
            raise ValueError(f"{len(paths)} paths but {len(label_ids)} labels")
        if len(paths) == 0:
            raise ValueError("no files to build a dataset from")
        cfg, aug = self.cfg, Augment.of(augment) if train else None
        ds = tf.data.Dataset.from_tensor_slices(
            (self.load(paths), np.asarray(label_ids, np.int64))).cache()
        auto = tf.data.AUTOTUNE
        if aug is None:
            ds = ds.map(lambda x, y: (tf_frontend(x, cfg), y), num_parallel_calls=auto,
                        deterministic=True).cache()
        if train:
            ds = ds.shuffle(len(paths), seed=seed, reshuffle_each_iteration=True)
        if aug is not None:
            seeds = tf.data.Dataset.random(seed=seed, rerandomize_each_iteration=True)
            ds = tf.data.Dataset.zip((ds, seeds)).map(
                lambda xy, s: (augment_and_frontend(xy[0], cfg, aug, tf.stack([s, tf.zeros_like(s)])), xy[1]),
                num_parallel_calls=auto, deterministic=True)
        return ds.batch(batch_size).prefetch(auto)
