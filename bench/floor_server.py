"""`csr-server` with its floor's KPI cost written out, for `csr-bench floor`. Same arguments as
``python -m sync.server_cli``.

Changes nothing in the server: it notes the Floor the server makes (sync/floor.py) and, every half
second, appends {"t": time.time(), "kpi_cpu_s", "ticks", "subscribers"} to the file named by
CSR_BENCH_FLOOR_STATS. ``kpi_cpu_s`` is the floor's own account of the CPU its KPI ticks cost
(``time.thread_time`` around the tick's read and tiles in the worker thread, and around the
``floor_kpis`` message on the loop). With CSR_BENCH_FLOOR_STAMPS it also appends, for each commit the
floor applied, {"t", "calls": [[provider call id, state], …]} when its delta had been sent (to split
the board's latency into server and console parts).
"""

from __future__ import annotations

import json
import os
import sys
import threading
import time
from typing import Any

from sync import floor

_FLOORS: list[Any] = []


def install(path: str, every: float = 0.5, stamps: str | None = None) -> None:
    made = floor.Floor.__init__
    committed = floor.Floor.calls_committed

    def noted(self: Any, *args: Any, **kwargs: Any) -> None:
        made(self, *args, **kwargs)
        _FLOORS.append(self)

    floor.Floor.__init__ = noted
    if stamps:
        out = open(stamps, "a", encoding="utf-8")  # noqa: SIM115 - open for the process's life

        def stamped(self: Any, calls: list[dict[str, Any]]) -> None:
            committed(self, calls)
            out.write(
                json.dumps(
                    {"t": time.time(), "calls": [[c.get("provider_call_id"), c.get("state")] for c in calls]}
                )
                + "\n"
            )
            out.flush()

        floor.Floor.calls_committed = stamped

    def write() -> None:
        with open(path, "a", encoding="utf-8") as out:
            while True:
                time.sleep(every)
                for f in _FLOORS:
                    out.write(
                        json.dumps(
                            {
                                "t": time.time(),
                                "kpi_cpu_s": f.kpi_cpu_s,
                                "ticks": f.ticks,
                                "subscribers": len(f.subscribers),
                            }
                        )
                        + "\n"
                    )
                out.flush()

    threading.Thread(target=write, daemon=True, name="floor-stats").start()


if __name__ == "__main__":
    install(
        os.environ.get("CSR_BENCH_FLOOR_STATS", os.devnull), stamps=os.environ.get("CSR_BENCH_FLOOR_STAMPS")
    )
    if os.environ.get("CSR_BENCH_STAGES"):
        from bench import timed_server  # the webhook's stages too (diagnosis)

        timed_server.install()
    from sync.server_cli import main

    sys.exit(main(sys.argv[1:]))
