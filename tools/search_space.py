"""What the constraint search (tools/search.py) may change in each keyword-spotting version, and
the bounds a candidate must meet. No TensorFlow import."""

from common.constraints import KB, entry
from common.frontend_np import FrontEnd

# The project's targets, tighter than the homework's limits (issues 4 and 14): ex2_a: bytes of
# the .tflite.zip; ex2_b: host invoke p50 as a fraction of the original report's DS-CNN's; ex2_c:
# total latency as a fraction of the course way's (TensorFlow front end + its 8 kHz model).
TARGETS = {
    "ex2_a": {"zip_bytes": 15 * KB},
    "ex2_b": {"invoke_ratio": 0.5},
    "ex2_c": {"total_ratio": 0.5},
}
RATE = {"ex2_a": 16000, "ex2_b": 16000, "ex2_c": 8000}  # c is the 8 kHz version by definition
WIDTHS = (24, 32, 40, 48, 56, 64, 72, 80, 96, 112, 128)


def max_zip_bytes(version):
    """The size bound of a candidate: the homework's limit or the project's target."""
    return min(entry(version).limits["zip_bytes"], TARGETS[version].get("zip_bytes", 1e12))


def kws_candidate(trial, version, epochs=None, qat_epochs=None):
    """The trial's KWSVersion (`epochs` and `qat_epochs`, if given, fix its epochs and its
    quantization-aware epochs: a smoke test)."""
    from common.kws import KWSVersion

    ms = RATE[version] // 1000
    frontend = FrontEnd(
        rate=RATE[version],
        frame_length=ms * trial.suggest_categorical("frame_ms", [30, 40]),
        frame_step=ms * trial.suggest_categorical("step_ms", [16, 20]),
        num_mel_bins=trial.suggest_categorical("mel_bins", [20, 32, 40]),
        num_coefficients=trial.suggest_categorical("coefficients", [8, 10, 13]),
    )
    padding = trial.suggest_categorical("padding", ["valid", "same"])
    # each unpadded 3x3 conv takes 2 coefficients; padded ones keep them
    room = (frontend.num_coefficients - 3) // 2 if padding == "valid" else 6
    extra = trial.suggest_int("extra_depthwise", 0, min(2, room - 1))
    depth = trial.suggest_int("blocks", 1, min(3 if padding == "valid" else 4, room - extra))
    first = trial.suggest_categorical("first_width", WIDTHS)
    width = trial.suggest_categorical("block_width", WIDTHS)
    augment = {
        "shift_ms": trial.suggest_categorical("shift_ms", [0, 50, 100]),
        "gain_db": trial.suggest_categorical("gain_db", [0, 6, 10]),
    }
    return KWSVersion(
        version,
        frontend,
        filters=(first,) + (width,) * depth,
        extra_depthwise=extra,
        first_stride=(trial.suggest_categorical("time_stride", [1, 2, 4]), 1),
        epochs=epochs or trial.suggest_categorical("epochs", [20, 30, 40]),
        qat_epochs=(
            trial.suggest_categorical("qat_epochs", [0, 5]) if qat_epochs is None else qat_epochs
        ),
        dropout=trial.suggest_categorical("dropout", [0.0, 0.1, 0.2]),
        weight_decay=trial.suggest_categorical("weight_decay", [0.0, 1e-4, 1e-3]),
        padding=padding,
        augment={k: v for k, v in augment.items() if v} or None,
        stem=f"search_{version}",
    )


def feature_map(spec):
    """(rows, columns) of the DS-CNN's last feature map: every 3x3 conv is unpadded."""
    rows, cols = spec.frontend.input_shape[:2]
    rows = (rows - 3) // spec.first_stride[0] + 1
    cols = (cols - 3) // spec.first_stride[1] + 1
    shrink = 0 if spec.padding == "same" else 2 * (spec.extra_depthwise + len(spec.filters) - 1)
    return rows - shrink, cols - shrink


def declaration(spec):
    """The Python a script would declare for this candidate."""
    f = spec.frontend
    return (
        f'VERSION = KWSVersion(\n    "{spec.version}", FrontEnd(rate={f.rate}, '
        f"frame_length={f.frame_length}, frame_step={f.frame_step}, "
        f"num_mel_bins={f.num_mel_bins}, num_coefficients={f.num_coefficients}),\n"
        f"    filters={tuple(spec.filters)}, extra_depthwise={spec.extra_depthwise}, "
        f"first_stride={tuple(spec.first_stride)}, epochs={spec.epochs},\n"
        f"    augment={spec.augment}, qat_epochs={spec.qat_epochs},\n"
        f"    dropout={spec.dropout}, weight_decay={spec.weight_decay}, "
        f"padding={spec.padding!r})"
    )
