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
import decimal
import enum
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, time
from typing import Any

from sqlalchemy import JSON, event, func, insert, select, text, tuple_
from sqlalchemy.orm import Session, sessionmaker

from models.attribution import ACTOR_ID
from models.base import utcnow
from models.booking import ACCEPT_AND_FLAG
from models.conflicts import ACTOR_NAME, THREE_WAY
from models.customers import ContactMethod, Customer, Location
from models.handlers import HANDLERS
from models.job_numbers import PUSHING_CLIENT, claim_prefix
from models.jobs import Job
from models.journal import AuditEntry
from models.notify_rules import on_job_event
from models.schema import metadata
from models.setup import User
from models.sync_tables import REDACTED_COLUMNS, ChangeRow, ReceiptRow, ServerClient
from models.timeutil import utc_iso
from models.validation import ValidationFailed

from .changes import _MAPPERS, ChangeCollector, console_may_read, row_data, synced_tables
from .protocol import OVERSIZE, Mutation, ProtocolError, Receipt

log = logging.getLogger("csr.server.apply")
# One key for every writer: on PostgreSQL, change-log versions are handed out in commit order because
# writers take this transaction-scoped lock first (a later version never commits before an earlier one,
# so a console's cursor can't skip a change that commits late). SQLite serializes writers anyway.
CHANGE_LOG_LOCK = 7_420_001
# Mutations per transaction: few commits for a big catch-up, while the change-log lock (which every
# writer on every instance takes) is never held for long.
PUSH_BATCH = 50


_ENTITY_MODELS: dict[str, Any] = {
    "customer": Customer,
    "location": Location,
    "contact": ContactMethod,
    "job": Job,
}


