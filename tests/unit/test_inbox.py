"""The Bookings inbox's data: InboxItem rows from Web Scheduler requests, and the claim / dismiss /
accept intents as the server applies them (the claimant is the signed-in user; one CSR at a time)."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from models.customers import ContactKind, ContactMethod, Customer, Location
from models.inbox import InboxItem, inbox_items, register_provider
from models.jobs import Job, Lead, OnlineBooking
from models.setup import User
from models.setup_data import load_setup
from models.web_booking import WebHold
from models.web_capacity import check_contact_form, submit_request
from sync.apply import Applier
from sync.protocol import Mutation
from tests.web_setup import WEDNESDAY, build_store

CONTACT = {
    "name": "Maria Lopez",
    "phone": "2145550142",
    "email": "",
    "street": "100 Elm St",
    "city": "Dallas",
    "state": "TX",
    "zip": "75201",
    "notes": "Warm air",
}


@pytest.fixture
def store(tmp_path):
    s = build_store(str(tmp_path / "server.sqlite3"))
    with s.sessions.begin() as session:
        session.add_all(
            [
                User(id="u-dana", username="dana", display_name="Dana Reyes"),
                User(id="u-lee", username="lee", display_name="Lee Park"),
            ]
        )
    return s


def _request(store, **contact) -> str:
    values, errors = check_contact_form(CONTACT | contact, store.settings)
    assert not errors
    with store.sessions.begin() as session:
        return submit_request(
            session,
            load_setup(session),
            store.settings,
            job_type_id=store.ids.ac_repair,
            day=WEDNESDAY,
            window_id=store.ids.w8_12,
            hold_id="",
            values=values,
            now=store.clock(),
        ).request_id


class Console:
    """One console's pushes (its own client id and sequence)."""

    def __init__(self, applier: Applier, user: str) -> None:
        self.applier, self.user, self.client, self.seq = applier, user, uuid.uuid4().hex, 0

    def push(self, name: str, args: dict):
        self.seq += 1
        m = Mutation(seq=self.seq, mutation_id=uuid.uuid4().hex, name=name, args=args)
        return self.applier.push(self.client, self.user, [m]).receipts[0]


def test_a_request_is_an_inbox_item_with_its_service_window_and_match(store):
    rid = _request(store)
    with store.sessions() as s:
        [item] = inbox_items(s, store.clock())
    assert isinstance(item, InboxItem)
    assert (item.kind, item.item_id, item.source, item.status) == ("web", rid, "Web Scheduler", "New")
    assert item.service == "AC Not Cooling" and item.customer_match == "new" and item.match_text == "New"
    assert item.contact_phone == "+12145550142" and item.address == "100 Elm St, Dallas TX 75201"
    assert item.window_day == WEDNESDAY.isoformat() and item.window_start < item.window_end
    assert item.problems == [] and item.claimed_by == "" and item.due_at is None
    assert item.age_text(store.clock() + timedelta(minutes=5)) == "5 min"


def test_another_kind_plugs_in_with_one_provider_and_deadlines_come_first(store):
    """A stand-in provider replaces the real ServiceChannel one for this test only."""
    from models.inbox import PROVIDERS

    _request(store)
    now = store.clock()

    def work_orders(session, now_):
        return [
            InboxItem(
                kind="servicechannel",
                item_id="wo-1",
                source="ServiceChannel",
                received_at=now_,
                service="Unknown",
                window_start=None,
                window_end=None,
                contact_name="Store 12",
                contact_phone="",
                contact_email="",
                address="",
                customer_match="existing",
                status="New",
                due_at=now_ + timedelta(hours=4),
                problems=["Pick a job type"],
            )
        ]

    real = PROVIDERS.get("servicechannel")
    register_provider("servicechannel", work_orders)
    try:
        with store.sessions() as s:
            items = inbox_items(s, now)
        assert [i.kind for i in items] == ["servicechannel", "web"]
    finally:
        if real is None:
            PROVIDERS.pop("servicechannel")
        else:
            register_provider("servicechannel", real)


