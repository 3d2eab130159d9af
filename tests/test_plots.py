"""common.plots: what each picture draws (its axes' lines, spans, images and texts against the
data given), the colours it renders at known places, PNG bytes of the right size,
deterministic, robust to missing values, no leaked figures, no TensorFlow."""

import io
import subprocess
import sys
import warnings

import matplotlib.dates as mdates
import matplotlib.image
import numpy as np
import pytest

from conftest import ROOT
from common import plots

LABELS = ["down", "go", "left", "no", "right", "stop", "up", "yes"]
NAN = float("nan")
# 8 labels, 18 clips each, 11 of them right: 144 clips, 88 right, accuracy 61.11 %
HAND_CONFUSION = 10 * np.eye(8, dtype=int) + 1


@pytest.fixture(autouse=True)
def plt():
    """matplotlib.pyplot; every figure closed after the test, whatever it asserted."""
    yield plots.pyplot()
    plots.pyplot().close("all")


def curves(**ends):
    """A history of 12 epochs: each key's values evenly from its first to its last."""
    return {key: list(np.linspace(first, last, 12)) for key, (first, last) in ends.items()}


def forecast_inputs(n_windows=48):
    steps = np.arange(n_windows * 6)
    truth = np.stack([10 + 5 * np.sin(steps / 72), 70 + 15 * np.cos(steps / 72)], axis=-1)
    truth = truth.reshape(-1, 6, 2)
    last = np.concatenate([truth[:1, :1], truth[:-1, -1:]])  # last observed step of each window
    history = curves(loss=(1.0, 0.1), val_loss=(1.2, 0.2), mae_t=(0.9, 0.3), val_mae_rh=(3, 1.5))
    times = np.datetime64("2016-01-01T00:00") + np.arange(n_windows) * np.timedelta64(60, "m")
    forecast = truth + np.random.default_rng(0).normal(0, 0.3, truth.shape)
    persistence = np.repeat(last, 6, axis=1)
    marks = dict(kept_epoch=10, pruning=(6, 12), times=times, title="ex1_a test")
    return dict(history=history, truth=truth, forecast=forecast, persistence=persistence, **marks)


def kws_inputs():
    history = curves(loss=(2.0, 0.3), val_loss=(2.1, 0.5), accuracy=(0.2, 0.95))
    history["val_accuracy"] = list(np.linspace(0.2, 0.9, 12))
    marks = dict(kept_epoch=12, qat=(10, 12), title="ex2_a test")
    return dict(history=history, confusion=HAND_CONFUSION.copy(), labels=LABELS, **marks)


