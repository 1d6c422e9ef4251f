"""Who did what is decided by the server from the signed-in session, never by the message.

While the server applies a console's push, ``session.info[ACTOR_ID]`` holds the pushing user's id: an
attribution field (booked by, created by) left out is filled with it, and a different value is refused
with a sentence — a console cannot book as someone else, and scorecards cannot be gamed from one. In a
console's own cache (no ACTOR_ID) the value the console wrote is kept; the server's copy replaces it
when it is pulled.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from .setup import User
from .validation import ValidationFailed

ACTOR_ID = "actor_id"


def attributed(session: Session, raw: dict[str, Any], key: str) -> str | None:
    """The user ``raw[key]`` credits the change to, checked; written back into ``raw`` on the server."""
    given = raw.get(key)
    actor = session.info.get(ACTOR_ID)
    if actor is not None:
        if given is not None and given != actor:
            raise ValidationFailed(
                {
                    key: "This change names another user as the one who made it; "
                    "changes are credited to the user signed in on the console."
                }
            )
        # A pusher that is no user of this store (a test harness's made-up id) is credited to nobody.
        credited = actor if session.get(User, actor) is not None else None
        raw[key] = credited
        return credited
    if given is not None and (not isinstance(given, str) or session.get(User, given) is None):
        raise ValidationFailed({key: "Unknown user."})
    return given


def author_name(session: Session, args: dict[str, Any]) -> str:
    """The name a note is signed with: on the server, the signed-in user's; on a console, its own."""
    from .conflicts import ACTOR_NAME

    if session.info.get(ACTOR_ID) is not None:
        args["actor"] = str(session.info.get(ACTOR_NAME) or "")
    return str(args.get("actor", ""))[:60]
