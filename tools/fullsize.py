"""SYNTHETIC data of the official datasets' size, to time the scripts at full scale and measure
their peak memory: never commit them, never quote an MAE or an accuracy on them."""

import glob
import os
import shutil
import sys

import numpy as np
import pandas as pd

from common import cli, jena, outputs

# fmt: off
COLUMNS = [  # the official file's
    "Date Time", "p (mbar)", "T (degC)", "Tpot (K)", "Tdew (degC)", "rh (%)", "VPmax (mbar)",
    "VPact (mbar)", "VPdef (mbar)", "sh (g/kg)", "H2OC (mmol/mol)", "rho (g/m**3)", "wv (m/s)",
    "max. wv (m/s)", "wd (deg)",
]
# fmt: on


def synthetic_frame(rows=jena.JENA_ROWS, seed=0):
    """Jena rows every 10 min from 01.01.2009 00:10: T, RH cycles and a random walk; noise else."""
    rng = np.random.default_rng(seed)
    steps = np.arange(rows)
    year, day = 2 * np.pi * steps / (365.25 * 144), 2 * np.pi * steps / 144
    walk = np.cumsum(rng.normal(0, 0.05, rows))
    walk -= pd.Series(walk).rolling(144 * 30, min_periods=1, center=True).mean().to_numpy()
    t = 9 - 9 * np.cos(year) - 4 * np.cos(day) + walk + rng.normal(0, 0.1, rows)
    rh = 76 + 10 * np.cos(year) + 12 * np.cos(day) - 2 * walk + rng.normal(0, 0.5, rows)
    frame = pd.DataFrame({c: np.round(rng.normal(1, 0.1, rows), 2) for c in COLUMNS[1:]})
    times = pd.date_range("2009-01-01 00:10", periods=rows, freq="10min")
    frame["Date Time"] = times.strftime("%d.%m.%Y %H:%M:%S")
    frame["T (degC)"], frame["rh (%)"] = np.round(t, 2), np.round(np.clip(rh, 10, 100), 2)
    return frame[COLUMNS]


def synthetic_wav_folder(out, names, wavs):
    """Write `out/<label>/<file>.wav` for each of `names`, copies of `wavs`' files; how many."""
    from common.kws_data import resolve_data_dir

    source = resolve_data_dir(wavs)
    pools = {}
    for label in sorted({name.split("/")[0] for name in names}):
        pools[label] = sorted(glob.glob("*.wav", root_dir=os.path.join(source, label)))
        if not pools[label]:
            raise cli.UsageError(f"{source}/{label}: no wav to copy for the label {label!r}")
    for i, name in enumerate(names):
        label = name.split("/")[0]
        pool = pools[label]
        os.makedirs(os.path.join(out, label), exist_ok=True)
        shutil.copyfile(os.path.join(source, label, pool[i % len(pool)]), os.path.join(out, name))
    return len(names)


def run(argv=None):
    p = cli.Parser(prog="python -m tools.fullsize", description=__doc__.split("\n\n")[0])
    p.add_argument("--out", help="the Jena CSV to write (name it SYNTHETIC_...)")
    most = 10 * jena.JENA_ROWS
    rows = f"rows of the CSV, 1 to {most:,} (default: {jena.JENA_ROWS:,}, the official file's)"
    p.add_argument("--rows", type=cli.within(1, most), default=jena.JENA_ROWS, help=rows)
    p.add_argument("--kws-out", help="the keyword-spotting folder to write (name it SYNTHETIC_...)")
    p.add_argument("--files", help="the official file list, <label>/<file>.wav a line")
    p.add_argument("--wavs", help="a folder of real <label>/<file>.wav to copy from")
    args = p.parse_args(argv)
    if not (args.out or args.kws_out):
        p.error("expected --out (Jena CSV) or --kws-out (keyword-spotting folder)")
    if args.kws_out and not (args.files and args.wavs):
        p.error("--kws-out needs --files and --wavs")
    if args.out:
        outputs.check_out_dir(os.path.dirname(os.path.abspath(args.out)), "the folder of --out")
        outputs.write_file(args.out, synthetic_frame(args.rows).to_csv(index=False).encode())
        print(f"wrote {args.out}: {args.rows:,} synthetic rows (for timing only)")
    if args.kws_out:
        from common.splits import read_file_list

        outputs.check_out_dir(args.kws_out, "--kws-out")
        n = synthetic_wav_folder(args.kws_out, read_file_list(args.files), args.wavs)
        what = "copies of real wavs under the official names (for timing only)"
        print(f"wrote {args.kws_out}: {n:,} {what}")
    return 0


if __name__ == "__main__":
    sys.exit(cli.exit_status(run))
