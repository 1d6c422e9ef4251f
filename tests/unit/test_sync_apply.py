"""The server's apply engine: exactly once, gaps, rejections as receipts, and a change log another
cache can replay to the same state."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from models.customers import Customer
from models.db import open_cache
from models.jobs import Job
from models.journal import OutboxEntry
from models.sync_tables import ChangeRow, ReceiptRow
from sync.apply import Applier
from sync.changes import apply_change
from sync.protocol import Mutation, ProtocolError

from .booking_setup import NOW, TUESDAY, build_setup
from .conftest import customer_args


@pytest.fixture
def server(tmp_path):
    cache = open_cache(tmp_path / "server.sqlite3")
    yield cache, Applier(cache.sessions, clock=lambda: NOW)
    cache.close()


def _outbox(cache) -> list[Mutation]:
    with cache.sessions() as s:
        return [
            Mutation(seq=o.seq, mutation_id=o.mutation_id, name=o.name, args=o.args)
            for o in s.scalars(select(OutboxEntry).order_by(OutboxEntry.seq))
        ]


def _count(cache, model) -> int:
    with cache.sessions() as s:
        return s.scalar(select(func.count()).select_from(model))


def test_push_applies_once_and_replays_the_stored_receipt(cache, writer, server):
    server_cache, applier = server
    writer.execute("create_customer", customer_args())
    mutations = _outbox(cache)
    first = applier.push("console-1", "user-1", mutations)
    again = applier.push("console-1", "user-1", mutations)  # the ack was lost: resent
    assert [r.status for r in first.receipts] == ["applied"]
    assert again.receipts == first.receipts
    assert _count(server_cache, Customer) == 1 and _count(server_cache, ReceiptRow) == 1
    assert applier.next_seq("console-1") == 2


def test_gap_is_refused_and_nothing_changes(cache, writer, server):
    server_cache, applier = server
    writer.execute("create_customer", customer_args())
    writer.execute("create_customer", customer_args(name="Second", phone="2145550100"))
    second = _outbox(cache)[1]
    with pytest.raises(ProtocolError) as err:
        applier.push("console-1", "user-1", [second])
    assert err.value.code == "gap" and err.value.details == {"expected_seq": 1}
    assert _count(server_cache, Customer) == 0 and _count(server_cache, ChangeRow) == 0


def test_rejection_is_a_receipt_that_advances_the_sequence(cache, writer, server):
    server_cache, applier = server
    cid = writer.execute("create_customer", customer_args()).applied.entity_id
    writer.execute("add_note", {"note": {"customer_id": cid, "text": "Gate 1234"}})
    create, note = _outbox(cache)
    forged = Mutation(
        seq=1,
        mutation_id=create.mutation_id,
        name="create_customer",
        args={"customer": {"name": ""}, "contacts": []},
    )
    result = applier.push("console-1", "user-1", [forged, note])
    assert [r.status for r in result.receipts] == ["rejected", "rejected"]  # the note's customer is missing
    assert "name" in result.receipts[0].errors
    assert applier.next_seq("console-1") == 3
    assert _count(server_cache, Customer) == 0


SETUP_TABLES = (
    "company_settings",
    "business_unit_groups",
    "business_units",
    "services",
    "tag_types",
    "job_types",
    "campaigns",
    "arrival_windows",
    "technicians",
    "capacity_settings",
    "business_hours",
    "booking_preferences",
)


def copy_setup(src, dst) -> None:
    """What the server's setup changes do through the change log: same rows, same ids (link rows
    ride along in their owner's row data)."""
    from bench.headless import copy_setup as copy

    copy(src.sessions, dst.sessions)


