"""The console side of the initial sync: pages of server rows written straight into the cache.

A new console copies hundreds of thousands of rows; the ORM's per-row merge is far too slow for that
(docs/benchmarks.md), so pages are written with one ``executemany`` on a connection of the cache's
own pool, values converted by each column's own SQLAlchemy bind processor (so they are stored exactly
as the ORM would store them). Foreign keys are not checked while copying: the rows come from a
consistent server and arrive parents first, but a page may hold a row whose self-reference (a merged
customer) is in a later page. The search documents are built once at the end, in bulk.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

from models import search_index
from models.db import Cache
from models.schema import metadata
from models.sync_tables import NOT_SYNCED, SyncState

SNAPSHOT_KEY = "snapshot_done"
CURSOR_KEY = "pull_cursor"
_DOC_CHUNK = 2000


def _converter(column: Any, dialect: Any) -> Callable[[Any], Any] | None:
    process = column.type.dialect_impl(dialect).bind_processor(dialect)
    try:
        python_type = column.type.python_type
    except NotImplementedError:
        python_type = object
    parse: Callable[[str], Any] | None = {dt.datetime: dt.datetime.fromisoformat, dt.date: dt.date.fromisoformat,
                                          dt.time: dt.time.fromisoformat}.get(python_type)
    if parse and process:
        return lambda v: None if v is None else process(parse(v) if isinstance(v, str) else v)
    if parse:
        return lambda v: None if v is None else (parse(v) if isinstance(v, str) else v)
    return process


class SnapshotLoader:
    def __init__(self, cache: Cache) -> None:
        self.cache = cache
        self.dialect = cache.engine.dialect
        self._plans: dict[tuple[str, tuple[str, ...]], tuple[str, list[int], list[Any]]] = {}
        self._raw: Any = None

    def _connection(self) -> Any:
        if self._raw is None:
            self._raw = self.cache.engine.raw_connection()
            conn = self._raw.driver_connection
            conn.execute("PRAGMA foreign_keys = OFF")
        return self._raw.driver_connection

    def _plan(self, table: str, columns: list[str]) -> tuple[str, list[int], list[Any]]:
        key = (table, tuple(columns))
        if key not in self._plans:
            t = metadata.tables[table]
            known = [(i, t.c[name]) for i, name in enumerate(columns) if name in t.c]
            names = ", ".join(f'"{c.name}"' for _, c in known)
            marks = ", ".join("?" for _ in known)
            sql = f'INSERT OR REPLACE INTO "{table}" ({names}) VALUES ({marks})'
            self._plans[key] = (sql, [i for i, _ in known], [_converter(c, self.dialect) for _, c in known])
        return self._plans[key]

    def load(self, table: str, columns: list[str], rows: list[list[Any]]) -> None:
        if table in NOT_SYNCED or table not in metadata.tables or not rows:
            return
        sql, positions, converters = self._plan(table, columns)
        values = [tuple(f(row[i]) if f else row[i] for i, f in zip(positions, converters, strict=True))
                  for row in rows]
        conn = self._connection()
        conn.execute("BEGIN IMMEDIATE")
        try:
            conn.executemany(sql, values)
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise

    def finish(self, start_version: int) -> None:
        """Build every customer's search document in bulk, then record the cursor: the next pull
        starts at the version read before the first page."""
        conn = self._connection()
        conn.execute("BEGIN IMMEDIATE")
        try:
            for ddl in search_index.DROP_TRIGGERS:
                conn.execute(ddl)
            conn.execute("DELETE FROM customer_search")

            def run(sql: str, params: list[Any]) -> list[tuple]:
                return conn.execute(sql, params).fetchall()

            last = ""
            while True:
                ids = [r[0] for r in conn.execute("SELECT id FROM customers WHERE id > ? ORDER BY id LIMIT ?",
                                                  (last, _DOC_CHUNK))]
                if not ids:
                    break
                search_index.refresh(run, ids)
                last = ids[-1]
            conn.execute("INSERT INTO customer_fts(customer_fts) VALUES ('rebuild')")
            for ddl in search_index.TRIGGER_DDL:
                conn.execute(ddl)
            for key, value in ((CURSOR_KEY, start_version), (SNAPSHOT_KEY, 1)):
                conn.execute(f'INSERT OR REPLACE INTO "{SyncState.__tablename__}" (key, value) VALUES (?, ?)',
                             (key, value))
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise

    def close(self) -> None:
        if self._raw is not None:
            self._raw.driver_connection.execute("PRAGMA foreign_keys = ON")
            self._raw.close()
            self._raw = None


def mark_synced(cache: Cache, cursor: int = 0) -> None:
    """A cache that already holds the server's data (the demo's first console): no initial copy."""
    conn = cache.engine.raw_connection()
    try:
        conn.driver_connection.execute("BEGIN IMMEDIATE")
        for key, value in ((CURSOR_KEY, cursor), (SNAPSHOT_KEY, 1)):
            conn.driver_connection.execute(
                f'INSERT OR REPLACE INTO "{SyncState.__tablename__}" (key, value) VALUES (?, ?)', (key, value))
        conn.driver_connection.execute("COMMIT")
    finally:
        conn.close()
