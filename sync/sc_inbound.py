"""Work orders in: the webhook receiver (an aiohttp application on the server's HTTP side) and the catch-up
poll, both storing through one desk (docs/servicechannel.md).

A delivery goes: signature (``Sign-Type: HMACSHA256`` / ``Sign-Data``; missing → 401, wrong → 403,
nothing stored), body, then stored — the delivery's key (SHA-256 of the body) and the work order, in one
transaction with its change-log rows — and only then 2xx. A redelivery or a replay finds its key and
changes nothing; an older copy of a work order than the one stored is ignored (out of order). Storing
has 4 s: past that we answer 503 so the platform delivers again (its limit is 5 s).

The platform retries an event 3 times and then drops it, so the poll (``GET /odata/workorders``, paged
by ``$skip`` since the platform gives no nextLink) brings in whatever the webhooks missed.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hashlib
import hmac
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from aiohttp import web
from sqlalchemy import bindparam, insert, select, update
from sqlalchemy.orm import Session, sessionmaker

from models import work_order_content as content
from models.base import utcnow
from models.sync_tables import ChangeRow
from models.timeutil import as_utc
from models.work_order_ingest import ScMapping, ingest, parse_time
from models.work_orders import ScDelivery, WorkOrder

from .apply import lock_change_log
from .changes import ChangeCollector
from .servicechannel import ScClient

log = logging.getLogger("csr.server.servicechannel")
WEBHOOK_PATH = "/servicechannel/events"
MAX_BODY = 512 * 1024
STORE_DEADLINE = 4.0
PAGE = 50  # the platform caps $top at 50


def log_changes(session: Session, collector: ChangeCollector) -> int:
    """The transaction's console rows into the change log; the last version written (0 if none)."""
    changes = collector.collect()
    if not changes:
        return 0
    rows = [{"entity": e, "entity_id": i, "op": op, "data": data} for e, i, op, data in changes]
    stmt = insert(ChangeRow.__table__).returning(ChangeRow.__table__.c.version, sort_by_parameter_order=True)
    return list(session.execute(stmt, rows).scalars())[-1]


