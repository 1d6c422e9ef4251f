"""A change this console refused before it reached the outbox (the cache already shows another CSR's
claim on the request, the request was settled meanwhile), kept like a refusal from the server: a
``SyncProblem`` row the CSR acknowledges in the Sync problems window. A message line alone vanishes at
the next action; this stays, across a restart, until the CSR has seen it."""

from __future__ import annotations

import uuid
from typing import Any

from models.sync_tables import SyncProblem

from .pusher import Outcome


def record_local_refusal(cache: Any, name: str, args: dict[str, Any], errors: dict[str, str]) -> Outcome:
    """Store the refusal of intent ``name`` (``errors``: {field: sentence}) and return it as an Outcome
    (kind "rejected"), the way the pusher hands the server's refusals to the window."""
    mutation_id = uuid.uuid4().hex
    receipt = {"mutation_id": mutation_id, "status": "rejected", "errors": dict(errors), "local": True}
    with cache.sessions.begin() as session:
        session.add(
            SyncProblem(
                mutation_id=mutation_id,
                seq=0,
                kind="rejected",
                name=name,
                args=dict(args),
                receipt=receipt,
                restore=[],
            )
        )
    return Outcome("rejected", name, dict(args), receipt)
