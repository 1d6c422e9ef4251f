"""The Bookings inbox re-reads only the requests a pull changed: the puller reports which rows of each
table it applied (``ChangedTables.rows``), ``web_requests_by_id`` reads just those, and ``merge_items``
puts them in the list in the inbox's order (open first, settled newest first, settled web rows capped)."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.orm import sessionmaker

from models.db import open_cache, open_server_db
from models.inbox import RECENT_LIMIT, InboxItem, inbox_items, merge_items, web_requests_by_id
from models.jobs import OnlineBooking
from sync.changes import row_data
from sync.puller import ChangedTables, Puller
from tests.unit.booking_setup import NOW, build_setup


def _item(n: int, status: str = "New", minutes: int = 0) -> InboxItem:
    return InboxItem(
        kind="web",
        item_id=f"r{n}",
        source="Web Scheduler",
        received_at=NOW + timedelta(minutes=minutes),
        service="AC",
        window_start=None,
        window_end=None,
        contact_name=f"Caller {n}",
        contact_phone="",
        contact_email="",
        address="",
        customer_match="new",
        status=status,
    )


def test_merge_replaces_adds_removes_and_keeps_the_order() -> None:
    current = [_item(1, minutes=1), _item(2, minutes=2), _item(3, "Dismissed", minutes=3)]
    claimed = replace(current[1], claimed_by_id="u-omar", claimed_by="Omar")
    fresh_new = _item(4, minutes=0)  # older than every open one: first
    merged = merge_items(current, [claimed, fresh_new], ["web:r2", "web:r4", "web:r1"])
    # r1 was asked for and not found (gone from this cache): it leaves; r2 is replaced; r4 is added.
    assert [i.id for i in merged] == ["web:r4", "web:r2", "web:r3"]
    assert merged[1].claimed_by == "Omar"
    settled = replace(current[0], status="Accepted")  # settled: among the settled, newest first
    assert [i.id for i in merge_items(current, [settled], ["web:r1"])] == ["web:r2", "web:r3", "web:r1"]


def test_merge_caps_the_settled_web_requests() -> None:
    current = [_item(n, "Dismissed", minutes=n) for n in range(RECENT_LIMIT)]
    merged = merge_items(current, [_item(999, "Accepted", minutes=10_000)], ["web:r999"])
    assert (
        len(merged) == RECENT_LIMIT and merged[0].id == "web:r999" and "web:r0" not in {i.id for i in merged}
    )


def test_changed_tables_carry_the_rows_and_still_are_a_set_of_names() -> None:
    a, b = ChangedTables(), ChangedTables()
    a.add_row("online_bookings", "r1")
    b.add_row("online_bookings", "r2")
    b.add_row("jobs", "j1")
    a.merge(b)
    a.merge({"leads"})  # a plain set (older callers) merges too
    assert a == {"online_bookings", "jobs", "leads"}
    assert a.rows == {"online_bookings": {"r1", "r2"}, "jobs": {"j1"}}


def test_a_pull_reports_the_requests_it_applied_and_only_they_are_re_read(tmp_path) -> None:
    server = sessionmaker(open_server_db(str(tmp_path / "server.sqlite3")), expire_on_commit=False)
    cache = open_cache(tmp_path / "cache.sqlite3")
    changes = []
    for sessions in (server, cache.sessions):
        with sessions.begin() as s:
            build_setup(s)
    with server.begin() as s:
        for n in range(3):
            s.add(OnlineBooking(id=f"{n:032x}", name=f"Caller {n}", phone="", email="", created_at=NOW))
        s.flush()
        rows = s.scalars(select(OnlineBooking)).all()
        changes = [
            {
                "version": i + 1,
                "entity": "online_bookings",
                "entity_id": r.id,
                "op": "upsert",
                "data": row_data(s, r),
            }
            for i, r in enumerate(rows)
        ]
    _touched, tables = Puller(cache, 100, lambda _ids: None, lambda _t: None).apply_changes(changes[:2], 2)
    assert tables == {"online_bookings"} and tables.rows["online_bookings"] == {f"{0:032x}", f"{1:032x}"}
    with cache.sessions() as s:
        read = web_requests_by_id(s, sorted(tables.rows["online_bookings"]) + ["not-there"])
        assert sorted(i.contact_name for i in read) == ["Caller 0", "Caller 1"]
        assert len(inbox_items(s, NOW)) == 2
    cache.close()