@dataclass
class _Outcome:
    """One mutation's result inside a batch: its receipt (the version is set when the batch's change
    rows are written), the changes it made, and what its audit entry says (no action: no entry)."""

    receipt: Receipt
    changes: list[tuple[str, str, str, dict[str, Any]]] = field(default_factory=list)
    entity: str = ""
    entity_id: str = ""
    action: str = ""
    details: dict[str, Any] = field(default_factory=dict)


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

    def claim_prefix(self, client_id: str, user_id: str, wanted: str | None) -> str:
        """This console's job-number prefix, registered now if it has none (models/job_numbers.py)."""
        with self.sessions.begin() as session:
            return claim_prefix(session, client_id, user_id, wanted)

    def register(self, client_id: str, user_id: str) -> None:
        """A console logs in: remember whose it is; another user's console id is refused."""
        with self.sessions.begin() as session:
            client = session.get(ServerClient, client_id)
            if client is None:
                session.add(ServerClient(client_id=client_id, user_id=user_id, last_seq=0))
                # Consoles learn who this user is (jobs and calls name them), never the password hash.
                user = session.get(User, user_id)
                if user is not None:
                    lock_change_log(session)
                    session.add(
                        ChangeRow(
                            entity="users", entity_id=user.id, op="upsert", data=row_data(session, user)
                        )
                    )
            elif client.user_id and client.user_id != user_id:
                raise ProtocolError("foreign_client", fatal=True)
            else:
                client.user_id = user_id
                client.last_seen = utcnow()

    def push(
        self,
        client_id: str,
        user_id: str,
        mutations: list[Mutation],
        allowed: Callable[[str], bool] = lambda name: True,
    ) -> PushResult:
        """Apply a push, at most PUSH_BATCH mutations per transaction (each in its own savepoint, its
        receipt in the same transaction): a reconnecting console's 1,000 queued bookings cost a few
        commits, not a thousand. ``allowed(intent name)``: the pusher's role check; a refused intent
        is a rejected receipt (it advances the sequence like any refusal, so the queue never blocks).
        A gap or a reused sequence number ends the push: what was applied before it is committed and
        the error is raised after the commit (the console resends; replays get stored receipts)."""
        receipts: list[Receipt] = []
        ordered = sorted(mutations, key=lambda m: m.seq)
        for start in range(0, len(ordered), PUSH_BATCH):
            batch_receipts, error = self._apply_batch(
                client_id, user_id, ordered[start : start + PUSH_BATCH], allowed
            )
            receipts += batch_receipts
            if error is not None:
                raise error
        with self.sessions() as session:
            version = current_version(session)
        return PushResult(receipts, version)

    def apply_one(
        self,
        client_id: str,
        user_id: str,
        mutation: Mutation,
        allowed: Callable[[str], bool] = lambda name: True,
    ) -> Receipt:
        receipts, error = self._apply_batch(client_id, user_id, [mutation], allowed)
        if error is not None:
            raise error
        return receipts[0]

    def _apply_batch(
        self, client_id: str, user_id: str, mutations: list[Mutation], allowed: Callable[[str], bool]
    ) -> tuple[list[Receipt], ProtocolError | None]:
        receipts: list[Receipt] = []
        error: ProtocolError | None = None
        with self.sessions.begin() as session:
            # The session's identity map holds rows weakly: keep what the batch loads (customers,
            # locations, setup rows) so the next mutation finds them without another query.
            kept: list[Any] = []
            event.listen(session, "loaded_as_persistent", lambda _s, obj: kept.append(obj))
            session.info["now"] = self.clock()
            session.info[ACCEPT_AND_FLAG] = True  # an offline booking that lost the race is kept
            session.info[THREE_WAY] = True  # record edits merge per field (models/conflicts.py)
            session.info[ACTOR_NAME] = self._display_name(session, user_id)
            # Who did it comes from the signed-in session (models/attribution.py), and the console's job
            # numbers are checked against the prefixes it holds (models/job_numbers.py).
            session.info[ACTOR_ID] = user_id
            session.info[PUSHING_CLIENT] = client_id
            lock_change_log(session)
            stored_rows = {
                r.seq: r
                for r in session.scalars(
                    select(ReceiptRow).where(
                        ReceiptRow.client_id == client_id, ReceiptRow.seq.in_([m.seq for m in mutations])
                    )
                )
            }
            client = session.get(ServerClient, client_id)
            if client is None:
                client = ServerClient(client_id=client_id, user_id=user_id, last_seq=0)
                session.add(client)
            _prefetch(session, mutations)
            # Change-log rows, receipts and audit entries are written once for the whole batch, with
            # core statements, after its last mutation (same transaction).
            applied: list[_Outcome] = []
            # The console's sequence is written once, after the batch (same transaction): set per
            # mutation, every savepoint flushed an UPDATE of it first.
            last_seq = client.last_seq
            for mutation in mutations:
                stored = stored_rows.get(mutation.seq)
                if stored is not None:
                    if stored.mutation_id != mutation.mutation_id:
                        error = ProtocolError(
                            "bad_message",
                            f"Sequence {mutation.seq} was already used by another change from this console.",
                        )
                        break
                    receipts.append(_receipt(stored))
                    continue
                expected = last_seq + 1
                if mutation.seq != expected:
                    error = ProtocolError("gap", details={"expected_seq": expected})
                    break
                if allowed(mutation.name):
                    outcome = self._run(session, client_id, user_id, mutation)
                else:
                    outcome = _Outcome(
                        Receipt(
                            seq=mutation.seq,
                            mutation_id=mutation.mutation_id,
                            status="rejected",
                            errors={"role": "Your role may not make this change."},
                        )
                    )
                last_seq = mutation.seq
                applied.append(outcome)
            if applied:
                client.last_seq = last_seq
                client.last_seen = utcnow()
            receipts += self._record(session, client_id, user_id, applied)
        return receipts, error

    @staticmethod
    def _record(session: Session, client_id: str, user_id: str, outcomes: list[_Outcome]) -> list[Receipt]:
        """The batch's change-log rows (one INSERT … RETURNING: versions in mutation order), then its
        receipts (each naming its last version) and audit entries."""
        changes = [
            {"entity": e, "entity_id": i, "op": op, "data": data}
            for o in outcomes
            for e, i, op, data in o.changes
        ]
        if changes:
            versions = _append_changes(session, changes)
            position = 0
            for o in outcomes:
                if o.changes:
                    position += len(o.changes)
                    o.receipt = o.receipt.model_copy(update={"server_version": versions[position - 1]})
        if not outcomes:
            return []
        session.execute(
            insert(ReceiptRow.__table__),
            [
                {
                    "client_id": client_id,
                    "seq": o.receipt.seq,
                    "mutation_id": o.receipt.mutation_id,
                    "status": o.receipt.status,
                    "server_version": o.receipt.server_version,
                    "response": {"errors": o.receipt.errors, "result": o.receipt.result},
                }
                for o in outcomes
            ],
        )
        audit = [
            {
                "actor": user_id,
                "entity": o.entity,
                "entity_id": o.entity_id,
                "action": o.action,
                "mutation_id": o.receipt.mutation_id,
                "details": o.details,
            }
            for o in outcomes
            if o.action
        ]
        if audit:
            session.execute(insert(AuditEntry.__table__), audit)
        return [o.receipt for o in outcomes]

    def _run(self, session: Session, client_id: str, user_id: str, mutation: Mutation) -> _Outcome:
        if mutation.name == OVERSIZE:
            return _Outcome(
                Receipt(
                    seq=mutation.seq,
                    mutation_id=mutation.mutation_id,
                    status="rejected",
                    errors={"size": "This change is too large to send to the server."},
                )
            )
        handler = HANDLERS.get(mutation.name)
        if handler is None:
            return _Outcome(
                Receipt(
                    seq=mutation.seq,
                    mutation_id=mutation.mutation_id,
                    status="rejected",
                    errors={"intent": f"Unknown action '{mutation.name}'."},
                )
            )
        args = copy.deepcopy(mutation.args)
        savepoint = session.begin_nested()
        collector = ChangeCollector(session)
        try:
            applied = handler(session, args)
            if applied.entity == "job":
                # The customer's messages are queued in the same transaction (docs/notifications.md).
                on_job_event(
                    session, mutation.name, args, applied.entity_id, session.info["now"], mutation.mutation_id
                )
            changes = collector.collect()
        except ValidationFailed as exc:
            collector.collect()
            savepoint.rollback()
            return _Outcome(
                Receipt(
                    seq=mutation.seq, mutation_id=mutation.mutation_id, status="rejected", errors=exc.errors
                )
            )
        except Exception:
            savepoint.rollback()
            log.exception("mutation %s %s from %s failed", mutation.name, mutation.mutation_id, client_id)
            return _Outcome(
                Receipt(
                    seq=mutation.seq,
                    mutation_id=mutation.mutation_id,
                    status="rejected",
                    errors={"form": "The server could not apply this change; support has the details."},
                )
            )
        savepoint.commit()
        # The record the intent is about goes back to every console even when the merge left it as
        # stored (a lost same-field race): the console that wrote it optimistically must converge.
        model = _ENTITY_MODELS.get(applied.entity)
        if model is not None:
            row = session.get(model, applied.entity_id)
            if row is not None and not any(
                c[0] == model.__tablename__ and c[1] == applied.entity_id for c in changes
            ):
                changes.append((model.__tablename__, applied.entity_id, "upsert", row_data(session, row)))
        receipt = Receipt(
            seq=mutation.seq,
            mutation_id=mutation.mutation_id,
            status="applied",
            result={"entity": applied.entity, "id": applied.entity_id, "warnings": applied.warnings},
        )
        return _Outcome(receipt, changes, applied.entity, applied.entity_id, mutation.name, args)

    @staticmethod
    def _display_name(session: Session, user_id: str) -> str:
        user = session.get(User, user_id) if user_id else None
        return user.display_name if user is not None else user_id

    def fetch(self, keys: list[list[str]]) -> list[tuple[str, str, str, dict[str, Any]]]:
        """Each (table, primary key)'s current row, or a delete when it no longer exists."""
        out: list[tuple[str, str, str, dict[str, Any]]] = []
        with self.sessions() as session:
            for table, pk in keys:
                mapper = _MAPPERS.get(table)
                if mapper is None or not console_may_read(table):
                    raise ProtocolError("bad_message", f"'{table}' is not a table consoles can read.")
                ident = pk.split(":") if len(mapper.primary_key) > 1 else pk
                row = session.get(mapper.class_, ident)
                out.append(
                    (table, pk, "delete", {})
                    if row is None
                    else (table, pk, "upsert", row_data(session, row))
                )
        return out

    def snapshot(
        self, table: str, after: str, limit: int
    ) -> tuple[list[str], list[list[Any]], str, bool, int]:
        """A page of ``table`` in primary-key order after ``after`` (initial sync of a new console):
        (columns, rows, last key, done, server version read before the page)."""
        if table == "*":
            # The plan: every table a console copies, in order, with its row count (for progress).
            with self.sessions() as session:
                version = current_version(session)
                counts = [
                    [name, session.scalar(select(func.count()).select_from(metadata.tables[name])) or 0]
                    for name in synced_tables()
                ]
            return ["table", "rows"], counts, "", True, version
        if not console_may_read(table):
            raise ProtocolError("bad_message", f"'{table}' is not a table consoles can read.")
        t = metadata.tables[table]
        pk = list(t.primary_key.columns)
        columns = [c.name for c in t.columns]
        parts: list[Any] = []
        if after:
            parts = after.split(":")
            if len(parts) != len(pk):
                raise ProtocolError("bad_message", "Malformed snapshot position.")
            try:
                parts = [int(p) if _python_type(c) is int else p for p, c in zip(parts, pk, strict=True)]
            except ValueError as exc:
                raise ProtocolError("bad_message", "Malformed snapshot position.") from exc
        with self.sessions() as session:
            version = current_version(session)
            wired = session.get_bind().dialect.name == "sqlite"
            if wired:
                result = _sqlite_page(session, t, pk, parts, limit + 1)  # already in wire format
            else:
                query = select(*t.columns).order_by(*pk).limit(limit + 1)
                if parts:
                    query = (
                        query.where(tuple_(*pk) > tuple_(*parts))
                        if len(pk) > 1
                        else query.where(pk[0] > parts[0])
                    )
                result = [tuple(r) for r in session.execute(query)]
        done = len(result) <= limit
        result = result[:limit]
        hidden = REDACTED_COLUMNS.get(table, ())
        convert = [
            (lambda _v: "") if c.name in hidden else None if wired else _json_converter(c) for c in t.columns
        ]
        if any(convert):
            # Column by column (map loops in C); None stays None.
            by_column = list(zip(*result, strict=True)) or [() for _ in columns]
            rows = [
                list(r)
                for r in zip(
                    *[
                        [None if v is None else f(v) for v in col] if f else col
                        for f, col in zip(convert, by_column, strict=True)
                    ],
                    strict=True,
                )
            ]
        else:
            rows = [list(r) for r in result]
        positions = [columns.index(c.name) for c in pk]
        last = ":".join(str(result[-1][i]) for i in positions) if result else after
        return columns, rows, last, done, version

    def changes_since(self, cursor: int, limit: int) -> tuple[list[ChangeRow], int, bool]:
        with self.sessions() as session:
            rows = list(
                session.scalars(
                    select(ChangeRow)
                    .where(ChangeRow.version > cursor)
                    .order_by(ChangeRow.version)
                    .limit(limit + 1)
                )
            )
            more = len(rows) > limit
            rows = rows[:limit]
            for r in rows:
                session.expunge(r)
            return rows, (rows[-1].version if rows else cursor), more


