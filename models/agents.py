"""Agent states (the supervisor's floor, DOMAIN.md "Metrics"): what each CSR chose — Available, Away
with a reason, Wrap-up — and since when, kept on the server so a restart keeps the time in state.

Offline and On call are not chosen: the server derives them (no console connected; a call the CSR has
that is talking or held), see :func:`effective_state`. Pure rules here, plus the small server-only table.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from .base import Base, utcnow

DEFAULT_AWAY_REASONS = ("Break", "Lunch", "Meeting", "Training", "Personal")


class AgentState(enum.StrEnum):
    AVAILABLE = "Available"
    AWAY = "Away"
    WRAP_UP = "Wrap-up"
    ON_CALL = "On call"  # derived: a call of theirs is talking or held
    OFFLINE = "Offline"  # derived: no console of theirs is connected


CHOSEN_STATES = (AgentState.AVAILABLE, AgentState.AWAY, AgentState.WRAP_UP)


class AgentStateRow(Base):
    """One row per user who ever signed in: the state they chose and since when; ``left_at`` is when
    their last console disconnected (None while one is connected)."""

    __tablename__ = "agent_states"
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id"), primary_key=True)
    state: Mapped[str] = mapped_column(String(20), default=AgentState.AVAILABLE.value)
    reason: Mapped[str] = mapped_column(String(60), default="")
    since: Mapped[datetime] = mapped_column(default=utcnow)
    left_at: Mapped[datetime | None] = mapped_column(default=None)


def away_reasons(settings: dict[str, object]) -> list[str]:
    """The company's away reasons: the setting ``away_reasons`` (a list of names), else the defaults."""
    raw = settings.get("away_reasons")
    if isinstance(raw, dict):
        raw = raw.get("reasons")
    if isinstance(raw, list):
        names = [str(r).strip()[:60] for r in raw if str(r).strip()]
        if names:
            return list(dict.fromkeys(names))
    return list(DEFAULT_AWAY_REASONS)


def check_choice(state: str, reason: str, reasons: list[str]) -> tuple[AgentState, str]:
    """A CSR's choice, validated: (state, reason) or ValueError with a sentence for them. Away needs one
    of the company's reasons; the other states carry none."""
    try:
        chosen = AgentState(state)
    except ValueError:
        raise ValueError(f"“{state}” is not a state a CSR can choose.") from None
    if chosen not in CHOSEN_STATES:
        raise ValueError(f"“{state}” is not a state a CSR can choose.")
    if chosen is AgentState.AWAY:
        if reason not in reasons:
            raise ValueError(f"Away needs one of the reasons: {', '.join(reasons)}.")
        return chosen, reason
    return chosen, ""


@dataclass(frozen=True, slots=True)
class Effective:
    state: AgentState
    reason: str
    since: datetime
    call_id: str | None = None


def effective_state(
    *,
    chosen: AgentState,
    reason: str,
    since: datetime,
    connected: bool,
    left_at: datetime | None,
    call: tuple[str, datetime] | None,
) -> Effective:
    """What the floor shows for an agent: Offline when not connected (since they left), On call while
    a call of theirs is talking or held (``call``: its id and when it was answered), else their choice."""
    if not connected:
        return Effective(AgentState.OFFLINE, "", left_at or since)
    if call is not None:
        return Effective(AgentState.ON_CALL, "", call[1], call[0])
    return Effective(chosen, reason, since)
