"""The five versions of the homework (script, output name, limits) and a run's verdict: each limit
passes, fails or is not assessable. Sizes: `.tflite.zip` bytes (kB = 1024 B); mae_t / mae_rh in
°C / %, accuracy a fraction, pi_* in ms. Limits are strict (accuracy >, the others <)."""

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


PASS, FAIL, NOT_ASSESSABLE = "pass", "fail", "not assessable"
EXIT_PASSED, EXIT_ERROR, EXIT_LIMIT_MISSED = 0, 1, 2
NAMES = {
    "mae_t": "MAE T",
    "mae_rh": "MAE RH",
    "accuracy": "accuracy",
    "zip_bytes": "size",
    "pi_inference_ms": "Pi inference latency",
    "pi_total_ms": "Pi total latency",
}


def fmt(metric, value):
    """A value in the verdict table's units: '90.00 %', '2,048 B', '0.5000 °C', '1.50 ms'."""
    if value is None:
        return "-"
    if metric.startswith("accuracy"):
        return f"{100 * value:.2f} %"
    if metric == "zip_bytes":
        return f"{value:,.0f} B" if value == int(value) else f"{value:,.1f} B"
    if metric.startswith("pi_"):
        return f"{value:.2f} ms"
    return f"{value:.4f}" + {"mae_t": " °C", "mae_rh": " %"}.get(metric, "")


def meets(metric, value, limit):
    return value > limit if metric == "accuracy" else value < limit


def op(metric):
    return ">" if metric == "accuracy" else "<"


@dataclasses.dataclass(frozen=True)
class Check:
    """One limit of a version against a run: pass, fail or not assessable (with the reason)."""

    metric: str
    result: str
    measured: float | None
    limit: float
    reason: str | None = None

    @property
    def would_miss(self):
        """Not assessable, but this run's value misses the limit: never to be read as a pass."""
        measured = self.result == NOT_ASSESSABLE and self.measured is not None
        return measured and not meets(self.metric, self.measured, self.limit)

    def text(self):
        """The result column; a measured not-assessable limit says if the value meets it."""
        if self.result != NOT_ASSESSABLE or self.measured is None:
            return self.result
        return f"not assessable (this run's value {'MISSES' if self.would_miss else 'meets'} it)"


@dataclasses.dataclass(frozen=True)
class Verdict:
    """Every limit of a version against a run, in the table's order."""

    checks: tuple

    @classmethod
    def of(cls, version_entry, measured, unassessable=None):
        """`measured`: metric -> value (none: it fails); `unassessable`: metric -> reason."""
        unassessable, checks = unassessable or {}, []
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
        """A headline: FAIL (a limit missed), INCOMPLETE (one not assessable) or PASS (all met)."""
        failed, passed, misses, on_data, on_pi = [], [], [], [], []
        for c in self.checks:
            value, limit = fmt(c.metric, c.measured), f"{op(c.metric)} {fmt(c.metric, c.limit)}"
            if c.result == FAIL:
                failed.append(f"{NAMES[c.metric]} {value} (limit {limit})")
            elif c.result == PASS:
                passed.append(NAMES[c.metric])
            elif c.metric.startswith("pi_"):
                on_pi.append(NAMES[c.metric])
            elif c.would_miss:
                misses.append(f"{NAMES[c.metric]} {value} would miss {limit}")
            else:
                on_data.append(NAMES[c.metric])
        how = "not assessable on this data"
        open_ = [f"{', '.join(misses)} ({how})"] if misses else []
        open_ += [f"{', '.join(on_data)} {how}"] if on_data else []
        open_ += [f"{', '.join(on_pi)} not assessable off a Raspberry Pi"] if on_pi else []
        ok = [f"{', '.join(passed)} PASS"] if passed else []
        if failed:
            return "; ".join([f"FAIL: {', '.join(failed)}", *open_, *ok])
        if open_:
            return "INCOMPLETE: " + "; ".join([*open_, *ok])
        return f"PASS: every limit met ({', '.join(passed)})"

    def table(self, version, also=()):
        """The verdict table: a line per limit, `also` ((name, text)), reasons and the headline."""
        lines = [
            f"Verdict for {version}",
            f"  {'metric':<26}{'measured':>20}  {'limit':>14}  result",
        ]
        reasons = {}
        for c in self.checks:
            lines.append(
                f"  {c.metric:<26}{fmt(c.metric, c.measured):>20}  {op(c.metric)} "
                f"{fmt(c.metric, c.limit):>12}  {c.text()}"
            )
            if c.reason:
                reasons.setdefault((c.result, c.reason), []).append(c.metric)
        lines += [f"  {label:<26}{text:>20}  {'(no limit)':>14}" for label, text in also]
        lines += [f"  {', '.join(ms)}: {result}: {why}" for (result, why), ms in reasons.items()]
        return "\n".join([*lines, f"  => {self.headline()}"])
