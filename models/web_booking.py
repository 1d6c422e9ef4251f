"""Online booking (the Web Scheduler): its settings, its server-side tables, and what a request is.

The requests themselves are ``online_bookings`` rows (models/jobs.py): they travel to every console
(the Bookings inbox). The holds a browser keeps on a window while its customer types, and the per-day
lock rows that serialize holds and submits across server instances, stay on the server.
Settings live in ``company_settings['online_booking']`` (set by the setup file, docs/setup-file.md).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from sqlalchemy import Date, Index, Integer, String
from sqlalchemy.orm import Mapped, Session, mapped_column

from .base import ID_LEN, Base, utcnow
from .setup import CompanySetting

SETTINGS_KEY = "online_booking"
WEB_SOURCE = "Web Scheduler"


class RequestStatus(enum.StrEnum):
    NEW = "New"  # waiting in the inbox; its window is held
    BOOKED = "Booked"  # auto-booked by the server (the job exists)
    ACCEPTED = "Accepted"  # a CSR booked it
    DISMISSED = "Dismissed"


class CustomerMatch(enum.StrEnum):
    EXISTING = "existing"
    NEW = "new"
    DO_NOT_SERVICE = "do_not_service"


DISMISS_REASONS = ("Spam", "Out of area", "Duplicate", "Customer cancelled")


class WebHold(Base):
    """A window held for a browser (``expires_at``), or for a submitted request until a CSR settles it
    (``request_id`` set, no expiry). Counted against the online share by every availability read."""

    __tablename__ = "web_holds"
    id: Mapped[str] = mapped_column(String(ID_LEN), primary_key=True)  # the browser's token
    group_id: Mapped[str] = mapped_column(String(ID_LEN))
    business_unit_id: Mapped[str] = mapped_column(String(ID_LEN))
    job_type_id: Mapped[str] = mapped_column(String(ID_LEN))
    arrival_window_id: Mapped[str] = mapped_column(String(ID_LEN))
    day: Mapped[date] = mapped_column(Date)
    start_min: Mapped[int] = mapped_column(Integer)
    end_min: Mapped[int] = mapped_column(Integer)
    duration: Mapped[int] = mapped_column(Integer)
    expires_at: Mapped[datetime | None] = mapped_column(default=None)
    request_id: Mapped[str | None] = mapped_column(String(ID_LEN), default=None, index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    __table_args__ = (Index("ix_web_holds_group_id_day", "group_id", "day"),)


class WebDayLock(Base):
    """One row per (capacity group, day): a hold or a submit updates it first, so on PostgreSQL two
    instances deciding about the same day's last window queue on the row lock (SQLite's BEGIN
    IMMEDIATE serializes them anyway)."""

    __tablename__ = "web_day_locks"
    group_id: Mapped[str] = mapped_column(String(ID_LEN), primary_key=True)
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    n: Mapped[int] = mapped_column(Integer, default=0)


@dataclass(frozen=True)
class OnlineJobType:
    """A job type customers may pick online, under its public name."""

    job_type_id: str
    public_name: str
    business_unit_id: str = ""  # empty: the job type's first business unit


@dataclass(frozen=True)
class WebSettings:
    enabled: bool = False
    auto_book: bool = False
    service_area_zips: frozenset[str] = frozenset()
    job_types: tuple[OnlineJobType, ...] = ()
    capacity_share_percent: int = 50
    lead_time_hours: int = 2
    hold_minutes: int = 10
    horizon_days: int = 14
    allowed_origins: tuple[str, ...] = ()
    campaign: str = WEB_SOURCE
    min_fill_seconds: int = 3
    requests_per_phone_per_day: int = 3
    requests_per_address_per_hour: int = 30
    extra: dict[str, Any] = field(default_factory=dict, compare=False)

    def offer(self, key: str) -> OnlineJobType | None:
        return next((j for j in self.job_types if j.job_type_id == key), None)

    def to_value(self) -> dict[str, Any]:
        """The JSON stored in company_settings."""
        return {
            "enabled": self.enabled,
            "auto_book": self.auto_book,
            "service_area_zips": sorted(self.service_area_zips),
            "job_types": [
                {
                    "job_type_id": j.job_type_id,
                    "public_name": j.public_name,
                    "business_unit_id": j.business_unit_id,
                }
                for j in self.job_types
            ],
            "capacity_share_percent": self.capacity_share_percent,
            "lead_time_hours": self.lead_time_hours,
            "hold_minutes": self.hold_minutes,
            "horizon_days": self.horizon_days,
            "allowed_origins": list(self.allowed_origins),
            "campaign": self.campaign,
            "min_fill_seconds": self.min_fill_seconds,
            "requests_per_phone_per_day": self.requests_per_phone_per_day,
            "requests_per_address_per_hour": self.requests_per_address_per_hour,
        }

    @classmethod
    def from_value(cls, value: dict[str, Any] | None) -> WebSettings:
        v = value or {}
        d = cls()
        return cls(
            enabled=bool(v.get("enabled", d.enabled)),
            auto_book=bool(v.get("auto_book", d.auto_book)),
            service_area_zips=frozenset(str(z) for z in v.get("service_area_zips") or ()),
            job_types=tuple(
                OnlineJobType(
                    str(j["job_type_id"]),
                    str(j.get("public_name") or ""),
                    str(j.get("business_unit_id") or ""),
                )
                for j in v.get("job_types") or ()
                if j.get("job_type_id")
            ),
            capacity_share_percent=int(v.get("capacity_share_percent", d.capacity_share_percent)),
            lead_time_hours=int(v.get("lead_time_hours", d.lead_time_hours)),
            hold_minutes=int(v.get("hold_minutes", d.hold_minutes)),
            horizon_days=int(v.get("horizon_days", d.horizon_days)),
            allowed_origins=tuple(str(o) for o in v.get("allowed_origins") or ()),
            campaign=str(v.get("campaign") or d.campaign),
            min_fill_seconds=int(v.get("min_fill_seconds", d.min_fill_seconds)),
            requests_per_phone_per_day=int(v.get("requests_per_phone_per_day", d.requests_per_phone_per_day)),
            requests_per_address_per_hour=int(
                v.get("requests_per_address_per_hour", d.requests_per_address_per_hour)
            ),
        )


def load_web_settings(session: Session) -> WebSettings:
    row = session.get(CompanySetting, SETTINGS_KEY)
    return WebSettings.from_value(row.value if row is not None else None)


def save_web_settings(session: Session, settings: WebSettings) -> bool:
    """Store the settings; True when they changed."""
    value = settings.to_value()
    row = session.get(CompanySetting, SETTINGS_KEY)
    if row is None:
        session.add(CompanySetting(key=SETTINGS_KEY, value=value))
        return True
    if row.value != value:
        row.value = value
        return True
    return False
