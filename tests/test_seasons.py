"""The exercise 1 seasons study (tools/seasons.py) on tiny runs: two seasons (the heads of the
January 2009 sample and of the summer 2024 export), two seeds, 1 epoch; every cell of its
table read back and compared with the runs' results and with the cross-season MAE recomputed
here (pandas windows, TensorFlow's interpreter, the training file's normalization)."""

import itertools
import re

import numpy as np
import pandas as pd
import pytest

from test_ex1_end_to_end import tf_predictions, windows_by_hand

ROWS = 1500  # of each file: a 70/20/10 split of 1,050 / 300 / 150 rows
NUMBER = re.compile(r"[-+]?\d[\d,]*(?:\.\d+)?")


def head(src, dst, rows):
    """The header and the first `rows` rows of a CSV, byte for byte (its line ends kept)."""
    data = src.read_bytes()
    end = "\r\n" if b"\r\n" in data[:4096] else "\n"
    dst.write_bytes(
        end.join(data.decode("latin-1").split(end)[: rows + 1]).encode("latin-1") + end.encode()
    )
    return dst


def numbers(text):
    return [float(n.replace(",", "")) for n in NUMBER.findall(text)]


def maes(values):
    """MAEs as the table prints them: to 3 decimals."""
    return [pytest.approx(v, abs=5e-4 + 1e-9) for v in values]


def near(mae, base):
    """A cell "T, RH (x T, x RH of persistence)": the MAEs, then their ratios to 2 decimals."""
    return maes(mae) + [pytest.approx(m / b, abs=5e-3 + 1e-9) for m, b in zip(mae, base)]


def every_window(csv, sidecar, tflite):
    """(model MAE [T, RH], persistence MAE [T, RH]) on every window of `csv`."""
    values = pd.read_csv(csv, encoding="latin-1")[["T (degC)", "rh (%)"]].to_numpy(np.float64)
    x, y = windows_by_hand(values)
    norm = sidecar["normalization"]
    pred = tf_predictions(tflite, x, np.float32(norm["mean"]), np.float32(norm["std"]))
    return np.abs(pred - y).mean(axis=(0, 1)), np.abs(y - x[:, -1:, :]).mean(axis=(0, 1))


@pytest.mark.slow
def test_seasons_table_is_what_the_runs_measured(shared_data, tmp_path, monkeypatch, capsys):
    from common import cli, pipeline
    from tools import seasons

    winter = head(shared_data / "jena_climate_2009_sample.csv", tmp_path / "winter.csv", ROWS)
    summer = head(shared_data / "jena_mpi_roof_2024_jun_sep.csv", tmp_path / "summer.csv", ROWS)
    real, results = pipeline.build, {}

    def build(spec, data, args, seed=0, epochs=None, verbose=0):  # 1 epoch, results kept
        results[spec.name, data.series.path, seed] = r = real(spec, data, args, seed, 1, verbose)
        return r

    monkeypatch.setattr(pipeline, "build", build)
    out = tmp_path / "SEASONS.md"
    argv = ["--csv", str(winter), str(summer), "--seeds", "0,1", "--out", str(out)]
    status = cli.exit_status(seasons.run, argv)
    assert status == 0, capsys.readouterr().err
    table = out.read_text()
    assert table in capsys.readouterr().out
    lines = [line for line in table.splitlines() if line.startswith("| ex1")]
    rows = [[c.strip() for c in line.split("|")[1:-1]] for line in lines]
    versions = [("ex1_a", "th_a"), ("ex1_b", "th_b")]
    files = [(winter, summer), (summer, winter)]
    assert [r[:2] for r in rows] == [
        [v, f.name] for (v, _), (f, _) in itertools.product(versions, files)
    ]
    for (version, name), (trained, other) in itertools.product(versions, files):
        row = next(r for r in rows if r[:2] == [version, trained.name])
        runs = [results[name, str(trained), seed] for seed in (0, 1)]
        sides = [r.to_json() for r in runs]
        models = [tmp_path / f"{name}-{trained.stem}-{seed}.tflite" for seed in (0, 1)]
        for path, r in zip(models, runs):
            path.write_bytes(r.files[f"{name}.tflite"])
        for s in sides:
            assert (s["version"], s["data"]["rows"], s["training"]["epochs"]) == (version, ROWS, 1)
        assert [s["training"]["seed"] for s in sides] == [0, 1]
        test = np.array([[s["metrics"]["mae_t"], s["metrics"]["mae_rh"]] for s in sides])
        base = [sides[0]["baseline"]["persistence"][k] for k in ("mae_t", "mae_rh")]
        for cell, mae in zip(row[2:5], (test[0], test.mean(axis=0), test.max(axis=0))):
            assert numbers(cell) == near(mae, base)
        # every window of the other season, with the training file's normalization
        cross = [every_window(other, s, m) for s, m in zip(sides, models)]
        model = np.array([c[0] for c in cross])
        assert row[5].startswith(f"{other.name}: ")
        cells = near(model.mean(axis=0), cross[0][1]) + maes(model.max(axis=0))
        assert numbers(row[5].split(": ", 1)[1]) == cells
        sizes = [s["zip_bytes"] for s in sides]
        assert [int(v.replace(",", "")) for v in row[6].split("-")] == [min(sizes), max(sizes)]
