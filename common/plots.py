"""Pictures of a run (training curves, forecasts or confusion matrix), as deterministic PNG bytes."""

import io

import numpy as np

STEP_MINUTES = 10  # the forecast steps are 10 minutes apart


def pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def png(fig, rect=(0, 0, 1, 1)):
    """Lay out (inside `rect`), render and close `fig`; return the PNG bytes."""
    try:
        fig.tight_layout(rect=rect)
        buf = io.BytesIO()
        fig.savefig(buf, format="png", dpi=100, metadata={"Software": None})
        return buf.getvalue()
    finally:
        pyplot().close(fig)


def _mean(values):
    """Mean of the finite values, NaN (and no warning) when there are none."""
    finite = values[np.isfinite(values)]
    return float(finite.mean()) if finite.size else float("nan")


def _fmt(value, spec):
    return format(value, spec) if np.isfinite(value) else "n/a"


def _curves(ax, history, name, key, title, ylabel, marks, scale=1.0):
    """Train and (dashed) validation curves of a history key (loss: log scale), and `marks`."""
    drawn = []
    for prefix, style in (("", "-"), ("val_", "--")):
        values = np.asarray(history.get(prefix + key, []), dtype=float) * scale
        if values.size:
            x, label = np.arange(1, values.size + 1), f"{name} ({'val' if prefix else 'train'})"
            kw = {"color": "tab:blue", "linestyle": style, "markersize": 3, "label": label}
            ax.plot(x, values, marker="o" if values.size <= 20 else None, **kw)
            drawn.append(values[np.isfinite(values)])
    for span, colour, alpha, label in (
        (marks.get("pruning"), "tab:purple", 0.12, "pruning"),
        (marks.get("qat"), "tab:orange", 0.15, "quantization-aware"),
    ):
        if span is not None:
            ax.axvspan(span[0] - 0.5, span[1] + 0.5, color=colour, alpha=alpha, label=label)
    if (kept := marks["kept_epoch"]) is not None:
        ax.axvline(kept, color="black", linestyle=":", label=f"kept (epoch {kept})")
    drawn = np.concatenate(drawn) if drawn else np.empty(0)
    if key == "loss" and drawn.size and (drawn > 0).all():
        ax.set_yscale("log")
    if not drawn.size:
        _empty(ax, "no history")
    ax.set_title(title, fontsize=10)
    ax.set(xlabel="epoch", ylabel=ylabel)
    ax.grid(alpha=0.3)
    if ax.get_legend_handles_labels()[0]:
        ax.legend(fontsize=8)


def _empty(ax, text):
    ax.text(0.5, 0.5, text, ha="center", va="center", transform=ax.transAxes, color="grey")


def _maes(model, persistence, unit):
    return f"model {_fmt(model, '.3f')} {unit}, persistence {_fmt(persistence, '.3f')} {unit}"


