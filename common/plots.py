"""Pictures of a run: training curves (with the kept epoch and the pruning span) next to a week of
temperature/humidity forecasts against the truth and the persistence baseline (exercise 1), or
next to the confusion matrix (exercise 2), and one size-against-quality summary of the benchmark.
Every function returns the PNG bytes (Agg backend, deterministic: no version or date inside) and
writes no file, so that the caller can write the picture together with its other outputs.
"""

import io

import numpy as np

STEP_MINUTES = 10  # the forecast steps are 10 minutes apart
_MODEL, _PERSIST, _TRUTH = "tab:blue", "tab:orange", "black"
_OUTSIDE = {"loc": "upper left", "bbox_to_anchor": (1.01, 1.0)}  # legend right of the axes


def pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def png(fig, rect=(0, 0, 1, 1)):
    """Lay out (inside `rect`), render and close `fig`; return the PNG bytes."""
    plt = pyplot()
    try:
        fig.tight_layout(rect=rect)
        buf = io.BytesIO()
        fig.savefig(buf, format="png", dpi=100, metadata={"Software": None})
        return buf.getvalue()
    finally:
        plt.close(fig)


def _floats(values):
    """A list that may hold None -> float array with NaN."""
    return np.asarray(
        [np.nan if v is None else v for v in ([] if values is None else values)], dtype=float
    )


def _mean(values):
    """Mean of the finite values, NaN (and no warning) when there are none."""
    values = np.asarray(values, dtype=float)
    finite = values[np.isfinite(values)]
    return float(finite.mean()) if finite.size else float("nan")


def _fmt(value, spec):
    return "n/a" if not np.isfinite(value) else format(value, spec)


def _curves(
    ax, history, pairs, *, kept_epoch, pruning, ylabel, scale=1.0, log=False, legend_at=(), qat=None
):
    """Per-epoch curves of (name, train key) pairs, each with its `val_` key dashed in the same
    colour; the kept epoch as a vertical line, the pruning and quantization-aware spans shaded."""
    drawn = []
    for colour, (name, key) in zip(("tab:blue", "tab:green", "tab:red"), pairs):
        for prefix, style in (("", "-"), ("val_", "--")):
            y = _floats((history or {}).get(prefix + key)) * scale
            if y.size:
                ax.plot(
                    np.arange(1, y.size + 1),
                    y,
                    color=colour,
                    linestyle=style,
                    markersize=3,
                    marker="o" if y.size <= 20 else None,
                    label=f"{name} ({'val' if prefix else 'train'})",
                )
                drawn.append(y[np.isfinite(y)])
    if pruning is not None:
        ax.axvspan(
            pruning[0] - 0.5, pruning[1] + 0.5, color="tab:purple", alpha=0.12, label="pruning"
        )
    if qat is not None:
        ax.axvspan(
            qat[0] - 0.5, qat[1] + 0.5, color="tab:orange", alpha=0.15, label="quantization-aware"
        )
    if kept_epoch is not None:
        ax.axvline(kept_epoch, color="black", linestyle=":", label=f"kept (epoch {kept_epoch})")
    values = np.concatenate(drawn) if drawn else np.empty(0)
    if log and values.size and (values > 0).all():
        ax.set_yscale("log")
    if not values.size:
        ax.text(
            0.5, 0.5, "no history", ha="center", va="center", transform=ax.transAxes, color="grey"
        )
    ax.set_xlabel("epoch")
    ax.set_ylabel(ylabel)
    ax.grid(alpha=0.3)
    if ax.get_legend_handles_labels()[0]:
        ax.legend(fontsize=8, **dict(legend_at))


def _segments(x, y):
    """[N, 6] x and y -> flat arrays with a NaN after each window, for one plot call."""
    pad = np.full((x.shape[0], 1), np.nan)
    return np.hstack([x, pad]).ravel(), np.hstack([y, pad]).ravel()


