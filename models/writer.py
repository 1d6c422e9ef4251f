"""The local write path: apply an intent to the cache and queue it in the outbox, atomically."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import event, func, inspect, select, update
from sqlalchemy.orm import Session, sessionmaker

from . import search_index
from .base import new_id, utcnow
from .conflicts import ACTOR_NAME
from .handlers import HANDLERS
from .intent_kit import Applied
from .journal import MAX_MUTATION_BYTES, AuditEntry, ClientState, OutboxEntry, ensure_client
from .sync_tables import NOT_SYNCED
from .validation import ValidationFailed


@dataclass
class WriteResult:
    mutation_id: str
    seq: int
    applied: Applied
    args: dict[str, Any]  # as queued: with the ids and numbers the handler minted


def client_id(session: Session) -> str:
    """This console's id, minted on first use and kept in the cache."""
    return ensure_client(session).client_id


class LocalWriter:
    """Runs intents against the local cache. The cache change, the search index, the audit row and
    the outbox row commit together or not at all."""

    def __init__(
        self, sessions: sessionmaker[Session], actor: str = "", clock: Callable[[], datetime] = utcnow
    ) -> None:
        self.sessions = sessions
        self.actor = actor
        self.clock = clock  # "now" for the handlers' checks (past windows): never the caller's

    def execute(self, name: str, args: dict[str, Any]) -> WriteResult:
        handler = HANDLERS.get(name)
        if handler is None:
            raise ValidationFailed({"intent": f"Unknown action '{name}'."})
        if not isinstance(args, dict):
            raise ValidationFailed({"args": "The change is malformed."})
        try:
            # The outbox stores JSON and the server may be PostgreSQL: NaN, infinity or non-JSON
            # values are refused here rather than queued.
            json.dumps(args, allow_nan=False)
        except (TypeError, ValueError) as exc:
            raise ValidationFailed({"args": "The change contains a value that can't be sent."}) from exc
        args = copy.deepcopy(args)
        with self.sessions.begin() as session:
            session.info["now"] = self.clock()
            session.info[ACTOR_NAME] = self.actor
            touched = _Touched(session)
            applied = handler(session, args)
            size = len(json.dumps(args).encode())
            if size > MAX_MUTATION_BYTES:
                # It could never be sent: refused now, while the CSR still has the text in front of them.
                raise ValidationFailed(
                    {
                        "size": f"This change is too large to send to the server ({size // 1024:,} kB; "
                        f"at most {MAX_MUTATION_BYTES // 1024:,} kB). Shorten the text."
                    }
                )
            session.flush()
            touched.stop()
            search_index.refresh(session_executor(session), applied.customers)
            cid = client_id(session)
            # Read-and-bump inside this transaction: SQLite's write lock makes it race-free.
            seq = (
                session.execute(
                    update(ClientState)
                    .where(ClientState.client_id == cid)
                    .values(next_seq=ClientState.next_seq + 1)
                    .returning(ClientState.next_seq)
                ).scalar_one()
                - 1
            )
            mutation_id = new_id()
            session.add(
                OutboxEntry(
                    client_id=cid,
                    seq=seq,
                    mutation_id=mutation_id,
                    name=name,
                    args=args,
                    touched=touched.rows(),
                )
            )
            session.add(
                AuditEntry(
                    actor=self.actor,
                    entity=applied.entity,
                    entity_id=applied.entity_id,
                    action=name,
                    mutation_id=mutation_id,
                    details=args,
                )
            )
        return WriteResult(mutation_id, seq, applied, args)

    def pending_count(self) -> int:
        with self.sessions() as session:
            return session.scalar(select(func.count()).select_from(OutboxEntry)) or 0


class _Touched:
    """The synced rows a handler writes, as [[table, primary key], ...] (sync_tables.NOT_SYNCED aside)."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self._rows: dict[tuple[str, str], None] = {}
        event.listen(session, "after_flush", self._after_flush)

    def _after_flush(self, session: Session, _ctx: Any) -> None:
        for obj in [*session.new, *session.dirty, *session.deleted]:
            mapper = inspect(obj).mapper
            table = mapper.local_table.name
            if table not in NOT_SYNCED:
                key = ":".join(str(v) for v in mapper.primary_key_from_instance(obj))
                self._rows[(table, key)] = None

    def stop(self) -> None:
        event.remove(self.session, "after_flush", self._after_flush)

    def rows(self) -> list[list[str]]:
        return [[t, k] for t, k in self._rows]


def session_executor(session: Session):  # noqa: ANN202
    """Run search_index.refresh's qmark SQL on the session's own DBAPI connection (same transaction)."""
    raw = session.connection().connection.driver_connection

    def run(sql: str, params: list[Any]) -> list[tuple]:
        return raw.execute(sql, params).fetchall()

    return run
