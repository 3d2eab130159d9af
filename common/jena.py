"""Jena climate data: the CSV (downloaded if need be), T and RH with their gaps, and the windows
that touch no gap (docs/data.md)."""

import dataclasses
import hashlib
import io
import os

import numpy as np
import pandas as pd

from .download import Archive, mirrored, obtain
from .errors import DataError, no_such, read_file
from .macos_files import is_macos_metadata

JENA_CSV = "jena_climate_2009_2016.csv"
JENA_URL = f"https://storage.googleapis.com/tensorflow/tf-keras-datasets/{JENA_CSV}.zip"
JENA_ROWS = 420_551
JENA_BYTES = 43_153_776
MAX_CSV_BYTES = 2**30  # 25 times the official file
JENA_SHA256 = "eb3df9da6c25039f10814ded0a14138bb0afa3612be9cf79cafdf1cf6f95172e"
ARCHIVE = Archive(JENA_URL, JENA_CSV + ".zip")  # the zip's size and sha256 are not published
COLUMNS = ("T (degC)", "rh (%)")
TIME_COLUMN, TIME_FORMAT, STEP = "Date Time", "%d.%m.%Y %H:%M:%S", np.timedelta64(10, "m")
PLAUSIBLE = {"T (degC)": (-60.0, 60.0), "rh (%)": (0.0, 105.0)}  # outside: a gap
SENTINEL_AT_OR_BELOW = -999.0  # the station's missing-value codes (-9999, -999.99)
MAX_DROPPED_SHARE = 0.25  # more windows than this dropped for gaps: the file is refused
SPLITS = (0.7, 0.2, 0.1)
INPUT_STEPS = LABEL_STEPS = 6


def resolve_csv(data=None, offline_hint=""):
    """Path of the Jena CSV: `data` if a file, else in `data` (None: ./data, downloaded)."""
    if data is not None and os.path.isfile(data):
        return str(data)
    csv = os.path.join("data" if data is None else data, JENA_CSV)
    if os.path.isfile(csv):
        return csv
    if data is None:
        check = lambda path: verify_csv(path, mirrored(ARCHIVE).url)
        return str(obtain(ARCHIVE, "data", JENA_CSV, check, offline_hint))
    if not os.path.exists(data):
        raise DataError(
            f"{data}: {no_such(data, 'file or folder')}; expected the Jena CSV or a folder holding {JENA_CSV}"
        )
    csv_file = lambda f: f.lower().endswith(".csv") and not is_macos_metadata(f)
    present = sorted(f for f in os.listdir(data) if csv_file(f) and os.path.isfile(f"{data}/{f}"))
    if not present:
        raise DataError(f"{data}: no {JENA_CSV} in this folder; no CSV file there")
    raise DataError(
        f"{data}: no {JENA_CSV} in this folder; the CSV files there: {', '.join(present)}; "
        f"pass one of them as the file ({os.path.join(data, present[0])})"
    )


def _read(csv):
    return read_file(csv, MAX_CSV_BYTES, "the Jena CSV (43 MB)")


def _sha256(csv):
    return hashlib.sha256(_read(csv)).hexdigest()


def is_official(csv):
    """True for the official 2009-2016 file (its size, then its sha256)."""
    return os.path.getsize(csv) == JENA_BYTES and _sha256(csv) == JENA_SHA256


def verify_csv(csv, url=None):
    """Refuse a CSV that is not the official file; `url`: the archive it came from (deleted)."""
    size, digest = os.path.getsize(csv), _sha256(csv)
    if size != JENA_BYTES or digest != JENA_SHA256:
        where = f"{url}: its {JENA_CSV} is" if url else f"{csv}:"
        after = " (the archive was deleted: run again to download it again)" if url else ""
        raise DataError(
            f"{where} {size:,} bytes, sha256 {digest}; expected the official "
            f"{JENA_BYTES:,} bytes, sha256 {JENA_SHA256}{after}"
        )


