"""Unit tests of exercise 1's pieces: windows, metric arithmetic, builders, data errors."""
import numpy as np
import pytest

import common  # noqa: F401
import tensorflow as tf

from common import jena, models
from common.metrics import MultiOutputMAE, mae_per_feature


def ramp_series(rows=200):
    t = np.arange(rows, dtype=np.float32)
    return np.stack([t, 1000 + 2 * t], axis=1)


def test_split_is_chronological_70_20_10():
    train, val, test = jena.split_series(ramp_series(1000))
    assert (len(train), len(val), len(test)) == (700, 200, 100)
    assert train[-1, 0] + 1 == val[0, 0] and val[-1, 0] + 1 == test[0, 0]


def test_windows_shapes_normalization_and_labels():
    series = ramp_series(100)
    train, _, _ = jena.split_series(series)
    w = jena.WindowGenerator.from_train(train)
    np.testing.assert_allclose(w.mean, train.mean(0))
    np.testing.assert_allclose(w.std, train.std(0))
    x, y = w.to_numpy(w.make_dataset(series, train=False))
    assert x.shape == (100 - 11, 6, 2) and y.shape == (100 - 11, 6, 2)
    # inputs normalized with the train statistics, labels in original units, the 6 next steps
    np.testing.assert_allclose(x[5] * w.std + w.mean, series[5:11], rtol=1e-5, atol=1e-3)
    np.testing.assert_array_equal(y[5], series[11:17])
    first = next(iter(w.make_dataset(series, train=False)))
    assert first[0].shape == (32, 6, 2)


def test_train_windows_are_shuffled_and_seeded():
    series = ramp_series(300)
    w = jena.WindowGenerator.from_train(series)
    a = w.to_numpy(w.make_dataset(series, train=True, seed=1))[1]
    b = w.to_numpy(w.make_dataset(series, train=True, seed=1))[1]
    plain = w.to_numpy(w.make_dataset(series, train=False))[1]
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, plain)
    np.testing.assert_array_equal(np.sort(a[:, 0, 0]), np.sort(plain[:, 0, 0]))


def test_normalized_labels_option():
    series = ramp_series(100)
    w = jena.WindowGenerator.from_train(series, normalize_labels=True)
    _, y = w.to_numpy(w.make_dataset(series, train=False))
    np.testing.assert_allclose(y[0] * w.std + w.mean, series[6:12], rtol=1e-5, atol=1e-3)


def test_multi_output_mae_on_hand_made_tensors():
    y_true = np.zeros((32, 6, 2), np.float32)
    y_pred = np.zeros((32, 6, 2), np.float32)
    y_pred[..., 0] = 1.0          # T off by 1 everywhere
    y_pred[:16, :3, 1] = 4.0      # RH off by 4 in a quarter of the cells -> mean 1
    m = MultiOutputMAE()
    m.update_state(y_true, y_pred)
    np.testing.assert_allclose(m.result().numpy(), [1.0, 1.0])
    np.testing.assert_allclose(mae_per_feature(y_true, y_pred), [1.0, 1.0])
    # a second, smaller batch weighs by its number of windows
    m.update_state(np.zeros((8, 6, 2)), np.full((8, 6, 2), 6.0))
    np.testing.assert_allclose(m.result().numpy(), [(32 * 1 + 8 * 6) / 40, (32 * 1 + 8 * 6) / 40])
    m.reset_state()
    np.testing.assert_allclose(m.result().numpy(), [0.0, 0.0])


def test_multi_output_mae_scale_reports_original_units():
    m = MultiOutputMAE(scale=[2.0, 10.0])
    m.update_state(np.zeros((4, 6, 2)), np.ones((4, 6, 2)))
    np.testing.assert_allclose(m.result().numpy(), [2.0, 10.0])


@pytest.mark.parametrize("build, params", [
    (lambda: models.forecast_cnn(16, 24), (3 * 2 * 16 + 16) + (64 * 24 + 24) + (24 * 12 + 12)),
    (lambda: models.forecast_mlp((16, 24)), (12 * 16 + 16) + (16 * 24 + 24) + (24 * 12 + 12)),
])
def test_forecast_builders(build, params):
    model = build()
    assert model.input_shape == (None, 6, 2) and model.output_shape == (None, 6, 2)
    assert model.count_params() == params


def write_csv(path, text):
    path.write_text(text)
    return str(path)


def test_csv_missing_column_is_a_clear_error(tmp_path):
    csv = write_csv(tmp_path / "x.csv", "Date Time,T (degC)\n01.01.2009 00:10:00,1.0\n")
    with pytest.raises(jena.DataError, match=r"x\.csv.*missing column.*rh \(%\)"):
        jena.load_series(csv)


def test_csv_non_numeric_and_nan_are_clear_errors(tmp_path):
    rows = "".join(f"d,{i}.0,80\n" for i in range(150))
    csv = write_csv(tmp_path / "bad.csv", "Date Time,T (degC),rh (%)\n" + rows + "d,oops,80\n")
    with pytest.raises(jena.DataError, match=r"bad\.csv.*'T \(degC\)'.*row 151.*oops"):
        jena.load_series(csv)
    csv = write_csv(tmp_path / "nan.csv", "Date Time,T (degC),rh (%)\n" + rows + "d,1.0,\n")
    with pytest.raises(jena.DataError, match=r"nan\.csv.*'rh \(%\)'.*row 151"):
        jena.load_series(csv)


def test_columns_chosen_by_name_not_position(tmp_path):
    rows = "".join(f"{80 + i % 3},x,{i}.5\n" for i in range(150))
    csv = write_csv(tmp_path / "order.csv", "rh (%),Date Time,T (degC)\n" + rows)
    series = jena.load_series(csv)
    assert series[1].tolist() == [1.5, 81.0]


def test_resolve_csv_file_and_folder(tmp_path):
    csv = write_csv(tmp_path / jena.JENA_CSV, "a\n")
    assert jena.resolve_csv(csv) == csv
    assert jena.resolve_csv(str(tmp_path)) == csv


def test_offline_without_local_file_says_how_to_pass_data(tmp_path, monkeypatch):
    def offline(*args, **kwargs):
        raise OSError("no network")
    monkeypatch.setattr(tf.keras.utils, "get_file", offline)
    with pytest.raises(jena.DataError, match="--data"):
        jena.resolve_csv(str(tmp_path / "empty"))


def test_verify_csv_rejects_a_wrong_file(tmp_path):
    csv = write_csv(tmp_path / jena.JENA_CSV, "not the official file\n")
    with pytest.raises(jena.DataError, match="sha256"):
        jena.verify_csv(csv)
