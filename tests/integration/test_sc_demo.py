"""`csr-console --demo` starts the ServiceChannel stand-in (`csr-scsim`, not ServiceChannel) beside its
server: a work order arrives soon after the start by signed webhook, the demo server stores it, and the
demo console pulls it into its cache — the Bookings inbox's work orders. The stand-in ends with the demo."""

from __future__ import annotations

import signal
import time
from pathlib import Path

import pytest

from tests.integration.test_demo_process import _count, _descendants, _wait_for, _wait_gone, start_demo

pytestmark = pytest.mark.timeout(300)


@pytest.mark.skipif(not Path("/proc").is_dir(), reason="reads the process table from /proc")
def test_the_demo_receives_a_work_order_from_the_stand_in_into_its_inbox(tmp_path):
    proc, profile = start_demo()
    try:
        said = _wait_for(proc, "ServiceChannel work orders")
        assert "stand-in" in said and "Ctrl+Shift+I" in said
        _wait_for(proc, "is running")
        stand_in = [pid for pid, cmd in _descendants(proc.pid).items() if "sync.scsim" in cmd]
        assert len(stand_in) == 1, _descendants(proc.pid)
        # The setup the demo wrote keeps its secrets where only this user can read them.
        assert (profile / "sc-client-secret").stat().st_mode & 0o077 == 0
        server, cache = profile / "server.sqlite3", profile / "cache.sqlite3"
        deadline = time.monotonic() + 90  # the first one comes ~12 s after the start
        query = "SELECT count(*) FROM work_orders WHERE state = 'New' AND number <> ''"
        while _count(cache, query) < 1:
            assert proc.poll() is None, proc.stderr.read()[-2000:]
            assert time.monotonic() < deadline, (
                f"no work order reached the demo console (server holds {_count(server, query)}): "
                + (profile / "server.log").read_text(errors="replace")[-2000:]
            )
            time.sleep(0.5)
        # It came by the signed webhook (a stored delivery), not only by the catch-up poll.
        assert _count(server, "SELECT count(*) FROM sc_deliveries") >= 1
        # The demo's company can book it: its trade maps to a job type, and the campaign exists.
        assert _count(cache, "SELECT count(*) FROM work_orders WHERE job_type_id IS NOT NULL") >= 1
        assert _count(cache, "SELECT count(*) FROM campaigns WHERE name = 'ServiceChannel'") == 1
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0
        _wait_gone(stand_in[0], "the ServiceChannel stand-in outlived the demo")
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        proc.stdout.close()
        proc.stderr.close()


@pytest.mark.skipif(not Path("/proc").is_dir(), reason="reads the process table from /proc")
def test_the_stand_in_does_not_outlive_a_killed_demo_console():
    proc, _profile = start_demo()
    try:
        _wait_for(proc, "is running")
        (stand_in,) = [pid for pid, cmd in _descendants(proc.pid).items() if "sync.scsim" in cmd]
        proc.kill()  # kill -9: no clean-up runs in the console
        proc.wait()
        _wait_gone(stand_in, "the ServiceChannel stand-in outlived its killed console")
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        proc.stdout.close()
        proc.stderr.close()