@dataclasses.dataclass
class Series:
    """T and RH of a CSV: `values` [rows, 2], NaN at gaps; `breaks[i]`: not 10 min after row i-1."""

    path: str
    values: np.ndarray
    breaks: np.ndarray
    times: np.ndarray = None
    gaps: dict = dataclasses.field(default_factory=dict)  # what made the gaps, counted

    def __len__(self):
        return len(self.values)

    def rows(self, start, stop):
        """The rows [start, stop) as a Series of their own (a break at the first row dropped)."""
        breaks = self.breaks[start:stop].copy()
        breaks[:1] = False
        times = None if self.times is None else self.times[start:stop]
        return Series(self.path, self.values[start:stop], breaks, times, self.gaps)


def _column(csv, frame, name, gaps):
    """float64 values of one column, NaN at its gaps (counted in `gaps`); text is an error."""
    raw = frame[name]
    values = pd.to_numeric(raw, errors="coerce").to_numpy(np.float64)
    text = raw.astype(str).str.strip().str.lower()
    garbage = np.flatnonzero(
        np.isnan(values)
        & raw.notna().to_numpy()
        & ~text.isin(["", "nan", "na", "n/a", "null", "none", "-"]).to_numpy()
    )
    if garbage.size:
        raise DataError(
            f"{csv}: column {name!r} has {garbage.size} non-numeric value(s), first "
            f"at data row {garbage[0] + 1} ({raw.iloc[garbage[0]]!r}); expected "
            "numbers (empty, NaN or the station's -9999 mark a missing value)"
        )
    low, high = PLAUSIBLE[name]
    with np.errstate(invalid="ignore"):
        code = np.isfinite(values) & (values <= SENTINEL_AT_OR_BELOW)
        kinds = {
            "empty or NaN": np.isnan(values),
            "infinite": np.isinf(values),
            "missing-value code (<= -999)": code,
            "outside the plausible range": (
                np.isfinite(values) & ~code & ((values < low) | (values > high))
            ),
        }
    for kind, mask in kinds.items():
        if mask.any():
            gaps[f"{name}: {kind}"] = int(mask.sum())
    return np.where(np.logical_or.reduce(list(kinds.values())), np.nan, values)


def load_series(csv):
    """The T and RH columns of a Jena CSV as a Series; errors name the file and the column."""
    raw = _read(csv)
    for encoding in ("utf-8", "latin-1"):  # the station's exports are latin-1 (°, ², µ)
        try:
            frame = pd.read_csv(io.BytesIO(raw), encoding=encoding, low_memory=False)
            break
        except UnicodeDecodeError:
            continue
        except Exception as e:
            raise DataError(f"{csv}: not a readable CSV ({type(e).__name__}: {e})") from None
    frame.columns = [str(c).strip() for c in frame.columns]
    if missing := [c for c in COLUMNS if c not in frame.columns]:
        raise DataError(
            f"{csv}: missing column(s) {missing}; expected {list(COLUMNS)} "
            f"among {list(frame.columns)[:22]}"
        )
    gaps = {}
    values = np.stack([_column(csv, frame, name, gaps) for name in COLUMNS], axis=1)
    times, breaks = None, np.zeros(len(values), bool)
    if TIME_COLUMN in frame.columns:
        times = pd.to_datetime(
            frame[TIME_COLUMN].astype(str).str.strip(), format=TIME_FORMAT, errors="coerce"
        ).to_numpy("datetime64[s]")
        breaks[1:] = np.isnat(times[1:]) | np.isnat(times[:-1]) | (np.diff(times) != STEP)
        if breaks.any():
            gaps["time steps other than 10 min"] = int(breaks.sum())
    if len(values) < 100:
        raise DataError(
            f"{csv}: {len(values)} rows; need at least 100 for a 70/20/10 split of 12-step windows"
        )
    return Series(str(csv), values.astype(np.float32), breaks, times, gaps)


def split_series(series, fractions=SPLITS):
    """Chronological train/val/test split of the rows."""
    n = len(series)
    a, b = int(round(n * fractions[0], 6)), int(round(n * (fractions[0] + fractions[1]), 6))
    return series.rows(0, a), series.rows(a, b), series.rows(b, n)


