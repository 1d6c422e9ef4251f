"""Setup data: business units, job types, campaigns, tracking numbers, call reasons, arrival
windows, business hours, technicians, services, users and roles."""

from __future__ import annotations

import enum
from datetime import time

from sqlalchemy import JSON, Boolean, Column, ForeignKey, Integer, Numeric, String, Table, Text, false
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .base import ID_LEN, Base, IdMixin, StampMixin
from .customers import _enum


class Priority(enum.StrEnum):
    LOW = "Low"
    NORMAL = "Normal"
    HIGH = "High"
    URGENT = "Urgent"


class Role(enum.StrEnum):
    CSR = "csr"
    SUPERVISOR = "supervisor"
    MANAGER = "manager"
    ADMIN = "admin"


class CallType(enum.StrEnum):
    LEAD = "Lead"
    NOT_LEAD = "NotLead"


class BusinessUnitGroup(IdMixin, Base):
    """A capacity pool: the business units in one group share technicians' hours."""

    __tablename__ = "business_unit_groups"
    name: Mapped[str] = mapped_column(String(60), unique=True)


class BusinessUnit(IdMixin, Base):
    __tablename__ = "business_units"
    name: Mapped[str] = mapped_column(String(60), unique=True)
    group_id: Mapped[str] = mapped_column(ForeignKey("business_unit_groups.id"))
    trade: Mapped[str] = mapped_column(String(30), default="")
    active: Mapped[bool] = mapped_column(Boolean, default=True)

    group: Mapped[BusinessUnitGroup] = relationship()


job_type_business_units = Table(
    "job_type_business_units",
    Base.metadata,
    Column("job_type_id", String(ID_LEN), ForeignKey("job_types.id", ondelete="CASCADE"), primary_key=True),
    Column("business_unit_id", String(ID_LEN), ForeignKey("business_units.id"), primary_key=True),
)

