"""The demo's helper processes (server, phone simulator, text and ServiceChannel stand-ins) end with the
console that started them, even after a kill -9 of it.

The console names itself in ``CSR_PARENT_PID`` when it starts one (console/demo_server.py). Comparing
the parent now with that pid — not with the parent this process saw when it first looked — also catches
a console that was gone before then: such a child was re-parented before its first look, took the new
parent for its own, and lived on (found in CI: an orphaned phone simulator ringing a seat nobody watched).
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable

PARENT_ENV = "CSR_PARENT_PID"


def parent_pid() -> int:
    """The process this one must not outlive: ``$CSR_PARENT_PID`` when the starter set it, else the
    parent now."""
    try:
        return int(os.environ[PARENT_ENV])
    except (KeyError, ValueError):
        return os.getppid()


def child_env(env: dict[str, str] | None = None) -> dict[str, str]:
    """The environment for a helper process that must end with this one."""
    return {**(os.environ if env is None else env), PARENT_ENV: str(os.getpid())}


async def watch_parent(stop: asyncio.Event, *, until: Callable[[], bool] | None = None) -> bool:
    """Set ``stop`` when the parent is gone (checked at once, then every second); True when it did.
    ``until``: stop watching when it says so (default: once ``stop`` is set by anyone)."""
    parent = parent_pid()
    done = until if until is not None else stop.is_set
    while True:
        if os.getppid() != parent:
            stop.set()
            return True
        if done():
            return False
        await asyncio.sleep(1.0)