def _append_changes(session: Session, changes: list[dict[str, Any]]) -> list[int]:
    """Insert change-log rows; their versions, in order. On SQLite the writer holds the database's only
    write lock (BEGIN IMMEDIATE), so the versions are numbered here and inserted in one executemany
    (SQLite can't promise RETURNING's order, so SQLAlchemy would insert them one statement each); on
    PostgreSQL the sequence numbers them under the change-log lock, one INSERT … RETURNING."""
    table = ChangeRow.__table__
    if session.get_bind().dialect.name == "sqlite":
        first = current_version(session) + 1
        versions = list(range(first, first + len(changes)))
        session.execute(insert(table), [{**c, "version": v} for c, v in zip(changes, versions, strict=True)])
        return versions
    return list(
        session.execute(
            insert(table).returning(table.c.version, sort_by_parameter_order=True), changes
        ).scalars()
    )


_PREFETCH = (("customer_id", Customer), ("location_id", Location))


def _prefetch(session: Session, mutations: list[Mutation]) -> None:
    """Load the customers and locations a batch's mutations name with one query each (the handlers'
    ``session.get`` then finds them in the identity map; the batch keeps them alive)."""
    wanted: dict[str, set[str]] = {key: set() for key, _ in _PREFETCH}
    for mutation in mutations:
        for part in (mutation.args, *(v for v in mutation.args.values() if isinstance(v, dict))):
            for key, ids in wanted.items():
                value = part.get(key)
                if isinstance(value, str) and value:
                    ids.add(value)
    for key, model in _PREFETCH:
        if wanted[key]:
            session.scalars(select(model).where(model.id.in_(wanted[key]))).all()


