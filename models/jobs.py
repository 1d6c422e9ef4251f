"""Jobs, appointments, leads and online bookings."""

from __future__ import annotations

import enum
from datetime import date, datetime

from sqlalchemy import JSON, Boolean, Column, ForeignKey, Index, String, Table, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .base import ID_LEN, Base, IdMixin, StampMixin
from .customers import _enum
from .setup import Priority


class JobStatus(enum.StrEnum):
    SCHEDULED = "Scheduled"
    DISPATCHED = "Dispatched"
    WORKING = "Working"
    HOLD = "Hold"
    COMPLETED = "Completed"
    CANCELED = "Canceled"


class BookedFrom(enum.StrEnum):
    CALL = "Call"
    ONLINE = "OnlineBooking"
    MANUAL = "Manual"


class LeadStatus(enum.StrEnum):
    OPEN = "Open"
    DISMISSED = "Dismissed"
    CONVERTED = "Converted"


job_tags = Table(
    "job_tags",
    Base.metadata,
    Column("job_id", String(ID_LEN), ForeignKey("jobs.id", ondelete="CASCADE"), primary_key=True),
    Column("tag_type_id", String(ID_LEN), ForeignKey("tag_types.id"), primary_key=True),
)

appointment_technicians = Table(
    "appointment_technicians",
    Base.metadata,
    Column(
        "appointment_id", String(ID_LEN), ForeignKey("appointments.id", ondelete="CASCADE"), primary_key=True
    ),
    Column("technician_id", String(ID_LEN), ForeignKey("technicians.id"), primary_key=True),
)


class Job(IdMixin, StampMixin, Base):
    """Never deleted: canceled or held with a reason."""

    __tablename__ = "jobs"
    number: Mapped[str] = mapped_column(String(20), unique=True)
    customer_id: Mapped[str] = mapped_column(ForeignKey("customers.id"), index=True)
    location_id: Mapped[str] = mapped_column(ForeignKey("locations.id"), index=True)
    job_type_id: Mapped[str | None] = mapped_column(ForeignKey("job_types.id"), default=None)
    business_unit_id: Mapped[str] = mapped_column(ForeignKey("business_units.id"))
    campaign_id: Mapped[str] = mapped_column(ForeignKey("campaigns.id"))
    priority: Mapped[Priority] = mapped_column(_enum(Priority, "priority"), default=Priority.NORMAL)
    summary: Mapped[str] = mapped_column(Text, default="")
    status: Mapped[JobStatus] = mapped_column(_enum(JobStatus, "job_status"), default=JobStatus.SCHEDULED)
    status_reason: Mapped[str] = mapped_column(String(200), default="")
    booked_by_id: Mapped[str | None] = mapped_column(ForeignKey("users.id"), default=None)
    booked_from: Mapped[BookedFrom] = mapped_column(
        _enum(BookedFrom, "booked_from"), default=BookedFrom.MANUAL
    )
    line_items: Mapped[list] = mapped_column(JSON, default=list)  # [{"code","name","price","quantity"}]
    needs_reschedule: Mapped[bool] = mapped_column(Boolean, default=False)
    suggested_windows: Mapped[list] = mapped_column(JSON, default=list)

    appointments: Mapped[list[Appointment]] = relationship(back_populates="job", order_by="Appointment.start")


class Appointment(IdMixin, StampMixin, Base):
    __tablename__ = "appointments"
    job_id: Mapped[str] = mapped_column(ForeignKey("jobs.id"), index=True)
    start: Mapped[datetime]
    end: Mapped[datetime]
    arrival_window_start: Mapped[datetime]
    arrival_window_end: Mapped[datetime]
    arrival_window_id: Mapped[str | None] = mapped_column(ForeignKey("arrival_windows.id"), default=None)
    # When the customer confirmed it by text (a reply "C"; docs/notifications.md); None until then.
    confirmed_at: Mapped[datetime | None] = mapped_column(default=None)

    job: Mapped[Job] = relationship(back_populates="appointments")

    __table_args__ = (Index("ix_appointments_start", "start"),)


