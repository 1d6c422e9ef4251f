"""Every `csr-bench` subcommand runs end to end at a tiny size and prints one JSON object with its keys,
so none can rot between benchmark runs (calls and floor have their own smoke tests:
test_calls_bench.py, test_floor_bench.py). The figures are the benchmarks' business, not this test's."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
pytestmark = [pytest.mark.timeout(600)]


def bench(*args: str, home: Path) -> dict:
    env = {**os.environ, "XDG_CACHE_HOME": str(home), "QT_QPA_PLATFORM": "offscreen", "QT_API": "pyside6"}
    proc = subprocess.run(
        [sys.executable, "-c", "from bench.cli import main; raise SystemExit(main())", *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def home(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("bench-home")


def test_seed_and_lookup(home):
    out = bench("seed", "--customers", "3000", home=home)
    assert out
    out = bench("lookup", "--customers", "3000", "--queries", "20", "--keystrokes", "40", home=home)
    for key in (
        "keystroke_to_paint_p50_ms",
        "keystroke_to_paint_p99_ms",
        "keystroke_to_paint_max_ms",
        "keystroke_to_paint_samples",
        "ui_stall_max_ms",
        "rss_mb",
        "phone_exact_p50_ms",
    ):
        assert key in out, key
    assert out["keystroke_to_paint_samples"] >= 40 and out["keystroke_to_paint_p99_ms"] is None  # < 1,000


def test_setup(home):
    out = bench("setup", "--customers", "3000", "--merges", "5", "--saves", "5", home=home)
    for key in (
        "setup_save_to_other_console_p99_ms",
        "setup_save_to_other_console_samples",
        "duplicate_scan_s_1m",
        "duplicate_scan_customers",
        "duplicate_scan_pairs",
        "ui_stall_max_ms",
        "merge_p50_ms",
        "merge_p99_ms",
        "merge_max_ms",
        "merge_samples",
    ):
        assert key in out, key
    assert (
        out["duplicate_scan_customers"] == 3000
        and out["merge_samples"] == 5
        and out["merge_p99_ms"] is None
        and out["setup_save_to_other_console_samples"] == 5
        and out["setup_save_to_other_console_max_ms"] > 0
    )


def test_booking(home):
    out = bench("booking", "--customers", "3000", "--jobs", "500", "--bookings", "10", home=home)
    assert out


def test_sync(home):
    args = ["sync", "--bookings", "20", "--clients", "12", "--commits", "10", "--initial-customers", "3000"]
    if not os.environ.get("CSR_REQUIRE_POSTGRES"):
        args.append("--no-postgres")
    out = bench(*args, home=home)
    for key in (
        "catchup_1000_s_sqlite",
        "fanout_applied_p50_ms_12",
        "fanout_applied_samples_12",
        "fanout_poke_p50_ms_12",
        "initial_sync_rows_per_s",
        "initial_sync_ui_lag_max_ms",
    ):
        assert key in out, key
    assert out["fanout_not_applied"] == 0 and out["fanout_poke_missed"] == 0


def test_chaos_and_the_simulation(home):
    out = bench("chaos", "--runs", "2", "--seed", "5", home=home)
    assert out["runs"] == 2 and out["lost"] == 0
    out = bench("chaos", "--sim", "--runs", "5", "--seed", "1", "--jobs", "1", home=home)
    assert out["runs"] == 5 and out["lost"] == out["refusals_unshown"] == 0


def test_notify(home, postgres_url):
    out = bench(
        "notify",
        "--reminders",
        "200",
        "--bookings",
        "20",
        "--rate",
        "50",
        "--postgres",
        postgres_url,
        home=home,
    )
    assert (out["sent"], out["duplicates"], out["lost"]) == (200, 0, 0)
    assert out["killed_one"] is True
    for key in ("due_to_sent_p99_s", "due_to_sent_samples", "booking_to_confirmation_sent_p99_ms"):
        assert key in out
    assert out["booking_to_confirmation_sent_samples"] == 20
    # Where the CPU went while the texts drained: every part used some, and the servers' share per text.
    assert all(v > 0 for v in out["cpu_s_during_drain"].values()), out["cpu_s_during_drain"]
    assert 0 < out["server_cpu_ms_per_text"] < out["all_cpu_ms_per_text"]


def test_phone(home):
    from tests.tools import require_tool

    require_tool("kamailio")
    require_tool("py:pjsua2")
    out = bench("phone", "--calls", "5", home=home)
    assert out["calls"] == 5 and out["calls_failed"] == 0
    assert out["invite_to_ringing_bubble_samples"] == out["answer_key_to_200ok_samples"] == 5
    assert 0 < out["phone_rss_mb"] < 200
    assert out["ui_stall_max_ms"] >= 0  # the console's UI thread, watched through the calls


def test_web(home):
    out = bench(
        "web",
        "--customers",
        "3000",
        "--jobs",
        "500",
        "--pages",
        "40",
        "--checks",
        "40",
        "--submits",
        "8",
        "--racers",
        "20",
        home=home,
    )
    for key in (
        "page_ttfb_p99_ms",
        "availability_p99_ms",
        "submit_to_inbox_p99_ms",
        "submit_to_inbox_samples",
    ):
        assert key in out, key
    assert out["submit_to_inbox_samples"] == 8 and out["submit_to_inbox_missed"] == 0
    assert out["last_slot_booked"] == 1 and out["errors_5xx"] == 0
    assert out["ui_stall_max_ms"] >= 0  # the inbox console's UI thread, watched through the run


def test_servicechannel(home):
    out = bench("servicechannel", "--orders", "40", "--pushes", "20", "--poll", "1", home=home)
    for key in (
        "received_to_inbox_p50_ms",
        "received_to_inbox_p99_ms",
        "received_to_inbox_max_ms",
        "received_to_inbox_samples",
        "lost",
        "duplicated",
        "status_push_p99_ms",
        "status_push_samples",
        "status_push_duplicated",
    ):
        assert key in out, key
    assert out["lost"] == 0 and out["duplicated"] == 0 and out["status_push_duplicated"] == 0
    assert out["received_to_inbox_samples"] == 40 and out["received_to_inbox_p99_ms"] is None  # < 1,000
    # Painted in the real console's inbox comes after the row is in a cache.
    assert out["received_to_cache_samples"] == 40 and out["lost_samples"] == []
    assert out["ui_stall_max_ms"] >= 0
