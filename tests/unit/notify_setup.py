"""A server store with the booking test setup, notifications turned on, and a customer; mutations pushed
through the real Applier (the server's write path)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select

from models.base import new_id
from models.customers import Location
from models.notifications import Notification
from models.setup import CompanySetting
from sync.apply import Applier
from sync.protocol import Mutation

from .booking_setup import NOW, TUESDAY, Ids, build_setup
from .conftest import customer_args

NOTIFY = {
    "enabled": True,
    "company_phone": "(972) 555-0100",
    "quiet_hours": {"start": "21:00", "end": "08:00"},
    "reminder": {"day_before_at": "17:00"},
    "templates": {"confirmation": {"sms": "Hi {customer}: {window}, job {job_number}. {company_phone}"}},
}


@dataclass
class Store:
    sessions: Any
    applier: Applier
    ids: Ids
    seq: int = 0
    client: str = "console-1"
    customers: dict[str, tuple[str, str]] = field(default_factory=dict)

    def push(self, name: str, args: dict) -> Any:
        self.seq += 1
        m = Mutation(seq=self.seq, mutation_id=new_id(), name=name, args=args)
        receipt = self.applier.push(self.client, "user-1", [m]).receipts[0]
        assert receipt.status == "applied", receipt.errors
        return receipt

    def customer(self, **kw: Any) -> tuple[str, str]:
        cid = self.push("create_customer", customer_args(**kw)).result["id"]
        with self.sessions() as s:
            loc = s.scalar(select(Location.id).where(Location.customer_id == cid))
        return cid, loc

    def book(self, cid: str, loc: str, day=TUESDAY, window: str | None = None) -> str:
        ids = self.ids
        args = {
            "job": {
                "customer_id": cid,
                "location_id": loc,
                "business_unit_id": ids.hvac,
                "job_type_id": ids.ac_repair,
                "campaign_id": ids.google,
                "summary": "AC blowing warm air",
            },
            "appointment": {"day": day.isoformat(), "arrival_window_id": window or ids.w8_12},
        }
        return self.push("book_job", args).result["id"]

    def messages(self, **where: Any) -> list[Notification]:
        with self.sessions() as s:
            q = select(Notification).order_by(Notification.created_at, Notification.key)
            for k, v in where.items():
                q = q.where(getattr(Notification, k) == v)
            return list(s.scalars(q))


def make_store(sessions, *, notify: dict | None = NOTIFY, clock=lambda: NOW) -> Store:
    with sessions.begin() as s:
        ids = build_setup(s)
        if notify is not None:
            s.add(CompanySetting(key="notifications", value=notify))
    return Store(sessions, Applier(sessions, clock=clock), ids)
