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
import enum
import time
from collections.abc import Callable
from typing import Any

from models import search_index
from models.db import Cache
from models.schema import metadata
from models.sync_tables import NOT_SYNCED, SyncState

SNAPSHOT_KEY = "snapshot_done"
CURSOR_KEY = "pull_cursor"
_DOC_CHUNK = 2000
_SEARCH_INDEXES = ("ix_customer_search_name_key", "ix_customer_search_name_rev_key")
# While a fresh cache is being filled its secondary indexes are dropped (kept up to date row by row,
# random keys like phone digits cost several times the insert itself) and rebuilt once, by sorting,
# at the end. Their DDL waits in this table, so a copy interrupted by a crash gets them back on the
# next start (restore_indexes), never a cache left without them.
PENDING_INDEXES = "sync_pending_indexes"
_BULK_TABLES = (
    "customers",
    "locations",
    "contact_methods",
    "notes",
    "memberships",
    "jobs",
    "appointments",
    "job_tags",
    "customer_tags",
    "location_tags",
    "appointment_technicians",
    "leads",
    "calls",
    "call_events",
    "conflicts",
)


def _utc_datetime(process: Callable[[Any], Any]) -> Callable[[Any], Any]:
    """ISO text of a UTC time ("2026-11-01T12:00:00[.ffffff]Z", as the server sends it) straight to
    SQLAlchemy's SQLite storage text; anything else goes through fromisoformat and the processor."""

    def convert(v: Any) -> Any:
        if v is None:
            return None
        if isinstance(v, str) and len(v) >= 19 and v[10] == "T":
            n = len(v)
            if n == 19 or (n == 20 and v[19] == "Z") or (n == 25 and v.endswith("+00:00")):
                return f"{v[:10]} {v[11:19]}.000000"
            if n == 26 or (n == 27 and v[26] == "Z") or (n == 32 and v.endswith("+00:00")):
                return f"{v[:10]} {v[11:26]}"
        return process(dt.datetime.fromisoformat(v) if isinstance(v, str) else v)

    return convert


