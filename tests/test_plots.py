"""common.plots: PNG bytes, right size, not blank, deterministic, robust, no leaked figures, no TF."""
import io
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest

from common import plots

ROOT = Path(__file__).resolve().parents[1]
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
LABELS = ["down", "go", "left", "no", "right", "stop", "up", "yes"]


def forecast_inputs(n_windows=48, epochs=12, times=True):
    rng = np.random.default_rng(0)
    steps = np.arange(n_windows * 6)
    truth = np.stack([10 + 5 * np.sin(steps / 72), 70 + 15 * np.cos(steps / 72)], axis=-1).reshape(-1, 6, 2)
    last = np.concatenate([truth[:1, :1], truth[:-1, -1:]], axis=0)  # last observed step of each window
    history = {"loss": list(np.linspace(1.0, 0.1, epochs)), "val_loss": list(np.linspace(1.2, 0.2, epochs)),
               "mae_t": list(np.linspace(0.9, 0.3, epochs)), "val_mae_rh": list(np.linspace(3, 1.5, epochs))}
    return dict(history=history, kept_epoch=epochs - 2, pruning=(epochs // 2, epochs),
                times=(np.datetime64("2016-01-01T00:00") + np.arange(n_windows) * np.timedelta64(60, "m"))
                if times else None,
                truth=truth, forecast=truth + rng.normal(0, 0.3, truth.shape),
                persistence=np.repeat(last, 6, axis=1), title="ex1_a test")


def kws_inputs(epochs=12):
    rng = np.random.default_rng(1)
    confusion = rng.integers(0, 4, (8, 8)) + np.diag(rng.integers(20, 40, 8))
    history = {"loss": list(np.linspace(2.0, 0.3, epochs)), "val_loss": list(np.linspace(2.1, 0.5, epochs)),
               "accuracy": list(np.linspace(0.2, 0.95, epochs)), "val_accuracy": list(np.linspace(0.2, 0.9, epochs))}
    return dict(history=history, kept_epoch=epochs, qat=(epochs - 2, epochs),
                confusion=confusion, labels=LABELS, title="ex2_a test")


def bench_inputs():
    rows = [{"version": "ex1_a", "label": "seed recipe", "zip_bytes": 2300, "mae_t": 0.45, "mae_rh": 1.9,
             "accuracy": None},
            {"version": "ex1_a", "label": "this project", "zip_bytes": 1800, "mae_t": 0.31, "mae_rh": 1.2,
             "accuracy": None},
            {"version": "ex1_a", "label": "persistence", "zip_bytes": None, "mae_t": 0.6, "mae_rh": 2.5,
             "accuracy": None},
            {"version": "ex2_a", "label": "this project", "zip_bytes": 21000, "mae_t": None, "mae_rh": None,
             "accuracy": 0.93}]
    limits = {"ex1_a": {"mae_t": 0.5, "mae_rh": 1.8, "zip_bytes": 2048},
              "ex2_a": {"accuracy": 0.90, "zip_bytes": 25600}}
    return dict(rows=rows, limits=limits, title="benchmark")


def draw(function, **kwargs):
    """Call `function`; fail on any RuntimeWarning or a figure left open; return the PNG bytes."""
    plt = pytest.importorskip("matplotlib.pyplot")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        warnings.simplefilter("error", RuntimeWarning)
        data = function(**kwargs)
    assert not [w for w in caught if issubclass(w.category, (RuntimeWarning, UserWarning))]
    assert plt.get_fignums() == []
    assert isinstance(data, bytes) and data.startswith(PNG_SIGNATURE)
    return data


def decode(data):
    import matplotlib.image
    return matplotlib.image.imread(io.BytesIO(data), format="png")


@pytest.mark.parametrize("function, inputs, size", [
    (plots.forecast_png, forecast_inputs, (1200, 1400)),
    (plots.kws_png, kws_inputs, (550, 1600)),
    (plots.bench_png, bench_inputs, (600, 1600)),
])
def test_png_size_content_and_determinism(function, inputs, size):
    first = draw(function, **inputs())
    image = decode(first)
    height, width = image.shape[:2]
    assert abs(height - size[0]) <= 0.05 * size[0] and abs(width - size[1]) <= 0.05 * size[1]
    assert np.ptp(image[..., :3]) > 0.5  # not a single uniform colour
    assert draw(function, **inputs()) == first


def test_forecast_training_panel_has_one_axis_per_quantity_and_titles_say_the_data():
    """loss, MAE T (°C) and MAE RH (%) each on an axis of its own, each drawing only its own
    history; the forecast panels say they show the test split, the MAE of the plotted
    windows and that of the whole test split."""
    plt = pytest.importorskip("matplotlib.pyplot")
    inputs = forecast_inputs()
    inputs["history"]["val_mae_t"] = list(np.linspace(1.0, 0.4, 12))
    inputs["split_mae"] = {"model": [0.3717, 2.1092], "persistence": [0.5067, 2.5698], "windows": 1630}
    fig = plots.forecast_figure(**inputs)
    try:
        training, forecasts = fig.axes[:3], fig.axes[3:]
        assert [ax.get_ylabel() for ax in training] == ["loss", "MAE T (°C)", "MAE RH (%)"]
        for ax, key in zip(training, ("loss", "mae_t", "mae_rh")):
            curves = {line.get_label(): list(line.get_ydata()) for line in ax.get_lines()
                      if not line.get_label().startswith("kept")}
            expected = {k: v for k, v in inputs["history"].items() if k in (key, "val_" + key)}
            assert sorted(map(sorted, curves.values())) == sorted(map(sorted, expected.values()))
            assert "train and validation" in ax.get_title()
        t, rh = (ax.get_title() for ax in forecasts)
        assert t.startswith("T, test split: 48 consecutive 6-step forecasts from 2016-01-01 00:00")
        assert "MAE on these plotted windows" in t
        assert t.endswith("MAE on the whole test split (1,630 windows): model 0.372 °C, persistence 0.507 °C")
        assert rh.endswith("model 2.109 %, persistence 2.570 %")
    finally:
        plt.close(fig)
    fig = plots.kws_figure(**kws_inputs())
    try:
        assert fig.axes[2].get_title().startswith("int8 .tflite on the test split: ")
    finally:
        plt.close(fig)


def test_forecast_robust_to_missing_values():
    kwargs = forecast_inputs(n_windows=12, times=False)
    kwargs["history"] = {"loss": [1.0, None, float("nan"), 0.5], "val_loss": [None, None, None, None],
                         "mae_t": [], "val_mae_rh": [float("nan")] * 4}
    kwargs["forecast"][0, :, 0] = np.nan
    kwargs["persistence"][:, :, 1] = np.nan  # no finite persistence RH at all: MAE n/a
    draw(plots.forecast_png, **kwargs)


@pytest.mark.parametrize("history", [{}, {"loss": [], "val_loss": []}, {"loss": [0.4], "val_loss": [0.5]}])
def test_forecast_empty_or_single_epoch_history(history):
    kwargs = forecast_inputs(n_windows=6)
    draw(plots.forecast_png, **{**kwargs, "history": history, "kept_epoch": 1 if history.get("loss") else None,
                                "pruning": None})


def test_forecast_no_windows():
    empty = np.empty((0, 6, 2))
    draw(plots.forecast_png, history={}, kept_epoch=None, pruning=None, times=None, truth=empty,
         forecast=empty, persistence=empty, title="nothing")


def test_kws_robust_to_empty_rows_and_history():
    confusion = kws_inputs()["confusion"]
    confusion[3] = 0  # a label without clips: no division warning
    draw(plots.kws_png, history={"loss": [1.0], "accuracy": [None]}, kept_epoch=1,
         confusion=confusion, labels=LABELS, title="one epoch")
    draw(plots.kws_png, history={}, kept_epoch=None, confusion=np.zeros((8, 8), int),
         labels=LABELS, title="empty")


def test_bench_robust_to_missing_metrics():
    kwargs = bench_inputs()
    kwargs["rows"].append({"version": "ex1_b", "label": "failed run", "zip_bytes": 3000, "mae_t": None,
                           "mae_rh": float("nan"), "accuracy": None})
    draw(plots.bench_png, **kwargs)
    draw(plots.bench_png, rows=[], limits={}, title="empty")


def test_import_does_not_load_tensorflow():
    code = ("import sys; sys.path.insert(0, sys.argv[1]); from common import plots; "
            "plots.bench_png([], {}, title='x'); "
            "assert 'tensorflow' not in sys.modules and 'keras' not in sys.modules, 'tensorflow imported'")
    subprocess.run([sys.executable, "-c", code, str(ROOT)], check=True, timeout=60)
