"""The supervisor's numbers as pure functions over plain call facts (no database, no clock): the live
floor's KPI tiles and the CSR scorecards (DOMAIN.md "Metrics"). Qt-free; tested against hand-computed
scenarios (tests/unit/test_kpis.py). :func:`load_call_facts` reads the facts from a store.

Definitions (also in docs/protocol.md "Floor"):

- Days are the company's local days: "today" runs from local midnight to the next local midnight in
  the company's time zone (23 or 25 hours on a DST day). A call belongs to the day it *started*.
- Only inbound calls count anywhere here (outbound calls are logged, never measured — ours).
- **Service level**: of today's inbound calls that were answered, or that ended unanswered after
  waiting at least 20 s, the share answered within 20 s of the first ring. A caller who hung up within
  20 s is not counted either way (a short abandon); calls still waiting are not counted yet.
- **Abandonment**: of today's inbound calls that have ended, the share that ended without anyone
  answering. (The *Abandoned classification* — also answered calls no CSR claimed — is the scorecard's
  Abandoned profile.)
- **Booking rate**: Booked ÷ (Booked + Unbooked), by classification.
- **Average handle time** (AHT): the mean talk seconds (answered → ended, hold included; wrap-up is not
  measured) of the CSR's handled calls.
- A CSR's **handled** calls: ended inbound calls attached to them (claimed, or attached by a manager).
- A percentage with nothing to divide is ``None`` (shown as "—").
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, tzinfo
from typing import Any

from .calls import CallClass, CallDirection, CallState
from .timeutil import as_utc, utc_iso

SERVICE_LEVEL_SECONDS = 20
WAITING_STATES = (CallState.RINGING, CallState.QUEUED)


@dataclass(frozen=True, slots=True)
class CallFact:
    """One call as the numbers need it (UTC datetimes; aware or naive-as-UTC)."""

    id: str
    started_at: datetime
    direction: CallDirection = CallDirection.INBOUND
    state: CallState = CallState.ENDED
    answered_at: datetime | None = None
    ended_at: datetime | None = None
    agent_id: str | None = None
    classification: str = ""  # a CallClass value, "" while unclassified
    talk_seconds: int = 0
    campaign: str = ""  # the campaign's name ("" when unknown)

    @property
    def inbound(self) -> bool:
        return CallDirection(self.direction) is CallDirection.INBOUND

    @property
    def ended(self) -> bool:
        return CallState(self.state) is CallState.ENDED


def pct(part: int, whole: int) -> float | None:
    """``part`` of ``whole`` in percent, one decimal; None when ``whole`` is 0."""
    return round(100.0 * part / whole, 1) if whole else None


def day_bounds(day: date, tz: tzinfo) -> tuple[datetime, datetime]:
    """Local midnight of ``day`` and of the next day, in UTC."""
    start = datetime.combine(day, time(0), tzinfo=tz)
    end = datetime.combine(day + timedelta(days=1), time(0), tzinfo=tz)
    return as_utc(start), as_utc(end)


def local_day(moment: datetime, tz: tzinfo) -> date:
    return as_utc(moment).astimezone(tz).date()


def in_days(calls: Iterable[CallFact], first: date, last: date, tz: tzinfo) -> list[CallFact]:
    """The inbound calls that started between local midnight of ``first`` and the end of ``last``."""
    start, _ = day_bounds(min(first, last), tz)
    _, end = day_bounds(max(first, last), tz)
    return [c for c in calls if c.inbound and start <= as_utc(c.started_at) < end]


def wait_seconds(call: CallFact, now: datetime) -> float:
    """From the first ring until answered, ended, or ``now`` (still waiting)."""
    stop = call.answered_at or call.ended_at or now
    return max(0.0, (as_utc(stop) - as_utc(call.started_at)).total_seconds())


# -- the live floor ----------------------------------------------------------------------------------------
def service_level(calls: Iterable[CallFact], threshold: int = SERVICE_LEVEL_SECONDS) -> tuple[int, int]:
    """(answered within ``threshold`` s, calls that count): see the module's definition."""
    met = counted = 0
    for c in calls:
        if not c.inbound:
            continue
        if c.answered_at is not None:
            counted += 1
            met += wait_seconds(c, c.answered_at) <= threshold
        elif c.ended and c.ended_at is not None and wait_seconds(c, c.ended_at) >= threshold:
            counted += 1
    return met, counted


