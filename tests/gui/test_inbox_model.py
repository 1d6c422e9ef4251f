"""The Bookings inbox's model (widgets/bookings_inbox.py ``InboxModel``) passes qtmodeltester through
what the inbox does to it: a new list (reset), a claim repainting one row (``update_rows``), a request
gone (``remove_row``) — issue 19's "qtmodeltester for every model" for the one list model it lacked."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from typing import Any

from PySide6.QtCore import Qt

from models.inbox import InboxItem
from tests.unit.booking_setup import NOW
from widgets.bookings_inbox import CUSTOMER, PROBLEMS, STATUS, WINDOW, InboxModel


def _item(n: int, **extra: Any) -> InboxItem:
    fields: dict[str, Any] = {
        "kind": "web",
        "item_id": f"r{n}",
        "source": "Web Scheduler",
        "received_at": NOW - timedelta(minutes=5 * n),
        "service": "AC repair",
        "window_start": NOW + timedelta(days=1),
        "window_end": NOW + timedelta(days=1, hours=4),
        "contact_name": f"Caller {n}",
        "contact_phone": "+15125550100",
        "contact_email": "",
        "address": "1 Main St",
        "customer_match": "new",
        "status": "New",
    }
    return InboxItem(**{**fields, **extra})


def test_inbox_model_passes_qtmodeltester(qtmodeltester: Any) -> None:
    model = InboxModel()
    model.now = lambda: NOW
    qtmodeltester.check(model)
    model.set_rows([_item(1), _item(2, problems=["No job type"], customer_match="do_not_service")])
    qtmodeltester.check(model)
    assert model.index(1, PROBLEMS).data() == "No job type"
    assert model.index(1, CUSTOMER).data(Qt.ItemDataRole.ForegroundRole) is not None
    assert model.index(0, WINDOW).data() != ""
    model.me = "u-omar"
    claimed = replace(model.rows()[0], claimed_by_id="u-omar", claimed_by="Omar")
    assert model.update_rows([claimed, model.rows()[1]])
    qtmodeltester.check(model)
    assert model.index(0, STATUS).data() == "New · claimed by you"
    assert not model.update_rows([_item(3)])  # requests came and went: the caller resets instead
    assert model.remove_row("web:r2")
    qtmodeltester.check(model)
    assert [r.id for r in model.rows()] == ["web:r1"]
