"""Calls for the call review tests, made the way the server makes them: phone-system events through
models.call_store.record_events, and the CSR's click through claim_call.

The company is in Chicago (UTC-6 in November). ``TODAY`` is Friday 2026-11-27; the calls:

==========  =====================  ======================================================  ==========
name        started (Chicago)      what happened                                           class
==========  =====================  ======================================================  ==========
unbooked    Thu 11-26 08:00        Dana claimed it, talked 180 s, nothing booked           Unbooked
abandoned   Thu 11-26 09:00        rang 40 s, the caller hung up                           Abandoned
late        Thu 11-26 23:30        (Fri 05:30 UTC) answered, nobody clicked, talked 90 s   Abandoned
short       Thu 11-26 10:00        Dana claimed it, talked 30 s                            Excused
outbound    Thu 11-26 11:00        dialed out                                              (none)
booked      Thu 11-26 12:00        answered, talked 20 s, a job booked, nobody clicked     Abandoned
today       Fri 11-27 09:00        rang 20 s, the caller hung up; recorded                 Abandoned
ringing     Fri 11-27 09:30        still ringing                                           (none)
==========  =====================  ======================================================  ==========
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from sqlalchemy.orm import Session

from models.call_intents import bind_booking
from models.call_store import claim_call, record_events
from models.calls import CallDirection, CallEventKind, NeutralEvent
from models.customers import ContactKind, ContactMethod, Customer, Location
from models.jobs import Job
from models.setup import (
    BusinessUnit,
    BusinessUnitGroup,
    CallReason,
    Campaign,
    Role,
    TrackingNumber,
    User,
)
from models.timeutil import zone

TZ = zone("America/Chicago")
TODAY = date(2026, 11, 27)
THURSDAY = date(2026, 11, 26)
TRACKING = "+12145550100"
K = CallEventKind
RECORDING = "https://api.twilio.com/recordings/RE1.mp3"


@dataclass
class ReviewSetup:
    calls: dict[str, str]  # name → call id
    job_id: str


def local(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=TZ).astimezone(UTC)


def _events(
    pid: str,
    start: datetime,
    *,
    answer: int | None = None,
    end: int | None = None,
    direction: CallDirection = CallDirection.INBOUND,
    from_number: str = "+12145550101",
    recording: str = "",
) -> list[NeutralEvent]:
    def ev(kind: CallEventKind, seconds: int, **kw) -> NeutralEvent:
        return NeutralEvent(
            "twilio",
            pid,
            f"{pid}:{kind}",
            kind,
            start + timedelta(seconds=seconds),
            direction=direction,
            from_number=from_number,
            to_number=TRACKING,
            **kw,
        )

    out = [ev(K.OFFERED, 0)]
    if answer is not None:
        out.append(ev(K.ANSWERED, answer))
    if end is not None:
        reason = "completed" if answer is not None else "caller-hangup"
        out.append(ev(K.ENDED, end, end_reason=reason))
    if recording:
        out.append(ev(K.RECORDING, (end or 0) + 1, recording_url=recording, recording_seconds=end or 0))
    return out


def build_review_setup(s: Session) -> ReviewSetup:
    """Setup rows, users (two CSRs, a supervisor, a manager, one who left) and the calls above."""
    campaign = Campaign(id="gls", name="Google Local Services")
    s.add(campaign)
    s.add(TrackingNumber(id="tn1", number=TRACKING, campaign=campaign, label="GLS main"))
    for uid, name, role, active in (
        ("dana", "Dana Reyes", Role.CSR, True),
        ("lee", "Lee Chen", Role.CSR, True),
        ("sam", "Sam Ortiz", Role.SUPERVISOR, True),
        ("pat", "Pat Morgan", Role.MANAGER, True),
        ("gone", "Gone Person", Role.CSR, False),
    ):
        s.add(User(id=uid, username=uid, display_name=name, role=role, active=active))
    s.add(Customer(id="cust0", name="Maria Garcia"))
    s.add(
        ContactMethod(
            customer_id="cust0",
            kind=ContactKind.PHONE,
            value="+12145550101",
            digits="2145550101",
            digits_rev="1010555412",
        )
    )
    s.add(
        Location(id="loc0", customer_id="cust0", street="12 Main St", city="Dallas", state="TX", zip="75201")
    )
    s.add(CallReason(id="wrong", name="Wrong number", is_lead=False))
    s.add(CallReason(id="quote", name="Wants a quote", is_lead=True))
    s.add(CallReason(id="old", name="Old reason", is_lead=True, active=False))
    s.add(BusinessUnitGroup(id="grp", name="Plumbing pool"))
    s.add(BusinessUnit(id="bu", name="Plumbing", group_id="grp"))
    s.flush()
    s.add(
        Job(
            id="job1",
            number="KQ7-1001",
            customer_id="cust0",
            location_id="loc0",
            business_unit_id="bu",
            campaign_id="gls",
        )
    )
    s.flush()
    plan = {
        "unbooked": _events("CA-unbooked", local(THURSDAY, 8), answer=5, end=185),
        "abandoned": _events("CA-abandoned", local(THURSDAY, 9), end=40, from_number="anonymous"),
        "late": _events("CA-late", local(THURSDAY, 23, 30), answer=10, end=100),
        "short": _events("CA-short", local(THURSDAY, 10), answer=2, end=32),
        "outbound": _events(
            "CA-outbound", local(THURSDAY, 11), answer=5, end=200, direction=CallDirection.OUTBOUND
        ),
        "booked": _events("CA-booked", local(THURSDAY, 12), answer=5, end=25),
        "today": _events("CA-today", local(TODAY, 9), end=20, recording=RECORDING),
        "ringing": _events("CA-ringing", local(TODAY, 9, 30)),
    }
    calls: dict[str, str] = {}
    for name, events in plan.items():
        # The ring first, then the rest: the CSR clicks the bubble while the call is live.
        calls[name] = record_events(s, events[:1]).calls[0].id
        if name in ("unbooked", "short"):
            claim_call(s, calls[name], "dana", now=events[0].occurred_at)
        record_events(s, events[1:])
    bind_booking(s, calls["booked"], "job1")
    return ReviewSetup(calls, "job1")