def _python_type(column: Any) -> Any:
    try:
        return column.type.python_type
    except NotImplementedError:
        return object


def _sqlite_page(session: Session, t: Any, pk: list[Any], after: list[Any], limit: int) -> list[tuple]:
    """A page straight from the SQLite driver (an order of magnitude faster than Row objects for the
    initial sync of a 1M-customer store); values are turned into the wire format below."""
    names = ", ".join(f'"{c.name}"' for c in t.columns)
    keys = ", ".join(f'"{c.name}"' for c in pk)
    where = f"WHERE ({keys}) > ({', '.join('?' for _ in pk)})" if after else ""
    sql = f'SELECT {names} FROM "{t.name}" {where} ORDER BY {keys} LIMIT ?'
    raw = session.connection().connection.driver_connection
    rows = raw.execute(sql, [*after, limit]).fetchall()
    fixes = [_sqlite_wire(c) for c in t.columns]
    if not any(fixes):
        return rows
    by_column = list(zip(*rows, strict=True))
    if not by_column:
        return rows
    return list(
        zip(
            *[
                [None if v is None else f(v) for v in col] if f else col
                for f, col in zip(fixes, by_column, strict=True)
            ],
            strict=True,
        )
    )


def _sqlite_wire(column: Any) -> Callable[[Any], Any] | None:
    """SQLite's stored value → the wire format (what _json_converter makes of the ORM's values):
    datetimes as ISO text in UTC with ``Z``, booleans, JSON documents, decimals as numbers; enums are
    stored as values."""
    python_type = _python_type(column)
    if python_type is datetime:
        return _sqlite_time
    if python_type is bool:
        return bool
    if isinstance(column.type, JSON):
        return lambda v: json.loads(v) if isinstance(v, str) else v
    if python_type is decimal.Decimal:
        return float
    return None


