"""Work orders as Bookings inbox items and floor alerts: matched customers, odd fields stated, urgency
order, Action required, Do Not Service; a late or expiring work order raises an alert."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

from sqlalchemy.orm import sessionmaker

from models.customers import Customer, CustomerType
from models.db import open_server_db
from models.inbox import inbox_items
from models.work_order_inbox import work_order_alerts, work_order_inbox_items
from models.work_order_ingest import ScMapping, ingest, response_hours
from models.work_orders import WorkOrder, WorkOrderState
from sync.scsim_data import iso, make_work_order

NOW = datetime(2026, 12, 5, 15, 0, tzinfo=UTC)


def _sessions(tmp_path):
    return sessionmaker(open_server_db(str(tmp_path / "s.sqlite3")), expire_on_commit=False)


def _wo(n: int, **overrides):
    return make_work_order(n, random.Random(n), NOW - timedelta(hours=1), **overrides)


def test_priorities_name_their_response_time():
    assert response_hours("P2 - 8 Hours") == 8
    assert response_hours("P4 - 3 Days") == 72
    assert response_hours("Emergency") is None


def test_items_most_urgent_first_with_matches_and_problems(tmp_path):
    sessions = _sessions(tmp_path)
    with sessions.begin() as s:
        s.add(
            Customer(
                name="Sunbelt Burger Co.", type=CustomerType.COMMERCIAL, created_at=NOW - timedelta(days=300)
            )
        )
    mapping = ScMapping()
    with sessions.begin() as s:
        ingest(
            s,
            _wo(1, Priority="P4 - 72 Hours", Subscriber={"Id": 1, "Name": "Sunbelt Burger Co."}),
            mapping,
            NOW,
        )
        ingest(
            s,
            _wo(2, Priority="P1 - Emergency 4 Hours", Subscriber={"Id": 2, "Name": "Glendale Retail"}),
            mapping,
            NOW,
        )
        ingest(s, _wo(3, Priority="P2 - 8 Hours", Location={"Id": 4, "Name": "Kiosk"}), mapping, NOW)
    with sessions() as s:
        items = inbox_items(s)
    assert [i.due_at for i in items] == sorted(i.due_at for i in items)
    first = items[0]
    assert (
        first.kind == "servicechannel" and "Glendale Retail" in first.source and first.customer_match == "new"
    )
    by_source = {i.source: i for i in items}
    assert by_source["ServiceChannel — Sunbelt Burger Co."].customer_match == "existing"
    kiosk = next(i for i in items if i.address.startswith("Kiosk"))
    assert "No store address" in kiosk.problems
    assert any("no job type mapped" in p for p in kiosk.problems)  # no mapping at all here


def test_action_required_and_do_not_service_show(tmp_path):
    sessions = _sessions(tmp_path)
    with sessions.begin() as s:
        ingest(s, _wo(1), ScMapping(), NOW)
    with sessions.begin() as s:
        wo = s.query(WorkOrder).one()
        wo.state = WorkOrderState.ACCEPTED.value
        wo.action_required = (
            "ServiceChannel refused the status change: Status 'In Progress/On Hold' is not configured"
        )
        s.get(Customer, wo.customer_id).do_not_service = True
    with sessions() as s:
        (item,) = work_order_inbox_items(s, NOW)
    assert item.status == "Action required" and item.customer_match == "do_not_service"
    assert item.problems[-1].startswith("ServiceChannel refused")


def test_alerts_for_late_and_expiring_work_orders(tmp_path):
    sessions = _sessions(tmp_path)
    with sessions.begin() as s:
        late = _wo(1, Priority="P1 - Emergency 4 Hours", CallDate=iso(NOW - timedelta(hours=5)))
        fine = _wo(2, Priority="P4 - 72 Hours")
        expiring = _wo(3, ExpirationDate=iso(NOW + timedelta(minutes=30)))
        on_site = _wo(
            4,
            ExpirationDate=iso(NOW + timedelta(minutes=20)),
            Status={"Primary": "In Progress", "Extended": "On Site"},
        )
        for data in (late, fine, expiring, on_site):
            ingest(s, data, ScMapping(), NOW)
        for wo in s.query(WorkOrder).filter(WorkOrder.sc_id.in_([3, 4])):
            wo.state = WorkOrderState.ACCEPTED.value
    with sessions() as s:
        alerts = work_order_alerts(s, NOW)
    assert [(a.kind, a.number) for a in alerts] == [
        ("not_accepted", late["Number"]),
        ("expiring", expiring["Number"]),
    ]
    assert alerts[0].due_at < alerts[1].due_at


def test_the_floor_feed_carries_the_alerts(tmp_path):
    from sync.floor import Floor

    sessions = _sessions(tmp_path)
    with sessions.begin() as s:
        ingest(
            s,
            _wo(1, Priority="P1 - Emergency 4 Hours", CallDate=iso(NOW - timedelta(hours=5))),
            ScMapping(),
            NOW,
        )
    _rows, tiles = Floor(sessions)._read_rows(NOW, True)
    (alert,) = tiles["work_order_alerts"]
    assert alert["kind"] == "not_accepted" and alert["due_at"] == "2026-12-05T14:00:00Z"
    assert "Not accepted" in alert["text"]
