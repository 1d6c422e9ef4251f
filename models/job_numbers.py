"""Job numbers the caller is told on the phone, unique across every console (docs/job-numbers.md).

A console mints "<prefix>-<n>" from its own prefix and counter, so it can book offline. The prefix is
registered on the server: a console gets it at its first sign-in and keeps it; a console whose first
bookings were made offline minted a provisional prefix, which the server confirms if it is free or
replaces. The server checks every number a console sends: a number whose prefix belongs to another
console, or that is already taken, is replaced by one the server mints from its own prefix — the
booking is kept, and its receipt tells the CSR the old and the new number.
"""

from __future__ import annotations

import functools
import secrets
from typing import Any

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from .attribution import ACTOR_ID
from .journal import PREFIX_ALPHABET, ensure_client, next_job_number
from .sync_tables import JobPrefix

# session.info key set by the server while it applies a console's push: that console's id.
PUSHING_CLIENT = "pushing_client_id"


def prefix_free(session: Session, prefix: str) -> bool:
    """Nobody holds ``prefix`` and no job number on this store starts with it."""
    from .jobs import Job

    if session.get(JobPrefix, prefix) is not None:
        return False
    return (
        session.scalar(select(Job.id).where(Job.number >= f"{prefix}-", Job.number < f"{prefix}.").limit(1))
        is None
    )


def new_prefix(session: Session) -> str:
    while True:
        prefix = "".join(secrets.choice(PREFIX_ALPHABET) for _ in range(3))
        if prefix_free(session, prefix):
            return prefix


def claim_prefix(session: Session, client_id: str, user_id: str, wanted: str | None) -> str:
    """The prefix registered to this console: the one it already has, else ``wanted`` (minted offline)
    if nobody holds it, else a new one. Runs in the caller's transaction."""
    held = session.scalar(select(JobPrefix).where(JobPrefix.client_id == client_id))
    if held is not None:
        return held.prefix
    prefix = wanted if wanted and session.get(JobPrefix, wanted) is None else new_prefix(session)
    session.add(JobPrefix(prefix=prefix, client_id=client_id, user_id=user_id))
    session.flush()
    return prefix


def server_number(session: Session) -> str:
    """A number minted by the server itself (a booking renumbered, or one that came with none): from
    the server's own prefix, registered like a console's."""
    state = ensure_client(session)
    if not state.job_prefix:
        state.job_prefix = claim_prefix(session, state.client_id, "", None)
    elif session.get(JobPrefix, state.job_prefix) is None:
        session.add(JobPrefix(prefix=state.job_prefix, client_id=state.client_id, user_id=""))
    return next_job_number(session)


@functools.cache
def _number_taken() -> Any:
    """Built once: the server runs it for every booking a console pushes."""
    from .jobs import Job

    return select(Job.id).where(Job.number == bindparam("number")).limit(1)


def checked_number(session: Session, number: str) -> tuple[str, str]:
    """The number a console's booking gets on the server, and a warning when it had to change.
    Outside the server's push (a console's own cache) the number is the console's."""

    client_id = session.info.get(PUSHING_CLIENT)
    if client_id is None:
        return number, ""
    prefix = number.rsplit("-", 1)[0] if "-" in number else ""
    owner = session.get(JobPrefix, prefix) if prefix else None
    ours = owner is not None and owner.client_id == client_id
    taken = session.scalar(_number_taken(), {"number": number}) is not None
    if ours and not taken:
        return number, ""
    if (
        owner is None
        and not taken
        and prefix
        and session.scalar(select(JobPrefix.prefix).where(JobPrefix.client_id == client_id)) is None
    ):
        # A console that never reached the server booked first: its provisional prefix becomes its own.
        claim_prefix(session, client_id, str(session.info.get(ACTOR_ID) or ""), prefix)
        return number, ""
    new = server_number(session)
    return new, (
        f"Job number {number} was already in use, so this booking is job {new}. "
        "Tell the customer the new number."
    )
