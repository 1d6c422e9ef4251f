"""The call reducer and the classification function (models/call_rules.py), against DOMAIN.md."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from models.call_rules import (
    LEAD_SECONDS,
    CallFacts,
    EventFact,
    caller_number,
    classify,
    reduce_events,
)
from models.calls import CallClass, CallDirection, CallEventKind, CallState, EndReason

T0 = datetime(2026, 11, 27, 15, 0, 0, tzinfo=UTC)
K = CallEventKind


def ev(kind: CallEventKind, seconds: float, key: str = "", **kw) -> EventFact:
    return EventFact(key or f"{kind}:{seconds}", kind, T0 + timedelta(seconds=seconds), **kw)


# -- the reducer ------------------------------------------------------------------------------------------
def test_an_answered_call_in_order():
    t = reduce_events(
        [
            ev(K.OFFERED, 0),
            ev(K.ALERTING, 1, agent="dana"),
            ev(K.ANSWERED, 6, agent="dana"),
            ev(K.ENDED, 96, end_reason="completed"),
            ev(K.RECORDING, 99, recording_url="https://r/1", recording_seconds=90),
        ]
    )
    assert t.state is CallState.ENDED
    assert (t.started_at, t.answered_at, t.ended_at) == (
        T0,
        T0 + timedelta(seconds=6),
        T0 + timedelta(seconds=96),
    )
    assert t.talk_seconds == 90 and t.end_reason == "completed" and t.answered_by == "dana"
    assert (t.recording_url, t.recording_seconds) == ("https://r/1", 90)


@pytest.mark.parametrize(
    ("events", "state"),
    [
        ([ev(K.OFFERED, 0)], CallState.RINGING),
        ([ev(K.OFFERED, 0), ev(K.QUEUED, 1)], CallState.QUEUED),
        ([ev(K.OFFERED, 0), ev(K.QUEUED, 1), ev(K.ALERTING, 2)], CallState.RINGING),
        ([ev(K.OFFERED, 0), ev(K.ANSWERED, 3)], CallState.TALKING),
        ([ev(K.OFFERED, 0), ev(K.ANSWERED, 3), ev(K.HELD, 10)], CallState.HELD),
        ([ev(K.OFFERED, 0), ev(K.ANSWERED, 3), ev(K.HELD, 10), ev(K.RESUMED, 20)], CallState.TALKING),
        ([ev(K.OFFERED, 0), ev(K.HELD, 1)], CallState.RINGING),  # nothing to hold before an answer
    ],
)
def test_states(events, state):
    assert reduce_events(events).state is state


def test_an_ended_call_never_reopens():
    """A late "ringing" or "in-progress" callback — even one stamped after the end — changes nothing."""
    t = reduce_events(
        [
            ev(K.OFFERED, 0),
            ev(K.ENDED, 20, end_reason="caller-hangup"),
            ev(K.ALERTING, 25),
            ev(K.ANSWERED, 26),
        ]
    )
    assert t.state is CallState.ENDED and t.answered_at is None and t.end_reason == "caller-hangup"
    assert t.talk_seconds == 0


def test_an_end_without_a_reason_and_a_completed_call_nobody_answered():
    assert reduce_events([ev(K.OFFERED, 0), ev(K.ENDED, 9)]).end_reason == EndReason.CALLER_HANGUP
    assert (
        reduce_events([ev(K.OFFERED, 0), ev(K.ENDED, 9, end_reason="completed")]).end_reason
        == EndReason.CALLER_HANGUP
    )
    assert (
        reduce_events([ev(K.OFFERED, 0), ev(K.ANSWERED, 2), ev(K.ENDED, 9)]).end_reason == EndReason.COMPLETED
    )


def test_the_answer_and_the_end_in_the_same_second():
    t = reduce_events([ev(K.ENDED, 5, end_reason="completed"), ev(K.ANSWERED, 5), ev(K.OFFERED, 0)])
    assert t.state is CallState.ENDED and t.answered_at == T0 + timedelta(seconds=5) and t.talk_seconds == 0


def test_the_longest_recording_part_is_kept():
    t = reduce_events(
        [
            ev(K.OFFERED, 0),
            ev(K.RECORDING, 50, "r1", recording_url="u1", recording_seconds=30),
            ev(K.RECORDING, 80, "r2", recording_url="u2", recording_seconds=60),
        ]
    )
    assert (t.recording_url, t.recording_seconds) == ("u2", 60)


def test_no_events_is_an_error():
    with pytest.raises(ValueError):
        reduce_events([])


def test_naive_times_are_utc():
    t = reduce_events([EventFact("a", K.OFFERED, datetime(2026, 11, 27, 15, 0)), ev(K.ANSWERED, 1)])
    assert t.started_at == T0


# Realistic calls: a ring, maybe an answer and holds, an end, maybe a recording; times increasing.
@st.composite
def call_events(draw) -> list[EventFact]:
    t = 0.0
    out = [ev(K.OFFERED, t, "offered")]
    if draw(st.booleans()):
        t += draw(st.integers(0, 30))
        out.append(ev(K.QUEUED, t, "queued"))
    answered = draw(st.booleans())
    if answered:
        t += draw(st.integers(0, 30))
        out.append(ev(K.ALERTING, t, "alerting", agent="dana"))
        t += draw(st.integers(0, 20))
        out.append(ev(K.ANSWERED, t, "answered", agent="dana"))
        for i in range(draw(st.integers(0, 2))):
            t += draw(st.integers(1, 60))
            out.append(ev(K.HELD, t, f"held{i}"))
            t += draw(st.integers(1, 60))
            out.append(ev(K.RESUMED, t, f"resumed{i}"))
    if draw(st.booleans()):
        t += draw(st.integers(0, 600))
        out.append(ev(K.ENDED, t, "ended", end_reason="completed" if answered else "no-answer"))
        if answered and draw(st.booleans()):
            t += draw(st.integers(0, 30))
            out.append(ev(K.RECORDING, t, "rec", recording_url="u", recording_seconds=5))
    return out


@settings(max_examples=300, deadline=None)
@given(call_events(), st.data())
def test_any_delivery_order_with_duplicates_gives_the_same_call(events, data):
    """Callbacks arrive duplicated and out of order: the reduced call is the same as for the tidy
    sequence, and one that ended stays ended."""
    delivered = data.draw(st.lists(st.sampled_from(events), min_size=0, max_size=len(events) * 2))
    shuffled = data.draw(st.permutations(events + delivered))
    tidy = reduce_events(events)
    assert reduce_events(shuffled) == tidy
    if any(e.kind is K.ENDED for e in events):
        assert tidy.state is CallState.ENDED


@settings(max_examples=200, deadline=None)
@given(call_events(), st.data())
def test_a_prefix_of_the_events_never_shows_a_later_state_than_all_of_them(events, data):
    """What a console shows while callbacks trickle in never gets "more ended" and then reopens."""
    order = data.draw(st.permutations(events))
    ended_seen = False
    for i in range(1, len(order) + 1):
        state = reduce_events(order[:i]).state
        if ended_seen:
            assert state is CallState.ENDED
        ended_seen = state is CallState.ENDED


# -- classification ---------------------------------------------------------------------------------------
def facts(**kw) -> CallFacts:
    base = {
        "direction": CallDirection.INBOUND,
        "ended": True,
        "agent_id": "dana",
        "talk_seconds": 90,
        "booked": False,
        "excused": False,
        "reason_is_lead": None,
    }
    return CallFacts(**{**base, **kw})


@pytest.mark.parametrize(
    ("kw", "expected"),
    [
        ({"ended": False}, None),  # not over yet
        ({"direction": CallDirection.OUTBOUND}, None),  # ours: outbound not counted
        ({"agent_id": None}, CallClass.ABANDONED),  # nobody answered / clicked
        ({"agent_id": None, "talk_seconds": 300}, CallClass.ABANDONED),  # answered, bubble never clicked
        ({"agent_id": None, "booked": True}, CallClass.ABANDONED),  # no CSR bound: not Booked
        ({"booked": True}, CallClass.BOOKED),
        ({"booked": True, "talk_seconds": 10}, CallClass.BOOKED),  # short but booked
        ({"booked": True, "reason_is_lead": False}, CallClass.BOOKED),
        ({"talk_seconds": 59}, CallClass.EXCUSED),  # claimed, < 60 s, no booking
        ({"talk_seconds": LEAD_SECONDS}, CallClass.UNBOOKED),  # the boundary: >= 60 s is a lead
        ({"talk_seconds": 10, "reason_is_lead": True}, CallClass.UNBOOKED),  # a lead reason makes it a lead
        ({"talk_seconds": 300, "reason_is_lead": False}, CallClass.NOT_LEAD),  # wrong number, vendor call
        ({"talk_seconds": 10, "reason_is_lead": False}, CallClass.NOT_LEAD),
        ({"talk_seconds": 300, "reason_is_lead": True}, CallClass.UNBOOKED),
        ({"excused": True}, CallClass.EXCUSED),  # a manager excused it
        ({"excused": True, "booked": True}, CallClass.EXCUSED),
        ({"excused": True, "agent_id": None}, CallClass.EXCUSED),
    ],
)
def test_classification_rules(kw, expected):
    assert classify(facts(**kw)) == expected


def test_with_no_call_reasons_configured_every_claimed_call_of_a_minute_is_a_lead():
    # No reason ever given (none configured): the duration alone decides.
    assert classify(facts(talk_seconds=60, reason_is_lead=None)) is CallClass.UNBOOKED
    assert classify(facts(talk_seconds=59, reason_is_lead=None)) is CallClass.EXCUSED


# -- the caller's number ----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("raw", "e164"),
    [
        ("+12145550101", "+12145550101"),
        ("(214) 555-0101", "+12145550101"),
        ("+14155550123", "+14155550123"),
        ("+442079460958", "+442079460958"),
        ("anonymous", ""),
        ("Anonymous", ""),
        ("Restricted", ""),
        ("RESTRICTED", ""),
        ("unknown", ""),
        ("", ""),
        ("   ", ""),
        ("client:dana", ""),
        ("sip:dana@example.com", ""),
        ("+1", ""),
        ("hello", ""),
        ("266696687", ""),
        ("+" + "9" * 60, ""),
        ("12\x00345", ""),
    ],
)
def test_caller_numbers(raw, e164):
    assert caller_number(raw) == e164
