"""Merging customers and undoing it (models/merge.py), on a real migrated cache through the real write
path (LocalWriter: cache, search index, outbox and audit in one transaction).

The property: for random customers with random histories (locations that may share an address,
contacts that may share a number, jobs, calls, leads, notes, memberships, tags) and random per-field
choices, merge then undo restores every row of every table exactly."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, insert, select, text

from models import search_index
from models.base import new_id
from models.calls import Call, CallClass
from models.customers import ContactKind, ContactMethod, Customer, Location, Membership, Note, customer_tags
from models.intents import CUSTOMER_FIELDS
from models.jobs import Job, Lead
from models.merge import CustomerMerge
from models.schema import metadata
from models.search import CustomerSearch
from models.validation import ValidationFailed
from models.writer import session_executor
from tests.unit.booking_setup import build_setup
from tests.unit.conftest import customer_args

# Bookkeeping that a merge and its undo add to on purpose (the outbox, the audit trail, the merge row).
KEPT_APART = {"outbox", "audit", "client_state", "customer_merges"}
STREETS = ["12 Main St", "40 Oak Ave", "7 Elm St"]
PHONES = ["(214) 555-0134", "(214) 555-0188", "(469) 555-0101"]
T0 = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)


def dump(session) -> dict[str, list[tuple]]:
    """Every row of every table (and the search index), in primary-key order."""
    out = {}
    for table in metadata.sorted_tables:
        if table.name in KEPT_APART:
            continue
        out[table.name] = [
            tuple(r) for r in session.execute(select(table).order_by(*table.primary_key.columns))
        ]
    out["customer_search"] = list(
        session.execute(text("SELECT * FROM customer_search ORDER BY doc_id")).all()
    )
    return out


@pytest.fixture
def ids(cache):
    with cache.sessions.begin() as s:
        return build_setup(s)


def _customer(writer, name: str, street: str, phone: str, tags=()) -> str:
    args = customer_args(name=name, street=street, phone=phone)
    args["tags"] = list(tags)
    return writer.execute("create_customer", args).applied.entity_id


history = st.fixed_dictionaries(
    {
        "locations": st.lists(st.sampled_from(STREETS), min_size=0, max_size=2),
        "contacts": st.lists(st.sampled_from(PHONES), min_size=0, max_size=2),
        "jobs": st.integers(0, 3),
        "calls": st.integers(0, 2),
        "leads": st.integers(0, 2),
        "notes": st.integers(0, 2),
        "memberships": st.integers(0, 1),
        "tags": st.lists(st.sampled_from(["VIP", "Gate", "Dog"]), max_size=2, unique=True),
    }
)


def _grow(session, ids, customer_id: str, h: dict, n: int) -> None:
    """Add a random history to a customer, straight through the ORM (as pulled rows would land)."""
    for street in h["locations"]:
        session.add(
            Location(
                id=new_id(),
                customer_id=customer_id,
                street=street,
                city="Dallas",
                state="TX",
                zip="75201",
                address_key=f"{street.lower()}||75201",
            )
        )
    session.flush()
    locations = session.scalars(select(Location.id).where(Location.customer_id == customer_id)).all()
    for i, phone in enumerate(h["contacts"]):
        digits = "".join(c for c in phone if c.isdigit())
        session.add(
            ContactMethod(
                id=new_id(),
                customer_id=customer_id,
                location_id=locations[i % len(locations)] if locations and i % 2 else None,
                kind=ContactKind.PHONE,
                value="+1" + digits,
                digits=digits,
                digits_rev=digits[::-1],
            )
        )
    for i in range(h["jobs"]):
        session.add(
            Job(
                id=new_id(),
                number=f"T{n}-{customer_id[-6:]}-{i}",
                customer_id=customer_id,
                location_id=locations[i % len(locations)],
                business_unit_id=ids.hvac,
                campaign_id=ids.google,
                job_type_id=ids.ac_repair,
                summary=f"job {i}",
                created_at=T0 + timedelta(hours=i),
                updated_at=T0 + timedelta(hours=i),
            )
        )
    for i in range(h["calls"]):
        session.add(
            Call(
                id=new_id(),
                provider_call_id=new_id(),
                customer_id=customer_id,
                location_id=locations[0] if i % 2 else None,
                classification=CallClass.UNBOOKED,
                started_at=T0 + timedelta(minutes=i),
            )
        )
    for i in range(h["leads"]):
        session.add(
            Lead(id=new_id(), customer_id=customer_id, summary=f"lead {i}", follow_up_on=date(2026, 4, 1))
        )
    for i in range(h["notes"]):
        session.add(
            Note(
                id=new_id(),
                customer_id=customer_id,
                location_id=locations[-1] if i % 2 else None,
                text=f"note {i}",
                created_at=T0 + timedelta(seconds=i),
            )
        )
    for _ in range(h["memberships"]):
        session.add(Membership(id=new_id(), customer_id=customer_id, name="Gold", starts_on=date(2026, 1, 1)))


@settings(
    max_examples=20,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    a=history,
    b=history,
    choices=st.dictionaries(st.sampled_from(CUSTOMER_FIELDS), st.sampled_from(["survivor", "merged"])),
    phones=st.tuples(st.sampled_from(PHONES), st.sampled_from(PHONES)),
    streets=st.tuples(st.sampled_from(STREETS), st.sampled_from(STREETS)),
)
def test_merge_then_undo_restores_every_row_exactly(cache, writer, ids, a, b, choices, phones, streets):
    survivor = _customer(writer, "Maria Garcia", streets[0], phones[0], a["tags"])
    merged = _customer(writer, "Maria Garcia-Lopez", streets[1], phones[1], b["tags"])
    with cache.sessions.begin() as s:
        _grow(s, ids, survivor, a, 1)
        _grow(s, ids, merged, b, 2)
        s.flush()
        search_index.refresh(session_executor(s), [survivor, merged])  # as a pull does
    with cache.sessions() as s:
        before = dump(s)
        merged_jobs = s.scalar(select(func.count()).select_from(Job).where(Job.customer_id == merged))
        total_jobs = s.scalar(
            select(func.count()).select_from(Job).where(Job.customer_id.in_([survivor, merged]))
        )

    merge_id = writer.execute(
        "merge_customers", {"survivor_id": survivor, "merged_id": merged, "fields": choices}
    ).args["merge_id"]
    with cache.sessions() as s:
        gone = s.get(Customer, merged)
        assert gone.merged_into_id == survivor and not gone.active
        for model in (Job, Call, Lead, Note, Membership, ContactMethod):
            assert not s.scalars(select(model.id).where(model.customer_id == merged)).all(), model
        assert (
            s.scalar(select(func.count()).select_from(Job).where(Job.customer_id == survivor)) == total_jobs
        )
        # Every job of the merged customer sits at a location of the survivor.
        assert (
            not s.scalars(
                select(Job.id)
                .join(Location, Location.id == Job.location_id)
                .where(Location.customer_id != survivor, Job.customer_id == survivor)
            ).all()
            or merged_jobs == 0
        )
        kept = s.get(Customer, survivor)
        columns = [c.name for c in metadata.tables["customers"].columns]
        merged_row = next(r for r in before["customers"] if r[columns.index("id")] == merged)
        for field, side in choices.items():
            if side == "merged":
                assert getattr(kept, field) == merged_row[columns.index(field)] or field == "type", field
        survivor_tags = set(
            s.scalars(select(customer_tags.c.tag_type_id).where(customer_tags.c.customer_id == survivor))
        )
        assert len(survivor_tags) == len(set(a["tags"]) | set(b["tags"]))

    writer.execute("undo_merge", {"merge_id": merge_id})
    with cache.sessions() as s:
        after = dump(s)
        assert s.get(CustomerMerge, merge_id).status == "undone"
    for table in before:
        assert after[table] == before[table], table


def test_search_and_screen_pop_follow_the_redirect(cache, writer, ids):
    from models.call_store import caller_matches, match_customers

    survivor = _customer(writer, "Maria Garcia", STREETS[0], PHONES[0])
    merged = _customer(writer, "Mariah Garsia", STREETS[1], PHONES[1])
    writer.execute("merge_customers", {"survivor_id": survivor, "merged_id": merged})
    with cache.sessions() as s:
        assert match_customers(s, "+14695550101") == [] and match_customers(s, "+12145550188") == [survivor]
    conn = cache.raw_connection()
    try:
        # The console's screen pop (its match worker's plain connection) sees the same, with the name.
        assert caller_matches(conn, "+14695550101") == []
        assert caller_matches(conn, "+12145550188") == [(survivor, "Maria Garcia")]
        search = CustomerSearch(conn)
        assert search.search("Mariah Garsia").ids == [survivor]  # the old name finds the survivor
        assert search.search("(214) 555-0188").ids == [survivor]  # so does the old phone
        assert merged not in search.search("Maria").ids
    finally:
        conn.close()


def test_a_location_at_the_same_address_is_merged_into_the_survivors(cache, writer, ids):
    survivor = _customer(writer, "Ann Lee", STREETS[0], PHONES[0])
    merged = _customer(writer, "Ann Lee", STREETS[0], PHONES[0])  # same place, same phone
    with cache.sessions.begin() as s:
        twin = s.scalar(select(Location.id).where(Location.customer_id == merged))
        own = s.scalar(select(Location.id).where(Location.customer_id == survivor))
        s.execute(
            insert(Job),
            [
                {
                    "id": new_id(),
                    "number": f"M-{i}",
                    "customer_id": merged,
                    "location_id": twin,
                    "business_unit_id": ids.hvac,
                    "campaign_id": ids.google,
                }
                for i in range(50)
            ],
        )
    writer.execute("merge_customers", {"survivor_id": survivor, "merged_id": merged})
    with cache.sessions() as s:
        assert set(s.scalars(select(Job.location_id).where(Job.customer_id == survivor))) == {own}
        assert not s.get(Location, twin).active
        # The shared number is kept once on the survivor.
        phones = s.scalars(select(ContactMethod.value).where(ContactMethod.customer_id == survivor)).all()
        assert phones == ["+12145550134"]


def test_undo_is_refused_once_the_records_changed(cache, writer, ids):
    survivor = _customer(writer, "Ann Lee", STREETS[0], PHONES[0])
    merged = _customer(writer, "Anne Lee", STREETS[1], PHONES[1])
    merge_id = writer.execute("merge_customers", {"survivor_id": survivor, "merged_id": merged}).args[
        "merge_id"
    ]
    writer.execute(
        "update_customer", {"customer_id": survivor, "changes": {"name": ["Ann Lee", "Ann B. Lee"]}}
    )
    with pytest.raises(ValidationFailed) as refused:
        writer.execute("undo_merge", {"merge_id": merge_id})
    assert "changed since the merge" in refused.value.errors["merge_id"]
    assert "Ann B. Lee" in refused.value.errors["merge_id"]
    with cache.sessions() as s:
        assert s.get(CustomerMerge, merge_id).status == "merged"  # nothing changed
        assert s.get(Customer, merged).merged_into_id == survivor


def test_merging_an_already_merged_customer_is_refused_with_who_did_it(cache, writer, ids):
    a = _customer(writer, "Ann Lee", STREETS[0], PHONES[0])
    b = _customer(writer, "Anne Lee", STREETS[1], PHONES[1])
    writer.execute("merge_customers", {"survivor_id": a, "merged_id": b})
    for pair in ({"survivor_id": a, "merged_id": b}, {"survivor_id": b, "merged_id": a}):
        with pytest.raises(ValidationFailed) as refused:
            writer.execute("merge_customers", pair)
        assert "already merged into Ann Lee by test" in refused.value.errors["merged_id"]
    with pytest.raises(ValidationFailed):
        writer.execute("merge_customers", {"survivor_id": a, "merged_id": a})
    with pytest.raises(ValidationFailed) as bad:
        writer.execute(
            "merge_customers", {"survivor_id": a, "merged_id": b, "fields": {"password": "merged"}}
        )
    assert bad.value.errors


def test_undo_twice_is_refused_and_a_chain_redirects_in_one_hop(cache, writer, ids):
    a = _customer(writer, "Ann Lee", STREETS[0], PHONES[0])
    b = _customer(writer, "Anne Lee", STREETS[1], PHONES[1])
    c = _customer(writer, "Annie Lee", STREETS[2], PHONES[2])
    writer.execute("merge_customers", {"survivor_id": b, "merged_id": c})
    writer.execute("merge_customers", {"survivor_id": a, "merged_id": b})
    with cache.sessions() as s:
        assert s.get(Customer, c).merged_into_id == a
    first = writer.execute(
        "merge_customers", {"survivor_id": a, "merged_id": _customer(writer, "X Y", STREETS[0], PHONES[0])}
    )
    mid = first.args["merge_id"]
    writer.execute("undo_merge", {"merge_id": mid})
    with pytest.raises(ValidationFailed) as again:
        writer.execute("undo_merge", {"merge_id": mid})
    assert "already undone" in again.value.errors["merge_id"]
