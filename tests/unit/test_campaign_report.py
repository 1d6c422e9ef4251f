"""The campaign report (models/campaign_report.py): calls, leads and booked jobs per campaign over a
period, booking rate, the monthly cost spread over the period's days, cost per call and per booked job,
canceled jobs and outbound calls left out, and numbers that got calls without a campaign listed."""

from __future__ import annotations

import csv
import io
from datetime import date, datetime
from decimal import Decimal

import pytest
from sqlalchemy import insert, select

from models.base import new_id
from models.calls import Call, CallDirection
from models.campaign_report import campaign_report, period_cost, report_csv
from models.customers import Customer, Location
from models.jobs import Job, JobStatus, Lead
from models.setup import BusinessUnit, Campaign
from models.setup_file import demo_setup_path, import_setup_file

IN_JUNE = datetime(2026, 6, 10, 15, 0)  # UTC; 10:00 in Chicago
IN_JULY = datetime(2026, 7, 2, 15, 0)


def test_the_monthly_cost_is_spread_over_the_days():
    assert period_cost(Decimal("3000"), date(2026, 6, 1), date(2026, 6, 30)) == Decimal("3000.00")
    assert period_cost(Decimal("3000"), date(2026, 6, 1), date(2026, 6, 10)) == Decimal("1000.00")
    # 30 June (1/30 of 3000) and 1–31 July (all of 3100)
    assert period_cost(Decimal("3000"), date(2026, 6, 30), date(2026, 7, 31)) == Decimal("3100.00")
    assert period_cost(None, date(2026, 6, 1), date(2026, 6, 30)) is None


@pytest.fixture
def books(cache):
    import_setup_file(cache, demo_setup_path())
    with cache.sessions.begin() as s:
        fb = s.scalar(select(Campaign).where(Campaign.name == "Facebook"))
        fb.monthly_cost = Decimal("900")
        google = s.scalar(select(Campaign).where(Campaign.name == "Google Ads"))
        unit = s.scalars(select(BusinessUnit)).first()
        cid, lid = new_id(), new_id()
        s.execute(insert(Customer), [{"id": cid, "name": "Ann Lee"}])
        s.execute(
            insert(Location),
            [{"id": lid, "customer_id": cid, "street": "1 Main", "city": "Dallas", "zip": "75201"}],
        )

        def call(campaign, when, direction=CallDirection.INBOUND, to="+14695550107"):
            return {
                "id": new_id(),
                "provider_call_id": new_id(),
                "direction": direction,
                "to_number": to,
                "campaign_id": campaign,
                "started_at": when,
            }

        s.execute(
            insert(Call),
            [call(fb.id, IN_JUNE) for _ in range(3)]
            + [call(fb.id, IN_JULY), call(fb.id, IN_JUNE, CallDirection.OUTBOUND)]
            + [call(None, IN_JUNE, to="+12145550999"), call(None, IN_JUNE, to="+12145550999")],
        )

        def job(campaign, when, status=JobStatus.SCHEDULED):
            return {
                "id": new_id(),
                "number": new_id()[-10:],
                "customer_id": cid,
                "location_id": lid,
                "business_unit_id": unit.id,
                "campaign_id": campaign,
                "created_at": when,
                "status": status,
            }

        s.execute(
            insert(Job),
            [job(fb.id, IN_JUNE), job(fb.id, IN_JUNE, JobStatus.CANCELED), job(google.id, IN_JUNE)],
        )
        s.execute(insert(Lead), [{"id": new_id(), "campaign_id": fb.id, "created_at": IN_JUNE}])
    return cache


def test_june(books):
    with books.sessions() as s:
        report = campaign_report(s, date(2026, 6, 1), date(2026, 6, 30))
    fb = next(r for r in report.rows if r.campaign == "Facebook")
    assert (fb.calls, fb.leads, fb.booked_jobs) == (3, 1, 1)
    assert fb.booking_rate == pytest.approx(1 / 3)
    assert fb.cost == Decimal("900.00") and fb.cost_per_call == Decimal("300.00")
    assert fb.cost_per_booked_job == Decimal("900.00")
    google = next(r for r in report.rows if r.campaign == "Google Ads")
    assert (google.calls, google.booked_jobs, google.booking_rate, google.cost) == (0, 1, None, None)
    assert report.unassigned == [("+12145550999", 2)]
    lines = list(csv.reader(io.StringIO(report_csv(report))))
    assert lines[0][:4] == ["Campaign", "Calls", "Leads", "Booked jobs"]
    assert ["Facebook", "3", "1", "1", "33.3", "900.00", "300.00", "900.00"] in lines
    assert lines[-1][:2] == ["No campaign: (214) 555-0999", "2"]


def test_a_period_ending_before_it_starts_is_refused(books):
    with books.sessions() as s, pytest.raises(ValueError):
        campaign_report(s, date(2026, 6, 30), date(2026, 6, 1))