@dataclass
class WorkOrderDesk:
    """Stores work orders; ``on_committed(version)`` runs after each commit that changed console rows
    (the server pokes its consoles)."""

    sessions: sessionmaker[Session]
    mapping: ScMapping
    on_committed: Callable[[int], None] | None = None
    clock: Callable[[], datetime] = utcnow
    stats: dict[str, int] = field(
        default_factory=lambda: {"stored": 0, "duplicates": 0, "stale": 0, "polled": 0, "refused": 0}
    )

    def __post_init__(self) -> None:
        self._queue: list[tuple[str, str, dict[str, Any], asyncio.Future[tuple[bool, int]]]] = []
        self._writer: asyncio.Task[None] | None = None

    def store_delivery(self, key: str, event_type: str, obj: dict[str, Any]) -> tuple[bool, int]:
        """(new, change version). A key already stored is a duplicate: nothing changes."""
        flags, version = self.store_deliveries([(key, event_type, obj)])
        return flags[0], version

    def store_deliveries(self, batch: list[tuple[str, str, dict[str, Any]]]) -> tuple[list[bool], int]:
        """Several deliveries in one transaction (one fsync): which were new, and the change version."""
        with self.sessions.begin() as session:
            lock_change_log(session)  # serializes with every other writer (and instance)
            collector = ChangeCollector(session)
            now = self.clock()
            flags = []
            for key, event_type, obj in batch:
                if session.get(ScDelivery, key) is not None:
                    self.stats["duplicates"] += 1
                    flags.append(False)
                    continue
                session.add(
                    ScDelivery(
                        key=key, event_type=event_type[:60], sc_id=int(obj.get("Id") or 0), received_at=now
                    )
                )
                session.flush()
                result = ingest(session, obj, self.mapping, now)
                if result is not None and not result.applied:
                    self.stats["stale"] += 1
                self.stats["stored"] += 1
                flags.append(True)
            return flags, log_changes(session, collector)

    async def record(self, key: str, event_type: str, obj: dict[str, Any]) -> tuple[bool, int]:
        """Store one delivery with whatever else arrived meanwhile (group commit: a burst of webhooks is a
        few transactions, not one each); resolves once it is committed."""
        future: asyncio.Future[tuple[bool, int]] = asyncio.get_running_loop().create_future()
        self._queue.append((key, event_type, obj, future))
        if self._writer is None or self._writer.done():
            self._writer = asyncio.get_running_loop().create_task(self._drain())
        return await future

    async def _drain(self) -> None:
        while self._queue:
            group, self._queue = self._queue, []
            try:
                flags, version = await asyncio.to_thread(
                    self.store_deliveries, [(k, e, o) for k, e, o, _ in group]
                )
            except Exception:  # noqa: BLE001 - store each alone: one bad delivery fails alone
                log.warning("event=sc_group_failed size=%d", len(group), exc_info=True)
                for key, event_type, obj, future in group:
                    try:
                        result = await asyncio.to_thread(self.store_delivery, key, event_type, obj)
                    except Exception as exc:  # noqa: BLE001 - the receiver answers 500: the platform retries
                        if not future.done():
                            future.set_exception(exc)
                        continue
                    if not future.done():
                        future.set_result(result)
                continue
            for flag, (_, _, _, future) in zip(flags, group, strict=True):
                if not future.done():
                    future.set_result((flag, version))

    def store_rows(self, rows: list[dict[str, Any]]) -> int:
        """Work orders from a poll page; the change version (0 when nothing was new)."""
        with self.sessions.begin() as session:
            lock_change_log(session)
            collector = ChangeCollector(session)
            now = self.clock()
            rows = [r for r in rows if isinstance(r, dict)]
            # What a poll re-reads unchanged (most of it) is skipped on one query per page: the same
            # UpdatedDate, or a later one with the same content (the platform stamps the accept or status
            # we sent, which the outbound worker already stored) — no write, no change row, no pull.
            known = {
                r[0]: r
                for r in session.execute(
                    select(WorkOrder.sc_id, WorkOrder.platform_updated_at, *content.COLUMNS).where(
                        WorkOrder.sc_id.in_([_int(r.get("Id")) for r in rows])
                    )
                )
            }
            restamp = []
            for row in rows:
                stored = known.get(_int(row.get("Id")))
                updated = parse_time(row.get("UpdatedDate_DTO") or row.get("UpdatedDate"))
                if stored is not None and updated is not None:
                    if stored[1] is not None and updated <= as_utc(stored[1]):
                        continue
                    if content.same_content(stored[2:], row):
                        restamp.append({"sc": stored[0], "updated": updated})
                        continue
                ingest(session, row, self.mapping, now)
            if restamp:
                # Only the server orders events by it: consoles never see this column change.
                session.execute(
                    update(WorkOrder.__table__)
                    .where(WorkOrder.__table__.c.sc_id == bindparam("sc"))
                    .values(platform_updated_at=bindparam("updated")),
                    restamp,
                )
                self.stats["unchanged"] = self.stats.get("unchanged", 0) + len(restamp)
            self.stats["polled"] += len(rows)
            return log_changes(session, collector)

    def committed(self, version: int) -> None:
        if version and self.on_committed is not None:
            self.on_committed(version)


def _int(value: Any) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return 0


def signature_ok(keys: list[str], body: bytes, sign_data: str) -> bool:
    """Whether ``Sign-Data`` is HMAC-SHA256 of the raw body under one of the signing keys, the key taken as
    UTF-8 text or as base64 (the published material leaves which open)."""
    try:
        given = base64.b64decode(sign_data.strip(), validate=True)
    except (binascii.Error, ValueError):
        return False
    for key in keys:
        candidates = [key.encode("utf-8")]
        try:
            candidates.append(base64.b64decode(key, validate=True))
        except (binascii.Error, ValueError):
            pass
        for raw in candidates:
            if hmac.compare_digest(hmac.new(raw, body, hashlib.sha256).digest(), given):
                return True
    return False


@dataclass
class Receiver:
    desk: WorkOrderDesk
    keys: list[str]  # the signing key(s): the current one, and the previous one during a rotation
    fetch: set[int] = field(default_factory=set)  # work orders an event named without their fields


_RECEIVER = web.AppKey("csr_sc_receiver", Receiver)


def add_routes(app: web.Application, receiver: Receiver) -> None:
    """Mount the receiver on an existing application (the server's HTTP ingress) or a new one."""
    app[_RECEIVER] = receiver
    app.router.add_post(WEBHOOK_PATH, _event)


def make_app(receiver: Receiver) -> web.Application:
    app = web.Application(client_max_size=MAX_BODY)
    add_routes(app, receiver)
    return app


