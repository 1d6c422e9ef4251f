"""Calls in the database (models/call_store.py): events stored once, reduced into the call, campaign
from the dialed number, the caller matched to customers, the claim, the classification kept current."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from models.base import new_id
from models.call_store import caller_matches, claim_call, match_customers, record_events
from models.calls import Call, CallClass, CallDirection, CallEvent, CallEventKind, CallState, NeutralEvent
from models.customers import ContactKind, ContactMethod, Customer
from models.setup import CallReason, Campaign, TrackingNumber, User
from models.validation import ValidationFailed

T0 = datetime(2026, 11, 27, 15, 0, 0, tzinfo=UTC)
K = CallEventKind
TRACKING = "+12145550100"


@pytest.fixture
def store(cache):
    with cache.sessions.begin() as s:
        campaign = Campaign(id=new_id(), name="Google Local Services")
        s.add(campaign)
        s.add(TrackingNumber(id=new_id(), number=TRACKING, campaign=campaign, label="GLS main"))
        for uid, name in (("dana", "Dana Reyes"), ("lee", "Lee Chen")):
            s.add(User(id=uid, username=uid, display_name=name, role="csr"))
        for i, phone in enumerate(("+12145550101", "+12145550102", "+12145550102")):
            c = Customer(id=f"cust{i}", name=f"Customer {i}")
            s.add(c)
            s.add(
                ContactMethod(
                    customer_id=c.id,
                    kind=ContactKind.PHONE,
                    value=phone,
                    digits=phone[2:],
                    digits_rev=phone[2:][::-1],
                )
            )
        s.add(CallReason(id="wrong", name="Wrong number", is_lead=False))
        s.add(CallReason(id="quote", name="Wants a quote", is_lead=True))
    return cache


def ev(kind, seconds, call="CA1", key="", **kw) -> NeutralEvent:
    kw.setdefault("from_number", "+12145550101")
    kw.setdefault("to_number", TRACKING)
    return NeutralEvent(
        "twilio", call, key or f"{call}:{kind}:{seconds}", kind, T0 + timedelta(seconds=seconds), **kw
    )


def record(store, *events):
    with store.sessions.begin() as s:
        return record_events(s, list(events))


def call_row(store, provider_call_id="CA1") -> Call:
    with store.sessions() as s:
        from sqlalchemy import select

        call = s.scalar(select(Call).where(Call.provider_call_id == provider_call_id))
        s.expunge(call)
        return call


def test_a_ringing_call_gets_its_campaign_and_its_customer(store):
    r = record(store, ev(K.OFFERED, 0))
    assert len(r.calls) == 1 and r.new_call_ids == {r.calls[0].id}
    call = call_row(store)
    assert call.state is CallState.RINGING and call.direction is CallDirection.INBOUND
    assert call.from_number == "+12145550101" and call.to_number == TRACKING
    assert call.campaign_id is not None and not call.unknown_campaign
    assert call.customer_id == "cust0"
    assert call.classification is None


def test_several_customers_on_one_number_are_all_matched_and_none_is_chosen(store):
    record(store, ev(K.OFFERED, 0, from_number="(214) 555-0102"))
    call = call_row(store)
    assert call.from_number == "+12145550102" and call.customer_id is None
    with store.sessions() as s:
        assert sorted(match_customers(s, call.from_number)) == ["cust1", "cust2"]
    conn = store.raw_connection()  # the console's match worker: the same customers, one statement
    try:
        assert sorted(cid for cid, _name in caller_matches(conn, call.from_number)) == ["cust1", "cust2"]
        assert caller_matches(conn, "") == [] and caller_matches(conn, "+19995550000") == []
    finally:
        conn.close()


@pytest.mark.parametrize("raw", ["anonymous", "Restricted", "", "garbage", "+1", "client:kiosk"])
def test_an_unknown_caller_is_recorded_without_a_number(store, raw):
    record(store, ev(K.OFFERED, 0, from_number=raw))
    call = call_row(store)
    assert call.from_number == "" and call.customer_id is None and call.state is CallState.RINGING


def test_an_unknown_tracking_number_is_recorded_and_flagged(store):
    record(store, ev(K.OFFERED, 0, to_number="+19995550000"))
    call = call_row(store)
    assert call.unknown_campaign and call.campaign_id is None


def test_a_redelivered_callback_is_stored_once(store):
    record(store, ev(K.OFFERED, 0), ev(K.OFFERED, 0))
    r = record(store, ev(K.OFFERED, 0), ev(K.ANSWERED, 5, agent="dana"))
    assert r.duplicates == 1 and r.new_call_ids == set()
    with store.sessions() as s:
        from sqlalchemy import func, select

        assert s.scalar(select(func.count()).select_from(CallEvent)) == 2


def test_callbacks_out_of_order_end_in_the_right_state_and_never_reopen(store):
    # The end arrives first (the call is created from it), then the older ring and answer.
    record(store, ev(K.ENDED, 100, end_reason="completed"))
    assert call_row(store).state is CallState.ENDED
    record(store, ev(K.ANSWERED, 10, agent="dana"))
    record(store, ev(K.OFFERED, 0))
    call = call_row(store)
    assert call.state is CallState.ENDED and call.duration_seconds == 90
    assert call.started_at.replace(tzinfo=UTC) == T0 and call.end_reason == "completed"
    assert call.classification is CallClass.ABANDONED  # answered, but nobody clicked the bubble


def test_claim_first_wins_takeover_needs_confirmation_and_classification_follows(store):
    r = record(store, ev(K.OFFERED, 0), ev(K.ANSWERED, 3))
    call_id = r.calls[0].id
    with store.sessions.begin() as s:
        claimed = claim_call(s, call_id, "dana", now=T0)
        assert claimed.previous_agent_id is None
    with store.sessions.begin() as s, pytest.raises(ValidationFailed, match="Someone else"):
        claim_call(s, call_id, "lee")
    with store.sessions.begin() as s:
        assert claim_call(s, call_id, "dana").previous_agent_id is None  # a second click: nothing
        assert claim_call(s, call_id, "lee", takeover=True).previous_agent_id == "dana"
    record(store, ev(K.ENDED, 200, end_reason="completed"))
    call = call_row(store)
    assert call.agent_id == "lee" and call.classification is CallClass.UNBOOKED  # 197 s, a lead, no job
    with store.sessions.begin() as s, pytest.raises(ValidationFailed, match="ended"):
        claim_call(s, call_id, "dana")


def test_a_short_claimed_call_is_excused_and_a_reason_decides_lead_or_not(store):
    r = record(store, ev(K.OFFERED, 0), ev(K.ANSWERED, 1))
    with store.sessions.begin() as s:
        claim_call(s, r.calls[0].id, "dana")
    record(store, ev(K.ENDED, 30, end_reason="completed"))
    assert call_row(store).classification is CallClass.EXCUSED
    from models.call_store import reclassify

    with store.sessions.begin() as s:
        call = s.get(Call, r.calls[0].id)
        call.call_reason_id = "wrong"
        reclassify(s, call)
        assert call.classification is CallClass.NOT_LEAD
        call.call_reason_id = "quote"
        reclassify(s, call)
        assert call.classification is CallClass.UNBOOKED


def test_an_outbound_call_links_the_customer_it_dialed_and_is_not_classified(store):
    record(
        store,
        ev(
            K.OFFERED,
            0,
            call="CA9",
            direction=CallDirection.OUTBOUND,
            from_number=TRACKING,
            to_number="+12145550101",
            agent="dana",
        ),
        ev(K.ANSWERED, 5, call="CA9"),
        ev(K.ENDED, 65, call="CA9", end_reason="completed"),
    )
    call = call_row(store, "CA9")
    assert call.direction is CallDirection.OUTBOUND and call.customer_id == "cust0"
    assert call.from_number == TRACKING and call.to_number == "+12145550101"
    assert call.classification is None and not call.unknown_campaign
    assert call.agent_id == "dana"  # the CSR who dialed it from their softphone


def test_the_recording_lands_on_the_call(store):
    record(
        store,
        ev(K.OFFERED, 0),
        ev(K.ANSWERED, 2),
        ev(K.ENDED, 62),
        ev(K.RECORDING, 70, recording_url="https://api.twilio.com/rec/RE1", recording_seconds=60),
    )
    call = call_row(store)
    assert call.recording_url.endswith("/RE1") and call.recording_seconds == 60


def test_a_burst_of_calls_in_one_batch_is_recorded_whole(store):
    events = [ev(K.OFFERED, i / 1000, call=f"CB{i}") for i in range(500)]
    r = record(store, *events)
    assert len(r.calls) == 500 and len(r.new_call_ids) == 500


def test_a_call_first_heard_of_through_an_agent_leg_learns_its_numbers_later(store):
    record(store, ev(K.ALERTING, 1, agent="dana", from_number="", to_number=""))
    call = call_row(store)
    assert call.from_number == "" and not call.unknown_campaign
    record(store, ev(K.OFFERED, 0))
    call = call_row(store)
    assert call.from_number == "+12145550101" and call.campaign_id is not None and call.customer_id == "cust0"


# -- closing a call, booking on a call (intents, through the real write path) -----------------------------
def claimed_ended_call(store, seconds: int) -> str:
    r = record(store, ev(K.OFFERED, 0), ev(K.ANSWERED, 1))
    with store.sessions.begin() as s:
        claim_call(s, r.calls[0].id, "dana")
    record(store, ev(K.ENDED, 1 + seconds, end_reason="completed"))
    return r.calls[0].id


def test_close_call_needs_a_reason_and_a_lead_reason_makes_the_lead_even_without_a_customer(store):
    from models.jobs import Lead
    from models.writer import LocalWriter

    writer = LocalWriter(store.sessions)
    call_id = claimed_ended_call(store, 30)
    with pytest.raises(ValidationFailed, match="reason"):
        writer.execute("close_call", {"call_id": call_id})
    with pytest.raises(ValidationFailed, match="lead reason"):
        writer.execute(
            "close_call", {"call_id": call_id, "call_reason_id": "wrong", "lead": {"summary": "x"}}
        )
    writer.execute(
        "close_call",
        {
            "call_id": call_id,
            "call_reason_id": "quote",
            "lead": {
                "name": "Pat Doe",
                "phone": "+14155550123",
                "summary": "Quote for a heater",
                "follow_up_on": "2026-11-30",
            },
        },
    )
    with store.sessions() as s:
        call = s.get(Call, call_id)
        assert call.closed_at is not None and call.classification is CallClass.UNBOOKED
        lead = s.get(Lead, call.lead_id)
        assert (
            lead.name == "Pat Doe" and lead.call_reason_id == "quote" and lead.campaign_id == call.campaign_id
        )
    # Closing again (a replay) changes nothing.
    writer.execute("close_call", {"call_id": call_id, "call_reason_id": "wrong"})
    with store.sessions() as s:
        assert s.get(Call, call_id).classification is CallClass.UNBOOKED


def test_close_call_with_a_not_lead_reason(store):
    from models.writer import LocalWriter

    call_id = claimed_ended_call(store, 200)
    LocalWriter(store.sessions).execute("close_call", {"call_id": call_id, "call_reason_id": "wrong"})
    with store.sessions() as s:
        assert s.get(Call, call_id).classification is CallClass.NOT_LEAD
