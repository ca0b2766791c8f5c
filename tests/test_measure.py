import statistics

import pytest

from acf.types.measurement import bootstrap_interval, mean_interval, median, proportion, wilson_interval


def test_wilson_hand_computed():
    # p=0.8, n=10, z=1.96: centre 0.7212, half-width 0.2265 (Wilson 1927)
    low, high = wilson_interval(8, 10)
    assert low == pytest.approx(0.4902, abs=1e-4)
    assert high == pytest.approx(0.9433, abs=1e-4)
    low, high = wilson_interval(0, 20)
    assert low == 0 and high == pytest.approx(0.1611, abs=1e-4)


def test_proportion_carries_n():
    m = proportion(3, 4)
    assert (m.value, m.n) == (0.75, 4)
    assert m.low < 0.75 < m.high


def test_mean_interval_hand_computed():
    values = [1.0, 2.0, 3.0, 4.0]
    mean, low, high = mean_interval(values)
    half = 3.182 * statistics.stdev(values) / 2  # Student's t for 3 degrees of freedom
    assert (mean, low, high) == pytest.approx((2.5, 2.5 - half, 2.5 + half))
    assert mean_interval(values, z=1.959963984540054)[1] == pytest.approx(
        2.5 - 1.959963984540054 * statistics.stdev(values) / 2
    )


def test_bootstrap_is_seeded_and_brackets_the_statistic():
    data = [1, 5, 2, 8, 3, 9, 4, 7]
    a = bootstrap_interval(data, statistics.mean, seed=1)
    assert a == bootstrap_interval(data, statistics.mean, seed=1)
    assert a[0] < statistics.mean(data) < a[1]


def test_median_measurement():
    m = median([10.0, 11.0, 50.0])
    assert m.value == 11.0 and m.n == 3 and m.low <= 11.0 <= m.high
