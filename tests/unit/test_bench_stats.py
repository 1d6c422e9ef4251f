"""bench/stats.py: one percentile convention, and no p99 from too few samples."""

from __future__ import annotations

from bench.stats import MIN_P99_SAMPLES, p99, percentile, summary


def test_nearest_rank_percentiles():
    values = list(range(1, 101))  # 1..100
    assert percentile(values, 50) == 50
    assert percentile(values, 99) == 99
    assert percentile(values, 100) == 100
    assert percentile([7.0], 99) == 7.0
    assert percentile([], 50) is None


def test_no_p99_below_a_thousand_samples():
    assert p99([1.0] * (MIN_P99_SAMPLES - 1)) is None
    values = [float(i) for i in range(1, 1001)]
    assert p99(values) == 990.0


def test_summary_reports_count_and_max():
    out = summary("pop", [1.0, 2.0, 30.0])
    assert out == {"pop_p50_ms": 2.0, "pop_p99_ms": None, "pop_max_ms": 30.0, "pop_samples": 3}