def _refuse(request: web.Request, status: int, reason: str) -> web.Response:
    log.warning("event=sc_webhook_refused reason=%s remote=%s", reason, request.remote)
    return web.Response(status=status, text="Invalid signature" if status in (401, 403) else reason)


async def _event(request: web.Request) -> web.Response:
    receiver = request.app[_RECEIVER]
    sign_data = request.headers.get("Sign-Data", "")
    if not sign_data or request.headers.get("Sign-Type", "").upper() != "HMACSHA256":
        return _refuse(request, 401, "missing_signature")
    try:
        body = await request.read()
    except web.HTTPRequestEntityTooLarge:
        return _refuse(request, 413, "too_large")
    if not signature_ok(receiver.keys, body, sign_data):
        return _refuse(request, 403, "bad_signature")
    try:
        event = json.loads(body)
        event_type = str(event.get("EventType") or "")
        obj = event.get("Object")
        if not isinstance(obj, dict) or int(obj.get("Id") or obj.get("WorkOrderId") or 0) <= 0:
            raise ValueError("no work order id")
    except (ValueError, TypeError, AttributeError):
        return _refuse(request, 400, "Malformed event")
    if "Id" not in obj:
        obj = {"Id": obj["WorkOrderId"]}
    key = hashlib.sha256(body).hexdigest()
    desk = receiver.desk
    task = asyncio.ensure_future(desk.record(key, event_type, obj))
    try:
        new, version = await asyncio.wait_for(asyncio.shield(task), STORE_DEADLINE)
    except TimeoutError:
        # It may still commit; the platform's retry then finds the key.
        log.warning("event=sc_webhook_slow_store key=%s", key[:12])
        return web.Response(status=503, text="Not stored yet; please retry")
    except Exception:  # noqa: BLE001 - not stored: 500, and the platform delivers again
        log.exception("event=sc_webhook_store_failed key=%s", key[:12])
        return web.Response(status=500, text="Not stored; please retry")
    if new and "Number" not in obj:
        receiver.fetch.add(int(obj["Id"]))  # a thin event: the poll fetches the work order
    desk.committed(version)
    return web.json_response({"stored": new})


class Poller:
    """The catch-up poll: every ``interval`` seconds, the work orders updated since the last poll (minus an
    overlap), page by page; and the work orders thin events named."""

    def __init__(
        self,
        client: ScClient,
        desk: WorkOrderDesk,
        receiver: Receiver | None = None,
        *,
        interval: float = 120.0,
        lookback: timedelta = timedelta(days=1),
        overlap: timedelta = timedelta(minutes=5),
    ) -> None:
        self.client = client
        self.desk = desk
        self.receiver = receiver
        self.interval = interval
        self.overlap = overlap
        self.since = desk.clock() - lookback
        self.polls = 0

    async def poll_once(self) -> int:
        """One catch-up pass; how many work orders the platform listed."""
        started = self.desk.clock()
        since = (self.since - self.overlap).strftime("%Y-%m-%dT%H:%M:%SZ")
        skip, seen = 0, 0
        while True:
            page = await self.client.call(
                "GET",
                "/odata/workorders",
                params={
                    "$filter": f"UpdatedDate ge {since}",
                    "$orderby": "Id",
                    "$top": str(PAGE),
                    "$skip": str(skip),
                    "$count": "true",
                },
                background=True,  # the outbound sends go first: a poll only catches up
            )
            rows = page.get("value", []) if isinstance(page, dict) else []
            if rows:
                self.desk.committed(await asyncio.to_thread(self.desk.store_rows, rows))
            seen += len(rows)
            skip += len(rows)
            total = page.get("@odata.count") if isinstance(page, dict) else None
            if not rows or len(rows) < PAGE or (isinstance(total, int) and skip >= total):
                break
        if self.receiver is not None:
            for sc_id in sorted(self.receiver.fetch):
                wo = await self.client.call("GET", f"/workorders/{sc_id}", background=True)
                if isinstance(wo, dict):
                    self.desk.committed(await asyncio.to_thread(self.desk.store_rows, [wo]))
                self.receiver.fetch.discard(sc_id)
        self.since = started
        self.polls += 1
        return seen

    async def run(self) -> None:
        while True:
            try:
                await self.poll_once()
            except asyncio.CancelledError:
                raise
            except Exception:  # noqa: BLE001 - the next poll tries again; the webhooks go on meanwhile
                log.warning("event=sc_poll_failed", exc_info=True)
            await asyncio.sleep(self.interval)
