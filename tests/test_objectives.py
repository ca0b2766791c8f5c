import pytest

from acf.errors import ConstraintError
from acf.types.objectives import Constraint, Metric, check_constraints, gain, reference_value

ACC = Metric(name="acc", direction="max", category="accuracy")
SIZE = Metric(name="size_mb", direction="min", category="size")
LOGLIK = Metric(name="ll", direction="max", category="accuracy")


@pytest.mark.parametrize(
    "text,baseline,threshold",
    [
        ("size_mb<=100", None, 100.0),
        ("perplexity<=1.10*baseline", 20.0, 22.0),
        ("perplexity <= baseline*1.1", 20.0, 22.0),
        ("gsm8k_loglik>=baseline-0.05", -1.4, -1.45),
        ("acc>baseline+0.01", 0.5, 0.51),
        ("size_mb<2.5e2", None, 250.0),
    ],
)
def test_parse_thresholds(text, baseline, threshold):
    assert Constraint.parse(text).threshold(baseline) == pytest.approx(threshold)


@pytest.mark.parametrize(
    "text", ["size_mb", "size_mb=<100", "<=100", "size_mb<=", "size_mb<=abc", "size_mb<=2*baselin"]
)
def test_parse_rejects(text):
    with pytest.raises(ConstraintError):
        Constraint.parse(text)


def test_violation_is_relative_distance():
    c = Constraint.parse("size_mb<=100")
    assert c.violation(90, None) == 0
    assert c.violation(150, None) == pytest.approx(0.5)
    c = Constraint.parse("acc>=0.9*baseline")
    assert c.violation(0.45, 0.5) == 0
    assert c.violation(0.36, 0.5) == pytest.approx(0.2)


def test_unknown_metric_in_constraint():
    with pytest.raises(ConstraintError, match="unknown metric 'latency_ms'"):
        check_constraints([Constraint.parse("latency_ms<=5")], {"acc": ACC})


def test_gain_and_reference_points():
    assert reference_value(SIZE, 500) == 1000
    assert reference_value(ACC, 0.8) == 0
    assert reference_value(LOGLIK, -1.5) == -3.0
    assert gain(SIZE, 500, 500) == 1.0
    assert gain(SIZE, 250, 500) == pytest.approx(1.5)
    assert gain(SIZE, 1000, 500) == 0.0
    assert gain(ACC, 0.4, 0.8) == pytest.approx(0.5)
    assert gain(LOGLIK, -2.25, -1.5) == pytest.approx(0.5)