def draw(function, **kwargs):
    """Call `function`; fail on any RuntimeWarning or a figure left open; return the PNG bytes."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        warnings.simplefilter("error", RuntimeWarning)
        data = function(**kwargs)
    assert not [w for w in caught if issubclass(w.category, (RuntimeWarning, UserWarning))]
    assert plots.pyplot().get_fignums() == []
    assert isinstance(data, bytes) and data.startswith(b"\x89PNG\r\n\x1a\n")
    return data


def decode(data):
    return matplotlib.image.imread(io.BytesIO(data), format="png")


@pytest.mark.parametrize(
    "function, inputs, size",
    [
        (plots.forecast_png, forecast_inputs, (1200, 1400)),
        (plots.kws_png, kws_inputs, (550, 1600)),
    ],
)
def test_png_size_content_and_determinism(function, inputs, size):
    first = draw(function, **inputs())
    height, width = decode(first).shape[:2]
    assert abs(height - size[0]) <= 0.05 * size[0] and abs(width - size[1]) <= 0.05 * size[1]
    assert draw(function, **inputs()) == first


def lines_of(ax):
    return {line.get_label(): line for line in ax.get_lines()}


def span_of(ax, label):
    """(left, right) of the one shaded span labelled `label`."""
    spans = [p for p in ax.patches if p.get_label() == label]
    assert len(spans) == 1, [p.get_label() for p in ax.patches]
    return spans[0].get_x(), spans[0].get_x() + spans[0].get_width()


def test_kws_figure_draws_the_curves_the_kept_epoch_and_the_confusion_matrix(plt):
    """The axes, then pixels of the PNG itself: each cell's corner (away from its count) is the
    Blues colour of its share; the diagonal (11 of 18) dark, the rest (1 of 18) pale."""
    inputs = kws_inputs()
    fig = plots.kws_figure(**inputs)
    loss, accuracy, matrix = fig.axes[:3]
    for ax, key, scale in ((loss, "loss", 1.0), (accuracy, "accuracy", 100.0)):
        lines = lines_of(ax)
        for prefix, split, style in (("", "train", "-"), ("val_", "val", "--")):
            line = lines[f"{key} ({split})"]
            assert line.get_linestyle() == style
            np.testing.assert_array_equal(line.get_xdata(), np.arange(1, 13))
            want = np.asarray(inputs["history"][prefix + key]) * scale
            np.testing.assert_allclose(line.get_ydata(), want)
        assert list(lines["kept (epoch 12)"].get_xdata()) == [12, 12]
        assert span_of(ax, "quantization-aware") == (9.5, 12.5)  # epochs 10-12
    assert loss.get_yscale() == "log" and accuracy.get_yscale() == "linear"
    # each cell: the share of its true label's row (18 clips a row), and the count written on it
    shares = np.where(np.eye(8, dtype=bool), 11 / 18, 1 / 18)
    np.testing.assert_allclose(matrix.images[0].get_array(), shares)
    written = {tuple(t.get_position()): t.get_text() for t in matrix.texts}
    assert written == {(j, i): ("11" if i == j else "1") for i in range(8) for j in range(8)}
    assert [t.get_text() for t in matrix.get_xticklabels()] == LABELS
    assert [t.get_text() for t in matrix.get_yticklabels()] == LABELS
    assert (matrix.get_xlabel(), matrix.get_ylabel()) == ("predicted label", "true label")
    assert matrix.get_title() == "int8 .tflite on the test split: 144 clips, accuracy 61.11 %"
    assert fig._suptitle.get_text() == "ex2_a test"
    image = decode(plots.png(fig))  # lays out, renders at the figure's dpi and closes
    assert plt.get_fignums() == [] and fig.dpi == 100
    for (i, j), share in np.ndenumerate(shares):
        x, y = matrix.transData.transform((j - 0.3, i - 0.3))
        pixel = image[int(round(image.shape[0] - y)), int(round(x)), :3]
        want = plt.get_cmap("Blues")(share)[:3]
        np.testing.assert_allclose(pixel, want, atol=2 / 255, err_msg=f"cell {i}, {j}")


def test_forecast_figure_draws_each_history_truth_forecast_and_persistence_at_their_times():
    """loss, MAE T (°C) and MAE RH (%) each on an axis of its own, each drawing only its own
    history; the forecast panels say they show the test split, the MAE of the plotted
    windows and that of the whole test split."""
    inputs = forecast_inputs()
    inputs["history"]["val_mae_t"] = list(np.linspace(1.0, 0.4, 12))
    inputs["split_mae"] = dict(model=[0.3717, 2.1092], persistence=[0.5067, 2.5698], windows=1630)
    fig = plots.forecast_figure(**inputs)
    training, forecasts = fig.axes[:3], fig.axes[3:]
    assert [ax.get_ylabel() for ax in training] == ["loss", "MAE T (°C)", "MAE RH (%)"]
    for ax, key in zip(training, ("loss", "mae_t", "mae_rh")):
        assert span_of(ax, "pruning") == (5.5, 12.5)  # pruning from epoch 6 to 12
        kept = lines_of(ax)["kept (epoch 10)"]
        assert list(kept.get_xdata()) == [10, 10]
        drawn = [sorted(line.get_ydata()) for line in ax.get_lines() if line is not kept]
        expected = [sorted(v) for k, v in inputs["history"].items() if k in (key, "val_" + key)]
        assert sorted(drawn) == sorted(expected)
        assert "train and validation" in ax.get_title()
    for ax, k in zip(forecasts, (0, 1)):
        lines = lines_of(ax)
        truth, model, persistence = (lines[n] for n in ("truth", "model forecast", "persistence"))
        colours = (truth.get_color(), model.get_color(), persistence.get_color())
        assert colours == ("black", "tab:blue", "tab:orange")
        assert persistence.get_linestyle() == "--"
        # windows an hour apart from 2016-01-01 00:00, their 6 steps 10 minutes apart
        days = truth.get_xdata() - mdates.date2num(np.datetime64("2016-01-01T00:00"))
        minutes = np.arange(48)[:, None] * 60 + np.arange(6) * 10
        np.testing.assert_allclose(days * 24 * 60, minutes.ravel(), atol=1e-3)
        np.testing.assert_allclose(truth.get_ydata(), inputs["truth"][:, :, k].ravel())
        for line, key in ((model, "forecast"), (persistence, "persistence")):
            segments = np.asarray(line.get_ydata(), float).reshape(48, 7)  # window, then a gap
            np.testing.assert_allclose(segments[:, :6], inputs[key][:, :, k])
            assert np.isnan(segments[:, 6]).all()
            x = np.asarray(line.get_xdata(), float).reshape(48, 7)[:, :6]
            np.testing.assert_allclose(x, np.asarray(truth.get_xdata(), float).reshape(48, 6))
    t, rh = (ax.get_title() for ax in forecasts)
    assert t.startswith("T, test split: 48 consecutive 6-step forecasts from 2016-01-01 00:00")
    whole = "MAE on the whole test split (1,630 windows): model 0.372 °C, persistence 0.507 °C"
    assert "MAE on these plotted windows" in t and t.endswith(whole)
    assert rh.endswith("model 2.109 %, persistence 2.570 %")
    assert not any("100 %" in label for label in lines_of(forecasts[1]))  # none above


def test_a_relative_humidity_forecast_above_100_percent_is_marked(plt):
    inputs = forecast_inputs()
    inputs["forecast"][[3, 7], 2, 1] = [100.4, 101.0]
    inputs["forecast"][5, 1, 0] = 120.0  # a temperature: no such limit
    lines = lines_of(plots.forecast_figure(**inputs).axes[4])
    above = lines["forecast above 100 % (2 of 288 steps)"]
    np.testing.assert_allclose(above.get_ydata(), [100.4, 101.0])
    assert list(lines["100 %"].get_ydata()) == [100, 100] and above.get_color() == "red"


def forecast_gaps():
    """None and NaN in the curves, a NaN forecast, no finite persistence RH (MAE n/a), no times."""
    inputs = forecast_inputs(12)
    inputs["forecast"][0, :, 0] = np.nan
    inputs["persistence"][:, :, 1] = np.nan
    history = {"loss": [1.0, None, NAN, 0.5], "val_loss": [None] * 4, "mae_t": []}
    history["val_mae_rh"] = [NAN] * 4
    return inputs | {"history": history, "times": None}


def short_history(history, **changes):
    """6 windows, and an empty or a one-epoch history."""
    kept = 1 if history.get("loss") else None
    return forecast_inputs(6) | {"history": history, "kept_epoch": kept, "pruning": None} | changes


ONE_EPOCH = {"history": {"loss": [1.0], "accuracy": [None]}, "kept_epoch": 1, "qat": None}
NO_CLIPS_OF_NO = HAND_CONFUSION * (np.arange(8) != 3)[:, None]  # a label without clips
NOTHING = {"history": {}, "kept_epoch": None, "qat": None, "confusion": np.zeros((8, 8), int)}
EMPTY = np.empty((0, 6, 2))
NO_WINDOWS = dict(times=None, truth=EMPTY, forecast=EMPTY, persistence=EMPTY)
ROBUST = {
    "forecast gaps": (plots.forecast_png, forecast_gaps()),
    "forecast no history": (plots.forecast_png, short_history({})),
    "forecast empty curves": (plots.forecast_png, short_history({"loss": [], "val_loss": []})),
    "forecast one epoch": (plots.forecast_png, short_history({"loss": [0.4], "val_loss": [0.5]})),
    "forecast no windows": (plots.forecast_png, short_history({}, **NO_WINDOWS)),
    "kws empty row": (plots.kws_png, kws_inputs() | ONE_EPOCH | {"confusion": NO_CLIPS_OF_NO}),
    "kws empty": (plots.kws_png, kws_inputs() | NOTHING),
}


@pytest.mark.parametrize("function, inputs", ROBUST.values(), ids=ROBUST)
def test_robust_to_missing_values(function, inputs):
    draw(function, **inputs)


def test_import_does_not_load_tensorflow():
    code = (
        "import sys; sys.path.insert(0, sys.argv[1]); from common import plots; "
        "plots.png(plots.pyplot().figure()); "
        "assert 'tensorflow' not in sys.modules and 'keras' not in sys.modules, 'tf imported'"
    )
    subprocess.run([sys.executable, "-c", code, str(ROOT)], check=True, timeout=60)
