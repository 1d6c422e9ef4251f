"""The push side of sync: the outbox goes to the server in order, in batches sized by bytes, and each
receipt is settled in ONE cache transaction — the outbox row removed, a confirmed edit remembered
until it is pulled, and every refusal or flag stored as a :class:`SyncProblem` that stays until the
CSR acknowledges it. The rows a refused change wrote are then restored from the server's copy; a
crash or a drop in between leaves the problem (with what is left to restore) in the cache, and the
next session restores it before anything else (ARCHITECTURE.md sync rules 2–3; docs/protocol.md).
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import websockets
from sqlalchemy import delete, select, text

from models.journal import MAX_MUTATION_BYTES, OutboxEntry
from models.sync_tables import AckedEdit, SyncProblem

from .channel import Channel, Gap, Stuck, answer
from .protocol import MAX_FETCH_KEYS, MAX_FRAME_BYTES, MAX_MUTATIONS_PER_PUSH, OVERSIZE

log = logging.getLogger("csr.sync.client")
# A push frame stays well under the server's frame limit: the envelope, JSON escaping and a margin.
PUSH_BUDGET = MAX_FRAME_BYTES - 64 * 1024
REBASED = {
    "update_customer": ("customers", "customer_id"),
    "update_location": ("locations", "location_id"),
    "update_contact": ("contact_methods", "contact_id"),
}
# Setup saves are laid over pulled rows too (models/setup_edit.py ``reapply_save``): their values are
# typed text, read again by the setup file's readers, not ``changes`` pairs.
REBASED_SETUP = frozenset({"setup_save"})


@dataclass
class Outcome:
    """A receipt worth telling the CSR about: a refused change, or one the server kept and flagged
    (a full arrival window, a job number that had to change)."""

    kind: str  # "rejected" / "flagged" / "renumbered"
    name: str  # the intent
    args: dict[str, Any]
    receipt: dict[str, Any]

    @property
    def mutation_id(self) -> str:
        return str(self.receipt.get("mutation_id", ""))


def outcome_kind(receipt: dict[str, Any]) -> str | None:
    """What the CSR must be told about a receipt (None: nothing)."""
    if receipt.get("status") == "rejected":
        return "rejected"
    warnings = (receipt.get("result") or {}).get("warnings") or {}
    if warnings.get("number"):
        return "renumbered"
    if warnings.get("window"):
        return "flagged"
    return None


def wire(entry: OutboxEntry) -> dict[str, Any]:
    return {
        "seq": entry.seq,
        "mutation_id": entry.mutation_id,
        "name": entry.name,
        "args": entry.args,
        "created_at": entry.created_at.isoformat(),
    }


def first_batch(entries: list[OutboxEntry], budget: int = PUSH_BUDGET) -> list[dict[str, Any]]:
    """The first push batch of ``entries`` (in sequence order) that fits ``budget`` bytes. An entry that
    can never fit is sent as OVERSIZE (no arguments): refused, it is told and kept."""
    batch: list[dict[str, Any]] = []
    size = 0
    for entry in entries[:MAX_MUTATIONS_PER_PUSH]:
        item = wire(entry)
        length = len(json.dumps(item).encode()) + 1
        if length > budget:
            item = {**item, "name": OVERSIZE, "args": {}}
            length = len(json.dumps(item).encode()) + 1
        if batch and size + length > budget:
            break
        batch.append(item)
        size += length
    return batch


class Pusher:
    """Sends the outbox and settles receipts for one console cache."""

    def __init__(
        self,
        cache: Any,
        client_id: str,
        cursor: Callable[[], int],
        apply_rows: Callable[..., Any],
        on_outcomes: Callable[[list[Outcome]], None],
        on_settled: Callable[[], None] = lambda: None,
    ) -> None:
        self.cache = cache
        self.on_settled = on_settled  # receipts settled: the pending count changed
        self.client_id = client_id
        self.cursor = cursor
        self.apply_rows = apply_rows  # (changes, cursor, session_hook) → applied in one transaction
        self.on_outcomes = on_outcomes
        self.budget = PUSH_BUDGET

    def _load(self) -> list[OutboxEntry]:
        with self.cache.sessions() as session:
            entries = list(
                session.scalars(select(OutboxEntry).order_by(OutboxEntry.seq).limit(MAX_MUTATIONS_PER_PUSH))
            )
            for entry in entries:
                session.expunge(entry)
            return entries

    async def push(self, ws: Channel) -> None:
        """Send the whole outbox; returns when it is empty (or raises when the connection fails)."""
        while True:
            entries = await asyncio.to_thread(self._load)
            if not entries:
                return
            batch = first_batch(entries, self.budget)
            await ws.send(json.dumps({"type": "push", "mutations": batch}))
            try:
                reply = await answer(ws, "receipts")
            except Gap as gap:
                first = entries[0].seq
                if gap.expected < first:
                    raise Stuck(
                        f"The server expects change #{gap.expected} from this PC, which it no longer "
                        f"has (its queue starts at #{first}). Call support; nothing here is lost."
                    ) from gap
                raise websockets.WebSocketException(str(gap)) from gap
            sent = {e.seq: e for e in entries[: len(batch)]}
            oversize = {item["seq"] for item in batch if item["name"] == OVERSIZE}
            stored = await asyncio.to_thread(self._settle, sent, reply["receipts"], oversize)
            self.on_settled()
            # Stored first (a crash from here on loses nothing), then the cache is put right, then the CSR
            # is told. Cut short here, the next session restores and tells (sync/client.py).
            await self.restore(ws)
            if stored:
                self.on_outcomes(stored)

    def _settle(
        self, entries: dict[int, OutboxEntry], receipts: list[dict[str, Any]], oversize: set[int]
    ) -> list[Outcome]:
        """One transaction: the receipted outbox rows go, confirmed edits not yet pulled are kept
        (models/sync_tables.AckedEdit), and each refusal or flag is stored until the CSR acknowledges it."""
        cursor = self.cursor()
        done: list[int] = []
        outcomes: list[Outcome] = []
        with self.cache.sessions.begin() as session:
            for r in receipts:
                entry = entries.get(r.get("seq"))
                if entry is None:
                    continue
                done.append(entry.seq)
                if r.get("status") == "rejected" and entry.seq in oversize:
                    r = {
                        **r,
                        "errors": {
                            "size": "This change is too large to send to the server "
                            f"(at most {MAX_MUTATION_BYTES // 1024} kB)."
                        },
                    }
                if (
                    r.get("status") == "applied"
                    and (entry.name in REBASED or entry.name in REBASED_SETUP)
                    and int(r.get("server_version") or 0) > cursor
                ):
                    # Confirmed, not pulled yet: older pulled copies of the row get it again.
                    session.merge(
                        AckedEdit(
                            seq=entry.seq,
                            server_version=int(r["server_version"]),
                            name=entry.name,
                            args=entry.args or {},
                        )
                    )
                kind = outcome_kind(r)
                if kind is None:
                    continue
                if session.get(SyncProblem, entry.mutation_id) is not None:
                    continue  # a replayed receipt: told once already
                restore = [list(k) for k in (entry.touched or [])] if kind == "rejected" else []
                session.add(
                    SyncProblem(
                        mutation_id=entry.mutation_id,
                        seq=entry.seq,
                        kind=kind,
                        name=entry.name,
                        args=entry.args or {},
                        receipt=r,
                        restore=restore,
                    )
                )
                outcomes.append(Outcome(kind, entry.name, entry.args or {}, r))
            session.execute(
                delete(OutboxEntry).where(OutboxEntry.client_id == self.client_id, OutboxEntry.seq.in_(done))
            )
        return outcomes

    def _to_restore(self) -> list[tuple[str, list[list[str]]]]:
        with self.cache.sessions() as session:
            return [
                (p.mutation_id, list(p.restore))
                for p in session.scalars(
                    select(SyncProblem)
                    .where(text("json_array_length(sync_problems.restore) > 0"))
                    .order_by(SyncProblem.seq)
                )
            ]

    async def restore(self, ws: Channel) -> None:
        """Undo what refused changes did in this cache: the server's copy of exactly the rows they
        wrote, applied in the transaction that marks each problem restored."""
        pending = await asyncio.to_thread(self._to_restore)
        if not pending:
            return
        keys = list(dict.fromkeys(tuple(k) for _m, ks in pending for k in ks))
        changes: list[dict[str, Any]] = []
        for start in range(0, len(keys), MAX_FETCH_KEYS):
            await ws.send(
                json.dumps({"type": "fetch", "keys": [list(k) for k in keys[start : start + MAX_FETCH_KEYS]]})
            )
            changes += (await answer(ws, "rows"))["changes"]
        done = [m for m, _ in pending]

        def mark(session: Any) -> None:
            for problem in session.scalars(select(SyncProblem).where(SyncProblem.mutation_id.in_(done))):
                problem.restore = []

        await self.apply_rows(changes, None, mark)


def unacknowledged(cache: Any) -> list[Outcome]:
    """The problems the CSR has not acknowledged yet, oldest first (shown again after a restart)."""
    with cache.sessions() as session:
        return [
            Outcome(p.kind, p.name, p.args or {}, p.receipt or {})
            for p in session.scalars(
                select(SyncProblem)
                .where(SyncProblem.acknowledged_at.is_(None))
                .order_by(SyncProblem.created_at, SyncProblem.seq)
            )
        ]


def acknowledge(cache: Any, mutation_id: str) -> bool:
    """The CSR has seen and dealt with this problem: it leaves the list for good."""
    from models.base import utcnow

    with cache.sessions.begin() as session:
        problem = session.get(SyncProblem, mutation_id)
        if problem is None or problem.acknowledged_at is not None:
            return False
        problem.acknowledged_at = utcnow()
        return True
