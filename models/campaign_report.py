"""The campaign report (issue 19, part 5): per campaign over a period — inbound calls, leads, booked jobs,
booking rate, what the campaign cost, cost per call and cost per booked job — and the numbers that
received calls without belonging to any campaign (they stand out: nobody is paying attention to them).

Counting, for a period of whole days ``[start, end]`` in the company's time zone:

- *calls*: inbound calls that started in the period, credited to the campaign of the number dialed;
- *leads*: leads created in the period with the campaign;
- *booked jobs*: jobs created in the period with the campaign, canceled ones left out;
- *booking rate*: booked jobs / calls (None without calls);
- *cost*: the campaign's monthly cost spread over each month's days — a period of 10 days of a 30-day
  month costs a third of that month; None when the campaign's cost is not known;
- *cost per call* and *cost per booked job*: cost divided by each (None when either is missing or zero).
"""

from __future__ import annotations

import calendar
import csv
import io
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import ROUND_HALF_UP, Decimal
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from .calls import Call, CallDirection
from .jobs import Job, JobStatus, Lead
from .phone import format_phone
from .setup import Campaign

CENT = Decimal("0.01")


@dataclass(frozen=True)
class CampaignRow:
    campaign: str
    active: bool
    calls: int
    leads: int
    booked_jobs: int
    booking_rate: float | None  # 0..1
    cost: Decimal | None
    cost_per_call: Decimal | None
    cost_per_booked_job: Decimal | None


@dataclass(frozen=True)
class Report:
    start: date
    end: date
    rows: list[CampaignRow]
    unassigned: list[tuple[str, int]]  # (number dialed, calls) for calls that reached no campaign


def period_cost(monthly: Decimal | float | None, start: date, end: date) -> Decimal | None:
    """A monthly cost spread over the days of ``[start, end]``, month by month."""
    if monthly is None:
        return None
    monthly = Decimal(str(monthly))
    total = Decimal(0)
    day = start
    while day <= end:
        days_in_month = calendar.monthrange(day.year, day.month)[1]
        last = min(end, date(day.year, day.month, days_in_month))
        total += monthly * Decimal((last - day).days + 1) / Decimal(days_in_month)
        day = last + timedelta(days=1)
    return total.quantize(CENT, rounding=ROUND_HALF_UP)


def _per(cost: Decimal | None, n: int) -> Decimal | None:
    return None if cost is None or n == 0 else (cost / n).quantize(CENT, rounding=ROUND_HALF_UP)


def _bounds(start: date, end: date, tz: str) -> tuple[datetime, datetime]:
    zone = ZoneInfo(tz)
    lo = datetime.combine(start, time(0), zone)
    hi = datetime.combine(end + timedelta(days=1), time(0), zone)
    # Stored times are UTC; SQLite keeps them naive.
    return lo.astimezone(ZoneInfo("UTC")).replace(tzinfo=None), hi.astimezone(ZoneInfo("UTC")).replace(
        tzinfo=None
    )


def campaign_report(session: Session, start: date, end: date, tz: str = "America/Chicago") -> Report:
    if end < start:
        raise ValueError("the period ends before it starts")
    lo, hi = _bounds(start, end, tz)

    def counts(column, when, *where) -> dict[str | None, int]:
        query = select(column, func.count()).where(when >= lo, when < hi, *where).group_by(column)
        return {key: n for key, n in session.execute(query)}

    calls = counts(Call.campaign_id, Call.started_at, Call.direction == CallDirection.INBOUND)
    leads = counts(Lead.campaign_id, Lead.created_at)
    jobs = counts(Job.campaign_id, Job.created_at, Job.status != JobStatus.CANCELED)
    rows = []
    for c in session.scalars(select(Campaign)):
        n_calls, n_jobs = calls.get(c.id, 0), jobs.get(c.id, 0)
        if not c.active and not (n_calls or n_jobs or leads.get(c.id, 0)):
            continue  # a retired campaign with nothing in the period is not news
        cost = period_cost(c.monthly_cost, start, end)
        rows.append(
            CampaignRow(
                campaign=c.name,
                active=c.active,
                calls=n_calls,
                leads=leads.get(c.id, 0),
                booked_jobs=n_jobs,
                booking_rate=(n_jobs / n_calls) if n_calls else None,
                cost=cost,
                cost_per_call=_per(cost, n_calls),
                cost_per_booked_job=_per(cost, n_jobs),
            )
        )
    rows.sort(key=lambda r: (-r.calls, r.campaign.casefold()))
    unassigned_query = (
        select(Call.to_number, func.count())
        .where(
            Call.started_at >= lo,
            Call.started_at < hi,
            Call.direction == CallDirection.INBOUND,
            Call.campaign_id.is_(None),
        )
        .group_by(Call.to_number)
        .order_by(func.count().desc())
    )
    unassigned = [(number or "(no number)", n) for number, n in session.execute(unassigned_query)]
    return Report(start, end, rows, unassigned)


def _money(value: Decimal | None) -> str:
    return "" if value is None else f"{value:.2f}"


def report_csv(report: Report) -> str:
    """The report as CSV (a spreadsheet opens it): one line per campaign, then the numbers without one."""
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\n")
    w.writerow(
        [
            "Campaign",
            "Calls",
            "Leads",
            "Booked jobs",
            "Booking rate %",
            "Cost",
            "Cost per call",
            "Cost per booked job",
        ]
    )
    for r in report.rows:
        w.writerow(
            [
                r.campaign if r.active else f"{r.campaign} (retired)",
                r.calls,
                r.leads,
                r.booked_jobs,
                "" if r.booking_rate is None else f"{r.booking_rate * 100:.1f}",
                _money(r.cost),
                _money(r.cost_per_call),
                _money(r.cost_per_booked_job),
            ]
        )
    for number, n in report.unassigned:
        shown = format_phone(number) if number.startswith("+") else number
        w.writerow([f"No campaign: {shown}", n, "", "", "", "", "", ""])
    return out.getvalue()