arrival_window_business_units = Table(
    "arrival_window_business_units",
    Base.metadata,
    Column(
        "arrival_window_id",
        String(ID_LEN),
        ForeignKey("arrival_windows.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    Column("business_unit_id", String(ID_LEN), ForeignKey("business_units.id"), primary_key=True),
)


class Service(IdMixin, Base):
    """An item of the services catalog (a job type's default services are drawn from it)."""

    __tablename__ = "services"
    code: Mapped[str] = mapped_column(String(30), unique=True)
    name: Mapped[str] = mapped_column(String(100))
    price: Mapped[float] = mapped_column(Numeric(10, 2), default=0)
    duration_minutes: Mapped[int] = mapped_column(Integer, default=60)


class JobType(IdMixin, Base):
    __tablename__ = "job_types"
    name: Mapped[str] = mapped_column(String(80), unique=True)
    priority: Mapped[Priority] = mapped_column(_enum(Priority, "priority"), default=Priority.NORMAL)
    duration_minutes: Mapped[int] = mapped_column(Integer, default=120)
    skills: Mapped[list] = mapped_column(JSON, default=list)
    default_tags: Mapped[list] = mapped_column(JSON, default=list)  # tag type names
    summary_template: Mapped[str] = mapped_column(Text, default="")
    default_services: Mapped[list] = mapped_column(JSON, default=list)  # [{"code", "quantity"}]
    active: Mapped[bool] = mapped_column(Boolean, default=True)

    business_units: Mapped[list[BusinessUnit]] = relationship(secondary=job_type_business_units)


class CampaignCategory(IdMixin, Base):
    __tablename__ = "campaign_categories"
    name: Mapped[str] = mapped_column(String(60), unique=True)


class Campaign(IdMixin, Base):
    __tablename__ = "campaigns"
    name: Mapped[str] = mapped_column(String(80), unique=True)
    category_id: Mapped[str | None] = mapped_column(ForeignKey("campaign_categories.id"), default=None)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    # What the campaign costs a month, in dollars (issue 19: the campaign report); None: not known.
    monthly_cost: Mapped[float | None] = mapped_column(Numeric(10, 2), default=None)

    category: Mapped[CampaignCategory | None] = relationship()
    tracking_numbers: Mapped[list[TrackingNumber]] = relationship(back_populates="campaign")


class TrackingNumber(IdMixin, Base):
    """A dialed number; belongs to exactly one campaign, never reused across campaigns."""

    __tablename__ = "tracking_numbers"
    number: Mapped[str] = mapped_column(String(20), unique=True)  # E.164
    campaign_id: Mapped[str] = mapped_column(ForeignKey("campaigns.id"))
    default_call_type: Mapped[CallType] = mapped_column(_enum(CallType, "call_type"), default=CallType.LEAD)
    label: Mapped[str] = mapped_column(String(80), default="")

    campaign: Mapped[Campaign] = relationship(back_populates="tracking_numbers")


class CallReason(IdMixin, Base):
    __tablename__ = "call_reasons"
    name: Mapped[str] = mapped_column(String(80), unique=True)
    is_lead: Mapped[bool] = mapped_column(Boolean, default=False)
    active: Mapped[bool] = mapped_column(Boolean, default=True)


class ArrivalWindow(IdMixin, Base):
    """A named arrival window within one day; windows may overlap."""

    __tablename__ = "arrival_windows"
    name: Mapped[str] = mapped_column(String(60), unique=True)
    start: Mapped[time]
    end: Mapped[time]
    same_day: Mapped[bool] = mapped_column(Boolean, default=True)
    active: Mapped[bool] = mapped_column(Boolean, default=True)

    business_units: Mapped[list[BusinessUnit]] = relationship(secondary=arrival_window_business_units)


class BusinessHours(IdMixin, Base):
    __tablename__ = "business_hours"
    weekday: Mapped[int] = mapped_column(Integer)  # 0 = Monday
    opens: Mapped[time]
    closes: Mapped[time]


class Technician(IdMixin, StampMixin, Base):
    __tablename__ = "technicians"
    name: Mapped[str] = mapped_column(String(80))
    business_unit_id: Mapped[str] = mapped_column(ForeignKey("business_units.id"))
    skills: Mapped[list] = mapped_column(JSON, default=list)
    # Weekly shifts: [{"weekday": 0, "start": "08:00", "end": "17:00"}, ...]
    shifts: Mapped[list] = mapped_column(JSON, default=list)
    active: Mapped[bool] = mapped_column(Boolean, default=True)

    business_unit: Mapped[BusinessUnit] = relationship()


class CapacitySetting(IdMixin, Base):
    """Per business-unit group: how much of the technicians' hours may be booked."""

    __tablename__ = "capacity_settings"
    group_id: Mapped[str] = mapped_column(ForeignKey("business_unit_groups.id"), unique=True)
    bookable_percent: Mapped[int] = mapped_column(Integer, default=100)
    overbooking_warn_percent: Mapped[int] = mapped_column(Integer, default=100)


class BookingPreference(IdMixin, Base):
    """Company-wide (user_id NULL) or per-user booking preference, e.g. required fields."""

    __tablename__ = "booking_preferences"
    user_id: Mapped[str | None] = mapped_column(ForeignKey("users.id"), default=None)
    key: Mapped[str] = mapped_column(String(60))
    value: Mapped[dict] = mapped_column(JSON, default=dict)


class CompanySetting(Base):
    """Company-wide settings (name, time zone, …) as key → JSON value."""

    __tablename__ = "company_settings"
    key: Mapped[str] = mapped_column(String(60), primary_key=True)
    value: Mapped[dict] = mapped_column(JSON, default=dict)


class User(IdMixin, StampMixin, Base):
    __tablename__ = "users"
    username: Mapped[str] = mapped_column(String(60), unique=True)
    display_name: Mapped[str] = mapped_column(String(80))
    role: Mapped[Role] = mapped_column(_enum(Role, "role"), default=Role.CSR)
    password_hash: Mapped[str] = mapped_column(String(200), default="")
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    # Set by an admin's password reset: the next sign-in must choose a new password (issue 19).
    must_change_password: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
