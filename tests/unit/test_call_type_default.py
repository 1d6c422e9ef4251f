"""The tracking number's default call type is used by call classification (issue 19): a claimed,
unbooked call to a Not-lead number (a vendor line) is NotLead without a reason; a call reason still
decides, a booking is still Booked, nobody attached is still Abandoned; a Lead number changes nothing."""

from __future__ import annotations

from sqlalchemy import select

from models.call_rules import CallFacts, classify
from models.call_store import claim_call, reclassify
from models.calls import Call, CallClass, CallDirection
from models.setup import CallType, TrackingNumber
from tests.unit.test_call_store import TRACKING, K, call_row, ev, record
from tests.unit.test_call_store import store as store  # noqa: F401 - the fixture


def _facts(**kw) -> CallFacts:
    base = {"direction": CallDirection.INBOUND, "ended": True, "agent_id": "dana", "talk_seconds": 300}
    return CallFacts(**{**base, "booked": False, **kw})


def test_the_pure_rule():
    assert classify(_facts(line_is_lead=False)) is CallClass.NOT_LEAD
    assert classify(_facts(line_is_lead=False, talk_seconds=10)) is CallClass.NOT_LEAD
    assert classify(_facts(line_is_lead=False, reason_is_lead=True)) is CallClass.UNBOOKED  # a reason decides
    assert classify(_facts(line_is_lead=False, booked=True)) is CallClass.BOOKED
    assert classify(_facts(line_is_lead=False, agent_id=None)) is CallClass.ABANDONED
    assert classify(_facts(line_is_lead=False, excused=True)) is CallClass.EXCUSED
    assert classify(_facts()) is CallClass.UNBOOKED  # a Lead line: as before


def _not_lead_line(store) -> None:
    with store.sessions.begin() as s:
        line = s.scalar(select(TrackingNumber).where(TrackingNumber.number == TRACKING))
        line.default_call_type = CallType.NOT_LEAD


def test_a_call_to_a_not_lead_number_is_not_lead_until_a_reason_says_otherwise(store):  # noqa: F811
    _not_lead_line(store)
    r = record(store, ev(K.OFFERED, 0), ev(K.ANSWERED, 2))
    with store.sessions.begin() as s:
        claim_call(s, r.calls[0].id, "dana")
    record(store, ev(K.ENDED, 200, end_reason="completed"))
    assert call_row(store).classification is CallClass.NOT_LEAD  # 198 s, but the vendor line
    with store.sessions.begin() as s:
        call = s.get(Call, r.calls[0].id)
        call.call_reason_id = "quote"  # the manager (or the CSR closing it) says it was a lead after all
        reclassify(s, call)
        assert call.classification is CallClass.UNBOOKED


def test_an_unanswered_call_to_a_not_lead_number_is_still_abandoned(store):  # noqa: F811
    _not_lead_line(store)
    record(store, ev(K.OFFERED, 0), ev(K.ENDED, 20, end_reason="caller_hangup"))
    assert call_row(store).classification is CallClass.ABANDONED
