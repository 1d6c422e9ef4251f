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
from collections.abc import Iterable

from sqlalchemy import select
from sqlalchemy.orm import Session

from models.notifications import Notification
from models.notify_templates import NotifySettings, load_settings

from .apply import lock_change_log
from .changes import ChangeCollector

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


def append_changes(session: Session, collector: ChangeCollector, *, locked: bool) -> int:
    """Write the rows (before the change-log lock unless ``locked``), then append their change-log rows
    under the lock; the last version written (0 when nothing changed)."""
    from .notify_sender import _log

    session.flush()
    if not locked:
        lock_change_log(session)
    return _log(session, collector)
