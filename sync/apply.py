"""The server's write path: apply a console's mutations exactly once.

For each mutation, in ONE transaction: a replay returns its stored receipt and changes nothing; a
sequence gap is refused so the console resends from the expected number; otherwise the same intent
handler the console ran (models/handlers.py) re-validates and applies it, the rows it wrote go to the
change log under new global versions, and the receipt is stored. A domain refusal (validation) is a
receipt too: it advances the sequence, so one bad write never blocks the queue (ARCHITECTURE.md,
sync rules 1–4).
"""

from __future__ import annotations

import copy
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select, text
from sqlalchemy.orm import Session, sessionmaker

from models.base import utcnow
from models.booking import ACCEPT_AND_FLAG
from models.handlers import HANDLERS
from models.journal import AuditEntry
from models.sync_tables import ChangeRow, ReceiptRow, ServerClient
from models.validation import ValidationFailed

from .changes import ChangeCollector
from .protocol import Mutation, ProtocolError, Receipt

log = logging.getLogger("csr.server.apply")
# One key for every writer: on PostgreSQL, change-log versions are handed out in commit order because
# writers take this transaction-scoped lock first (a later version never commits before an earlier one,
# so a console's cursor can't skip a change that commits late). SQLite serializes writers anyway.
CHANGE_LOG_LOCK = 7_420_001


@dataclass
class PushResult:
    receipts: list[Receipt]
    server_version: int


def lock_change_log(session: Session) -> None:
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": CHANGE_LOG_LOCK})


def current_version(session: Session) -> int:
    return session.scalar(select(func.coalesce(func.max(ChangeRow.version), 0))) or 0


class Applier:
    """Applies pushes for one server (any number of instances may share the database)."""

    def __init__(self, sessions: sessionmaker[Session], clock: Callable[[], datetime] = utcnow) -> None:
        self.sessions = sessions
        self.clock = clock

    def next_seq(self, client_id: str) -> int:
        with self.sessions() as session:
            client = session.get(ServerClient, client_id)
            return (client.last_seq if client else 0) + 1

    def register(self, client_id: str, user_id: str) -> None:
        """A console logs in: remember whose it is; another user's console id is refused."""
        with self.sessions.begin() as session:
            client = session.get(ServerClient, client_id)
            if client is None:
                session.add(ServerClient(client_id=client_id, user_id=user_id, last_seq=0))
            elif client.user_id and client.user_id != user_id:
                raise ProtocolError("foreign_client", fatal=True)
            else:
                client.user_id = user_id
                client.last_seen = utcnow()

    def push(self, client_id: str, user_id: str, mutations: list[Mutation]) -> PushResult:
        receipts: list[Receipt] = []
        for mutation in sorted(mutations, key=lambda m: m.seq):
            receipts.append(self.apply_one(client_id, user_id, mutation))
        with self.sessions() as session:
            version = current_version(session)
        return PushResult(receipts, version)

    def apply_one(self, client_id: str, user_id: str, mutation: Mutation) -> Receipt:
        with self.sessions.begin() as session:
            session.info["now"] = self.clock()
            session.info[ACCEPT_AND_FLAG] = True      # an offline booking that lost the race is kept
            lock_change_log(session)
            stored = session.get(ReceiptRow, (client_id, mutation.seq))
            if stored is not None:
                if stored.mutation_id != mutation.mutation_id:
                    raise ProtocolError("bad_message", f"Sequence {mutation.seq} was already used by another "
                                                       "change from this console.")
                return _receipt(stored)
            client = session.get(ServerClient, client_id)
            if client is None:
                client = ServerClient(client_id=client_id, user_id=user_id, last_seq=0)
                session.add(client)
            expected = client.last_seq + 1
            if mutation.seq != expected:
                raise ProtocolError("gap", details={"expected_seq": expected})
            receipt = self._run(session, client_id, user_id, mutation)
            client.last_seq = mutation.seq
            client.last_seen = utcnow()
            session.add(ReceiptRow(client_id=client_id, seq=mutation.seq, mutation_id=mutation.mutation_id,
                                   status=receipt.status, server_version=receipt.server_version,
                                   response={"errors": receipt.errors, "result": receipt.result}))
            return receipt

    def _run(self, session: Session, client_id: str, user_id: str, mutation: Mutation) -> Receipt:
        handler = HANDLERS.get(mutation.name)
        if handler is None:
            return Receipt(seq=mutation.seq, mutation_id=mutation.mutation_id, status="rejected",
                           errors={"intent": f"Unknown action '{mutation.name}'."})
        args = copy.deepcopy(mutation.args)
        savepoint = session.begin_nested()
        collector = ChangeCollector(session)
        try:
            applied = handler(session, args)
            changes = collector.collect()
        except ValidationFailed as exc:
            collector.collect()
            savepoint.rollback()
            return Receipt(seq=mutation.seq, mutation_id=mutation.mutation_id, status="rejected",
                           errors=exc.errors)
        except Exception:
            savepoint.rollback()
            log.exception("mutation %s %s from %s failed", mutation.name, mutation.mutation_id, client_id)
            return Receipt(seq=mutation.seq, mutation_id=mutation.mutation_id, status="rejected",
                           errors={"form": "The server could not apply this change; support has the details."})
        savepoint.commit()
        version = 0
        for entity, entity_id, op, data in changes:
            row = ChangeRow(entity=entity, entity_id=entity_id, op=op, data=data)
            session.add(row)
            session.flush()
            version = row.version
        session.add(AuditEntry(actor=user_id, entity=applied.entity, entity_id=applied.entity_id,
                               action=mutation.name, mutation_id=mutation.mutation_id, details=args))
        return Receipt(seq=mutation.seq, mutation_id=mutation.mutation_id, status="applied",
                       result={"entity": applied.entity, "id": applied.entity_id,
                               "warnings": applied.warnings}, server_version=version)

    def changes_since(self, cursor: int, limit: int) -> tuple[list[ChangeRow], int, bool]:
        with self.sessions() as session:
            rows = list(session.scalars(select(ChangeRow).where(ChangeRow.version > cursor)
                                        .order_by(ChangeRow.version).limit(limit + 1)))
            more = len(rows) > limit
            rows = rows[:limit]
            for r in rows:
                session.expunge(r)
            return rows, (rows[-1].version if rows else cursor), more


def _receipt(row: ReceiptRow) -> Receipt:
    response = row.response or {}
    return Receipt(seq=row.seq, mutation_id=row.mutation_id, status=row.status,  # type: ignore[arg-type]
                   errors=response.get("errors") or {}, result=response.get("result") or {},
                   server_version=row.server_version)
