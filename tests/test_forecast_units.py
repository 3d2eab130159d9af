"""Exercise 1's pieces: the CSV reader (encodings, line ends, extra columns, missing-value
codes, time breaks), windows and their gaps, persistence, calibration coverage, the metric."""

import importlib

import numpy as np
import pandas as pd
import pytest

import common  # noqa: F401
import tensorflow as tf

from common import compress, forecast, jena, models
from common.errors import DataError
from common.models import MultiOutputMAE

HEADER22 = (
    "Date Time,p (mbar),T (degC),Tpot (K),Tdew (degC),rh (%),VPmax (mbar),VPact (mbar),"
    "VPdef (mbar),sh (g/kg),H2OC (mmol/mol),rho (g/m**3),wv (m/s),max. wv (m/s),wd (deg),"
    "rain (mm),raining (s),SWDR (W/m²),PAR (µmol/m²/s),max. PAR (µmol/m²/s),Tlog (degC),CO2 (ppm)"
)


def station_csv(path, t, rh, encoding="latin-1", newline="\r\n", times=None):
    """A file in the station's export format: 22 columns, latin-1, CRLF by default, every 10
    minutes from 1 June 2024 unless `times` says otherwise."""
    if times is None:
        times = pd.date_range("2024-06-01", periods=len(t), freq="10min")
    rows = [HEADER22] + [
        f"{d:%d.%m.%Y %H:%M:%S},990.0,{a},290.0,5.0,{b}," + ",".join(["1.0"] * 15) + ",-9999"
        for d, a, b in zip(times, t, rh)
    ]
    path.write_bytes(newline.join(rows).encode(encoding) + newline.encode())
    return str(path)


def ramp(rows=200):
    return np.arange(rows, dtype=np.float64) / 10, 50 + np.arange(rows) % 40


@pytest.mark.parametrize(
    "encoding, newline", [("latin-1", "\r\n"), ("utf-8", "\n"), ("utf-8", "\r\n")]
)
def test_station_exports_are_read_in_any_encoding_and_line_end(tmp_path, encoding, newline):
    t, rh = ramp()
    s = jena.load_series(station_csv(tmp_path / "x.csv", t, rh, encoding=encoding, newline=newline))
    np.testing.assert_allclose(s.values[:, 0], t, atol=1e-5)
    np.testing.assert_allclose(s.values[:, 1], rh)
    assert not s.breaks.any() and s.gaps == {}
    assert s.times[1] - s.times[0] == np.timedelta64(10, "m")


def test_missing_and_implausible_values_and_time_breaks_are_gaps_their_windows_dropped(tmp_path):
    t, rh = (a.astype(object) for a in ramp(300))
    t[100], t[150], rh[200], t[250] = -9999, "inf", "", -999.99
    t[10], rh[20] = 75.0, 130.0
    times = list(pd.date_range("2024-06-01", periods=300, freq="10min"))
    times = times[:50] + [d + pd.Timedelta("1h") for d in times[50:]]  # 50 minutes missing
    s = jena.load_series(station_csv(tmp_path / "g.csv", t, rh, times=times))
    assert s.gaps == {
        "T (degC): infinite": 1,
        "T (degC): missing-value code (<= -999)": 2,
        "rh (%): empty or NaN": 1,
        "T (degC): outside the plausible range": 1,
        "rh (%): outside the plausible range": 1,
        "time steps other than 10 min": 1,
    }
    assert s.breaks.sum() == 1 and s.breaks[50]
    w = jena.make_windows(s)
    bad_rows = {10, 20, 100, 150, 200, 250}
    fine = lambda i: not bad_rows & set(range(i, i + 12)) and not i < 50 < i + 12
    expected = [i for i in range(300 - 11) if fine(i)]
    assert w.starts.tolist() == expected and w.dropped == 300 - 11 - len(expected)
    assert np.isfinite(w.inputs).all() and np.isfinite(w.labels).all()
    assert (w.inputs[:, :, 0] > -100).all()  # never a sentinel
    t[::3] = -9999  # too many gaps: a clear error
    too_many = r"m\.csv: .* windows touch a gap .*T \(degC\): missing-value code"
    with pytest.raises(DataError, match=too_many):
        jena.split_windows(jena.load_series(station_csv(tmp_path / "m.csv", t, rh, times=times)))


def test_columns_chosen_by_name_not_position_no_time_column_and_no_text(tmp_path):
    """(A missing column: test_ex1_end_to_end.test_bad_data_is_one_clear_error_and_status_1.)"""
    rows = "".join(f"{80 + i % 3},x,{i}.5\n" for i in range(150))
    (tmp_path / "o.csv").write_text("rh (%),Other,T (degC)\n" + rows)
    s = jena.load_series(tmp_path / "o.csv")
    assert s.values[1].tolist() == [1.5, 81.0] and s.times is None and not s.breaks.any()
    (tmp_path / "bad.csv").write_text("rh (%),Other,T (degC)\n" + rows + "80,x,oops\n")
    with pytest.raises(DataError, match=r"bad\.csv: column 'T \(degC\)'.*row 151.*oops"):
        jena.load_series(tmp_path / "bad.csv")