def forecast_figure(
    history, *, kept_epoch, pruning, times, truth, forecast, persistence, title, split_mae=None
):
    """The figure of forecast_png (open: the caller renders and closes it)."""
    plt = pyplot()
    import matplotlib.dates as mdates

    truth, forecast, persistence = (
        np.asarray(a, dtype=float).reshape(-1, 6, 2) for a in (truth, forecast, persistence)
    )
    n = truth.shape[0]
    steps = np.arange(6)
    stamps = None if times is None else np.asarray(times)
    if stamps is not None and stamps.dtype.kind == "M":
        x = mdates.date2num(stamps[:, None] + steps * np.timedelta64(STEP_MINUTES, "m"))
    elif stamps is not None:
        x = stamps.astype(float)[:, None] + steps
    else:
        x = np.arange(n)[:, None] * 6.0 + steps
    x = x.reshape(n, 6)
    fig = plt.figure(figsize=(14, 12))
    grid = fig.add_gridspec(3, 3, height_ratios=[1, 1.25, 1.25])
    marks = {"kept_epoch": kept_epoch, "pruning": pruning}
    for col, (label, key, unit, log) in enumerate(
        (
            ("loss", "loss", "loss", True),
            ("MAE T", "mae_t", "MAE T (°C)", False),
            ("MAE RH", "mae_rh", "MAE RH (%)", False),
        )
    ):
        ax = fig.add_subplot(grid[0, col])
        _curves(ax, history, [(label, key)], ylabel=unit, log=log, **marks)
        ax.set_title(f"{label}: train and validation splits, per epoch", fontsize=10)
    span = ""
    if stamps is not None and stamps.dtype.kind == "M" and n:
        span = f" from {np.datetime_as_string(stamps[0], unit='m').replace('T', ' ')}"
    for row, k, name, unit in ((1, 0, "T", "°C"), (2, 1, "RH", "%")):
        ax = fig.add_subplot(grid[row, :])
        ax.plot(x.ravel(), truth[:, :, k].ravel(), color=_TRUTH, linewidth=1.0, label="truth")
        ax.plot(
            *_segments(x, persistence[:, :, k]),
            color=_PERSIST,
            linewidth=1.5,
            linestyle="--",
            label="persistence",
        )
        ax.plot(
            *_segments(x, forecast[:, :, k]), color=_MODEL, linewidth=1.5, label="model forecast"
        )
        mae_model = _mean(np.abs(forecast[:, :, k] - truth[:, :, k]))
        mae_persist = _mean(np.abs(persistence[:, :, k] - truth[:, :, k]))
        text = (
            f"{name}, test split: {n} consecutive 6-step forecasts{span}; MAE on these plotted "
            f"windows: model {_fmt(mae_model, '.3f')} {unit}, persistence {_fmt(mae_persist, '.3f')} {unit}"
        )
        if split_mae:
            text += (
                f"\nMAE on the whole test split ({split_mae['windows']:,} windows): model "
                f"{_fmt(split_mae['model'][k], '.3f')} {unit}, persistence "
                f"{_fmt(split_mae['persistence'][k], '.3f')} {unit}"
            )
        ax.set_title(text, fontsize=10)
        ax.set_ylabel(f"{name} ({unit})")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8, **_OUTSIDE)
        if stamps is not None and stamps.dtype.kind == "M":
            locator = mdates.AutoDateLocator()
            ax.xaxis.set_major_locator(locator)
            ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator))
        else:
            ax.set_xlabel(f"step ({STEP_MINUTES} min)")
    fig.suptitle(title)
    return fig


def forecast_png(history, **kwargs) -> bytes:
    """Training curves (loss, MAE T, MAE RH: one axis each, train and validation), then T and
    RH: truth, model forecasts and persistence of N_w windows of the test split ([N_w, 6, 2]
    arrays), titled with the MAE of those plotted windows and, given `split_mae` ({model:
    [T, RH], persistence: [T, RH], windows: N}), of the whole test split; `times[i]`
    (datetime64, or None for step indices) is placed at the first forecast step of window i."""
    return png(forecast_figure(history, **kwargs))


def kws_figure(history, *, kept_epoch, confusion, labels, title, qat=None):
    """The figure of kws_png (open: the caller renders and closes it)."""
    plt = pyplot()
    fig, axes = plt.subplots(1, 3, figsize=(16, 5.5), gridspec_kw={"width_ratios": [1, 1, 1.15]})
    marks = {"kept_epoch": kept_epoch, "pruning": None, "qat": qat}
    _curves(axes[0], history, [("loss", "loss")], ylabel="loss", log=True, **marks)
    axes[0].set_title("loss: train and validation splits", fontsize=10)
    _curves(
        axes[1], history, [("accuracy", "accuracy")], ylabel="accuracy (%)", scale=100.0, **marks
    )
    axes[1].set_title("accuracy (Keras model): train and validation splits", fontsize=10)
    conf = np.asarray(confusion, dtype=float).reshape(len(labels), len(labels))
    rows = conf.sum(axis=1, keepdims=True)
    share = np.divide(conf, rows, out=np.zeros_like(conf), where=rows > 0)
    ax = axes[2]
    image = ax.imshow(
        share, cmap="Blues", vmin=0.0, vmax=1.0, aspect="auto"
    )  # auto: exact tight_layout
    fig.colorbar(image, ax=ax, fraction=0.046, pad=0.04, label="share of the true label's row")
    for (i, j), count in np.ndenumerate(conf):
        ax.text(
            j,
            i,
            f"{count:.0f}",
            ha="center",
            va="center",
            fontsize=8,
            color="white" if share[i, j] > 0.5 else "black",
        )
    ax.set_xticks(range(len(labels)), labels, rotation=45, ha="right")
    ax.set_yticks(range(len(labels)), labels)
    ax.set_xlabel("predicted label")
    ax.set_ylabel("true label")
    total = conf.sum()
    accuracy = np.trace(conf) / total * 100 if total > 0 else float("nan")
    ax.set_title(
        f"int8 .tflite on the test split: {total:.0f} clips, accuracy {_fmt(accuracy, '.2f')} %",
        fontsize=10,
    )
    fig.suptitle(title)
    return fig