def test_one_csr_at_a_time_and_the_server_names_the_claimant(store):
    rid = _request(store)
    applier = Applier(store.sessions, clock=store.clock)
    dana, lee = Console(applier, "u-dana"), Console(applier, "u-lee")
    forged = dana.push("claim_online_booking", {"online_booking_id": rid, "claimed_by_id": "u-lee"})
    assert forged.status == "rejected" and "another user" in forged.errors["claimed_by_id"]
    assert dana.push("claim_online_booking", {"online_booking_id": rid}).status == "applied"
    refused = lee.push("claim_online_booking", {"online_booking_id": rid})
    assert (
        refused.status == "rejected" and refused.errors["claim"] == "Dana Reyes is working on this request."
    )
    with store.sessions() as s:
        assert inbox_items(s)[0].claimed_by == "Dana Reyes"
    store.clock.advance(16 * 60)  # Dana walked away: the claim is stale
    assert lee.push("claim_online_booking", {"online_booking_id": rid}).status == "applied"
    assert lee.push("release_online_booking", {"online_booking_id": rid}).status == "applied"
    with store.sessions() as s:
        assert s.get(OnlineBooking, rid).claimed_by_id is None


def test_dismiss_needs_a_reason_frees_the_window_and_can_make_a_lead(store):
    rid = _request(store)
    applier = Applier(store.sessions, clock=store.clock)
    dana = Console(applier, "u-dana")
    assert dana.push("dismiss_online_booking", {"online_booking_id": rid, "reason": " "}).status == "rejected"
    ok = dana.push(
        "dismiss_online_booking", {"online_booking_id": rid, "reason": "Duplicate", "make_lead": True}
    )
    assert ok.status == "applied"
    with store.sessions() as s:
        req = s.get(OnlineBooking, rid)
        assert (req.status, req.dismiss_reason) == ("Dismissed", "Duplicate")
        lead = s.get(Lead, req.lead_id)
        assert lead.phone == "+12145550142" and lead.created_by_id == "u-dana" and "Duplicate" in lead.summary
        assert s.scalar(select(func.count()).select_from(WebHold)) == 0
    again = dana.push("dismiss_online_booking", {"online_booking_id": rid, "reason": "Spam"})
    assert again.status == "rejected" and "already dismissed" in again.errors["status"]


def test_accept_books_the_job_and_settles_the_request(store):
    rid = _request(store)
    with store.sessions.begin() as s:
        c = Customer(name="Maria Lopez")
        s.add(c)
        s.flush()
        loc = Location(customer_id=c.id, street="100 Elm St", city="Dallas", state="TX", zip="75201")
        s.add_all([loc, ContactMethod(customer_id=c.id, kind=ContactKind.MOBILE, value="+12145550142")])
        s.flush()
        cid, lid = c.id, loc.id
    applier = Applier(store.sessions, clock=store.clock)
    lee, dana = Console(applier, "u-lee"), Console(applier, "u-dana")
    assert dana.push("claim_online_booking", {"online_booking_id": rid}).status == "applied"
    job = {
        "customer_id": cid,
        "location_id": lid,
        "business_unit_id": store.ids.hvac,
        "job_type_id": store.ids.ac_repair,
        "campaign_id": store.ids.google,
        "summary": "Warm air",
        "booked_from": "OnlineBooking",
    }
    args = {"job": job, "appointment": {"day": WEDNESDAY.isoformat(), "arrival_window_id": store.ids.w8_12}}
    stolen = lee.push("book_job", {**args, "job": dict(job), "online_booking_id": rid})
    assert stolen.status == "rejected" and "Dana Reyes is working" in stolen.errors["claim"]
    booked = dana.push("book_job", {**args, "job": dict(job), "online_booking_id": rid})
    assert booked.status == "applied", booked.errors
    with store.sessions() as s:
        req = s.get(OnlineBooking, rid)
        assert req.status == "Accepted" and req.customer_id == cid
        assert s.get(Job, req.job_id).booked_from.value == "OnlineBooking"
        assert s.scalar(select(func.count()).select_from(WebHold)) == 0
        assert s.scalar(select(func.count()).select_from(Job)) == 1
