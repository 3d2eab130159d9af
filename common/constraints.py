"""The one table of the homework's constraints, and the verdict against it.

Sizes are of the `.tflite.zip` file, kB = 1024 B. All limits are strict (measured < limit),
except accuracy which must be strictly greater. Latency limits are defined on a Raspberry Pi:
they are reported, never checked against a host measurement.
"""

KB = 1024

# version -> {metric: limit}. Keys: mae_t / mae_rh in degC / %, accuracy in [0, 1],
# zip_bytes in bytes, pi_* in milliseconds on the Raspberry Pi.
LIMITS = {
    "ex1_a": {"mae_t": 0.5, "mae_rh": 1.8, "zip_bytes": 2 * KB},
    "ex1_b": {"mae_t": 0.6, "mae_rh": 1.9, "zip_bytes": 1.7 * KB},
    "ex2_a": {"accuracy": 0.90, "zip_bytes": 25 * KB},
    "ex2_b": {"accuracy": 0.90, "zip_bytes": 35 * KB, "pi_inference_ms": 1.5},
    "ex2_c": {"accuracy": 0.90, "zip_bytes": 45 * KB, "pi_total_ms": 40.0},
}

HIGHER_IS_BETTER = {"accuracy"}
ON_PI_ONLY = {"pi_inference_ms", "pi_total_ms"}


def check(version, measured):
    """Rows (metric, measured value or None, op, limit, passed or None) for `version`.

    `measured` maps metric names to values; Pi-only limits get passed=None (not checked here).
    A metric that the table names but `measured` lacks is a failure, not a silent pass.
    """
    if version not in LIMITS:
        raise KeyError(f"unknown version {version!r}; expected one of {sorted(LIMITS)}")
    rows = []
    for metric, limit in LIMITS[version].items():
        value = measured.get(metric)
        if metric in ON_PI_ONLY:
            rows.append((metric, value, "<", limit, None))
        elif metric in HIGHER_IS_BETTER:
            rows.append((metric, value, ">", limit, value is not None and value > limit))
        else:
            rows.append((metric, value, "<", limit, value is not None and value < limit))
    return rows


def passed(rows):
    """True when every checked row passed (Pi-only rows are not checked)."""
    return all(ok for *_, ok in rows if ok is not None)


def format_verdict(version, rows, notes=()):
    """A readable PASS/FAIL table."""
    def fmt(metric, v):
        if v is None:
            return "-"
        if metric == "accuracy":
            return f"{100 * v:.2f} %"
        if metric == "zip_bytes":
            return f"{v:,.0f} B"
        if metric.startswith("pi_"):
            return f"{v:.2f} ms"
        return f"{v:.4f}"

    lines = [f"Verdict for {version}", f"  {'metric':<16}{'measured':>14}  {'limit':>14}  result"]
    for metric, value, op, limit, ok in rows:
        result = "n/a (Pi only)" if ok is None else ("PASS" if ok else "FAIL")
        lines.append(f"  {metric:<16}{fmt(metric, value):>14}  {op} {fmt(metric, limit):>12}  {result}")
    lines.extend(f"  note: {n}" for n in notes)
    lines.append(f"  => {'PASS' if passed(rows) else 'FAIL'}")
    return "\n".join(lines)
