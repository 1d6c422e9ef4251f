"""The initial copy's bulk loader: rows stored exactly as the ORM stores them, indexes parked and
rebuilt, and a copy cut short by a crash never leaves a cache without its indexes."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import sessionmaker

from models.customers import Customer
from models.db import open_cache, open_server_db
from models.search import CustomerSearch
from models.writer import LocalWriter
from sync.apply import Applier
from sync.snapshot import PENDING_INDEXES, SnapshotLoader, restore_indexes

from .booking_setup import NOW, build_setup
from .conftest import customer_args


def _indexes(cache) -> set[str]:
    conn = cache.raw_connection()
    try:
        return {
            r[0]
            for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL")
        }
    finally:
        conn.close()


def _store(tmp_path):
    engine = open_server_db(str(tmp_path / "server.sqlite3"))
    sessions = sessionmaker(engine, expire_on_commit=False)
    with sessions.begin() as s:
        build_setup(s)
    # Customers written the way a console writes them (intents), straight into the store.
    writer = LocalWriter(sessions, actor="t", clock=lambda: NOW)
    ids = [
        writer.execute(
            "create_customer",
            customer_args(name=f"José Núñez {i}", phone=f"(214) 555-01{i:02d}", email=f"j{i}@example.com"),
        ).applied.entity_id
        for i in range(30)
    ]
    return engine, Applier(sessions), ids


def _copy(applier, loader, page: int = 7) -> int:
    _cols, plan, _after, _done, version = applier.snapshot("*", "", 1)
    for table, _n in plan:
        after = ""
        while True:
            columns, rows, after, done, _v = applier.snapshot(table, after, page)
            loader.load(table, columns, rows)
            if done:
                break
    return version


def test_a_copied_cache_equals_the_store_and_finds_customers(tmp_path):
    engine, applier, ids = _store(tmp_path)
    fresh = open_cache(tmp_path / "fresh.sqlite3")
    expected = _indexes(fresh)
    cache = open_cache(tmp_path / "console.sqlite3")
    loader = SnapshotLoader(cache)
    try:
        version = _copy(applier, loader)
        assert _indexes(cache) < expected  # parked while copying
        loader.finish(version)
    finally:
        loader.close()
    assert _indexes(cache) == expected
    with sessionmaker(engine)() as srv, cache.sessions() as con:
        for cid in ids[:5]:
            a, b = srv.get(Customer, cid), con.get(Customer, cid)
            cols = [c.key for c in Customer.__table__.columns]
            assert [getattr(a, c) for c in cols] == [getattr(b, c) for c in cols]
            assert [t.name for t in a.tags] == [t.name for t in b.tags]
        assert con.scalar(select(Customer.name).where(Customer.id == ids[3])) == "José Núñez 3"
    conn = cache.raw_connection()
    try:
        assert ids[12] in CustomerSearch(conn).search("jose nunez 12").ids
        assert ids[7] in CustomerSearch(conn).search("(214) 555-0107").ids
    finally:
        conn.close()
    fresh.close()
    cache.close()
    engine.dispose()


def test_a_copy_cut_short_gets_its_indexes_back(tmp_path):
    engine, applier, _ids = _store(tmp_path)
    fresh = open_cache(tmp_path / "fresh.sqlite3")
    expected = _indexes(fresh)
    cache = open_cache(tmp_path / "console.sqlite3")
    loader = SnapshotLoader(cache)
    columns, rows, _a, _d, _v = applier.snapshot("customers", "", 10)
    loader.load("customers", columns, rows)
    loader.close()  # the console died here
    assert _indexes(cache) < expected
    restore_indexes(cache)  # what Console.build does on the next start
    assert _indexes(cache) == expected
    conn = cache.raw_connection()
    try:
        assert (
            conn.execute("SELECT 1 FROM sqlite_master WHERE name = ?", (PENDING_INDEXES,)).fetchone() is None
        )
    finally:
        conn.close()
    restore_indexes(cache)  # and a no-op when nothing is parked
    fresh.close()
    cache.close()
    engine.dispose()