@dataclasses.dataclass
class Windows:
    """The 12-step windows of a Series that touch no gap, in original units."""

    inputs: np.ndarray  # float32 [N, 6, 2]
    labels: np.ndarray  # float32 [N, 6, 2]
    starts: np.ndarray  # row index (in the Series) of each window's first input step
    times: np.ndarray  # datetime64 of each window's first label step, or None
    dropped: int  # windows dropped for touching a gap

    def __len__(self):
        return len(self.inputs)

    @property
    def persistence(self):
        """The naive forecast: the last observed step repeated for the 6 label steps."""
        return np.repeat(self.inputs[:, -1:, :], LABEL_STEPS, axis=1)


def make_windows(series, input_steps=INPUT_STEPS, label_steps=LABEL_STEPS):
    """Every window of `series` (stride 1) that has no gap and no time break inside."""
    width = input_steps + label_steps
    if len(series) < width:
        empty = np.zeros([0, input_steps, 2], np.float32)
        return Windows(empty, empty.copy(), np.zeros(0, int), None, 0)
    all_windows = np.lib.stride_tricks.sliding_window_view(series.values, width, axis=0)
    all_windows = all_windows.transpose(0, 2, 1)  # [N, width, 2]
    bad_row = np.isnan(series.values).any(axis=1).astype(np.int64)
    after_break = series.breaks[1:].astype(np.int64)
    # a window at row i is bad if a row in [i, i+width) is a gap or one in (i, i+width) a break
    bad = np.convolve(bad_row, np.ones(width, np.int64), "valid")
    bad += np.convolve(after_break, np.ones(width - 1, np.int64), "valid")
    starts = np.flatnonzero(bad == 0)
    chosen = np.ascontiguousarray(all_windows[starts], np.float32)
    times = None if series.times is None else series.times[starts + input_steps]
    dropped = int(len(all_windows) - len(starts))
    return Windows(chosen[:, :input_steps], chosen[:, input_steps:], starts, times, dropped)


def split_windows(series):
    """{train, val, test: Windows} of the 70/20/10 split; too many gaps or an empty split: error."""
    out = dict(zip(("train", "val", "test"), map(make_windows, split_series(series))))
    report = gap_report(series, out)
    kept, dropped = report["windows_kept"], report["windows_dropped"]
    if dropped > MAX_DROPPED_SHARE * (kept + dropped):
        raise DataError(
            f"{series.path}: {dropped:,} of {kept + dropped:,} windows touch a gap "
            f"({', '.join(f'{k}: {v:,}' for k, v in series.gaps.items())}); expected at "
            f"most {MAX_DROPPED_SHARE:.0%}: too little usable data"
        )
    if empty := [name for name, w in out.items() if len(w) == 0]:
        raise DataError(
            f"{series.path}: the {empty[0]} split has no window without a gap; "
            "expected 12 consecutive usable rows at least"
        )
    return out


def gap_report(series, windows):
    """A JSON-ready account of the gaps and the windows they cost ({split: Windows})."""
    dropped = int(sum(w.dropped for w in windows.values()))
    kept = int(sum(len(w) for w in windows.values()))
    return {"counts": dict(series.gaps), "windows_dropped": dropped, "windows_kept": kept}


@dataclasses.dataclass
class Normalization:
    """Per-feature mean and std of the train split's usable rows, applied to the inputs."""

    mean: np.ndarray
    std: np.ndarray

    @classmethod
    def of(cls, series):
        v = series.values[~np.isnan(series.values).any(axis=1)].astype(np.float64)
        return cls(v.mean(axis=0).astype(np.float32), v.std(axis=0).astype(np.float32))

    @classmethod
    def from_dict(cls, d):
        return cls(np.float32(d["mean"]), np.float32(d["std"]))

    def to_dict(self):  # the model's JSON record, read back by from_dict
        return {"mean": self.mean.tolist(), "std": self.std.tolist()}

    def __call__(self, x):
        return ((np.asarray(x, np.float32) - self.mean) / self.std).astype(np.float32)
