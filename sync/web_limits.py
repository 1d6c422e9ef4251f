"""The Web Scheduler's per-address POST limit: counted in the database (models/web_address_limit.py) so
every ``csr-server`` instance on one database shares it, with this instance's own count in memory in
front, so an address already at its limit here is turned away before any database work."""

from __future__ import annotations

import contextlib
import time
from collections import deque
from collections.abc import Callable, Iterator
from datetime import datetime

from sqlalchemy.orm import Session, sessionmaker

from models.timeutil import as_utc
from models.web_address_limit import purge_address_hits, take_address


class AddressWindow:
    """This instance's own POSTs per remote address over the last hour (sliding), in memory: an address
    already at the limit here is turned away before it costs a database write. The limit itself is kept
    in the database (models/web_address_limit.py), so every instance counts the same POSTs; only those
    it let through are counted here, so this never refuses what the database would allow."""

    def __init__(self) -> None:
        self._hits: dict[str, deque[float]] = {}

    def full(self, address: str, limit: int, now: float | None = None) -> bool:
        now = time.monotonic() if now is None else now
        hits = self._hits.get(address)
        if not hits:
            return False
        while hits and hits[0] <= now - 3600:
            hits.popleft()
        return len(hits) >= limit

    def add(self, address: str, now: float | None = None) -> None:
        now = time.monotonic() if now is None else now
        self._hits.setdefault(address, deque()).append(now)
        if len(self._hits) > 100_000:  # forget idle addresses; the live ones refill at once
            self._hits = {a: h for a, h in self._hits.items() if h and h[-1] > now - 3600}


class AddressCounting:
    """Mixed into WebScheduler, which sets ``sessions``, ``clock`` and ``_purged``."""

    sessions: sessionmaker[Session]
    clock: Callable[[], datetime]
    _purged: float

    def take_address(self, address: str, limit: int) -> bool:
        """Count one POST from ``address`` in the database (every instance sees it); False when the
        address made ``limit`` of them in the last hour. Runs on the scheduler's threads."""
        now = as_utc(self.clock()).timestamp()
        with self._counting() as session:
            if now - self._purged >= 60:  # once a minute per instance: the hour's old minutes go
                self._purged = now
                purge_address_hits(session, now)
            return take_address(session, address, limit, now)

    @contextlib.contextmanager
    def _counting(self) -> Iterator[Session]:
        """The counting transaction. On SQLite it commits without waiting for the disk (``synchronous =
        NORMAL`` on this connection, for this transaction): a power cut can only forget the last counts,
        and an fsync per POST would cost every browser's submit a disk wait. PostgreSQL's own settings
        apply there."""
        bind = self.sessions.kw.get("bind")
        if bind is None or bind.dialect.name != "sqlite":
            with self.sessions.begin() as session:
                yield session
            return
        with bind.connect() as conn:
            raw = conn.connection.driver_connection
            raw.execute("PRAGMA synchronous = NORMAL")  # outside any transaction: SQLite's rule
            try:
                with Session(bind=conn, expire_on_commit=False) as session, session.begin():
                    yield session
            finally:
                if raw.in_transaction:
                    raw.execute("ROLLBACK")
                raw.execute("PRAGMA synchronous = FULL")
