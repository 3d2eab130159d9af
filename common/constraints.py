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


@dataclasses.dataclass(frozen=True)
class Check:
    """One limit of a version against a run: pass, fail or not assessable (with the reason)."""

    metric: str
    result: str
    measured: float | None
    limit: float
    reason: str | None = None

    def text(self):
        """The table's result column: a not-assessable limit also says whether this run's value
        would meet it, so that nobody reads it as passed."""
        if self.result != NOT_ASSESSABLE or self.measured is None:
            return self.result
        side = "meets" if meets(self.metric, self.measured, self.limit) else "MISSES"
        return f"not assessable (this run's value {side} it)"


@dataclasses.dataclass(frozen=True)
class Verdict:
    """Every limit of a version against a run, in the table's order."""

    checks: tuple

    @classmethod
    def of(cls, version_entry, measured, unassessable=None):
        """`measured`: metric -> value (a missing or None value of an assessable limit fails);
        `unassessable`: metric -> reason, for limits this run cannot assess."""
        unassessable = unassessable or {}
        checks = []
        for metric, limit in version_entry.limits.items():
            value = measured.get(metric)
            if metric in unassessable:
                result, reason = NOT_ASSESSABLE, unassessable[metric]
            elif value is None:
                result, reason = FAIL, "not measured"
            else:
                result, reason = (PASS if meets(metric, value, limit) else FAIL), None
            checks.append(Check(metric, result, value, limit, reason))
        return cls(tuple(checks))

    @classmethod
    def from_dict(cls, rows):
        return cls(tuple(Check(m, **r) for m, r in rows.items()))

    def to_dict(self):
        return {
            c.metric: {k: v for k, v in dataclasses.asdict(c).items() if k != "metric"}
            for c in self.checks
        }

    @property
    def passed(self):
        """True when every assessable limit passes."""
        return all(c.result != FAIL for c in self.checks)

    @property
    def exit_status(self):
        return EXIT_PASSED if self.passed else EXIT_LIMIT_MISSED

    def headline(self):
        """The headline, whose first word cannot be misread: FAIL (a limit missed; exit status
        2), INCOMPLETE (none missed, but a limit could not be assessed on this data or host;
        exit status 0) or PASS (every limit assessed and met). Values in the table's units."""
        by = lambda result: [c for c in self.checks if c.result == result]  # noqa: E731
        failed = [
            f"{name(c.metric)} {fmt(c.metric, c.measured)} (limit {op(c.metric)} "
            f"{fmt(c.metric, c.limit)})"
            for c in by(FAIL)
        ]
        passed = [name(c.metric) for c in by(PASS)]
        on_data = [name(c.metric) for c in by(NOT_ASSESSABLE) if not c.metric.startswith("pi_")]
        on_pi = [name(c.metric) for c in by(NOT_ASSESSABLE) if c.metric.startswith("pi_")]
        open_ = ([f"{', '.join(on_data)} not assessable on this data"] if on_data else []) + (
            [f"{', '.join(on_pi)} not assessable off a Raspberry Pi"] if on_pi else []
        )
        ok = [f"{', '.join(passed)} PASS"] if passed else []
        if failed:
            return "; ".join([f"FAIL: {', '.join(failed)}", *open_, *ok])
        if open_:
            return "INCOMPLETE: " + "; ".join([*open_, *ok])
        return "PASS: every limit met (" + ", ".join(passed) + ")"

    def table(self, version, also=()):
        """The verdict table: one line per limit (a not-assessable one with its measured value
        beside the limit), then `also` ((name, text) measured without a limit: baselines, other
        splits), the reasons of the not-assessable limits, and the headline."""
        lines = [
            f"Verdict for {version}",
            f"  {'metric':<26}{'measured':>20}  {'limit':>14}  result",
        ]
        for c in self.checks:
            lines.append(
                f"  {c.metric:<26}{fmt(c.metric, c.measured):>20}  {op(c.metric)} "
                f"{fmt(c.metric, c.limit):>12}  {c.text()}"
            )
        lines += [f"  {label:<26}{text:>20}  {'(no limit)':>14}" for label, text in also]
        reasons = {}
        for c in self.checks:
            if c.reason:
                reasons.setdefault((c.result, c.reason), []).append(c.metric)
        lines += [
            f"  {', '.join(ms)}: {result}: {reason}" for (result, reason), ms in reasons.items()
        ]
        return "\n".join([*lines, f"  => {self.headline()}"])
