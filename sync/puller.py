"""The pull side of sync: the server's change log, page by page from this cache's cursor, applied in
short transactions (the cursor moves with the last one), with this console's own edits that the
server has not echoed yet laid over the pulled rows so a CSR never sees an edit flicker back.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from models import search_index
from models.journal import OutboxEntry
from models.setup_edit import KINDS as SETUP_KINDS
from models.setup_edit import reapply_save, save_target
from models.sync_tables import NOT_SYNCED, AckedEdit, SyncState
from models.writer import session_executor

from .changes import _MAPPERS, PATCH, apply_change, patch_ids
from .channel import Channel, answer
from .pusher import REBASED, REBASED_SETUP

log = logging.getLogger("csr.sync.client")
CURSOR_KEY = "pull_cursor"
APPLY_CHUNK = 200  # pulled changes per cache transaction (a few ms each)
REBASED_TABLES = frozenset(table for table, _key in REBASED.values()) | frozenset(
    k.model.__tablename__ for k in SETUP_KINDS.values()
)
Hook = Callable[[Session], None]


class ChangedTables(set):
    """The tables a pull touched (a plain ``set`` of names, what ``on_changes`` always got), and which rows
    of each: ``rows[table]`` holds the entity ids, so a list can re-read only the rows that changed."""

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.rows: dict[str, set[str]] = {}

    def add_row(self, table: str, entity_id: str) -> None:
        self.add(table)
        self.rows.setdefault(table, set()).add(entity_id)

    def merge(self, other: set[str]) -> None:
        self.update(other)
        for table, ids in getattr(other, "rows", {}).items():
            self.rows.setdefault(table, set()).update(ids)


class Puller:
    """Pulls and applies the change log for one console cache; ``on_pulled`` gets the customers whose
    record changed, ``on_changes`` the tables a pull touched."""

    def __init__(
        self,
        cache: Any,
        page: int,
        on_pulled: Callable[[set[str]], None],
        on_changes: Callable[[set[str]], None],
    ) -> None:
        self.cache = cache
        self.page = page
        self.on_pulled = on_pulled
        self.on_changes = on_changes

    def cursor(self) -> int:
        with self.cache.sessions() as session:
            row = session.get(SyncState, CURSOR_KEY)
            return row.value if row else 0

    async def pull(self, ws: Channel) -> None:
        while True:
            cursor = await asyncio.to_thread(self.cursor)  # not on the loop: the UI thread in a console
            await ws.send(json.dumps({"type": "pull", "cursor": cursor, "limit": self.page}))
            reply = await answer(ws, "changes")
            # Applied off the UI thread (a page can be thousands of rows), in one transaction with
            # the new cursor: a crash leaves either both or neither.
            await self.apply(reply["changes"], reply["cursor"])
            if not reply.get("more"):
                return

    async def follow(self, changes: list[dict[str, Any]], after: int, cursor: int) -> bool:
        """A poke's changes (those after version ``after``, up to ``cursor``): applied, with the cursor,
        only if this cache stands exactly at ``after`` — checked in the applying transaction. False: not
        applied (another cursor, or rows this cache lacks): pull instead."""
        result = await asyncio.to_thread(self._follow, changes, after, cursor)
        if result is None:
            return False
        touched, tables = result
        if touched:
            self.on_pulled(touched)
        if tables:
            self.on_changes(tables)
        return True

    def _follow(
        self, changes: list[dict[str, Any]], after: int, cursor: int
    ) -> tuple[set[str], set[str]] | None:
        try:
            with self._transaction(relaxed=True) as session:
                state = session.get(SyncState, CURSOR_KEY)
                if (state.value if state else 0) != after:
                    return None
                return self._apply_chunk(session, changes, cursor, None)
        except IntegrityError:
            return None  # the pull path applies it (and says so in the log)

    @contextlib.contextmanager
    def _transaction(self, *, relaxed: bool) -> Iterator[Session]:
        """A cache transaction for pulled rows. ``relaxed``: committed without waiting for the disk
        (``synchronous=NORMAL``; the CSR's own writes stay FULL). A power cut can only lose such a
        transaction whole, rows and cursor together (one WAL commit), and the next pull brings it again;
        waiting for the disk cost 40% of applying a pulled change."""
        if not relaxed:
            with self.cache.sessions.begin() as session:
                yield session
            return
        with self.cache.engine.connect() as conn:
            raw = conn.connection.driver_connection
            raw.execute("PRAGMA synchronous = NORMAL")  # outside any transaction: SQLite's rule
            try:
                with Session(bind=conn, expire_on_commit=False) as session, session.begin():
                    yield session
            finally:
                if raw.in_transaction:
                    # A commit SQLite refused (a deferred reference check) leaves its transaction open.
                    raw.execute("ROLLBACK")
                raw.execute("PRAGMA synchronous = FULL")

    async def apply(
        self, changes: list[dict[str, Any]], cursor: int | None = None, hook: Hook | None = None
    ) -> None:
        """Apply rows from the server off the UI thread and tell the window what changed. ``hook`` runs
        in the last transaction (e.g. marking refused changes restored, atomically with the rows)."""
        touched, tables = await asyncio.to_thread(self.apply_changes, changes, cursor, hook)
        if touched:
            self.on_pulled(touched)
        if tables:
            self.on_changes(tables)

    def apply_changes(
        self, changes: list[dict[str, Any]], cursor: int | None, hook: Hook | None = None
    ) -> tuple[set[str], set[str]]:
        """Apply pulled changes in short transactions (APPLY_CHUNK changes each), so a CSR's save never
        waits long for the cache's write lock; the cursor moves in the last one. Cut short, the page
        is pulled and applied again from the old cursor (applying a change twice is harmless)."""
        touched: set[str] = set()
        tables = ChangedTables()
        chunks = [changes[i : i + APPLY_CHUNK] for i in range(0, len(changes), APPLY_CHUNK)] or [[]]
        for n, chunk in enumerate(chunks):
            final = n == len(chunks) - 1
            last = cursor if cursor is not None and final else None
            chunk_hook = hook if final else None
            try:
                with self._transaction(relaxed=chunk_hook is None) as session:
                    chunk_touched, chunk_tables = self._apply_chunk(session, chunk, last, chunk_hook)
            except IntegrityError:
                # A row pointing at one this cache doesn't have (yet). The server checked it; a replica
                # that refused it would never sync again — apply it, and say so in the log.
                log.warning(
                    "pulled changes refer to rows this cache lacks; applied without reference checks",
                    exc_info=True,
                )
                with self.cache.engine.connect() as conn:
                    raw = conn.connection.driver_connection  # outside any transaction: the pragma holds
                    raw.execute("PRAGMA foreign_keys = OFF")
                    try:
                        with Session(bind=conn) as session, session.begin():
                            chunk_touched, chunk_tables = self._apply_chunk(session, chunk, last, chunk_hook)
                    finally:
                        raw.execute("PRAGMA foreign_keys = ON")
            touched |= chunk_touched
            tables.merge(chunk_tables)
            if not final:
                time.sleep(0.001)  # let a waiting save in before the next chunk (none after the last)
        return touched, tables

    def _apply_chunk(
        self, session: Any, chunk: list[dict[str, Any]], cursor: int | None, hook: Hook | None
    ) -> tuple[set[str], set[str]]:
        # Fetched rows (version 0) are the server's current rows: every confirmed edit is in them.
        newest = max((c.get("version") or 0 for c in chunk), default=0)
        keys: set[tuple[str, str]] = set()
        tables = ChangedTables()
        touched: set[str] = set()
        for change in chunk:
            entity = change["entity"]
            if entity in NOT_SYNCED:
                continue  # never ours to write, whatever a server sends
            if change["op"] == PATCH:
                for row_id in patch_ids(change.get("data") or {}):
                    tables.add_row(entity, row_id)
            else:
                tables.add_row(entity, str(change["entity_id"]))
                keys.add((entity, change["entity_id"]))
            customer = apply_change(
                session, entity, change["entity_id"], change["op"], change.get("data") or {}
            )
            if customer:
                touched.add(customer)
        later = (
            [
                (a.server_version, a.seq, a.name, a.args or {})
                for a in session.scalars(select(AckedEdit).where(AckedEdit.server_version > newest))
            ]
            if newest and keys
            else []
        )
        touched |= rebase(session, keys, later)
        if touched:
            search_index.refresh(session_executor(session), sorted(touched))
        if cursor is not None:
            state = session.get(SyncState, CURSOR_KEY) or SyncState(key=CURSOR_KEY, value=0)
            state.value = cursor
            session.merge(state)
            session.execute(
                delete(AckedEdit).where(AckedEdit.server_version <= cursor),
                execution_options={"synchronize_session": False},  # the session ends here
            )
        if hook is not None:
            hook(session)
        return touched, tables

    def rebase_copied(self, table: str, ids: set[str], since: int) -> None:
        """Rows just copied by the initial sync get this console's edits that the copy may predate."""
        with self.cache.sessions.begin() as session:
            acked = [
                (a.server_version, a.seq, a.name, a.args or {})
                for a in session.scalars(select(AckedEdit).where(AckedEdit.server_version > since))
            ]
            rebase(session, {(table, i) for i in ids}, acked)


def rebase(
    session: Any, keys: set[tuple[str, str]], acked: Sequence[tuple[int, int, str, dict[str, Any]]] = ()
) -> set[str]:
    """Changes still in the outbox stay visible: a pulled row that one of them edits gets the
    edit again (the server will merge it when it arrives), so a CSR never sees their own
    unsent edit flicker back. ``acked``: confirmed edits newer than the pulled rows, the same. A setup
    save is laid over its pulled record the same way (models/setup_edit.py ``reapply_save``)."""
    touched: set[str] = set()
    if not keys:
        return touched
    pending = [
        (entry.seq, entry.name, entry.args or {})
        for entry in session.scalars(
            select(OutboxEntry)
            .where(OutboxEntry.name.in_([*REBASED, *REBASED_SETUP]))
            .order_by(OutboxEntry.seq)
        )
    ]
    for _seq, name, args in sorted(
        [(seq, name, args) for _v, seq, name, args in acked] + pending, key=lambda e: e[0]
    ):
        if name in REBASED_SETUP:
            if save_target(args) in keys:
                reapply_save(session, args)
            continue
        table, id_key = REBASED[name]
        row_id = args.get(id_key)
        if (table, row_id) not in keys:
            continue
        mapper = _MAPPERS[table]
        row = session.get(mapper.class_, row_id)
        if row is None:
            continue
        for field_name, pair in (args.get("changes") or {}).items():
            if field_name in mapper.columns and isinstance(pair, list) and len(pair) == 2:
                try:
                    setattr(row, field_name, pair[1])
                except (TypeError, ValueError):
                    continue
        touched.add(row.customer_id if table != "customers" else row.id)
    session.flush()
    return touched
