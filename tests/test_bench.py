"""The benchmark on a tiny configuration: its markdown tables read back as numbers and compared
with what the runs measured (the Results the pipeline returned), within the table's rounding."""

import re

import pytest

NUMBER = re.compile(r"[-+]?\d[\d,]*(?:\.\d+)?")


def numbers(cell):
    """The numbers written in a table cell, in order ('1,234 (0.85)' -> [1234.0, 0.85])."""
    return [float(n.replace(",", "")) for n in NUMBER.findall(cell)]


def rows_of(markdown):
    """{(version, model): [cells]} of the table's rows."""
    cells = lambda line: [c.strip() for c in line.split("|")[1:-1]]
    rows = [cells(line) for line in markdown.splitlines() if line.startswith("| ex")]
    return {(r[0], r[1]): r for r in rows}


def near(digits):
    """pytest.approx within half a unit of the last digit shown."""
    return lambda value: pytest.approx(value, abs=0.5 * 10**-digits + 1e-12)


def ratio_shown(ratio, a, b, digits):
    """`ratio` (2 decimals) is a / b, where a and b are shown with `digits` decimals."""
    h = 0.5 * 10**-digits
    return (a - h) / (b + h) - 0.005 - 1e-12 <= ratio <= (a + h) / (b - h) + 0.005 + 1e-12


@pytest.fixture
def recorded(monkeypatch):
    """{(model name, seed): Result} of every pipeline.build call (what the tool measured)."""
    from common import pipeline

    found, real = {}, pipeline.build

    def build(spec, data, args, seed=0, *a, **k):
        found[spec.name, seed] = result = real(spec, data, args, seed, *a, **k)
        return result

    monkeypatch.setattr(pipeline, "build", build)
    return found


@pytest.mark.slow
def test_bench_tiny(shared_data, subset, tmp_path, recorded, capsys):
    from tools import bench

    data, split_dir = subset
    out = tmp_path / "bench.md"
    argv = ["--versions", "ex1_b,ex2_c", "--epochs-ex1", "1", "--epochs-ex2", "1", "--runs", "5"]
    argv += ["--seeds", "0", "--jena", str(shared_data / "jena_climate_2009_sample.csv")]
    argv += ["--kws-data", str(data), "--split-dir", str(split_dir), "--out", str(out)]
    assert bench.main(argv) == 0, capsys.readouterr().err[-3000:]
    rows = rows_of(out.read_text())
    models = [(v, role) for v in ("ex1_b", "ex2_c") for role in ("original report", "this project")]
    names = dict(zip(models, ("seed_th_b", "th_b", "seed_kws_8k", "kws_c")))
    assert list(rows) == [("ex1_b", "persistence"), *models]
    side = {key: recorded[name, 0].to_json() for key, name in names.items()}
    files = {key: len(recorded[name, 0].files[f"{name}.tflite"]) for key, name in names.items()}

    # persistence: its MAE, no model
    base, maes = side["ex1_b", "this project"]["baseline"]["persistence"], ("mae_t", "mae_rh")
    persistence = rows["ex1_b", "persistence"]
    assert numbers(persistence[7]) == [near(3)(base[k]) for k in maes]
    assert persistence[3] == "0" and persistence[5] == persistence[6] == persistence[8] == "-"
    # each model: parameters, sparsity, the .tflite's bytes, the zip's bytes and their ratio to
    # the first sized row of its version (the original report's recipe)
    for (version, role), s in side.items():
        row, seed = rows[version, role], side[version, "original report"]
        assert numbers(row[3]) == [s["params"]]
        sparsity = s["sparsity"]
        assert row[4] == "-" if sparsity is None else numbers(row[4]) == [near(2)(sparsity)]
        assert numbers(row[5]) == [s["tflite_bytes"]] and s["tflite_bytes"] == files[version, role]
        assert numbers(row[6]) == [s["zip_bytes"], near(2)(s["zip_bytes"] / seed["zip_bytes"])]
        p50, p90, speed = numbers(row[8])  # invoke, ratio to the original report's recipe's p50
        seed_p50 = numbers(rows[version, "original report"][8])[0]
        assert 0 < p50 <= p90 and ratio_shown(speed, p50, seed_p50, 4)
    # quality: ex1 MAE and its ratio to persistence; ex2 test and val accuracy, and the
    # difference to the original report's recipe's test accuracy
    for role in ("original report", "this project"):
        m = side["ex1_b", role]["metrics"]
        shown = [near(3)(m[k]) for k in maes] + [near(2)(m[k] / base[k]) for k in maes]
        assert numbers(rows["ex1_b", role][7]) == shown
        m = side["ex2_c", role]["metrics"]
        diff = m["accuracy"] - side["ex2_c", "original report"]["metrics"]["accuracy"]
        shown = [near(2)(100 * m["accuracy"]), near(2)(100 * m["val_accuracy"])]
        shown += [near(2)(100 * diff)] if role == "this project" else []
        assert numbers(rows["ex2_c", role][7]) == shown
    # ex2's total latency with the numpy front end, and the course way's (TensorFlow's front end)
    seed_total = numbers(rows["ex2_c", "original report"][10])[0]
    total = numbers(rows["ex2_c", "this project"][9])
    assert len(total) == 3 and 0 < total[0] <= total[1]
    assert ratio_shown(total[2], total[0], seed_total, 3)
