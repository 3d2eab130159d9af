"""The five versions of the homework in one table (script, output name, limits), and the
verdict of a run against the limits of its version.

The scripts, the tools and the verdict all read TABLE; nothing else lists the versions. Sizes
are of the `.tflite.zip` file, kB = 1024 B. Quality limits are in °C / % (mae_t, mae_rh) or a
fraction (accuracy); pi_* limits are milliseconds on a Raspberry Pi. Each limit gets one of three results:
- "pass" / "fail": the limit is assessable on this run and the measured value meets it or not;
- "not assessable", with its reason: the limit is defined on data or hardware this run does
  not have (quality limits on the full official datasets, latency limits on a Raspberry Pi).
All limits are strict (measured < limit) except accuracy, which must be strictly greater.
`passed` is true when every assessable limit passes: exit status 0; a failed one: 2.
"""

import dataclasses

KB = 1024


@dataclasses.dataclass(frozen=True)
class Entry:
    version: str  # "ex1_a"
    name: str  # output file stem: th_a -> th_a.tflite, th_a.tflite.zip, th_a.json, th_a.png
    limits: dict  # metric -> limit

    @property
    def script(self):
        return f"{self.version}.py"

    @property
    def letter(self):
        return self.version.rsplit("_", 1)[1]

    @property
    def exercise(self):
        return self.version.rsplit("_", 1)[0]


TABLE = (
    Entry("ex1_a", "th_a", {"mae_t": 0.5, "mae_rh": 1.8, "zip_bytes": 2 * KB}),
    Entry("ex1_b", "th_b", {"mae_t": 0.6, "mae_rh": 1.9, "zip_bytes": 1.7 * KB}),
    Entry("ex2_a", "kws_a", {"accuracy": 0.90, "zip_bytes": 25 * KB}),
    Entry("ex2_b", "kws_b", {"accuracy": 0.90, "zip_bytes": 35 * KB, "pi_inference_ms": 1.5}),
    Entry("ex2_c", "kws_c", {"accuracy": 0.90, "zip_bytes": 45 * KB, "pi_total_ms": 40.0}),
)
VERSIONS = {e.version: e for e in TABLE}


def entry(version):
    if version not in VERSIONS:
        raise KeyError(f"unknown version {version!r}; expected one of {sorted(VERSIONS)}")
    return VERSIONS[version]


def of_exercise(exercise):
    """The entries of 'ex1' or 'ex2', in table order."""
    return [e for e in TABLE if e.exercise == exercise]


HIGHER_IS_BETTER = {"accuracy"}
PASS, FAIL, NOT_ASSESSABLE = "pass", "fail", "not assessable"
EXIT_PASSED, EXIT_ERROR, EXIT_LIMIT_MISSED, EXIT_INTERRUPTED = 0, 1, 2, 130


def fmt(metric, value):
    """A value in the verdict table's units, e.g. the limits: '90.00 %', '2,048 B', '0.5000 °C', '1.50 ms'."""
    if value is None:
        return "-"
    if metric.startswith("accuracy"):
        return f"{100 * value:.2f} %"
    if metric == "zip_bytes":
        return f"{value:,.0f} B" if value == int(value) else f"{value:,.1f} B"
    if metric.startswith("pi_"):
        return f"{value:.2f} ms"
    if metric == "mae_t":
        return f"{value:.4f} °C"
    if metric == "mae_rh":
        return f"{value:.4f} %"
    return f"{value:.4f}"


def meets(metric, value, limit):
    return value > limit if metric in HIGHER_IS_BETTER else value < limit


def verdict(version_entry, measured, unassessable=None):
    """{metric: {"result", "measured", "limit", "reason"}} for every limit of a version (its
    Entry of the table).

    `measured`: metric -> value (a missing or None value of an assessable limit fails);
    `unassessable`: metric -> reason, for limits this run cannot assess.
    """
    unassessable = unassessable or {}
    out = {}
    for metric, limit in version_entry.limits.items():
        value = measured.get(metric)
        if metric in unassessable:
            result, reason = NOT_ASSESSABLE, unassessable[metric]
        elif value is None:
            result, reason = FAIL, "not measured"
        else:
            result, reason = (PASS if meets(metric, value, limit) else FAIL), None
        out[metric] = {"result": result, "measured": value, "limit": limit, "reason": reason}
    return out


