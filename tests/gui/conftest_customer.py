"""Fixtures for the customer panel and dialog tests: a real migrated cache in tmp_path, the real
LocalWriter, and the real controller wired to a real panel. Load with
``pytest_plugins = ["tests.gui.conftest_customer"]`` (and don't import it: pytest must import it
first to rewrite its asserts; type hints can import ``Desk`` under TYPE_CHECKING)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest
from PySide6.QtWidgets import QVBoxLayout, QWidget
from sqlalchemy import func, select

from console.customer_controller import CustomerController
from models.customers import Customer
from models.db import Cache
from models.journal import OutboxEntry
from models.writer import LocalWriter
from widgets.customer_panel import CustomerPanel


def add_customer(
    writer: LocalWriter,
    name: str,
    phone: str = "+12145550134",
    *,
    street: str = "123 Main St",
    unit: str = "",
    city: str = "Dallas",
    state: str = "TX",
    zip_: str = "75201",
    location: bool = True,
    email: str = "",
    **customer: Any,
) -> str:
    """Create a customer through the real intent; returns its id."""
    address = {"street": street, "unit": unit, "city": city, "state": state, "zip": zip_}
    contacts = [{"kind": "MobilePhone", "value": phone}]
    if email:
        contacts.append({"kind": "Email", "value": email})
    result = writer.execute(
        "create_customer",
        {
            "customer": {"name": name, **address, **customer},
            "contacts": contacts,
            "locations": [dict(address)] if location else [],
        },
    )
    return result.applied.entity_id


def outbox(cache: Cache) -> list[OutboxEntry]:
    with cache.sessions() as s:
        return list(s.scalars(select(OutboxEntry).order_by(OutboxEntry.seq)))


def customer_count(cache: Cache) -> int:
    with cache.sessions() as s:
        return s.scalar(select(func.count()).select_from(Customer)) or 0


@dataclass
class Desk:
    window: QWidget
    panel: CustomerPanel
    controller: CustomerController
    cache: Cache
    writer: LocalWriter
    qtbot: Any

    def open(self, customer_id: str) -> bool:
        """Open a customer and wait for the panel (the record is read on the controller's worker)."""
        from tests.gui.helpers import open_now

        return open_now(self.qtbot, self.controller, customer_id)

    def edit(self, opener: Any, ident: str) -> Any:
        """Ask for an edit form and wait until it is open (it starts from a fresh read on the worker)."""
        opener(ident)
        self.settle()
        return self.controller.dialog

    def settle(self) -> None:
        """Wait until what the last action handed to the worker (a customer reopened) is on screen."""
        self.qtbot.waitUntil(lambda: self.controller.worker.pending == 0, timeout=10_000)

    def add_customer(self, name: str, phone: str = "+12145550134", **kw: Any) -> str:
        return add_customer(self.writer, name, phone, **kw)

    def outbox(self) -> list[OutboxEntry]:
        return outbox(self.cache)

    def customer_count(self) -> int:
        return customer_count(self.cache)


@pytest.fixture
def desk(qtbot: Any, cache: Cache, writer: LocalWriter) -> Desk:
    """A shown, active window holding a CustomerPanel wired to a CustomerController."""
    window = QWidget()
    window.resize(900, 900)
    panel = CustomerPanel(window)
    QVBoxLayout(window).addWidget(panel)
    controller = CustomerController(window, cache, writer, panel)
    qtbot.addWidget(window)
    window.show()
    qtbot.waitActive(window)
    return Desk(window, panel, controller, cache, writer, qtbot)
