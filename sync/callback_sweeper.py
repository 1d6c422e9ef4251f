"""Claims nobody is working on go back to the callback queue (docs/phone.md "Callback queue").

Every ``every`` seconds the server releases a claimed callback item whose claim is older than the company's
``callback_claim_minutes`` (phone settings; 0: never by age), or whose CSR has had no console connected
for five minutes (signed out, or the PC is gone — a network blip is not leaving). The release is one
transaction through the change log, so every console pulls the item back as open; the supervisors'
Callbacks tile counts it again. Safe with several server instances: a second sweep finds nothing to do.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from models.base import utcnow
from models.callbacks import release_stale_claims

from .apply import lock_change_log
from .changes import ChangeCollector
from .phone_seats import phone_settings

log = logging.getLogger("csr.server.callbacks")
SWEEP_SECONDS = 30.0


def sweep(
    sessions: sessionmaker[Session],
    now: datetime,
    away_since: Callable[[str | None], datetime | None],
) -> tuple[int, dict[str, str]]:
    """Release stale claims now: (the change log's version, 0 if nothing; callback id → why)."""
    from .call_desk import _log_changes

    minutes = phone_settings(sessions)["callback_claim_minutes"]
    max_age = timedelta(minutes=minutes) if minutes > 0 else None
    with sessions.begin() as session:
        lock_change_log(session)
        collector = ChangeCollector(session)
        released = release_stale_claims(session, now, max_age, away_since)
        if not released:
            return 0, {}
        return _log_changes(session, collector), released


class CallbackSweeper:
    """Runs :func:`sweep` on a timer for a SyncServer (its floor knows who is connected)."""

    def __init__(
        self,
        sessions: sessionmaker[Session],
        server: Any,
        *,
        every: float = SWEEP_SECONDS,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.sessions = sessions
        self.server = server
        self.every = every
        self.clock = clock

    async def sweep_once(self) -> dict[str, str]:
        await self.server.floor.ensure_loaded()
        version, released = await asyncio.to_thread(
            sweep, self.sessions, self.clock(), self.server.floor.away_since
        )
        if version:
            for callback_id, why in released.items():
                log.info("event=callback_released callback=%s why=%s", callback_id, why)
            self.server.poke_all(version)
            if self.server.on_commit:
                self.server.on_commit(version)
        return released

    async def run(self) -> None:
        while True:
            await asyncio.sleep(self.every)
            try:
                await self.sweep_once()
            except Exception:  # noqa: BLE001 - a database hiccup must not end the loop
                log.exception("event=callback_sweep_failed")
