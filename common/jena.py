"""Jena climate data: locate (or download) the CSV, read two columns, make windows.

`WindowGenerator` turns the series into (inputs [B, 6, 2] normalized with the train split's
mean/std, labels [B, 6, 2] in original units) with a 70/20/10 chronological split.
"""
import hashlib
import os

import numpy as np
import pandas as pd

from .errors import DataError

JENA_URL = "https://storage.googleapis.com/tensorflow/tf-keras-datasets/jena_climate_2009_2016.csv.zip"
JENA_CSV = "jena_climate_2009_2016.csv"
JENA_BYTES = 43_153_776
JENA_SHA256 = "eb3df9da6c25039f10814ded0a14138bb0afa3612be9cf79cafdf1cf6f95172e"
COLUMNS = ("T (degC)", "rh (%)")
SPLITS = (0.7, 0.2, 0.1)


def resolve_csv(data="data"):
    """Path of the Jena CSV: `data` itself if a file, else `<data>/jena_climate_2009_2016.csv`,
    downloaded (and checked) into `<data>` when absent."""
    data = str(data)
    if os.path.isfile(data):
        return data
    csv = os.path.join(data, JENA_CSV)
    if os.path.isfile(csv):
        return csv
    return download_csv(data)


def download_csv(directory):
    """Download the official zip into `directory`, extract and verify the CSV."""
    import tensorflow as tf
    os.makedirs(directory, exist_ok=True)
    try:
        tf.keras.utils.get_file(origin=JENA_URL, fname=JENA_CSV + ".zip", extract=True,
                                cache_dir=os.path.abspath(directory), cache_subdir=".")
    except Exception as e:  # offline, DNS, HTTP errors all look different
        raise DataError(
            f"{os.path.join(directory, JENA_CSV)} not found and the download of {JENA_URL} "
            f"failed ({type(e).__name__}: {e}). Pass the CSV with --data PATH "
            f"(a {JENA_CSV} file or a folder holding it).") from None
    csv = os.path.join(directory, JENA_CSV)
    if not os.path.isfile(csv):  # some Keras versions extract into a sub-folder
        for root, _, files in os.walk(directory):
            if JENA_CSV in files:
                os.replace(os.path.join(root, JENA_CSV), csv)
                break
    verify_csv(csv)
    return csv


def verify_csv(csv):
    """Check the downloaded CSV's size and sha256 against the official file."""
    size = os.path.getsize(csv)
    digest = hashlib.sha256(open(csv, "rb").read()).hexdigest()
    if size != JENA_BYTES or digest != JENA_SHA256:
        raise DataError(f"{csv}: {size} bytes, sha256 {digest}; expected the official "
                        f"{JENA_BYTES} bytes, sha256 {JENA_SHA256}")


def load_series(csv):
    """float32 array [rows, 2] of the `T (degC)` and `rh (%)` columns; errors name the file,
    the column and the first bad row (1-based data row) on missing, non-numeric or NaN values."""
    try:
        frame = pd.read_csv(csv)
    except Exception as e:
        raise DataError(f"{csv}: not a readable CSV ({e})") from None
    missing = [c for c in COLUMNS if c not in frame.columns]
    if missing:
        raise DataError(f"{csv}: missing column(s) {missing}; expected {list(COLUMNS)} "
                        f"among {list(frame.columns)[:15]}")
    columns = []
    for name in COLUMNS:
        values = pd.to_numeric(frame[name], errors="coerce")
        bad = np.flatnonzero(values.isna().to_numpy())
        if bad.size:
            raise DataError(f"{csv}: column {name!r} has {bad.size} non-numeric or empty "
                            f"value(s), first at data row {bad[0] + 1} ({frame[name].iloc[bad[0]]!r})")
        columns.append(values.to_numpy(np.float32))
    series = np.stack(columns, axis=1)
    if len(series) < 100:
        raise DataError(f"{csv}: {len(series)} rows; need at least 100 for a 70/20/10 split "
                        "of 12-step windows")
    return series


def split_series(series, fractions=SPLITS):
    """Chronological train/val/test split of the rows."""
    n = len(series)
    a, b = int(round(n * fractions[0], 6)), int(round(n * (fractions[0] + fractions[1]), 6))
    return series[:a], series[a:b], series[b:]


class WindowGenerator:
    """Windows of `input_width` past steps -> `label_width` next steps of both features."""

    def __init__(self, mean, std, input_width=6, label_width=6, batch_size=32,
                 normalize_labels=False):
        self.mean = np.asarray(mean, np.float32)
        self.std = np.asarray(std, np.float32)
        self.input_width, self.label_width, self.batch_size = input_width, label_width, batch_size
        self.normalize_labels = normalize_labels  # labels in train-normalized units too

    @classmethod
    def from_train(cls, train, **kwargs):
        return cls(train.mean(axis=0), train.std(axis=0), **kwargs)

    def split_window(self, window):
        inputs = window[:, :self.input_width, :]
        labels = window[:, self.input_width:, :]
        inputs.set_shape([None, self.input_width, 2])
        labels.set_shape([None, self.label_width, 2])
        if self.normalize_labels:
            labels = (labels - self.mean) / self.std
        return (inputs - self.mean) / self.std, labels

    def make_dataset(self, series, train, seed=0):
        import tensorflow as tf
        ds = tf.keras.utils.timeseries_dataset_from_array(
            data=series, targets=None, sequence_length=self.input_width + self.label_width,
            sequence_stride=1, batch_size=self.batch_size, shuffle=train, seed=seed)
        return ds.map(self.split_window).cache().prefetch(tf.data.AUTOTUNE)

    def to_numpy(self, ds):
        """All (inputs, labels) of a dataset as two numpy arrays."""
        xs, ys = zip(*[(x.numpy(), y.numpy()) for x, y in ds])
        return np.concatenate(xs), np.concatenate(ys)
