"""A SYNTHETIC CSV with the shape of the official Jena file, for timing only.

    python -m common.fullsize --out /tmp/SYNTHETIC_jena_420551_rows.csv

420,551 rows of 10-minute steps from 01.01.2009 00:10:00, the official file's 15 columns,
T and RH made of a yearly and a daily cycle plus a random walk (numpy, seeded). Its numbers
are not weather: it exists to time the exercise 1 scripts at the full dataset's scale (rows,
windows, batches) and to measure their peak memory. Never commit it, never quote an MAE on it.
"""
import os
import sys

import numpy as np
import pandas as pd

from . import cli, jena, outputs

COLUMNS = ["Date Time", "p (mbar)", "T (degC)", "Tpot (K)", "Tdew (degC)", "rh (%)", "VPmax (mbar)",
           "VPact (mbar)", "VPdef (mbar)", "sh (g/kg)", "H2OC (mmol/mol)", "rho (g/m**3)", "wv (m/s)",
           "max. wv (m/s)", "wd (deg)"]


def synthetic_frame(rows=jena.JENA_ROWS, seed=0):
    rng = np.random.default_rng(seed)
    steps = np.arange(rows)
    year, day = 2 * np.pi * steps / (365.25 * 144), 2 * np.pi * steps / 144
    walk = np.cumsum(rng.normal(0, 0.05, rows))
    walk -= pd.Series(walk).rolling(144 * 30, min_periods=1, center=True).mean().to_numpy()
    t = 9 - 9 * np.cos(year) - 4 * np.cos(day) + walk + rng.normal(0, 0.1, rows)
    rh = np.clip(76 + 10 * np.cos(year) + 12 * np.cos(day) - 2 * walk + rng.normal(0, 0.5, rows), 10, 100)
    frame = pd.DataFrame({c: np.round(rng.normal(1, 0.1, rows), 2) for c in COLUMNS[1:]})
    frame["Date Time"] = pd.date_range("2009-01-01 00:10", periods=rows, freq="10min").strftime("%d.%m.%Y %H:%M:%S")
    frame["T (degC)"], frame["rh (%)"] = np.round(t, 2), np.round(rh, 2)
    return frame[COLUMNS]


def run(argv=None):
    p = cli.Parser(prog="python -m common.fullsize", description=__doc__.split("\n\n")[0])
    p.add_argument("--out", required=True, help="the CSV to write (name it SYNTHETIC_...)")
    p.add_argument("--rows", type=cli.positive_int, default=jena.JENA_ROWS,
                   help=f"rows to write (default: {jena.JENA_ROWS:,}, the official file's)")
    args = p.parse_args(argv)
    outputs.check_out_dir(os.path.dirname(os.path.abspath(args.out)), "the folder of --out")
    outputs.write_file(args.out, synthetic_frame(args.rows).to_csv(index=False).encode())
    print(f"wrote {args.out}: {args.rows:,} synthetic rows (for timing only)")
    return 0


if __name__ == "__main__":
    sys.exit(cli.exit_status(run))