def test_split_windows_normalization_and_persistence_by_hand():
    t = np.sin(np.arange(1000) / 30) * 10 + 5
    rh = np.cos(np.arange(1000) / 20) * 20 + 60
    s = jena.Series("x", np.stack([t, rh], 1).astype(np.float32), np.zeros(1000, bool))
    w = jena.split_windows(s)
    assert [len(w[k]) for k in ("train", "val", "test")] == [700 - 11, 200 - 11, 100 - 11]
    test = w["test"]
    np.testing.assert_array_equal(test.inputs[3], s.values[903:909])
    np.testing.assert_array_equal(test.labels[3], s.values[909:915])
    norm = jena.Normalization.of(jena.split_series(s)[0])
    np.testing.assert_allclose(norm.mean, [t[:700].mean(), rh[:700].mean()], rtol=1e-5)
    np.testing.assert_allclose(norm.std, [t[:700].std(), rh[:700].std()], rtol=1e-5)
    # persistence by hand: every test window, every step, against the last input row
    last = 905 + np.arange(89)
    errors = np.abs(s.values[last[:, None] + np.arange(1, 7)] - s.values[last][:, None])
    np.testing.assert_allclose(forecast.persistence_mae(test), errors.mean(axis=(0, 1)), rtol=1e-5)


def test_a_model_with_known_weights_scores_its_known_mae_and_lstsq_finds_a_linear_law():
    """A residual forecaster whose change is 0 is persistence; one whose change is +1 (in
    train-std units) for T is persistence + std_T: their MAEs are known in advance."""
    rng = np.random.default_rng(0)
    raw = np.cumsum(rng.normal(size=(60, 12, 2)), axis=1).astype(np.float32) + [10, 70]
    windows = jena.Windows(raw[:, :6], raw[:, 6:], np.arange(60), None, 0)
    norm = jena.Normalization(np.float32([10, 70]), np.float32([2, 5]))
    model = models.residual_forecaster(norm.mean, norm.std)
    bias = np.zeros(12, np.float32)
    bias[0::2] = 1.0  # +1 std on every T step
    model.get_layer("linear").set_weights([np.zeros((12, 12), np.float32), bias])
    predicted = model.predict(norm(windows.inputs), verbose=0)
    expected_t = np.abs(windows.persistence[..., 0] + 2.0 - windows.labels[..., 0]).mean()
    expected = [expected_t, forecast.persistence_mae(windows)[1]]
    mae = forecast.mae_per_feature(windows.labels, predicted)
    np.testing.assert_allclose(mae, expected, rtol=1e-5)
    # the least-squares start recovers a linear law
    norm = jena.Normalization(np.float32([0, 0]), np.float32([1, 1]))
    x = rng.normal(size=(500, 6, 2)).astype(np.float32)
    slope = x[:, -1:, :] - x[:, -2:-1, :]  # labels: linear extrapolation of the last two steps
    y = x[:, -1:, :] + slope * np.arange(1, 7)[None, :, None]
    model = models.residual_forecaster(norm.mean, norm.std)
    forecast.lstsq_init(model, x, y, norm)
    np.testing.assert_allclose(model.predict(x, verbose=0), y, atol=1e-3)


def test_calibration_covers_the_whole_training_period():
    """Two seasons in one training split: the calibration sample (random, across the
    period) covers both, and the quantized input range covers the warm season."""
    cold, warm = np.full((3000, 6, 2), [-5.0, 90.0]), np.full((3000, 6, 2), [25.0, 40.0])
    train = np.concatenate([cold, warm]).astype(np.float32)
    norm = jena.Normalization(np.float32([10, 65]), np.float32([15, 25]))
    spec = forecast.ForecastVersion("ex1_a", "x", None, calibration_plausible=False)
    calib, picked = forecast.calibration_set(spec, norm(train), norm, seed=0)
    assert len(calib) == 1000 and picked.min() < 300 and picked.max() > 5700
    raw = calib * norm.std + norm.mean
    assert np.isclose(raw[..., 0], -5).mean() > 0.3 and np.isclose(raw[..., 0], 25).mean() > 0.3
    spec.calibration_plausible = True
    calib, _ = forecast.calibration_set(spec, norm(train), norm, seed=0)
    t = calib[..., 0] * norm.std[0] + norm.mean[0]
    assert len(calib) == 2000 and t.min() < -20 and t.max() > 35  # plausible levels beyond both