class Lead(IdMixin, StampMixin, Base):
    __tablename__ = "leads"
    status: Mapped[LeadStatus] = mapped_column(_enum(LeadStatus, "lead_status"), default=LeadStatus.OPEN)
    status_reason: Mapped[str] = mapped_column(String(200), default="")
    follow_up_on: Mapped[date | None] = mapped_column(default=None)
    call_reason_id: Mapped[str | None] = mapped_column(ForeignKey("call_reasons.id"), default=None)
    customer_id: Mapped[str | None] = mapped_column(ForeignKey("customers.id"), default=None, index=True)
    location_id: Mapped[str | None] = mapped_column(ForeignKey("locations.id"), default=None)
    name: Mapped[str] = mapped_column(String(100), default="")
    phone: Mapped[str] = mapped_column(String(20), default="")
    summary: Mapped[str] = mapped_column(Text, default="")
    campaign_id: Mapped[str | None] = mapped_column(ForeignKey("campaigns.id"), default=None)
    business_unit_id: Mapped[str | None] = mapped_column(ForeignKey("business_units.id"), default=None)
    job_type_id: Mapped[str | None] = mapped_column(ForeignKey("job_types.id"), default=None)
    converted_job_id: Mapped[str | None] = mapped_column(ForeignKey("jobs.id"), default=None)
    created_by_id: Mapped[str | None] = mapped_column(ForeignKey("users.id"), default=None)

    # The leads list reads open leads by follow-up date and closed ones by age: both must stay
    # index scans as closed leads pile up for years.
    __table_args__ = (
        Index("ix_leads_status_follow_up_on", "status", "follow_up_on"),
        Index("ix_leads_status_created_at", "status", "created_at"),
    )


class OnlineBooking(IdMixin, StampMixin, Base):
    """A request from the Web Scheduler or a similar source, waiting in the Bookings inbox."""

    __tablename__ = "online_bookings"
    source: Mapped[str] = mapped_column(String(40), default="Web Scheduler")
    external_id: Mapped[str] = mapped_column(String(80), default="")
    status: Mapped[str] = mapped_column(String(20), default="New")  # New / Accepted / Dismissed
    name: Mapped[str] = mapped_column(String(100), default="")
    phone: Mapped[str] = mapped_column(String(20), default="")
    email: Mapped[str] = mapped_column(String(120), default="")
    address: Mapped[dict] = mapped_column(JSON, default=dict)
    requested_window: Mapped[dict] = mapped_column(JSON, default=dict)
    summary: Mapped[str] = mapped_column(Text, default="")
    customer_id: Mapped[str | None] = mapped_column(ForeignKey("customers.id"), default=None)
    job_id: Mapped[str | None] = mapped_column(ForeignKey("jobs.id"), default=None)
    lead_id: Mapped[str | None] = mapped_column(ForeignKey("leads.id"), default=None)
    # The Web Scheduler's request (models/web_booking.py, docs/web-scheduler.md).
    job_type_id: Mapped[str | None] = mapped_column(ForeignKey("job_types.id"), default=None)
    business_unit_id: Mapped[str | None] = mapped_column(ForeignKey("business_units.id"), default=None)
    sms_consent: Mapped[bool] = mapped_column(Boolean, default=False)
    utm_campaign: Mapped[str] = mapped_column(String(80), default="")
    customer_match: Mapped[str] = mapped_column(String(16), default="new")  # existing/new/do_not_service
    claimed_by_id: Mapped[str | None] = mapped_column(ForeignKey("users.id"), default=None)
    claimed_at: Mapped[datetime | None] = mapped_column(default=None)
    dismiss_reason: Mapped[str] = mapped_column(String(200), default="")

    __table_args__ = (Index("ix_online_bookings_status_created_at", "status", "created_at"),)
