"""`csr-bench floor` end to end with tiny numbers: a real server, five headless CSR clients, a real
supervisor console offscreen with its floor board open, three seconds of call events; every event
reaches the board and is repainted, and the KPI cost is measured. (The figures themselves are the
benchmark's business, not this test's.)"""

from __future__ import annotations

import pytest

from bench.floor_bench import run_floor
from bench.seed import run_seed

pytestmark = pytest.mark.timeout(120)

KEYS = {
    "board_update_p50_ms",
    "board_update_p99_ms",
    "board_update_max_ms",
    "board_update_samples",
    "board_update_missed",
    "event_to_board_model_p99_ms",
    "kpi_cpu_ms_per_s",
    "kpi_ticks_per_s",
    "events_sent",
    "webhooks_failed",
    "board_agents_rows",
}


def test_floor_bench_smoke(tmp_path):
    source = tmp_path / "source.sqlite3"
    run_seed(source, 2_000, 2024)
    out = run_floor(2_000, agents=5, rate=10, seconds=3, cache=source)
    assert KEYS <= set(out), KEYS - set(out)
    assert out["webhooks_failed"] == 0
    assert out["ui_stall_max_ms"] is not None and out["ui_stall_max_ms"] >= 0  # the console's UI thread
    assert out["board_update_missed"] == 0 and out["board_update_samples"] > 0
    assert out["board_agents_rows"] >= 5  # the CSRs are on the board
    assert out["kpi_cpu_ms_per_s"] is not None and out["kpi_ticks_per_s"] > 0.3
