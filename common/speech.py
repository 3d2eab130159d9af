"""Keyword-spotting features in TensorFlow: the front end, augmentation, tf.data pipelines."""

import functools

import numpy as np
import tensorflow as tf


@functools.lru_cache(maxsize=16)
def _mel_matrix(num_mel_bins, fft_bins, rate, lower, upper):
    """tf.signal.linear_to_mel_weight_matrix, computed once (eagerly, even inside tf.data)."""
    with tf.init_scope():
        return tf.signal.linear_to_mel_weight_matrix(
            num_mel_bins, fft_bins, rate, float(lower), float(upper)
        )


def tf_frontend(waveform, cfg):
    """The course's front end in TensorFlow: waveform [rate samples] -> [*cfg.input_shape]
    (tf.signal.stft's Hann window, no padding at the end)."""
    stft = tf.signal.stft(waveform, cfg.frame_length, cfg.frame_step, fft_length=cfg.fft_size)
    spec = tf.abs(stft)
    if cfg.mfcc:
        mel_matrix = _mel_matrix(
            cfg.num_mel_bins, cfg.fft_bins, cfg.rate, cfg.lower_frequency, cfg.upper_frequency
        )
        log_mel = tf.math.log(tf.tensordot(spec, mel_matrix, 1) + 1e-6)
        feats = tf.signal.mfccs_from_log_mel_spectrograms(log_mel)[..., : cfg.num_coefficients]
        return feats[..., None]
    feats = spec[..., None]
    if cfg.resize:
        feats = tf.image.resize(feats, [cfg.resize, cfg.resize])
    return feats


@tf.autograph.experimental.do_not_convert  # plain TF ops
def augment_and_frontend(waveform, cfg, seed, shift_ms=0.0, gain_db=0.0):
    """tf_frontend of one waveform shifted by up to ±`shift_ms` (zero fill) and scaled by up to
    ±`gain_db` dB at random (stateless, from a scalar `seed`); zero disables each."""
    seed = tf.stack([seed, tf.zeros_like(seed)])
    seeds = tf.random.experimental.stateless_split(seed, 5)  # [0]: shift, [4]: gain (as ever)
    n = tf.shape(waveform)[0]
    if shift_ms:
        s = int(shift_ms * cfg.rate / 1000)
        shift = tf.random.stateless_uniform([], seeds[0], -s, s + 1, dtype=tf.int32)
        padded = tf.pad(waveform, [[s, s]])
        waveform = padded[s - shift : s - shift + n]
    if gain_db:
        db = tf.random.stateless_uniform([], seeds[4], -gain_db, gain_db)
        waveform = waveform * tf.pow(10.0, db / 20.0)
    return tf_frontend(waveform, cfg)


def features(cfg, waves, batch_size=64):
    """Front-end features of every waveform [N, rate] -> [N, *cfg.input_shape]."""
    ds = tf.data.Dataset.from_tensor_slices(np.asarray(waves, np.float32)).map(
        lambda x: tf_frontend(x, cfg), num_parallel_calls=tf.data.AUTOTUNE, deterministic=True
    )
    return np.concatenate([x.numpy() for x in ds.batch(batch_size)])


def make_dataset(cfg, waves, label_ids, train, batch_size=32, augment=None, seed=0):
    """tf.data (features, label_id) batches, prefetched; shuffled (seeded) and augmented only when
    `train` (`augment`: the keyword arguments of augment_and_frontend)."""
    if len(waves) == 0:
        raise ValueError("no files to build a dataset from")
    aug = {k: v for k, v in (augment or {}).items() if v and train}
    ds = tf.data.Dataset.from_tensor_slices(
        (np.asarray(waves, np.float32), np.asarray(label_ids, np.int64))
    )
    auto = tf.data.AUTOTUNE
    if not aug:
        ds = ds.map(
            lambda x, y: (tf_frontend(x, cfg), y), num_parallel_calls=auto, deterministic=True
        ).cache()
    if train:
        ds = ds.shuffle(len(waves), seed=seed, reshuffle_each_iteration=True)
    if aug:
        seeds = tf.data.Dataset.random(seed=seed, rerandomize_each_iteration=True)
        ds = tf.data.Dataset.zip((ds, seeds)).map(
            lambda xy, s: (augment_and_frontend(xy[0], cfg, s, **aug), xy[1]),
            num_parallel_calls=auto,
            deterministic=True,
        )
    return ds.batch(batch_size).prefetch(auto)
