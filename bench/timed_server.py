"""`csr-server` with the stages of a webhook stamped, for `csr-bench calls --server-stages` (diagnosis:
where a screen pop's time goes inside the server). Same arguments as ``python -m sync.server_cli``.

Wraps, without changing them, the ingress's voice handler and the call desk (sync/ingress.py,
sync/call_desk.py) and appends one JSON line per stage to the file named by CSR_BENCH_STAGES:

- ``handler``: {"sid", "t"} the voice handler started (request line and headers read);
- ``queued``: {"sid", "t"} its events were handed to the call desk (body read, signature checked,
  adapter and TwiML done);
- ``store``: {"sids", "t0", "commit", "t1"} a group's transaction ran in the desk's thread (``commit``:
  when its COMMIT began; ``t1``: committed);
- ``sent``: {"sids", "t0", "t1"} back on the event loop, the ``call`` messages and the poke were
  written to every console's connection.

Stamps are ``time.time()`` (the benchmark's clock). Writing them costs a little: the figures of a run
with stages are for the split, not for the budget.
"""

from __future__ import annotations

import contextvars
import json
import os
import sys
import threading
import time
from typing import Any

from sqlalchemy import event

from sync import call_desk, ingress

_OUT = open(os.environ.get("CSR_BENCH_STAGES", os.devnull), "a", encoding="utf-8")  # noqa: SIM115
_LOCK = threading.Lock()
_ENTERED: contextvars.ContextVar[float] = contextvars.ContextVar("entered", default=0.0)
_COMMIT = threading.local()


def _write(**fields: Any) -> None:
    with _LOCK:
        _OUT.write(json.dumps(fields) + "\n")
        _OUT.flush()


def install() -> None:
    voice = ingress._voice
    record = call_desk.CallDesk.record
    store = call_desk.CallDesk._store
    committed = call_desk.CallDesk._committed
    hooked: set[int] = set()

    async def timed_voice(request: Any) -> Any:
        _ENTERED.set(time.time())
        return await voice(request)

    async def timed_record(self: Any, events: list[Any]) -> None:
        entered = _ENTERED.get()
        if entered and events and events[0].provider_key.endswith(":voice"):
            sid = events[0].provider_call_id
            _write(stage="handler", sid=sid, t=entered)
            _write(stage="queued", sid=sid, t=time.time())
        await record(self, events)

    def timed_store(self: Any, events: Any) -> Any:
        engine = self.sessions.kw.get("bind")
        if engine is not None and id(engine) not in hooked:
            hooked.add(id(engine))
            event.listen(engine, "commit", lambda _conn: setattr(_COMMIT, "t", time.time()))
        t0 = time.time()
        _COMMIT.t = 0.0
        out = store(self, events)
        _write(
            stage="store",
            sids=list(dict.fromkeys(e.provider_call_id for e in events)),
            t0=t0,
            commit=_COMMIT.t,
            t1=time.time(),
        )
        return out

    def timed_committed(self: Any, version: int, calls: list[dict[str, Any]]) -> None:
        t0 = time.time()
        committed(self, version, calls)
        _write(stage="sent", sids=[c.get("provider_call_id") for c in calls], t0=t0, t1=time.time())

    ingress._voice = timed_voice
    call_desk.CallDesk.record = timed_record
    call_desk.CallDesk._store = timed_store
    call_desk.CallDesk._committed = timed_committed


if __name__ == "__main__":
    install()
    from sync.server_cli import main

    sys.exit(main(sys.argv[1:]))
