"""`csr-bench calls` end to end with tiny numbers: a real server, a real console process offscreen, three
listeners, ten timed calls and two seconds of webhooks; every figure is there and nothing was missed
or lost. (The figures themselves are the benchmark's business, not this test's.)"""

from __future__ import annotations

import pytest

from bench.calls_bench import run_calls
from bench.seed import run_seed

pytestmark = pytest.mark.timeout(120)

KEYS = {
    "screen_pop_p50_ms",
    "screen_pop_p99_ms",
    "screen_pop_max_ms",
    "screen_pop_count",
    "screen_pop_missed",
    "screen_pop_match_errors",
    "post_to_console_p50_ms",
    "console_received_to_shown_p99_ms",
    "post_to_listener_p99_ms",
    "listeners_missed_calls",
    "webhooks_per_s",
    "webhooks_per_s_min_1s",
    "webhooks_ok",
    "webhooks_failed",
    "webhooks_lost",
    "calls",
    "calls_missing",
    "calls_duplicated",
}


def test_calls_bench_smoke(tmp_path):
    source = tmp_path / "source.sqlite3"
    run_seed(source, 2_000, 2024)
    out = run_calls(2_000, calls=10, listeners=3, seconds=2, cache=source, concurrency=20, ring=0.2)
    assert KEYS <= set(out), KEYS - set(out)
    assert out["screen_pop_count"] == 10
    assert out["screen_pop_missed"] == 0
    assert out["screen_pop_match_errors"] == 0
    assert out["listeners_missed_calls"] == 0
    assert out["webhooks_not_ok_during_pops"] == 0
    assert out["webhooks_ok"] > 0 and out["calls"] > 0
    assert out["webhooks_failed"] == 0
    assert out["ui_stall_max_ms"] is not None and out["ui_stall_max_ms"] >= 0  # the console's UI thread
    assert out["webhooks_lost"] == 0
    assert out["calls_missing"] == 0 and out["calls_duplicated"] == 0