def test_another_cache_replays_the_change_log_to_the_same_rows(cache, writer, server, tmp_path):
    server_cache, applier = server
    with server_cache.sessions.begin() as s:  # setup is the server's
        ids = build_setup(s)
    copy_setup(server_cache, cache)
    cid = writer.execute("create_customer", customer_args(email="m@example.com")).applied.entity_id
    with cache.sessions() as s:
        loc = s.scalar(select(Customer).where(Customer.id == cid)).locations[0].id
    writer.execute(
        "book_job",
        {
            "job": {
                "customer_id": cid,
                "location_id": loc,
                "business_unit_id": ids.hvac,
                "job_type_id": ids.ac_repair,
                "campaign_id": ids.google,
                "summary": "Warm air",
                "tags": ["Emergency"],
            },
            "appointment": {"day": TUESDAY.isoformat(), "arrival_window_id": ids.w8_12},
            "booked_at": NOW.isoformat(),
        },
    )
    result = applier.push("console-1", "user-1", _outbox(cache))
    assert [r.status for r in result.receipts] == ["applied", "applied"], result.receipts
    rows, cursor, more = applier.changes_since(0, 1000)
    assert cursor == result.server_version and not more
    assert {"customers", "locations", "contact_methods", "jobs", "appointments"} <= {r.entity for r in rows}
    other = open_cache(tmp_path / "other.sqlite3")
    try:
        copy_setup(server_cache, other)
        with other.sessions.begin() as s:
            for r in rows:
                apply_change(s, r.entity, r.entity_id, r.op, r.data)
            for r in rows:  # replaying twice changes nothing
                apply_change(s, r.entity, r.entity_id, r.op, r.data)
        with other.sessions() as s, cache.sessions() as mine:
            job, twin = s.scalar(select(Job)), mine.scalar(select(Job))
            assert (job.id, job.number, job.customer_id, job.summary, job.status) == (
                twin.id,
                twin.number,
                twin.customer_id,
                twin.summary,
                twin.status,
            )
            assert s.get(Customer, cid).name == "Maria Garcia"
            from models.jobs import job_tags

            assert s.scalar(select(func.count()).select_from(job_tags)) == 1
    finally:
        other.close()


def test_offline_booking_into_a_window_that_filled_is_kept_and_flagged(cache, writer, server, tmp_path):
    """Two consoles book the last capacity of a window while offline: the server keeps both, flags the
    second 'needs rescheduling' with three nearest free windows, and says so in its receipt."""
    from models.writer import LocalWriter

    server_cache, applier = server
    with server_cache.sessions.begin() as s:
        ids = build_setup(s)
    other = open_cache(tmp_path / "console-b.sqlite3")
    try:
        copy_setup(server_cache, cache)
        copy_setup(server_cache, other)
        writers = {"a": writer, "b": LocalWriter(other.sessions, clock=lambda: NOW)}
        caches = {"a": cache, "b": other}
        for name, w in writers.items():
            cid = w.execute(
                "create_customer",
                customer_args(name=f"Customer {name}", phone=f"(214) 555-01{ord(name):02d}"),
            ).applied.entity_id
            with caches[name].sessions() as s:
                loc = s.get(Customer, cid).locations[0].id
            for _ in range(4):  # 4 × 2 h each: 480 of the window's 720 minutes, on each console
                w.execute(
                    "book_job",
                    {
                        "job": {
                            "customer_id": cid,
                            "location_id": loc,
                            "business_unit_id": ids.hvac,
                            "job_type_id": ids.ac_repair,
                            "campaign_id": ids.google,
                            "summary": f"Booked offline on {name}",
                        },
                        "appointment": {"day": TUESDAY.isoformat(), "arrival_window_id": ids.w8_12},
                    },
                )
        first = applier.push("console-a", "u", _outbox(cache))
        second = applier.push("console-b", "u", _outbox(other))
        assert all(r.status == "applied" for r in first.receipts + second.receipts)
        flagged = [r for r in second.receipts if r.result.get("warnings", {}).get("window")]
        assert len(flagged) == 2 and "needs rescheduling" in flagged[0].result["warnings"]["window"]
        with server_cache.sessions() as s:
            jobs = s.scalars(select(Job)).all()
            assert len(jobs) == 8  # nothing dropped
            marked = [j for j in jobs if j.needs_reschedule]
            assert len(marked) == 2 and all(len(j.suggested_windows) == 3 for j in marked)
            assert all(j.appointments[0].arrival_window_id == ids.w8_12 for j in marked)  # not moved
    finally:
        other.close()