def _sqlite_time(v: Any) -> Any:
    """SQLite's stored text of a UTC time ("2026-12-05 18:07:57.123456") → "2026-12-05T18:07:57.123456Z"."""
    if not isinstance(v, str):
        return utc_iso(v) if isinstance(v, datetime) else v
    if len(v) in (19, 26) and v[10] in " T":
        return f"{v[:10]}T{v[11:]}Z"  # the common case, cheap for a million rows
    try:
        return utc_iso(datetime.fromisoformat(v))
    except ValueError:
        return v


def _json_converter(column: Any) -> Callable[[Any], Any] | None:
    try:
        python_type = column.type.python_type
    except NotImplementedError:
        return None
    if python_type is datetime:
        return lambda v: v if isinstance(v, str) else utc_iso(v)
    if python_type in (date, time):
        return lambda v: v if isinstance(v, str) else v.isoformat()
    if issubclass(python_type, enum.Enum):
        return lambda v: v.value if isinstance(v, enum.Enum) else v
    if python_type is decimal.Decimal:
        return float
    return None


def _receipt(row: ReceiptRow) -> Receipt:
    response = row.response or {}
    return Receipt(
        seq=row.seq,
        mutation_id=row.mutation_id,
        status=row.status,  # type: ignore[arg-type]
        errors=response.get("errors") or {},
        result=response.get("result") or {},
        server_version=row.server_version,
    )