def kws_png(history, **kwargs) -> bytes:
    """Loss and accuracy curves (train and validation splits), and the int8 model's test
    confusion matrix (rows true, columns predicted)."""
    return png(kws_figure(history, **kwargs))


_BENCH_PANELS = (
    ("ex1: MAE T", "mae_t", "MAE T (°C)", 1.0),
    ("ex1: MAE RH", "mae_rh", "MAE RH (%)", 1.0),
    ("ex2: accuracy (%)", "accuracy", "accuracy (%)", 100.0),
)
_NEAR = (
    (6, 4),
    (6, -4),
    (-6, 4),
    (-6, -4),
    (6, 14),
    (6, -14),
    (-6, 14),
    (-6, -14),
)  # offsets (points)


def _place(fig, ax, notes):
    """Annotate each (text, xy, colour) beside its point at the first offset of _NEAR where it
    overlaps no earlier note and stays inside the axes (else at the last offset tried)."""
    renderer = fig.canvas.get_renderer()
    ax.get_xlim(), ax.get_ylim()  # autoscale now, before measuring
    inside, placed = ax.get_window_extent(renderer), []
    for text, xy, colour in notes:
        for i, (dx, dy) in enumerate(_NEAR):
            note = ax.annotate(
                text,
                xy,
                xytext=(dx, dy),
                textcoords="offset points",
                fontsize=8,
                color=colour,
                ha="left" if dx > 0 else "right",
                va="bottom" if dy > 0 else "top",
            )
            note.set_in_layout(False)
            box = note.get_window_extent(renderer)
            fits = (
                inside.x0 <= box.x0
                and box.x1 <= inside.x1
                and inside.y0 <= box.y0
                and box.y1 <= inside.y1
                and not any(box.overlaps(other) for other in placed)
            )
            if fits or i == len(_NEAR) - 1:
                placed.append(box)
                break
            note.remove()


def bench_png(rows, limits, *, title) -> bytes:
    """Zipped size (kB) against MAE T, MAE RH and accuracy, one point per row with a size, each
    annotated; rows without a size (persistence) are grey dotted reference lines (equal ones
    merged); each version's limits are dashed lines in the version's colour."""
    plt = pyplot()
    from matplotlib.lines import Line2D

    limits = limits or {}
    versions = sorted({r["version"] for r in rows} | set(limits))
    colour = {v: plt.get_cmap("tab10")(i % 10) for i, v in enumerate(versions)}
    fig, axes = plt.subplots(1, 3, figsize=(16, 6))
    panel_notes = []
    for ax, (name, key, ylabel, scale) in zip(axes, _BENCH_PANELS):
        notes, references = [], {}
        for row in rows:
            if row.get(key) is None or not np.isfinite(row[key]):
                continue
            v, y = row["version"], row[key] * scale
            if row.get("zip_bytes") is None:
                references.setdefault((row["label"], round(y, 9)), []).append(v)
            else:
                ax.plot(row["zip_bytes"] / 1024, y, "o", color=colour[v])
                notes.append((f"{v} {row['label']}", (row["zip_bytes"] / 1024, y), colour[v]))
        for (label, y), where in references.items():
            ax.axhline(y, color="grey", linestyle=":", linewidth=1.5)
            ax.annotate(
                f"{label} ({', '.join(where)})",
                (0.01, y),
                xycoords=("axes fraction", "data"),
                xytext=(0, 3),
                textcoords="offset points",
                fontsize=8,
                color="dimgrey",
            )
        for v in versions:
            lim = limits.get(v, {})
            if key in lim:
                ax.axhline(lim[key] * scale, color=colour[v], linestyle="--", linewidth=1)
                if lim.get("zip_bytes") is not None:
                    ax.axvline(
                        lim["zip_bytes"] / 1024, color=colour[v], linestyle="--", linewidth=1
                    )
        if notes or references or ax.lines:
            ax.margins(x=0.25, y=0.15)
        else:
            ax.text(
                0.5, 0.5, "no data", ha="center", va="center", transform=ax.transAxes, color="grey"
            )
        ax.set_title(name)
        ax.set_xlabel("zipped size (kB, 1 kB = 1024 B)")
        ax.set_ylabel(ylabel)
        ax.grid(alpha=0.3)
        panel_notes.append(notes)
    handles = [Line2D([], [], color=colour[v], marker="o", linestyle="", label=v) for v in versions]
    handles += [
        Line2D([], [], color="grey", linestyle="--", label="limit (version colour)"),
        Line2D([], [], color="grey", linestyle=":", label="reference without size"),
    ]
    fig.legend(
        handles=handles,
        loc="upper center",
        bbox_to_anchor=(0.5, 0.95),
        ncol=len(handles),
        fontsize=9,
    )
    fig.suptitle(title)
    rect = (0, 0, 1, 0.9)
    fig.tight_layout(rect=rect)  # final axes positions before the notes are placed
    for ax, notes in zip(axes, panel_notes):
        _place(fig, ax, notes)
    return png(fig, rect)
