"""ServiceChannel work orders in the Bookings inbox (models/inbox.py) and the alerts a supervisor sees:
a work order not accepted within its priority's response time, an accepted one about to expire without a
check-in (its not-to-exceed drops to $0 then). Qt-free, read from whichever store holds ``work_orders``
(the server's, or a console's cache)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from .customers import Customer
from .inbox import InboxItem, urgency
from .setup import User
from .work_orders import WorkOrder, WorkOrderState

SOURCE = "ServiceChannel"
EXPIRY_WARNING = timedelta(hours=2)  # an accepted work order this close to expiry without a check-in
MAX_ITEMS = 5000  # a backlog this deep is a crisis the inbox still shows whole (most urgent first)


ITEM_COLUMNS = (
    WorkOrder.id,
    WorkOrder.customer_id,
    WorkOrder.subscriber_name,
    WorkOrder.trade,
    WorkOrder.category,
    WorkOrder.priority,
    WorkOrder.received_at,
    WorkOrder.scheduled_at,
    WorkOrder.expires_at,
    WorkOrder.caller,
    WorkOrder.store_name,
    WorkOrder.store_phone,
    WorkOrder.address,
    WorkOrder.state,
    WorkOrder.due_at,
    WorkOrder.accepted_by_id,
    WorkOrder.problems,
    WorkOrder.action_required,
)


def _aware(value: datetime | None) -> datetime | None:
    return None if value is None else value if value.tzinfo else value.replace(tzinfo=UTC)


def address_line(address: dict) -> str:
    street = " ".join(p for p in (address.get("street", ""), address.get("unit", "")) if p)
    place = " ".join(p for p in (address.get("state", ""), address.get("zip", "")) if p)
    return ", ".join(p for p in (street, address.get("city", ""), place) if p)


def customer_match(wo: Any, customer: Any | None) -> str:
    """A WorkOrder (or a row of its columns) and its Customer (or a row of id, flags, created_at)."""
    if customer is not None and customer.do_not_service:
        return "do_not_service"
    if customer is None:
        return "new"
    created, received = _aware(customer.created_at), _aware(wo.received_at)
    # The adapter creates the client's customer when its first work order arrives: that one is new.
    return (
        "existing"
        if created is None or received is None or created < received - timedelta(seconds=1)
        else "new"
    )


def status_of(wo: Any, now: datetime) -> str:
    if wo.action_required:
        return "Action required"
    if wo.state == WorkOrderState.NEW.value:
        due = _aware(wo.due_at)
        return "Overdue" if due is not None and due < now else "New"
    return wo.state


def work_order_inbox_items(session: Session, now: datetime | None = None) -> list[InboxItem]:
    """Work orders waiting for a decision, and those the platform refused something on."""
    now = now or datetime.now(UTC)
    # Plain rows of the columns shown, not ORM objects: the inbox reads this on every pull, and with a
    # thousand work orders waiting, building entities was most of the read.
    rows = session.execute(
        select(*ITEM_COLUMNS)
        .where(or_(WorkOrder.state == WorkOrderState.NEW.value, WorkOrder.action_required != ""))
        .order_by(WorkOrder.due_at)
        .limit(MAX_ITEMS)
    ).all()
    customers = {
        c.id: c
        for c in session.execute(
            select(Customer.id, Customer.do_not_service, Customer.created_at).where(
                Customer.id.in_({w.customer_id for w in rows if w.customer_id})
            )
        )
    }
    users = dict(session.execute(select(User.id, User.display_name)).all()) if rows else {}
    items = []
    for wo in rows:
        customer = customers.get(wo.customer_id or "")
        service = " / ".join(p for p in (wo.trade, wo.category) if p)
        items.append(
            InboxItem(
                kind="servicechannel",
                item_id=wo.id,
                source=f"{SOURCE} — {wo.subscriber_name}" if wo.subscriber_name else SOURCE,
                received_at=_aware(wo.received_at) or now,
                service=f"{service} — {wo.priority}" if wo.priority else service,
                window_start=_aware(wo.scheduled_at),
                window_end=_aware(wo.expires_at),
                contact_name=wo.caller or wo.store_name,
                contact_phone=wo.store_phone,
                contact_email="",
                address=f"{wo.store_name}: {address_line(wo.address)}"
                if wo.store_name
                else address_line(wo.address),
                customer_match=customer_match(wo, customer),
                status=status_of(wo, now),
                claimed_by=users.get(wo.accepted_by_id or "", ""),
                due_at=_aware(wo.due_at) if wo.state == WorkOrderState.NEW.value else _aware(wo.expires_at),
                problems=[*list(wo.problems or []), *([wo.action_required] if wo.action_required else [])],
            )
        )
    return sorted(items, key=urgency)


@dataclass(frozen=True)
class WorkOrderAlert:
    work_order_id: str
    number: str
    client: str
    store: str
    kind: str  # 'not_accepted' | 'expiring'
    text: str
    due_at: datetime  # the deadline (passed for an overdue one)


def work_order_alerts(
    session: Session, now: datetime, warning: timedelta = EXPIRY_WARNING
) -> list[WorkOrderAlert]:
    """Work orders past their response time and not accepted, and accepted ones expiring within
    ``warning`` without a check-in: the most urgent (earliest deadline) first."""
    late = session.scalars(
        select(WorkOrder)
        .where(WorkOrder.state == WorkOrderState.NEW.value, WorkOrder.due_at < now)
        .limit(MAX_ITEMS)
    ).all()
    expiring = session.scalars(
        select(WorkOrder)
        .where(
            WorkOrder.state == WorkOrderState.ACCEPTED.value,
            WorkOrder.checked_in_at.is_(None),
            WorkOrder.expires_at < now + warning,
            WorkOrder.platform_status != "Completed",
        )
        .limit(MAX_ITEMS)
    ).all()
    alerts = [
        WorkOrderAlert(
            wo.id,
            wo.number,
            wo.subscriber_name,
            wo.store_name,
            "not_accepted",
            f"Not accepted — {wo.priority or 'response time'} passed",
            _aware(wo.due_at) or now,
        )
        for wo in late
    ] + [
        WorkOrderAlert(
            wo.id,
            wo.number,
            wo.subscriber_name,
            wo.store_name,
            "expiring",
            "Expires without a check-in"
            if (_aware(wo.expires_at) or now) > now
            else "Expired without a check-in",
            _aware(wo.expires_at) or now,
        )
        for wo in expiring
    ]
    return sorted(alerts, key=lambda a: a.due_at)


@dataclass(frozen=True)
class WorkOrderView:
    """One work order as the work order panel shows it (plain data for the widget)."""

    id: str
    sc_id: int
    number: str
    purchase_number: str
    client: str
    store: str
    address: str
    time_zone: str
    trade: str
    category: str
    job_type: str
    priority: str
    due_at: datetime | None
    nte: float | None
    currency: str
    description: str
    caller: str
    scheduled_at: datetime | None
    expires_at: datetime | None
    platform_status: str
    state: str
    customer_match: str
    job_number: str
    checked_in: bool
    checked_out: bool
    problems: list[str]
    action_required: str


def work_order_view(session: Session, work_order_id: str) -> WorkOrderView | None:
    from .jobs import Job
    from .setup import JobType

    wo = session.get(WorkOrder, work_order_id)
    if wo is None:
        return None
    customer = session.get(Customer, wo.customer_id) if wo.customer_id else None
    job_type = session.get(JobType, wo.job_type_id) if wo.job_type_id else None
    job = session.get(Job, wo.job_id) if wo.job_id else None
    status = " / ".join(p for p in (wo.platform_status, wo.platform_extended) if p)
    return WorkOrderView(
        id=wo.id,
        sc_id=wo.sc_id,
        number=wo.number,
        purchase_number=wo.purchase_number,
        client=wo.subscriber_name,
        store=wo.store_name,
        address=address_line(wo.address or {}),
        time_zone=wo.time_zone,
        trade=wo.trade,
        category=wo.category,
        job_type=job_type.name if job_type else "",
        priority=wo.priority,
        due_at=_aware(wo.due_at),
        nte=wo.nte,
        currency=wo.currency,
        description=wo.description,
        caller=wo.caller,
        scheduled_at=_aware(wo.scheduled_at),
        expires_at=_aware(wo.expires_at),
        platform_status=status,
        state=wo.state,
        customer_match=customer_match(wo, customer),
        job_number=job.number if job else "",
        checked_in=wo.checked_in_at is not None,
        checked_out=wo.checked_out_at is not None,
        problems=list(wo.problems or []),
        action_required=wo.action_required,
    )


MAX_FLOOR_ALERTS = 20


def floor_alerts(session: Session, now: datetime) -> list[dict]:
    """The alerts as the floor board's feed carries them (JSON-safe, most urgent first, at most 20)."""
    return [
        {
            "work_order_id": a.work_order_id,
            "number": a.number,
            "client": a.client,
            "store": a.store,
            "kind": a.kind,
            "text": a.text,
            "due_at": a.due_at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        }
        for a in work_order_alerts(session, now)[:MAX_FLOOR_ALERTS]
    ]