def test_multi_output_mae_on_hand_made_tensors():
    y_true, y_pred = np.zeros((2, 32, 6, 2), np.float32)
    y_pred[..., 0] = 1.0  # T off by 1 everywhere
    y_pred[:16, :3, 1] = 4.0  # RH off by 4 in a quarter of the cells -> mean 1
    m = MultiOutputMAE()
    m.update_state(y_true, y_pred)
    np.testing.assert_allclose(m.result().numpy(), [1.0, 1.0])
    m.update_state(np.zeros((8, 6, 2)), np.full((8, 6, 2), 6.0))  # weighs by its windows
    np.testing.assert_allclose(m.result().numpy(), [(32 + 8 * 6) / 40] * 2)
    m.reset_state()
    np.testing.assert_allclose(m.result().numpy(), [0.0, 0.0])


def test_resolve_and_verify_csv(tmp_path):
    csv = tmp_path / jena.JENA_CSV
    csv.write_text("a\n")
    assert jena.resolve_csv(str(csv)) == str(csv) and jena.resolve_csv(str(tmp_path)) == str(csv)
    with pytest.raises(DataError, match=f"{csv.name}: 2 bytes, sha256 "):
        jena.verify_csv(str(csv))
    with pytest.raises(DataError, match="nowhere: no such file or folder"):
        jena.resolve_csv(str(tmp_path / "nowhere"))
    assert not (tmp_path / "nowhere").exists()
    other = tmp_path / "other"
    other.mkdir()
    for name in ("b.csv", "a.csv", "._a.csv", "notes.txt"):
        (other / name).write_text("x\n")
    with pytest.raises(DataError) as e:  # the CSVs that are there, macOS metadata left out
        jena.resolve_csv(str(other))
    assert str(e.value) == (
        f"{other}: no {jena.JENA_CSV} in this folder; the CSV files there: a.csv, "
        f"b.csv; pass one of them as the file ({other / 'a.csv'})"
    )
    (tmp_path / "empty").mkdir()
    none = "empty: no jena_climate_2009_2016.csv in this folder; no CSV file there$"
    with pytest.raises(DataError, match=none):
        jena.resolve_csv(str(tmp_path / "empty"))


def test_the_unpruned_forecasters_zero_weights_are_structural():
    """Why th_b reported sparsity 0.1667 with no pruning: the differences to the last step
    are 0 in the last step's two columns, so the least-squares start gives their kernel rows
    0 and no gradient ever moves them: 24 of the 144 weights of the Dense(12)."""
    spec = importlib.import_module("ex1_b").VERSION
    rng = np.random.default_rng(0)
    inputs = rng.normal(size=(500, 6, 2)).astype(np.float32).cumsum(axis=1)
    labels = inputs[:, -1:, :] + rng.normal(size=(500, 6, 2)).astype(np.float32).cumsum(axis=1)
    norm = jena.Normalization(np.float32([0, 0]), np.float32([1, 1]))
    tf.keras.utils.set_random_seed(0)
    model = spec.build(norm.mean, norm.std)
    forecast.lstsq_init(model, norm(inputs), labels, norm)
    kernel = model.get_layer("linear").get_weights()[0]
    assert kernel.shape == (12, 12)
    np.testing.assert_array_equal(kernel[-2:], 0)  # the last step's T and RH columns
    assert np.count_nonzero(kernel[:-2]) == 120
    assert compress.sparsity(model) == pytest.approx(24 / 144)


def test_another_jena_file_is_never_official(shared_data):
    csv = shared_data / "jena_climate_2009_sample.csv"
    s = jena.load_series(csv)
    assert not jena.is_official(csv)
    assert forecast.unassessable(s)["mae_t"] == (
        "defined on the official jena_climate_2009_2016.csv (420,551 rows, 2009-2016); "
        f"this run: {len(s):,} rows of jena_climate_2009_sample.csv"
    )


def test_the_folded_twin_computes_the_same_function():
    spec = importlib.import_module("ex1_a").VERSION
    norm = jena.Normalization(np.float32([9.0, 76.0]), np.float32([8.0, 16.0]))
    model = spec.build(norm.mean, norm.std)
    rng = np.random.default_rng(1)
    for layer in model.layers:  # random non-zero weights everywhere
        layer.set_weights(
            [rng.normal(size=w.shape).astype(np.float32) for w in layer.get_weights()]
        )
    folded = forecast.fold_units(spec, model, norm)
    x = np.random.default_rng(2).normal(size=(50, 6, 2)).astype(np.float32)
    expected = model.predict(x, verbose=0)
    np.testing.assert_allclose(folded.predict(x, verbose=0), expected, rtol=1e-4, atol=1e-3)
    assert len(folded.layers) == len(model.layers)  # ("units" gone, "level" in its place)
    assert "units" not in [layer.name for layer in folded.layers]
