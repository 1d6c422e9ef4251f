"""Two real `csr-server run` processes over one PostgreSQL drain the notifications outbox into the Messages
API stand-in (real HTTP, signed status callbacks back to each server); one is killed with SIGKILL in the
middle of its batches. Every reminder arrives exactly once: none twice, none lost (bench/notify_bench.py,
the same run as `csr-bench notify` at a smaller size)."""

from __future__ import annotations

import pytest

from bench.notify_bench import run_reminders

pytestmark = pytest.mark.postgres


def test_two_instances_one_killed_mid_batch_send_every_reminder_exactly_once(postgres_url):
    # A rate limit keeps the run long enough for the kill to land mid-batch; a short lease lets the
    # survivor take the dead instance's claims over (it asks the stand-in before sending again).
    # The kill lands at a moment of the run; the sender holds few claims at a time (a quarter lease of the
    # rate limit), so a kill can fall between two batches and leave nothing to take over. Exactly once must
    # hold on every run; the take-over must have happened on one of up to three.
    taken = []
    for _attempt in range(3):
        out = run_reminders(postgres_url, 300, 2, kill=True, rate=40, lease=2.0, timeout=180)
        assert out["killed_one"] is True
        assert (out["sent"], out["duplicates"], out["lost"], out["recorded"]) == (300, 0, 0, 300)
        taken.append(out["taken_over"])
        if out["taken_over"] > 0:
            break
    assert taken[-1] > 0, taken  # the kill landed mid-batch: the survivor took claims over


def test_two_instances_without_a_rate_limit_never_send_twice(postgres_url):
    out = run_reminders(postgres_url, 400, 2, kill=False, rate=None, lease=5.0, timeout=180)
    assert (out["sent"], out["duplicates"], out["lost"]) == (400, 0, 0)