def abandonment(calls: Iterable[CallFact]) -> tuple[int, int]:
    """(ended unanswered, ended) over inbound calls."""
    ended = [c for c in calls if c.inbound and c.ended]
    return sum(c.answered_at is None for c in ended), len(ended)


def booking(calls: Iterable[CallFact]) -> tuple[int, int]:
    """(Booked, Booked + Unbooked)."""
    classes = [c.classification for c in calls]
    booked = classes.count(CallClass.BOOKED.value)
    return booked, booked + classes.count(CallClass.UNBOOKED.value)


def live_kpis(calls: Iterable[CallFact], now: datetime, tz: tzinfo) -> dict[str, Any]:
    """The floor's tiles at ``now``: calls waiting now (any day), and today's rates (local day of ``now``).
    ``calls``: today's calls plus every call still active (a caller waiting since before midnight)."""
    unique = {c.id: c for c in calls}.values()
    day = local_day(now, tz)
    waiting = [
        c for c in unique if c.inbound and CallState(c.state) in WAITING_STATES and c.answered_at is None
    ]
    today = in_days(unique, day, day, tz)
    met, counted = service_level(today)
    lost, ended = abandonment(today)
    booked, leads = booking(today)
    return {
        "day": day.isoformat(),
        "as_of": utc_iso(now),
        "calls_waiting": len(waiting),
        "longest_wait_s": round(max((wait_seconds(c, now) for c in waiting), default=0)),
        "calls_today": len(today),
        "service_level_pct": pct(met, counted),
        "service_level_calls": counted,
        "abandonment_pct": pct(lost, ended),
        "abandoned_today": lost,
        "booking_rate_pct": pct(booked, leads),
        "booked_today": booked,
        "leads_today": leads,
    }


# -- scorecards --------------------------------------------------------------------------------------------
def _row(user_id: str, name: str, calls: list[CallFact]) -> dict[str, Any]:
    counts = {k.value: 0 for k in CallClass}
    for c in calls:
        if c.classification in counts:
            counts[c.classification] += 1
    booked, unbooked = counts[CallClass.BOOKED.value], counts[CallClass.UNBOOKED.value]
    return {
        "user_id": user_id,
        "name": name,
        "inbound_handled": len(calls),
        "booked": booked,
        "unbooked": unbooked,
        "excused": counts[CallClass.EXCUSED.value],
        "not_lead": counts[CallClass.NOT_LEAD.value],
        "booking_rate_pct": pct(booked, booked + unbooked),
        "avg_handle_s": round(sum(c.talk_seconds for c in calls) / len(calls)) if calls else None,
    }