def _converter(column: Any, dialect: Any) -> Callable[[Any], Any] | None:
    process = column.type.dialect_impl(dialect).bind_processor(dialect)
    try:
        python_type = column.type.python_type
    except NotImplementedError:
        python_type = object
    parse: Callable[[str], Any] | None = {
        dt.datetime: dt.datetime.fromisoformat,
        dt.date: dt.date.fromisoformat,
        dt.time: dt.time.fromisoformat,
    }.get(python_type)
    if python_type is dt.datetime and process is not None:
        return _utc_datetime(process)
    if python_type is bool or python_type is float or python_type is int:
        return None  # JSON true/false and numbers bind as they are (bool is an int)
    if issubclass(python_type, enum.Enum):
        return None  # enums travel as their stored values (text)
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
        self.timings: dict[str, float] = {}

    def _connection(self) -> Any:
        if self._raw is None:
            self._raw = self.cache.engine.raw_connection()
            conn = self._raw.driver_connection
            conn.execute("PRAGMA foreign_keys = OFF")
            # A page lost to a power cut is copied again (the copy restarts until it finishes), so the
            # copy needn't wait for the disk on every page; WAL keeps the file consistent either way.
            conn.execute("PRAGMA synchronous = NORMAL")
            self._drop_indexes(conn)
        return self._raw.driver_connection

    def _drop_indexes(self, conn: Any) -> None:
        """On a cache with no customers yet: park the big tables' secondary indexes (see above)."""
        if conn.execute("SELECT 1 FROM customers LIMIT 1").fetchone() is not None:
            return
        marks = ",".join("?" for _ in _BULK_TABLES)
        rows = conn.execute(
            f"SELECT name, sql FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL "
            f"AND sql NOT LIKE 'CREATE UNIQUE%' AND tbl_name IN ({marks})",
            _BULK_TABLES,
        ).fetchall()
        conn.execute("BEGIN IMMEDIATE")
        conn.execute(
            f'CREATE TABLE IF NOT EXISTS "{PENDING_INDEXES}" (name TEXT PRIMARY KEY, sql TEXT NOT NULL)'
        )
        conn.executemany(f'INSERT OR REPLACE INTO "{PENDING_INDEXES}" (name, sql) VALUES (?, ?)', rows)
        for name, _sql in rows:
            conn.execute(f'DROP INDEX IF EXISTS "{name}"')
        conn.execute("COMMIT")

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
        # Column by column (map runs the loop in C): ~3× faster than converting value by value.
        by_column = list(zip(*rows, strict=True))
        values = list(
            zip(
                *[
                    list(map(f, by_column[i])) if f else by_column[i]
                    for i, f in zip(positions, converters, strict=True)
                ],
                strict=True,
            )
        )
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
        t0 = time.perf_counter()
        _rebuild_indexes(conn)  # the document build below reads locations by customer
        t1 = time.perf_counter()
        conn.execute("BEGIN IMMEDIATE")
        try:
            for ddl in search_index.DROP_TRIGGERS:
                conn.execute(ddl)
            conn.execute("DELETE FROM customer_search")
            for name in _SEARCH_INDEXES:
                conn.execute(f'DROP INDEX IF EXISTS "{name}"')

            def run(sql: str, params: list[Any]) -> list[tuple]:
                return conn.execute(sql, params).fetchall()

            def insert(sql: str, rows: list[tuple]) -> None:
                conn.executemany(sql, rows)

            last = ""
            while True:
                ids = [
                    r[0]
                    for r in conn.execute(
                        "SELECT id FROM customers WHERE id > ? ORDER BY id LIMIT ?", (last, _DOC_CHUNK)
                    )
                ]
                if not ids:
                    break
                search_index.refresh(run, ids, fresh=insert)
                last = ids[-1]
            t2 = time.perf_counter()
            for ddl in search_index.TABLE_DDL:
                if ddl.startswith("CREATE INDEX"):
                    conn.execute(ddl)
            conn.execute("INSERT INTO customer_fts(customer_fts) VALUES ('rebuild')")
            for ddl in search_index.TRIGGER_DDL:
                conn.execute(ddl)
            for key, value in ((CURSOR_KEY, start_version), (SNAPSHOT_KEY, 1)):
                conn.execute(
                    f'INSERT OR REPLACE INTO "{SyncState.__tablename__}" (key, value) VALUES (?, ?)',
                    (key, value),
                )
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        t3 = time.perf_counter()
        self.timings = {
            "indexes_s": round(t1 - t0, 2),
            "documents_s": round(t2 - t1, 2),
            "full_text_s": round(t3 - t2, 2),
        }

    def close(self) -> None:
        if self._raw is not None:
            self._raw.driver_connection.execute("PRAGMA foreign_keys = ON")
            self._raw.driver_connection.execute("PRAGMA synchronous = FULL")
            self._raw.close()
            self._raw = None


def _rebuild_indexes(conn: Any) -> None:
    if conn.execute(
        "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (PENDING_INDEXES,)
    ).fetchone():
        conn.execute("BEGIN IMMEDIATE")
        for _name, sql in conn.execute(f'SELECT name, sql FROM "{PENDING_INDEXES}"').fetchall():
            if "IF NOT EXISTS" not in sql.upper():
                sql = sql.replace("CREATE INDEX ", "CREATE INDEX IF NOT EXISTS ", 1)
            conn.execute(sql)
        conn.execute(f'DROP TABLE "{PENDING_INDEXES}"')
        conn.execute("COMMIT")


def restore_indexes(cache: Cache) -> None:
    """After a crash in the middle of an initial copy: put the parked indexes back (cheap no-op otherwise)."""
    raw = cache.engine.raw_connection()
    try:
        _rebuild_indexes(raw.driver_connection)
    finally:
        raw.close()


def mark_synced(cache: Cache, cursor: int = 0) -> None:
    """A cache that already holds the server's data (the demo's first console): no initial copy."""
    conn = cache.engine.raw_connection()
    try:
        conn.driver_connection.execute("BEGIN IMMEDIATE")
        for key, value in ((CURSOR_KEY, cursor), (SNAPSHOT_KEY, 1)):
            conn.driver_connection.execute(
                f'INSERT OR REPLACE INTO "{SyncState.__tablename__}" (key, value) VALUES (?, ?)', (key, value)
            )
        conn.driver_connection.execute("COMMIT")
    finally:
        conn.close()
