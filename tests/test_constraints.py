import pytest

from common import constraints


def test_table_has_the_five_versions():
    assert sorted(constraints.LIMITS) == ["ex1_a", "ex1_b", "ex2_a", "ex2_b", "ex2_c"]
    assert constraints.LIMITS["ex1_b"]["zip_bytes"] == pytest.approx(1740.8)


def test_check_passes_and_fails_on_each_metric():
    ok = constraints.check("ex1_a", {"mae_t": 0.49, "mae_rh": 1.79, "zip_bytes": 2047})
    assert constraints.passed(ok)
    for bad in ({"mae_t": 0.5}, {"mae_rh": 1.8}, {"zip_bytes": 2048}):
        rows = constraints.check("ex1_a", {"mae_t": 0.49, "mae_rh": 1.79, "zip_bytes": 2047, **bad})
        assert not constraints.passed(rows)


def test_accuracy_must_be_greater_and_missing_metric_fails():
    assert constraints.passed(constraints.check("ex2_a", {"accuracy": 0.901, "zip_bytes": 100}))
    assert not constraints.passed(constraints.check("ex2_a", {"accuracy": 0.90, "zip_bytes": 100}))
    assert not constraints.passed(constraints.check("ex2_a", {"zip_bytes": 100}))


def test_pi_latency_is_reported_not_checked():
    rows = constraints.check("ex2_b", {"accuracy": 0.95, "zip_bytes": 100, "pi_inference_ms": 99.0})
    assert constraints.passed(rows)
    text = constraints.format_verdict("ex2_b", rows)
    assert "Pi only" in text and "PASS" in text


def test_verdict_table_says_fail():
    rows = constraints.check("ex1_b", {"mae_t": 0.7, "mae_rh": 1.0, "zip_bytes": 1000})
    text = constraints.format_verdict("ex1_b", rows)
    assert "FAIL" in text.splitlines()[2] and text.endswith("=> FAIL")


def test_unknown_version():
    with pytest.raises(KeyError, match="ex9"):
        constraints.check("ex9", {})