def forecast_figure(
    history, *, kept_epoch, pruning, times, truth, forecast, persistence, title, split_mae=None
):
    """The open figure of forecast_png."""
    plt = pyplot()
    import matplotlib.dates as mdates

    truth, forecast, persistence = (
        np.asarray(a, dtype=float).reshape(-1, 6, 2) for a in (truth, forecast, persistence)
    )
    n, steps, span = truth.shape[0], np.arange(6), ""
    if times is None:
        x = np.arange(n)[:, None] * 6.0 + steps
    else:  # each window's time, at its first step
        times = np.asarray(times)  # datetime64
        x = mdates.date2num(times[:, None] + steps * np.timedelta64(STEP_MINUTES, "m"))
        span = f" from {np.datetime_as_string(times[0], unit='m').replace('T', ' ')}" if n else ""
    fig = plt.figure(figsize=(14, 12))
    grid = fig.add_gridspec(3, 3, height_ratios=[1, 1.25, 1.25])
    marks = {"kept_epoch": kept_epoch, "pruning": pruning}
    curves = (
        ("loss", "loss", "loss"),
        ("MAE T", "mae_t", "MAE T (°C)"),
        ("MAE RH", "mae_rh", "MAE RH (%)"),
    )
    for col, (name, key, ylabel) in enumerate(curves):
        heading = f"{name}: train and validation splits, per epoch"
        _curves(fig.add_subplot(grid[0, col]), history, name, key, heading, ylabel, marks)
    pad = np.full((x.shape[0], 1), np.nan)  # a NaN after each window: one plot call for all
    for row, k, name, unit in ((1, 0, "T", "°C"), (2, 1, "RH", "%")):
        ax = fig.add_subplot(grid[row, :])
        ax.plot(x.ravel(), truth[:, :, k].ravel(), color="black", linewidth=1.0, label="truth")
        for values, colour, style, label in (
            (persistence, "tab:orange", "--", "persistence"),
            (forecast, "tab:blue", "-", "model forecast"),
        ):
            segments = np.hstack([x, pad]).ravel(), np.hstack([values[:, :, k], pad]).ravel()
            ax.plot(*segments, color=colour, linewidth=1.5, linestyle=style, label=label)
        above = forecast[:, :, k] > 100 if name == "RH" else np.zeros_like(x, bool)
        if above.any():  # a relative humidity over 100 % cannot be: marked, not clipped
            ax.axhline(100, color="red", linewidth=0.8, linestyle=":", label="100 %")
            n_above = f"forecast above 100 % ({above.sum()} of {above.size} steps)"
            ax.plot(x[above], forecast[:, :, k][above], "x", color="red", label=n_above)
        plotted = (_mean(np.abs(a[:, :, k] - truth[:, :, k])) for a in (forecast, persistence))
        text = (
            f"{name}, test split: {n} consecutive 6-step forecasts{span}; "
            f"MAE on these plotted windows: {_maes(*plotted, unit)}"
        )
        if split_mae:
            whole = _maes(split_mae["model"][k], split_mae["persistence"][k], unit)
            text += f"\nMAE on the whole test split ({split_mae['windows']:,} windows): {whole}"
        ax.set_title(text, fontsize=10)
        ax.set_ylabel(f"{name} ({unit})")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0))  # right of the axes
        if times is not None:
            locator = mdates.AutoDateLocator()
            ax.xaxis.set_major_locator(locator)
            ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator))
        else:
            ax.set_xlabel(f"step ({STEP_MINUTES} min)")
    fig.suptitle(title)
    return fig


def forecast_png(history, **kwargs) -> bytes:
    """Training curves, then T and RH of [N, 6, 2] test windows: truth, forecasts, persistence."""
    return png(forecast_figure(history, **kwargs))


def kws_figure(history, *, kept_epoch, confusion, labels, title, qat=None):
    """The open figure of kws_png."""
    plt = pyplot()
    fig, axes = plt.subplots(1, 3, figsize=(16, 5.5), gridspec_kw={"width_ratios": [1, 1, 1.15]})
    marks = {"kept_epoch": kept_epoch, "qat": qat}
    heading = "loss: train and validation splits"
    _curves(axes[0], history, "loss", "loss", heading, "loss", marks)
    heading = "accuracy (Keras model): train and validation splits"
    _curves(axes[1], history, "accuracy", "accuracy", heading, "accuracy (%)", marks, scale=100.0)
    conf = np.asarray(confusion, dtype=float).reshape(len(labels), len(labels))
    rows = conf.sum(axis=1, keepdims=True)
    share = np.divide(conf, rows, out=np.zeros_like(conf), where=rows > 0)
    ax = axes[2]
    image = ax.imshow(share, cmap="Blues", vmin=0.0, vmax=1.0, aspect="auto")  # exact layout
    fig.colorbar(image, ax=ax, fraction=0.046, pad=0.04, label="share of the true label's row")
    for (i, j), count in np.ndenumerate(conf):
        colour = "white" if share[i, j] > 0.5 else "black"
        ax.text(j, i, f"{count:.0f}", ha="center", va="center", fontsize=8, color=colour)
    ax.set_xticks(range(len(labels)), labels, rotation=45, ha="right")
    ax.set_yticks(range(len(labels)), labels)
    ax.set(xlabel="predicted label", ylabel="true label")
    total = conf.sum()
    accuracy = np.trace(conf) / total * 100 if total > 0 else float("nan")
    clips = f"{total:.0f} clips, accuracy {_fmt(accuracy, '.2f')} %"
    ax.set_title(f"int8 .tflite on the test split: {clips}", fontsize=10)
    fig.suptitle(title)
    return fig


def kws_png(history, **kwargs) -> bytes:
    """Loss and accuracy curves, and the int8 model's test confusion matrix (rows: true)."""
    return png(kws_figure(history, **kwargs))
