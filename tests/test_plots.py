"""common.plots: what each picture draws (its axes' lines, spans, images and texts against the
data given), the colours it renders at known places, PNG bytes of the right size,
deterministic, robust to missing values, no leaked figures, no TensorFlow."""

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
    truth = np.stack([10 + 5 * np.sin(steps / 72), 70 + 15 * np.cos(steps / 72)], axis=-1).reshape(
        -1, 6, 2
    )
    last = np.concatenate(
        [truth[:1, :1], truth[:-1, -1:]], axis=0
    )  # last observed step of each window
    history = {
        "loss": list(np.linspace(1.0, 0.1, epochs)),
        "val_loss": list(np.linspace(1.2, 0.2, epochs)),
        "mae_t": list(np.linspace(0.9, 0.3, epochs)),
        "val_mae_rh": list(np.linspace(3, 1.5, epochs)),
    }
    return dict(
        history=history,
        kept_epoch=epochs - 2,
        pruning=(epochs // 2, epochs),
        times=(np.datetime64("2016-01-01T00:00") + np.arange(n_windows) * np.timedelta64(60, "m"))
        if times
        else None,
        truth=truth,
        forecast=truth + rng.normal(0, 0.3, truth.shape),
        persistence=np.repeat(last, 6, axis=1),
        title="ex1_a test",
    )


def kws_inputs(epochs=12):
    rng = np.random.default_rng(1)
    confusion = rng.integers(0, 4, (8, 8)) + np.diag(rng.integers(20, 40, 8))
    history = {
        "loss": list(np.linspace(2.0, 0.3, epochs)),
        "val_loss": list(np.linspace(2.1, 0.5, epochs)),
        "accuracy": list(np.linspace(0.2, 0.95, epochs)),
        "val_accuracy": list(np.linspace(0.2, 0.9, epochs)),
    }
    return dict(
        history=history,
        kept_epoch=epochs,
        qat=(epochs - 2, epochs),
        confusion=confusion,
        labels=LABELS,
        title="ex2_a test",
    )


def bench_inputs():
    rows = [
        {
            "version": "ex1_a",
            "label": "seed recipe",
            "zip_bytes": 2300,
            "mae_t": 0.45,
            "mae_rh": 1.9,
            "accuracy": None,
        },
        {
            "version": "ex1_a",
            "label": "this project",
            "zip_bytes": 1800,
            "mae_t": 0.31,
            "mae_rh": 1.2,
            "accuracy": None,
        },
        {
            "version": "ex1_a",
            "label": "persistence",
            "zip_bytes": None,
            "mae_t": 0.6,
            "mae_rh": 2.5,
            "accuracy": None,
        },
        {
            "version": "ex2_a",
            "label": "this project",
            "zip_bytes": 21000,
            "mae_t": None,
            "mae_rh": None,
            "accuracy": 0.93,
        },
    ]
    limits = {
        "ex1_a": {"mae_t": 0.5, "mae_rh": 1.8, "zip_bytes": 2048},
        "ex2_a": {"accuracy": 0.90, "zip_bytes": 25600},
    }
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


@pytest.mark.parametrize(
    "function, inputs, size",
    [
        (plots.forecast_png, forecast_inputs, (1200, 1400)),
        (plots.kws_png, kws_inputs, (550, 1600)),
        (plots.bench_png, bench_inputs, (600, 1600)),
    ],
)
def test_png_size_content_and_determinism(function, inputs, size):
    first = draw(function, **inputs())
    image = decode(first)
    height, width = image.shape[:2]
    assert abs(height - size[0]) <= 0.05 * size[0] and abs(width - size[1]) <= 0.05 * size[1]
    assert draw(function, **inputs()) == first


def lines_of(ax):
    return {line.get_label(): line for line in ax.get_lines()}


def span_of(ax, label):
    """(left, right) of the one shaded span labelled `label`."""
    spans = [p for p in ax.patches if p.get_label() == label]
    assert len(spans) == 1, [p.get_label() for p in ax.patches]
    return spans[0].get_x(), spans[0].get_x() + spans[0].get_width()


# 8 labels, 18 clips each, 11 of them right: 144 clips, 88 right, accuracy 61.11 %
HAND_CONFUSION = 10 * np.eye(8, dtype=int) + 1


def test_kws_figure_draws_the_curves_the_kept_epoch_and_the_confusion_matrix():
    plt = pytest.importorskip("matplotlib.pyplot")
    inputs = {**kws_inputs(), "confusion": HAND_CONFUSION}
    fig = plots.kws_figure(**inputs)
    try:
        loss, accuracy, matrix = fig.axes[:3]
        history = inputs["history"]
        for ax, key, scale in ((loss, "loss", 1.0), (accuracy, "accuracy", 100.0)):
            lines = lines_of(ax)
            for prefix, split, style in (("", "train", "-"), ("val_", "val", "--")):
                line = lines[f"{key} ({split})"]
                assert line.get_linestyle() == style
                np.testing.assert_array_equal(line.get_xdata(), np.arange(1, 13))
                np.testing.assert_allclose(
                    line.get_ydata(), np.asarray(history[prefix + key]) * scale
                )
            assert list(lines["kept (epoch 12)"].get_xdata()) == [12, 12]
            assert span_of(ax, "quantization-aware") == (9.5, 12.5)  # epochs 10-12
        assert loss.get_yscale() == "log" and accuracy.get_yscale() == "linear"
        # each cell: the share of its true label's row (18 clips a row), and the count written on it
        np.testing.assert_allclose(
            matrix.images[0].get_array(), np.where(np.eye(8, dtype=bool), 11 / 18, 1 / 18)
        )
        written = {tuple(t.get_position()): t.get_text() for t in matrix.texts}
        assert written == {(j, i): ("11" if i == j else "1") for i in range(8) for j in range(8)}
        assert [t.get_text() for t in matrix.get_xticklabels()] == LABELS
        assert [t.get_text() for t in matrix.get_yticklabels()] == LABELS
        assert (matrix.get_xlabel(), matrix.get_ylabel()) == ("predicted label", "true label")
        assert matrix.get_title() == "int8 .tflite on the test split: 144 clips, accuracy 61.11 %"
        assert fig._suptitle.get_text() == "ex2_a test"
    finally:
        plt.close(fig)


def test_the_rendered_confusion_cells_have_the_colour_of_their_share():
    """Pixels of the PNG itself: each cell's corner (away from its count) is the Blues colour
    of its share; the diagonal (11 of 18) dark, the rest (1 of 18) pale."""
    plt = pytest.importorskip("matplotlib.pyplot")
    fig = plots.kws_figure(**{**kws_inputs(), "confusion": HAND_CONFUSION})
    image = decode(plots.png(fig))  # lays out, renders at the figure's dpi and closes
    assert plt.get_fignums() == [] and fig.dpi == 100
    matrix = fig.axes[2]
    blues = plt.get_cmap("Blues")
    height = image.shape[0]
    for i in range(8):
        for j in range(8):
            x, y = matrix.transData.transform((j - 0.3, i - 0.3))
            pixel = image[int(round(height - y)), int(round(x)), :3]
            want = blues(11 / 18 if i == j else 1 / 18)[:3]
            np.testing.assert_allclose(pixel, want, atol=2 / 255, err_msg=f"cell {i}, {j}")


def test_forecast_panels_draw_truth_forecast_and_persistence_at_their_times():
    plt = pytest.importorskip("matplotlib.pyplot")
    import matplotlib.dates as mdates

    inputs = forecast_inputs()
    fig = plots.forecast_figure(**inputs)
    try:
        for ax in fig.axes[:3]:  # pruning from epoch 6 to 12, epoch 10 kept
            assert span_of(ax, "pruning") == (5.5, 12.5)
            assert list(lines_of(ax)["kept (epoch 10)"].get_xdata()) == [10, 10]
        for ax, k in zip(fig.axes[3:5], (0, 1)):
            lines = lines_of(ax)
            truth, model, persistence = (
                lines["truth"],
                lines["model forecast"],
                lines["persistence"],
            )
            assert (truth.get_color(), model.get_color(), persistence.get_color()) == (
                "black",
                "tab:blue",
                "tab:orange",
            )
            assert persistence.get_linestyle() == "--"
            # windows an hour apart from 2016-01-01 00:00, their 6 steps 10 minutes apart
            when = mdates.num2date(truth.get_xdata())
            assert [when[i].strftime("%Y-%m-%d %H:%M") for i in (0, 5, 6, 287)] == [
                "2016-01-01 00:00",
                "2016-01-01 00:50",
                "2016-01-01 01:00",
                "2016-01-02 23:50",
            ]
            np.testing.assert_allclose(truth.get_ydata(), inputs["truth"][:, :, k].ravel())
            for line, key in ((model, "forecast"), (persistence, "persistence")):
                segments = np.asarray(line.get_ydata(), float).reshape(
                    48, 7
                )  # each window, then a gap
                np.testing.assert_allclose(segments[:, :6], inputs[key][:, :, k])
                assert np.isnan(segments[:, 6]).all()
                np.testing.assert_allclose(
                    np.asarray(line.get_xdata(), float).reshape(48, 7)[:, :6],
                    np.asarray(truth.get_xdata(), float).reshape(48, 6),
                )
    finally:
        plt.close(fig)


def test_bench_picture_places_each_row_and_limit(monkeypatch):
    """The benchmark picture's axes, caught before rendering: each row with a size a point at
    (kB, value) in its version's colour, persistence a dotted reference line, each version's
    limits dashed lines in its colour."""
    plt = pytest.importorskip("matplotlib.pyplot")
    from matplotlib.colors import to_rgba

    caught, real = [], plots.png
    monkeypatch.setattr(
        plots, "png", lambda fig, rect=(0, 0, 1, 1): caught.append(fig) or real(fig, rect)
    )
    draw(plots.bench_png, **bench_inputs())
    axes = caught[0].axes[:3]
    assert [ax.get_title() for ax in axes] == ["ex1: MAE T", "ex1: MAE RH", "ex2: accuracy (%)"]
    blue, orange = (
        to_rgba(plt.get_cmap("tab10")(0)),
        to_rgba(plt.get_cmap("tab10")(1)),
    )  # ex1_a, ex2_a

    def drawn(ax):
        points = sorted(
            (float(ln.get_xdata()[0]), float(ln.get_ydata()[0]), to_rgba(ln.get_color()))
            for ln in ax.get_lines()
            if ln.get_marker() == "o"
        )
        dashed = sorted(
            (
                tuple(map(float, ln.get_xdata())),
                tuple(map(float, ln.get_ydata())),
                to_rgba(ln.get_color()),
            )
            for ln in ax.get_lines()
            if ln.get_linestyle() == "--"
        )
        dotted = [float(ln.get_ydata()[0]) for ln in ax.get_lines() if ln.get_linestyle() == ":"]
        return points, dashed, dotted, sorted(t.get_text() for t in ax.texts)

    # sizes 2,300 / 1,800 / 21,000 B = 2.246 / 1.758 / 20.51 kB; ex1_a's size limit 2 kB, ex2_a's 25 kB
    assert drawn(axes[0]) == (
        [(1800 / 1024, 0.31, blue), (2300 / 1024, 0.45, blue)],
        [((0.0, 1.0), (0.5, 0.5), blue), ((2.0, 2.0), (0.0, 1.0), blue)],
        [0.6],
        ["ex1_a seed recipe", "ex1_a this project", "persistence (ex1_a)"],
    )
    assert drawn(axes[1]) == (
        [(1800 / 1024, 1.2, blue), (2300 / 1024, 1.9, blue)],
        [((0.0, 1.0), (1.8, 1.8), blue), ((2.0, 2.0), (0.0, 1.0), blue)],
        [2.5],
        ["ex1_a seed recipe", "ex1_a this project", "persistence (ex1_a)"],
    )
    assert drawn(axes[2]) == (
        [(21000 / 1024, 93.0, orange)],
        [((0.0, 1.0), (90.0, 90.0), orange), ((25.0, 25.0), (0.0, 1.0), orange)],
        [],
        ["ex2_a this project"],
    )


def test_forecast_training_panel_has_one_axis_per_quantity_and_titles_say_the_data():
    """loss, MAE T (°C) and MAE RH (%) each on an axis of its own, each drawing only its own
    history; the forecast panels say they show the test split, the MAE of the plotted
    windows and that of the whole test split."""
    plt = pytest.importorskip("matplotlib.pyplot")
    inputs = forecast_inputs()
    inputs["history"]["val_mae_t"] = list(np.linspace(1.0, 0.4, 12))
    inputs["split_mae"] = {
        "model": [0.3717, 2.1092],
        "persistence": [0.5067, 2.5698],
        "windows": 1630,
    }
    fig = plots.forecast_figure(**inputs)
    try:
        training, forecasts = fig.axes[:3], fig.axes[3:]
        assert [ax.get_ylabel() for ax in training] == ["loss", "MAE T (°C)", "MAE RH (%)"]
        for ax, key in zip(training, ("loss", "mae_t", "mae_rh")):
            curves = {
                line.get_label(): list(line.get_ydata())
                for line in ax.get_lines()
                if not line.get_label().startswith("kept")
            }
            expected = {k: v for k, v in inputs["history"].items() if k in (key, "val_" + key)}
            assert sorted(map(sorted, curves.values())) == sorted(map(sorted, expected.values()))
            assert "train and validation" in ax.get_title()
        t, rh = (ax.get_title() for ax in forecasts)
        assert t.startswith("T, test split: 48 consecutive 6-step forecasts from 2016-01-01 00:00")
        assert "MAE on these plotted windows" in t
        assert t.endswith(
            "MAE on the whole test split (1,630 windows): model 0.372 °C, persistence 0.507 °C"
        )
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
    kwargs["history"] = {
        "loss": [1.0, None, float("nan"), 0.5],
        "val_loss": [None, None, None, None],
        "mae_t": [],
        "val_mae_rh": [float("nan")] * 4,
    }
    kwargs["forecast"][0, :, 0] = np.nan
    kwargs["persistence"][:, :, 1] = np.nan  # no finite persistence RH at all: MAE n/a
    draw(plots.forecast_png, **kwargs)


@pytest.mark.parametrize(
    "history", [{}, {"loss": [], "val_loss": []}, {"loss": [0.4], "val_loss": [0.5]}]
)
def test_forecast_empty_or_single_epoch_history(history):
    kwargs = forecast_inputs(n_windows=6)
    draw(
        plots.forecast_png,
        **{
            **kwargs,
            "history": history,
            "kept_epoch": 1 if history.get("loss") else None,
            "pruning": None,
        },
    )


def test_forecast_no_windows():
    empty = np.empty((0, 6, 2))
    draw(
        plots.forecast_png,
        history={},
        kept_epoch=None,
        pruning=None,
        times=None,
        truth=empty,
        forecast=empty,
        persistence=empty,
        title="nothing",
    )


def test_kws_robust_to_empty_rows_and_history():
    confusion = kws_inputs()["confusion"]
    confusion[3] = 0  # a label without clips: no division warning
    draw(
        plots.kws_png,
        history={"loss": [1.0], "accuracy": [None]},
        kept_epoch=1,
        confusion=confusion,
        labels=LABELS,
        title="one epoch",
    )
    draw(
        plots.kws_png,
        history={},
        kept_epoch=None,
        confusion=np.zeros((8, 8), int),
        labels=LABELS,
        title="empty",
    )


def test_bench_robust_to_missing_metrics():
    kwargs = bench_inputs()
    kwargs["rows"].append(
        {
            "version": "ex1_b",
            "label": "failed run",
            "zip_bytes": 3000,
            "mae_t": None,
            "mae_rh": float("nan"),
            "accuracy": None,
        }
    )
    draw(plots.bench_png, **kwargs)
    draw(plots.bench_png, rows=[], limits={}, title="empty")


def test_import_does_not_load_tensorflow():
    code = (
        "import sys; sys.path.insert(0, sys.argv[1]); from common import plots; "
        "plots.bench_png([], {}, title='x'); "
        "assert 'tensorflow' not in sys.modules and 'keras' not in sys.modules, 'tensorflow imported'"
    )
    subprocess.run([sys.executable, "-c", code, str(ROOT)], check=True, timeout=60)