def scorecard(
    calls: Iterable[CallFact],
    first: date,
    last: date,
    tz: tzinfo,
    *,
    names: dict[str, str] | None = None,
    user_id: str | None = None,
    everyone: Iterable[str] = (),
) -> dict[str, Any]:
    """Per-CSR scorecard rows for the local days ``first``..``last`` (inclusive), the Abandoned profile,
    campaigns, calls per local hour and the booking rate per day. With ``user_id`` everything is about
    that CSR's own calls only (their row; no Abandoned profile — those calls are nobody's). Without it,
    each id in ``everyone`` (the active CSRs) has a row even with no calls: a zero is worth seeing."""
    names = names or {}
    first, last = min(first, last), max(first, last)
    period = in_days(calls, first, last, tz)
    if user_id is not None:
        period = [c for c in period if c.agent_id == user_id]
    ended = [c for c in period if c.ended]
    handled: dict[str, list[CallFact]] = {}
    for c in ended:
        if c.agent_id:
            handled.setdefault(c.agent_id, []).append(c)
    for uid in [user_id] if user_id is not None else everyone:
        handled.setdefault(uid, [])
    rows = sorted(
        (_row(uid, names.get(uid, ""), cs) for uid, cs in handled.items()),
        key=lambda r: (r["name"].casefold(), r["user_id"]),
    )
    abandoned = [c for c in ended if c.classification == CallClass.ABANDONED.value]
    campaigns: dict[str, list[int]] = {}
    for c in ended:
        if c.classification in (CallClass.BOOKED.value, CallClass.UNBOOKED.value):
            entry = campaigns.setdefault(c.campaign, [0, 0])
            entry[0] += 1
            entry[1] += c.classification == CallClass.BOOKED.value
    per_hour = [0] * 24
    for c in period:
        per_hour[as_utc(c.started_at).astimezone(tz).hour] += 1
    by_day = []
    day = first
    while day <= last:
        booked, leads = booking(c for c in ended if local_day(c.started_at, tz) == day)
        by_day.append({"day": day.isoformat(), "pct": pct(booked, leads), "booked": booked, "leads": leads})
        day += timedelta(days=1)
    return {
        "first": first.isoformat(),
        "last": last.isoformat(),
        "rows": rows,
        "abandoned": {
            "count": len(abandoned),
            "unanswered": sum(c.answered_at is None for c in abandoned),
            "answered_unclaimed": sum(c.answered_at is not None for c in abandoned),
            "call_ids": [c.id for c in sorted(abandoned, key=lambda c: as_utc(c.started_at))][:200],
        },
        "campaigns": [
            {"campaign": name, "leads": leads, "booked": booked, "booked_pct": pct(booked, leads)}
            for name, (leads, booked) in sorted(campaigns.items(), key=lambda kv: kv[0].casefold())
        ],
        "calls_per_hour": per_hour,
        "booking_rate_by_day": by_day,
    }


def period_days(
    period: str, today: date, first: date | None = None, last: date | None = None
) -> tuple[date, date]:
    """(first, last) local days of a scorecard period: today, yesterday, week (Monday to today), month
    (the 1st to today) or custom (``first``..``last``, both required)."""
    if period == "custom":
        if first is None or last is None:
            raise ValueError("A custom period needs its first and last day.")
        if (max(first, last) - min(first, last)).days > 366:
            raise ValueError("A custom period is at most a year.")
        return min(first, last), max(first, last)
    from .call_review import period_bounds

    return period_bounds(period, today)


# -- reading the facts -------------------------------------------------------------------------------------
def load_call_facts(session: Any, start: datetime, end: datetime, *, active: bool = False) -> list[CallFact]:
    """The calls that started in [start, end) (UTC), plus — with ``active`` — every call not ended."""
    from sqlalchemy import or_, select

    from .calls import Call
    from .setup import Campaign

    where = (Call.started_at >= start) & (Call.started_at < end)
    if active:
        where = or_(where, Call.state != CallState.ENDED)
    rows = session.execute(
        select(
            Call.id,
            Call.started_at,
            Call.direction,
            Call.state,
            Call.answered_at,
            Call.ended_at,
            Call.agent_id,
            Call.classification,
            Call.duration_seconds,
            Campaign.name,
        )
        .outerjoin(Campaign, Campaign.id == Call.campaign_id)
        .where(where)
    )
    return [
        CallFact(
            id=i,
            started_at=as_utc(s),
            direction=CallDirection(d),
            state=CallState(st),
            answered_at=as_utc(a) if a else None,
            ended_at=as_utc(e) if e else None,
            agent_id=ag,
            classification=CallClass(cl).value if cl else "",
            talk_seconds=t or 0,
            campaign=camp or "",
        )
        for i, s, d, st, a, e, ag, cl, t, camp in rows
    ]
