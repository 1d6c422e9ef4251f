"""Booking drafts (manual bubbles): what a CSR has typed, kept in the cache across restarts.

Drafts are this PC's working state, not business records: they are written directly, never through
the outbox, and never sent to the server.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from .base import new_id
from .journal import Draft

TITLE_MAX = 120


@dataclass(frozen=True)
class DraftRow:
    id: str
    title: str
    position: int
    data: dict[str, Any]


def list_drafts(session: Session) -> list[DraftRow]:
    return [
        DraftRow(d.id, d.title, d.position, dict(d.data or {}))
        for d in session.scalars(select(Draft).order_by(Draft.position, Draft.created_at))
    ]


def new_draft_id() -> str:
    return new_id()


def save_draft(session: Session, draft_id: str, title: str, data: dict[str, Any]) -> None:
    """Write a draft's title and data, creating it (at the end of the strip) the first time."""
    draft = session.get(Draft, draft_id)
    if draft is None:
        position = (session.scalar(select(func.max(Draft.position))) or 0) + 1
        draft = Draft(id=draft_id, kind="booking", position=position)
        session.add(draft)
    draft.title = title[:TITLE_MAX]
    draft.data = data


def delete_draft(session: Session, draft_id: str) -> None:
    session.execute(delete(Draft).where(Draft.id == draft_id))
