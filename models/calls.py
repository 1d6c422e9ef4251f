"""Calls and their provider-neutral, append-only events."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .base import Base, IdMixin, StampMixin, utcnow
from .customers import _enum


class CallDirection(enum.StrEnum):
    INBOUND = "Inbound"
    OUTBOUND = "Outbound"


class CallState(enum.StrEnum):
    RINGING = "Ringing"
    QUEUED = "Queued"
    TALKING = "Talking"
    HELD = "Held"
    ENDED = "Ended"


class CallEventKind(enum.StrEnum):
    """What happened to a call, whatever the phone system (every adapter maps its input to these)."""

    OFFERED = "offered"  # the call reached the company (inbound) or started dialing (outbound)
    QUEUED = "queued"  # waiting for an agent
    ALERTING = "alerting"  # an agent's phone is ringing
    ANSWERED = "answered"  # someone picked up (an agent, or the callee of an outbound call)
    HELD = "held"
    RESUMED = "resumed"
    TRANSFERRED = "transferred"
    ENDED = "ended"  # with ``end_reason``
    RECORDING = "recording"  # the recording is ready (``recording_url``, ``recording_seconds``)
    VOICEMAIL = "voicemail"  # routing sent the caller to voicemail (or offered a callback first)
    CALLBACK_REQUESTED = "callback_requested"  # the caller pressed the key to be called back


# Where routing sent an inbound call nobody took (Call.routed_to; docs/phone.md "Routing").
ROUTED_VOICEMAIL = "voicemail"  # the caller heard the voicemail greeting (a message if recording_url)
ROUTED_CALLBACK = "callback"  # the caller asked to be called back instead of waiting


class EndReason(enum.StrEnum):
    COMPLETED = "completed"  # answered, then hung up by either side
    CALLER_HANGUP = "caller-hangup"  # the caller gave up before anyone answered
    NO_ANSWER = "no-answer"
    BUSY = "busy"
    FAILED = "failed"
    CANCELED = "canceled"


@dataclass(frozen=True, slots=True)
class NeutralEvent:
    """One phone-system callback, provider-neutral. ``provider_key`` is unique per real event: the
    same callback delivered twice carries the same key (the store ignores the second)."""

    provider: str  # "twilio"
    provider_call_id: str  # e.g. Twilio's CallSid (of the parent call for inbound legs)
    provider_key: str
    kind: CallEventKind
    occurred_at: datetime  # UTC, aware: when the provider says it happened
    direction: CallDirection = CallDirection.INBOUND
    from_number: str = ""  # as the provider sent it (may be "anonymous", "+1…", "")
    to_number: str = ""
    agent: str = ""  # the provider's identity of the agent leg, when it names one
    end_reason: str = ""  # an EndReason value for ENDED
    recording_url: str = ""
    recording_seconds: int = 0
    payload: dict[str, Any] = field(default_factory=dict)  # the raw parameters, for the audit


@dataclass(frozen=True, slots=True)
class CallCard:
    """What a console shows of one live call (its bubble; later the supervisor's board): plain data,
    built by the console from what the server sends, handed to widgets."""

    call_id: str
    state: CallState
    direction: CallDirection
    from_number: str  # E.164, or "" when the caller is anonymous / restricted / malformed
    from_display: str  # the number formatted for reading, or "Unknown caller"
    caller_name: str  # the matched customer's name; "3 customers" for several; "" for none
    match_ids: tuple[str, ...]  # the matched customers' ids (local cache)
    campaign: str  # the campaign's name, or "Unknown campaign"
    started_at: datetime  # UTC, aware: when the phone started ringing
    answered_at: datetime | None = None
    ended_at: datetime | None = None
    claimed_by_id: str | None = None
    claimed_by_name: str = ""  # "" while nobody has claimed it
    classification: str = ""  # a CallClass value once classified
    matching: bool = False  # the caller's number is being looked up in the cache (name and ids not known yet)

    @property
    def ended(self) -> bool:
        return self.state is CallState.ENDED


class CallClass(enum.StrEnum):
    """ServiceTitan's call classification."""

    BOOKED = "Booked"
    UNBOOKED = "Unbooked"
    ABANDONED = "Abandoned"
    EXCUSED = "Excused"
    NOT_LEAD = "NotLead"


class Call(IdMixin, StampMixin, Base):
    __tablename__ = "calls"
    provider: Mapped[str] = mapped_column(String(20), default="twilio")
    provider_call_id: Mapped[str] = mapped_column(String(64), unique=True)
    direction: Mapped[CallDirection] = mapped_column(
        _enum(CallDirection, "call_direction"), default=CallDirection.INBOUND
    )
    from_number: Mapped[str] = mapped_column(String(32), default="")
    to_number: Mapped[str] = mapped_column(String(32), default="")
    tracking_number_id: Mapped[str | None] = mapped_column(ForeignKey("tracking_numbers.id"), default=None)
    campaign_id: Mapped[str | None] = mapped_column(ForeignKey("campaigns.id"), default=None)
    unknown_campaign: Mapped[bool] = mapped_column(Boolean, default=False)
    state: Mapped[CallState] = mapped_column(_enum(CallState, "call_state"), default=CallState.RINGING)
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    answered_at: Mapped[datetime | None] = mapped_column(default=None)
    ended_at: Mapped[datetime | None] = mapped_column(default=None)
    end_reason: Mapped[str] = mapped_column(String(40), default="")
    duration_seconds: Mapped[int] = mapped_column(Integer, default=0)
    agent_id: Mapped[str | None] = mapped_column(ForeignKey("users.id"), default=None, index=True)
    customer_id: Mapped[str | None] = mapped_column(ForeignKey("customers.id"), default=None, index=True)
    location_id: Mapped[str | None] = mapped_column(ForeignKey("locations.id"), default=None)
    job_id: Mapped[str | None] = mapped_column(ForeignKey("jobs.id"), default=None)
    call_reason_id: Mapped[str | None] = mapped_column(ForeignKey("call_reasons.id"), default=None)
    classification: Mapped[CallClass | None] = mapped_column(_enum(CallClass, "call_class"), default=None)
    excused: Mapped[bool] = mapped_column(Boolean, default=False)
    excuse_memo: Mapped[str] = mapped_column(String(500), default="")
    recording_url: Mapped[str] = mapped_column(String(500), default="")
    recording_seconds: Mapped[int] = mapped_column(Integer, default=0)
    # "" (rang as usual), ROUTED_VOICEMAIL or ROUTED_CALLBACK: what routing did with the caller.
    routed_to: Mapped[str] = mapped_column(String(20), default="")
    tags: Mapped[list] = mapped_column(JSON, default=list)
    # The phone system's name for the agent leg that answered (its softphone identity), if it says.
    answered_by: Mapped[str] = mapped_column(String(80), default="")
    claimed_at: Mapped[datetime | None] = mapped_column(default=None)  # when agent_id clicked the bubble
    closed_at: Mapped[datetime | None] = mapped_column(default=None)  # bubble closed (classified / booked)
    lead_id: Mapped[str | None] = mapped_column(ForeignKey("leads.id"), default=None)

    events: Mapped[list[CallEvent]] = relationship(back_populates="call", order_by="CallEvent.occurred_at")

    __table_args__ = (Index("ix_calls_started_at", "started_at"),)


class CallEvent(IdMixin, Base):
    """Append-only; ``provider_key`` makes a duplicated callback a no-op."""

    __tablename__ = "call_events"
    call_id: Mapped[str] = mapped_column(ForeignKey("calls.id"), index=True)
    provider_key: Mapped[str] = mapped_column(String(160), unique=True)
    kind: Mapped[str] = mapped_column(String(30))
    occurred_at: Mapped[datetime] = mapped_column(default=utcnow)
    received_at: Mapped[datetime] = mapped_column(default=utcnow)
    payload: Mapped[dict] = mapped_column(JSON, default=dict)
    note: Mapped[str] = mapped_column(Text, default="")

    call: Mapped[Call] = relationship(back_populates="events")