def passed(rows):
    """True when every assessable limit passes."""
    return all(r["result"] != FAIL for r in rows.values())


def exit_status(rows):
    return EXIT_PASSED if passed(rows) else EXIT_LIMIT_MISSED


def op(metric):
    return ">" if metric in HIGHER_IS_BETTER else "<"


NAMES = {
    "mae_t": "MAE T",
    "mae_rh": "MAE RH",
    "accuracy": "accuracy",
    "zip_bytes": "size",
    "pi_inference_ms": "Pi inference latency",
    "pi_total_ms": "Pi total latency",
}


def name(metric):
    return NAMES.get(metric, metric)


def result_text(metric, r):
    """The table's result column: a not-assessable limit also says whether this run's value
    would meet it, so that nobody reads it as passed."""
    if r["result"] != NOT_ASSESSABLE or r["measured"] is None:
        return r["result"]
    side = "meets" if meets(metric, r["measured"], r["limit"]) else "MISSES"
    return f"not assessable (this run's value {side} it)"


def format_verdict(version, rows, also=(), notes=()):
    """The verdict table: one line per limit (a not-assessable one with its measured value
    beside the limit), then `also` ((name, text) measured without a limit: baselines, other
    splits), the reasons of the not-assessable limits, `notes`, and the headline."""
    lines = [f"Verdict for {version}", f"  {'metric':<26}{'measured':>20}  {'limit':>14}  result"]
    for metric, r in rows.items():
        lines.append(
            f"  {metric:<26}{fmt(metric, r['measured']):>20}  {op(metric)} "
            f"{fmt(metric, r['limit']):>12}  {result_text(metric, r)}"
        )
    for label, text in also:
        lines.append(f"  {label:<26}{text:>20}  {'(no limit)':>14}")
    reasons = {}
    for metric, r in rows.items():
        if r["reason"]:
            reasons.setdefault((r["result"], r["reason"]), []).append(metric)
    for (result, reason), metrics in reasons.items():
        lines.append(f"  {', '.join(metrics)}: {result}: {reason}")
    lines.extend(f"  note: {n}" for n in notes)
    lines.append(f"  => {summary_line(rows)}")
    return "\n".join(lines)


def summary_line(rows):
    """The headline, whose first word cannot be misread: FAIL (a limit missed; exit status
    2), INCOMPLETE (none missed, but a limit could not be assessed on this data or host;
    exit status 0) or PASS (every limit assessed and met). Values in the table's units."""
    failed = [
        f"{name(m)} {fmt(m, r['measured'])} (limit {op(m)} {fmt(m, r['limit'])})"
        for m, r in rows.items()
        if r["result"] == FAIL
    ]
    passed_ = [name(m) for m, r in rows.items() if r["result"] == PASS]
    on_data = [
        name(m)
        for m, r in rows.items()
        if r["result"] == NOT_ASSESSABLE and not m.startswith("pi_")
    ]
    on_pi = [
        name(m) for m, r in rows.items() if r["result"] == NOT_ASSESSABLE and m.startswith("pi_")
    ]
    open_ = ([f"{', '.join(on_data)} not assessable on this data"] if on_data else []) + (
        [f"{', '.join(on_pi)} not assessable off a Raspberry Pi"] if on_pi else []
    )
    ok = [f"{', '.join(passed_)} PASS"] if passed_ else []
    if failed:
        return "; ".join([f"FAIL: {', '.join(failed)}", *open_, *ok])
    if open_:
        return "INCOMPLETE: " + "; ".join([*open_, *ok])
    return "PASS: every limit met (" + ", ".join(passed_) + ")"
