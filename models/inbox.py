"""The Bookings inbox's rows, whatever their source (the web scheduler's requests, ServiceChannel's work
orders): plain data the inbox widget shows, Qt-free. Each kind has a provider; ``inbox_items`` puts them
together, the most urgent first."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy.orm import Session


@dataclass(frozen=True)
class InboxItem:
    kind: str  # 'web' | 'servicechannel'
    item_id: str
    source: str
    received_at: datetime
    service: str
    window_start: datetime | None
    window_end: datetime | None
    contact_name: str
    contact_phone: str
    contact_email: str
    address: str
    customer_match: str  # 'existing' | 'new' | 'do_not_service'
    status: str
    claimed_by: str
    due_at: datetime | None  # urgency: the sooner, the higher in the list
    problems: list[str] = field(default_factory=list)


def urgency(item: InboxItem) -> tuple[bool, datetime | str, datetime]:
    """Sort key: items with a due time first, soonest first; then by when they came in."""
    return (item.due_at is None, item.due_at or "", item.received_at)


def inbox_items(session: Session) -> list[InboxItem]:
    """Every kind's items, most urgent first."""
    from .work_order_inbox import work_order_inbox_items  # a provider per kind

    return sorted([*work_order_inbox_items(session)], key=urgency)
