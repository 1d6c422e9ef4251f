"""How the notifications sender and the messaging webhooks write a message's state (docs/notifications.md):
few round trips, and as few of them as possible under the change-log lock.

The change-log lock (sync/apply.py ``lock_change_log``) is the one every writer of the change log waits
for, so whatever is done while holding it is done once for every instance's every writer. A pure state
move of messages (sent, queued, delivered, retry later) therefore locks its rows first — in id order,
so two such transactions never wait on each other in a circle — writes them, and only then takes the
change-log lock to append the change-log rows and commit. Writers that hold the change-log lock while
waiting for a row never wait for these rows: they take the lock first and touch only messages still
*pending* (a cancel), which a state move never touches. Anything that writes beyond the messages'
own rows (an opt-out marks contact methods, a landline failure queues an email) takes the change-log
lock first, as every other writer does.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable, Mapping
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from models.base import utcnow
from models.notifications import Notification
from models.notify_templates import NotifySettings, load_settings
from models.sync_tables import ChangeRow

from .apply import lock_change_log
from .changes import PATCH, ChangeCollector, json_value

SETTINGS_TTL = 1.0  # seconds a sender or webhook reuses the company's notification settings


class SettingsCache:
    """The company's notification settings, read at most once a ``ttl`` (two statements a transaction
    saved; a change in the setup file reaches the sender within a second)."""

    def __init__(self, ttl: float = SETTINGS_TTL) -> None:
        self.ttl = ttl
        self._value: NotifySettings | None = None
        self._at = 0.0
        self._lock = threading.Lock()

    def get(self, session: Session) -> NotifySettings:
        with self._lock:
            if self._value is not None and time.monotonic() - self._at < self.ttl:
                return self._value
        value = load_settings(session)
        with self._lock:
            self._value, self._at = value, time.monotonic()
        return value


def lock_messages(session: Session, ids: Iterable[str]) -> dict[str, Notification]:
    """The messages ``ids``, read in one statement and locked in id order (PostgreSQL; SQLite
    serializes writers anyway). The caller keeps the dict: the session holds rows only while referenced."""
    wanted = sorted(set(ids))
    if not wanted:
        return {}
    query = select(Notification).where(Notification.id.in_(wanted)).order_by(Notification.id)
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update()
    return {row.id: row for row in session.scalars(query)}


# What a state move of a message may change (sender's record, status callbacks): the columns of the
# compact change-log entry (op ``patch``, docs/protocol.md). Everything else of a message is written
# once, when it is queued (a full ``upsert``).
STATE_COLUMNS = (
    "status",
    "status_at",
    "sent_at",
    "provider_id",
    "error_code",
    "error",
    "attempts",
    "next_attempt_at",
    "claimed_by",
    "claimed_until",
)
PATCH_COLUMNS = (*STATE_COLUMNS, "updated_at")


def states(rows: Mapping[str, Notification]) -> dict[str, tuple[Any, ...]]:
    """Each message's state columns now (to compare after the writes: unchanged rows are not logged)."""
    return {i: tuple(getattr(row, c) for c in STATE_COLUMNS) for i, row in rows.items()}


def state_patch(
    rows: Mapping[str, Notification], before: Mapping[str, tuple[Any, ...]]
) -> dict[str, Any] | None:
    """ONE compact change-log entry for the messages whose state changed since ``before`` (after the
    flush): ``{"columns": [...], "rows": [[id, value, ...], ...]}`` in id order; None when none did.
    A callback that changes nothing a CSR sees (``sent`` after the record said sent, a redelivery)
    writes nothing."""
    out = []
    for i in sorted(rows):
        row = rows[i]
        now = tuple(getattr(row, c) for c in STATE_COLUMNS)
        if before.get(i) == now:
            continue
        out.append([i, *(json_value(v) for v in now), json_value(row.updated_at)])
    return {"columns": list(PATCH_COLUMNS), "rows": out} if out else None


def append_changes(
    session: Session,
    collector: ChangeCollector,
    *,
    locked: bool,
    rows: Mapping[str, Notification] | None = None,
    before: Mapping[str, tuple[Any, ...]] | None = None,
) -> int:
    """Write the rows (before the change-log lock unless ``locked``), then append their change-log rows
    under the lock; the last version written (0 when nothing changed). ``rows`` (state moves, with their
    ``before`` states) go as one compact ``patch`` entry instead of a full row each; anything else
    written (a contact method marked Do not text, a fallback email queued) as full rows."""
    from .notify_sender import _log

    if rows:
        # Stamped here, one value, so the patch carries exactly what the rows hold (the column's own
        # onupdate stamp is taken per row inside the flush, where the patch can't see it).
        stamp = utcnow()
        for i, row in rows.items():
            if (before or {}).get(i) != tuple(getattr(row, c) for c in STATE_COLUMNS):
                row.updated_at = stamp
    session.flush()
    patch = state_patch(rows, before or {}) if rows else None
    if rows:
        collector.forget("notifications", rows)  # in the patch (or unchanged): no full rows
    if not locked:
        lock_change_log(session)
    version = _log(session, collector)
    if patch is not None:
        version = session.execute(
            insert(ChangeRow.__table__).returning(ChangeRow.__table__.c.version),
            {"entity": "notifications", "entity_id": "", "op": PATCH, "data": patch},
        ).scalar_one()
    return version
