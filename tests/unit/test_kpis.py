"""The floor's KPIs and the scorecards (models/kpis.py) against hand-computed scenarios: service level,
abandonment, booking rate, AHT (talk seconds), the Abandoned profile, and local-midnight day boundaries
(a DST day too)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from models.agents import AgentState, away_reasons, check_choice, effective_state
from models.calls import CallDirection, CallState
from models.kpis import CallFact, day_bounds, live_kpis, period_days, scorecard, service_level
from models.timeutil import utc_iso

CHICAGO = ZoneInfo("America/Chicago")
# 2026-03-10 is a plain Tuesday in Chicago (CDT, UTC-5): local midnight is 05:00 UTC.
NOW = datetime(2026, 3, 10, 17, 0, tzinfo=UTC)  # 12:00 local


def at(hour: int, minute: int = 0, second: int = 0, day: int = 10) -> datetime:
    """A local Chicago time on 2026-03-<day> as UTC."""
    return datetime(2026, 3, day, hour, minute, second, tzinfo=CHICAGO).astimezone(UTC)


def answered(
    cid: str,
    start: datetime,
    wait: int,
    talk: int,
    *,
    agent: str | None = "ann",
    cls: str = "Unbooked",
    campaign: str = "Google Ads",
) -> CallFact:
    return CallFact(
        id=cid,
        started_at=start,
        answered_at=start + timedelta(seconds=wait),
        ended_at=start + timedelta(seconds=wait + talk),
        agent_id=agent,
        classification=cls,
        talk_seconds=talk,
        campaign=campaign,
    )


def unanswered(cid: str, start: datetime, wait: int) -> CallFact:
    return CallFact(
        id=cid, started_at=start, ended_at=start + timedelta(seconds=wait), classification="Abandoned"
    )


def test_service_level_counts_answered_calls_and_abandons_after_20_seconds():
    calls = [
        answered("a", at(9), 5, 100),
        answered("b", at(9, 5), 20, 100),  # within 20 s (20 counts)
        answered("c", at(9, 10), 21, 100),  # answered late
        unanswered("d", at(9, 20), 30),  # gave up after 20 s: a miss
        unanswered("e", at(9, 30), 10),  # short abandon: not counted
        CallFact(id="f", started_at=at(11, 59), state=CallState.RINGING),
    ]  # still waiting: not yet
    assert service_level(calls) == (2, 4)
    kpis = live_kpis(calls, NOW, CHICAGO)
    assert kpis["service_level_pct"] == 50.0 and kpis["service_level_calls"] == 4


def test_live_tiles_by_hand():
    calls = [
        answered("a", at(9), 5, 300, cls="Booked"),
        answered("b", at(9, 5), 8, 90, cls="Unbooked"),
        answered("c", at(9, 10), 3, 30, cls="Excused"),
        answered("x", at(9, 15), 40, 200, cls="Booked"),
        unanswered("d", at(10), 45),
        CallFact(id="w1", started_at=NOW - timedelta(seconds=95), state=CallState.QUEUED),
        CallFact(id="w2", started_at=NOW - timedelta(seconds=12), state=CallState.RINGING),
        CallFact(
            id="t", started_at=at(11), answered_at=at(11, 0, 4), state=CallState.TALKING, agent_id="ann"
        ),
        CallFact(id="o", started_at=at(10), direction=CallDirection.OUTBOUND, ended_at=at(10, 5)),
        answered("y", at(23, 30, day=9), 2, 100, cls="Unbooked"),
    ]  # yesterday: not today's
    kpis = live_kpis(calls, NOW, CHICAGO)
    assert kpis["day"] == "2026-03-10" and kpis["as_of"] == utc_iso(NOW)
    assert kpis["calls_waiting"] == 2 and kpis["longest_wait_s"] == 95
    # answered a, b, c, x (x after 40 s), t (4 s); d gave up after 45 s: 4 of 6 within 20 s
    assert kpis["service_level_pct"] == 66.7
    # ended inbound today: a, b, c, x, d → 1 unanswered of 5
    assert kpis["abandonment_pct"] == 20.0 and kpis["abandoned_today"] == 1
    # Booked a, x; Unbooked b → 2 / 3
    assert kpis["booking_rate_pct"] == 66.7 and (kpis["booked_today"], kpis["leads_today"]) == (2, 3)
    assert kpis["calls_today"] == 8  # inbound calls that started today (not y, not o)


def test_no_calls_give_no_percentages():
    kpis = live_kpis([], NOW, CHICAGO)
    assert kpis["service_level_pct"] is None and kpis["abandonment_pct"] is None
    assert kpis["booking_rate_pct"] is None and kpis["calls_waiting"] == 0 and kpis["longest_wait_s"] == 0


def test_counters_reset_at_local_midnight_not_utc_midnight():
    # 23:30 local on the 9th is 04:30 UTC on the 10th: yesterday, locally.
    late = answered("late", at(23, 30, day=9), 2, 100, cls="Booked")
    early = answered("early", at(0, 10), 2, 100, cls="Unbooked")  # 05:10 UTC on the 10th
    kpis = live_kpis([late, early], NOW, CHICAGO)
    assert kpis["booking_rate_pct"] == 0.0 and kpis["calls_today"] == 1
    just_before_midnight = at(23, 59, 59, day=9)
    assert live_kpis([late, early], just_before_midnight, CHICAGO)["booking_rate_pct"] == 100.0


def test_a_dst_day_is_23_hours_and_its_calls_belong_to_it():
    # 2026-03-08: clocks jump from 02:00 CST to 03:00 CDT in Chicago.
    start, end = day_bounds(date(2026, 3, 8), CHICAGO)
    assert start == datetime(2026, 3, 8, 6, 0, tzinfo=UTC) and end == datetime(2026, 3, 9, 5, 0, tzinfo=UTC)
    assert end - start == timedelta(hours=23)
    first = answered("first", datetime(2026, 3, 8, 6, 0, tzinfo=UTC), 2, 100, cls="Booked")  # 00:00 CST
    last = answered(
        "last", datetime(2026, 3, 9, 4, 59, 59, tzinfo=UTC), 2, 100, cls="Unbooked"
    )  # 23:59:59 CDT
    nextday = answered(
        "next", datetime(2026, 3, 9, 5, 0, tzinfo=UTC), 2, 100, cls="Unbooked"
    )  # 00:00 on the 9th
    card = scorecard([first, last, nextday], date(2026, 3, 8), date(2026, 3, 8), CHICAGO)
    assert card["rows"][0]["inbound_handled"] == 2
    assert card["booking_rate_by_day"] == [{"day": "2026-03-08", "pct": 50.0, "booked": 1, "leads": 2}]
    assert card["calls_per_hour"][0] == 1 and card["calls_per_hour"][23] == 1
    # and the fall-back day (2026-11-01) is 25 hours long
    start, end = day_bounds(date(2026, 11, 1), CHICAGO)
    assert end - start == timedelta(hours=25)


def test_scorecard_rows_aht_abandoned_profile_and_campaigns():
    calls = [
        answered("a1", at(9), 5, 300, agent="ann", cls="Booked", campaign="Google Ads"),
        answered("a2", at(10), 5, 100, agent="ann", cls="Unbooked", campaign="Google Ads"),
        answered("a3", at(11), 5, 20, agent="ann", cls="Excused", campaign="Google Ads"),
        answered("a4", at(11, 30), 5, 80, agent="ann", cls="NotLead", campaign="Yelp"),
        answered("b1", at(9, 30), 5, 200, agent="bob", cls="Booked", campaign="Yelp"),
        answered("b2", at(9, 40), 5, 61, agent="bob", cls="Booked", campaign="Yelp"),
        answered("u1", at(10, 15), 5, 50, agent=None, cls="Abandoned"),  # answered, never claimed
        unanswered("u2", at(10, 20), 30),
        answered("y1", at(10, day=9), 5, 100, agent="ann", cls="Booked"),
    ]  # yesterday
    card = scorecard(calls, date(2026, 3, 10), date(2026, 3, 10), CHICAGO, names={"ann": "Ann", "bob": "Bob"})
    ann, bob = card["rows"]
    assert ann == {
        "user_id": "ann",
        "name": "Ann",
        "inbound_handled": 4,
        "booked": 1,
        "unbooked": 1,
        "excused": 1,
        "not_lead": 1,
        "booking_rate_pct": 50.0,
        "avg_handle_s": 125,
    }  # (300+100+20+80)/4
    assert bob["booking_rate_pct"] == 100.0 and bob["avg_handle_s"] == 130  # (200+61)/2 = 130.5
    assert card["abandoned"] == {
        "count": 2,
        "unanswered": 1,
        "answered_unclaimed": 1,
        "call_ids": ["u1", "u2"],
    }
    assert card["campaigns"] == [
        {"campaign": "Google Ads", "leads": 2, "booked": 1, "booked_pct": 50.0},
        {"campaign": "Yelp", "leads": 2, "booked": 2, "booked_pct": 100.0},
    ]
    assert (
        card["calls_per_hour"][9] == 3
        and card["calls_per_hour"][10] == 3
        and sum(card["calls_per_hour"]) == 8
    )
    # the week so far (Monday the 9th to Tuesday the 10th) adds yesterday's call for Ann
    week = scorecard(calls, *period_days("week", date(2026, 3, 10)), CHICAGO)
    assert [d["day"] for d in week["booking_rate_by_day"]] == ["2026-03-09", "2026-03-10"]
    assert week["booking_rate_by_day"][0]["pct"] == 100.0 and week["booking_rate_by_day"][1]["pct"] == 75.0


def test_a_csrs_own_scorecard_is_about_their_calls_only():
    calls = [
        answered("a1", at(9), 5, 300, agent="ann", cls="Booked"),
        answered("b1", at(9, 30), 5, 200, agent="bob", cls="Unbooked"),
        unanswered("u", at(10), 30),
    ]
    card = scorecard(calls, date(2026, 3, 10), date(2026, 3, 10), CHICAGO, user_id="ann")
    assert [r["user_id"] for r in card["rows"]] == ["ann"] and card["abandoned"]["count"] == 0
    assert sum(card["calls_per_hour"]) == 1
    nothing = scorecard([], date(2026, 3, 10), date(2026, 3, 10), CHICAGO, user_id="ann")
    assert nothing["rows"][0]["inbound_handled"] == 0 and nothing["rows"][0]["avg_handle_s"] is None


def test_every_active_csr_has_a_row_for_a_supervisor_even_with_no_calls():
    calls = [answered("a1", at(9), 5, 300, agent="ann", cls="Booked")]
    card = scorecard(
        calls,
        date(2026, 3, 10),
        date(2026, 3, 10),
        CHICAGO,
        names={"ann": "Ann", "cy": "Cy"},
        everyone=["ann", "cy"],
    )
    assert [r["user_id"] for r in card["rows"]] == ["ann", "cy"]
    assert card["rows"][1] == {
        "user_id": "cy",
        "name": "Cy",
        "inbound_handled": 0,
        "booked": 0,
        "unbooked": 0,
        "excused": 0,
        "not_lead": 0,
        "booking_rate_pct": None,
        "avg_handle_s": None,
    }
    own = scorecard(
        calls, date(2026, 3, 10), date(2026, 3, 10), CHICAGO, user_id="ann", everyone=["ann", "cy"]
    )
    assert [r["user_id"] for r in own["rows"]] == ["ann"]  # a CSR's own: never the others


def test_periods():
    today = date(2026, 3, 11)  # a Wednesday
    assert period_days("today", today) == (today, today)
    assert period_days("yesterday", today) == (date(2026, 3, 10),) * 2
    assert period_days("week", today) == (date(2026, 3, 9), today)
    assert period_days("month", today) == (date(2026, 3, 1), today)
    assert period_days("custom", today, date(2026, 3, 5), date(2026, 3, 2)) == (
        date(2026, 3, 2),
        date(2026, 3, 5),
    )
    with pytest.raises(ValueError):
        period_days("custom", today)


def test_agent_state_rules():
    reasons = away_reasons({})
    assert reasons == ["Break", "Lunch", "Meeting", "Training", "Personal"]
    assert away_reasons({"away_reasons": ["Coaching", " ", "Coaching"]}) == ["Coaching"]
    assert check_choice("Away", "Lunch", reasons) == (AgentState.AWAY, "Lunch")
    assert check_choice("Wrap-up", "Lunch", reasons) == (AgentState.WRAP_UP, "")
    for state, reason in (("Away", ""), ("Away", "Nap"), ("On call", ""), ("Offline", ""), ("Busy", "")):
        with pytest.raises(ValueError):
            check_choice(state, reason, reasons)
    since, left = NOW - timedelta(minutes=5), NOW - timedelta(minutes=1)
    assert (
        effective_state(
            chosen=AgentState.AWAY, reason="Lunch", since=since, connected=False, left_at=left, call=None
        ).state
        is AgentState.OFFLINE
    )
    on_call = effective_state(
        chosen=AgentState.AVAILABLE, reason="", since=since, connected=True, left_at=None, call=("c1", left)
    )
    assert (on_call.state, on_call.since, on_call.call_id) == (AgentState.ON_CALL, left, "c1")
    assert (
        effective_state(
            chosen=AgentState.AWAY, reason="Lunch", since=since, connected=True, left_at=None, call=None
        ).reason
        == "Lunch"
    )
