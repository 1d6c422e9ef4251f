"""Back to ServiceChannel, exactly once (docs/servicechannel.md): the server turns committed changes into
outbound rows and sends them through the API client's budget.

- **What to send** comes from the change log (every instance reads it; the shared cursor lives in
  ``sync_state``): a work order accepted or declined in the inbox; a linked job held, released, cancelled,
  completed or put to work (check-in / check-out); its appointment moved (scheduled date). Each becomes
  (work order, action, change version) — unique, so reading the same change twice queues it once.
- **Sending** leases rows (models/sc_outbound_queue.py). A refusal is stored on the work order as Action
  required with the platform's words; 429/5xx/network failures come back later with a backoff; a lease
  that ran out (its instance died mid-send) is checked against the platform before it is sent again.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session, sessionmaker

from models.base import utcnow
from models.customers import Location
from models.jobs import JobStatus
from models.sc_outbound_queue import (
    Claimed,
    claim,
    enqueue,
    last_payload,
    mark_refused,
    mark_retry,
    mark_sent,
    newest_change,
)
from models.sync_tables import ChangeRow, SyncState
from models.work_order_ingest import ScMapping
from models.work_orders import WorkOrder, WorkOrderState

from .apply import lock_change_log
from .changes import ChangeCollector
from .sc_inbound import log_changes
from .servicechannel import ScClient, ScError, ScUnavailable

log = logging.getLogger("csr.server.servicechannel")
CURSOR_KEY = "sc_outbound_cursor"
CHANGE = "_change"  # in an accept's payload (never sent): the change version that accepted it
SCAN_BATCH = 500
# The platform's statuses for the console's job actions (a client's own names override them in setup).
DEFAULT_STATUS_MAP: dict[str, tuple[str, str]] = {
    "hold": ("In Progress", "On Hold"),
    "release": ("In Progress", "Dispatch Confirmed"),
    "cancel": ("Completed", "Cancelled"),
    "complete": ("Completed", "Pending Confirmation"),  # completed without a check-in to check out of
}
TRIP_SPACING = 0.05  # seconds between the running worker's trips to the database (see run)
REASON = "_reason"  # in a schedule row's payload: the rescheduleReasonCode (a query parameter, not body)
# Refusals that mean "already done": the send happened before (an uncertain retry).
ALREADY_DONE = {"WorkOrderWasAccepted"}


def instance_name() -> str:
    return f"{socket.gethostname()[:24]}:{os.getpid()}"


class OutboundWorker:
    def __init__(
        self,
        sessions: sessionmaker[Session],
        client: ScClient,
        mapping: ScMapping,
        *,
        owner: str | None = None,
        lease: timedelta = timedelta(seconds=60),
        interval: float = 0.5,
        batch: int = 20,
        on_committed: Callable[[int], None] | None = None,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.sessions = sessions
        self.client = client
        self.mapping = mapping
        self.owner = owner or instance_name()
        self.lease = lease
        self.interval = interval
        self.batch = batch
        self.on_committed = on_committed
        self.clock = clock
        self.stats = {"sent": 0, "refused": 0, "retried": 0, "verified": 0}
        self.wake = asyncio.Event()

    # -- what to send ----------------------------------------------------------------------------------------
    def scan(self) -> int:
        """Queue what the change log holds since the shared cursor; how many rows were queued."""
        with self.sessions.begin() as session:
            return self._scan_in(session)

    def _scan_in(self, session: Session) -> int:
        """Queue the changes since the shared cursor inside ``session``'s transaction."""
        maker = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
        session.execute(maker(SyncState).values(key=CURSOR_KEY, value=0).on_conflict_do_nothing())
        # One scanner at a time: the cursor row's lock (instances queue here, then read on from it).
        state = session.get(SyncState, CURSOR_KEY, with_for_update=True, populate_existing=True)
        assert state is not None
        changes = session.scalars(
            select(ChangeRow)
            .where(
                ChangeRow.version > state.value,
                ChangeRow.entity.in_(("work_orders", "jobs", "appointments")),
            )
            .order_by(ChangeRow.version)
            .limit(SCAN_BATCH)
        ).all()
        queued = sum(self._queue_change(session, change) for change in changes)
        if changes:
            state.value = changes[-1].version
        return queued

    def _queue_change(self, session: Session, change: ChangeRow) -> int:
        data, now = change.data or {}, self.clock()
        if change.op != "upsert":
            return 0
        if change.entity == "work_orders":
            sc_id = int(data.get("sc_id") or 0)
            queued = 0
            seq = int(data.get("note_seq") or 0)
            if seq and data.get("last_note"):
                # Each note once, by its number (a re-read of the same change queues nothing).
                queued += enqueue(session, sc_id, "note", seq, {"Note": data["last_note"]}, now)
            if data.get("state") == WorkOrderState.ACCEPTED.value:
                payload = {"Note": "Accepted — the job is booked.", CHANGE: change.version}
                return queued + enqueue(session, sc_id, "accept", 1, payload, now)
            if data.get("state") == WorkOrderState.DECLINED.value:
                payload = {
                    "DeclineReasonId": data.get("decline_reason_id") or 5,
                    "Note": data.get("decline_note", ""),
                }
                return queued + enqueue(session, sc_id, "decline", 1, payload, now)
            return queued
        job_id = data.get("id") if change.entity == "jobs" else data.get("job_id")
        wo = session.scalar(select(WorkOrder).where(WorkOrder.job_id == job_id)) if job_id else None
        if wo is None or change.version <= newest_change(session, wo.sc_id):
            return 0  # not accepted yet (the booking itself), or history already told (a re-read)
        if change.entity == "appointments":
            value = data.get("arrival_window_start")
            if not value or (last_payload(session, wo.sc_id, "schedule") or {}).get("Value") == value:
                return 0
            payload: dict[str, Any] = {"Value": value}
            reason = self.mapping.reschedule_reasons.get(wo.subscriber_id)
            if reason is not None:
                payload[REASON] = reason
            return enqueue(session, wo.sc_id, "schedule", change.version, payload, now)
        return self._queue_job_status(session, wo, data, change.version, now)

    def _queue_job_status(
        self, session: Session, wo: WorkOrder, data: dict[str, Any], version: int, now: datetime
    ) -> int:
        status, reason = data.get("status"), str(data.get("status_reason") or "")
        statuses = {**DEFAULT_STATUS_MAP, **self.mapping.statuses.get(wo.subscriber_id, {})}
        if status == JobStatus.WORKING.value:
            if last_payload(session, wo.sc_id, "check_in") is not None:
                return 0
            lat, lon = _position(session, wo)
            body = {"WorkTypeId": 1, "UserId": 0, "TechsCount": 1, "Latitude": lat, "Longitude": lon}
            return enqueue(session, wo.sc_id, "check_in", version, body, now)
        if status == JobStatus.COMPLETED.value and last_payload(session, wo.sc_id, "check_in") is None:
            # Never checked in (the platform refuses a check-out without one): a status change instead.
            payload = {"Status": _status(statuses["complete"]), "Note": reason or "Work completed."}
            previous = last_payload(session, wo.sc_id, "status")
            if previous is not None and previous["Status"] == payload["Status"]:
                return 0
            return enqueue(session, wo.sc_id, "status", version, payload, now)
        if status == JobStatus.COMPLETED.value:
            if last_payload(session, wo.sc_id, "check_out") is not None:
                return 0
            lat, lon = _position(session, wo)
            body = {
                "WorkTypeId": 1,
                "PrimaryStatus": "Completed",
                "ActionStatus": "Complete",
                "Resolution": reason or "Work completed.",
                "UserId": 0,
                "TechsCount": 1,
                "Latitude": lat,
                "Longitude": lon,
            }
            return enqueue(session, wo.sc_id, "check_out", version, body, now)
        key = {JobStatus.HOLD.value: "hold", JobStatus.CANCELED.value: "cancel"}.get(str(status))
        previous = last_payload(session, wo.sc_id, "status")
        if key is None:
            if previous is None or previous["Status"] == _status(statuses["release"]):
                return 0  # booked and never held: nothing to tell
            key = "release"
        payload = {"Status": _status(statuses[key]), "Note": reason}
        if previous is not None and previous["Status"] == payload["Status"]:
            return 0
        return enqueue(session, wo.sc_id, "status", version, payload, now)

    # -- sending ---------------------------------------------------------------------------------------------
    def _claim(self) -> list[Claimed]:
        with self.sessions.begin() as session:
            return claim(session, self.owner, self.clock(), self.lease, self.batch)

    async def run_once(self) -> int:
        """Scan, claim and send one batch; how many rows were handled."""
        rows = await asyncio.to_thread(self._scan_and_claim)
        # Rows of different work orders go out side by side (the budget still paces them); what went
        # through is recorded in one transaction at the end of the batch.
        sent: list[Claimed] = []
        await asyncio.gather(*(self._send(row, sent) for row in rows))
        if sent:
            self._committed(await asyncio.to_thread(self._mark_sent, sent))
        return len(rows)

    def _scan_and_claim(self) -> list[Claimed]:
        self.scan()
        return self._claim()

    def _record_and_claim(self, sent: list[Claimed], room: int) -> tuple[list[Claimed], int]:
        """One trip to the database for the running worker, in one transaction (one turn of the single
        SQLite writer): record what went through, queue new changes, lease up to ``room`` more rows; the
        change version written (0 if none)."""
        with self.sessions.begin() as session:
            version = self._record(session, sent)
            self._scan_in(session)
            rows = claim(session, self.owner, self.clock(), self.lease, room) if room > 0 else []
            return rows, version

    def _mark_sent(self, rows: list[Claimed]) -> int:
        with self.sessions.begin() as session:
            return self._record(session, rows)

    def _record(self, session: Session, rows: list[Claimed]) -> int:
        """Mark ``rows`` sent; the work orders whose platform status they set (an accept is In Progress /
        Dispatch Confirmed by the API's definition) carry it at once — consoles see it, and the catch-up
        poll, re-reading them, finds nothing new to store."""
        if not rows:
            return 0
        now = self.clock()
        statuses: dict[int, tuple[str, str]] = {}
        for row in rows:
            if not mark_sent(session, row.id, self.owner, now):
                log.warning("event=sc_lease_lost id=%s owner=%s", row.id, self.owner)
                continue
            status = _resulting_status(row)
            if status is not None:
                statuses[row.sc_id] = status
        if not statuses:
            return 0
        lock_change_log(session)
        collector = ChangeCollector(session)
        for wo in session.scalars(select(WorkOrder).where(WorkOrder.sc_id.in_(statuses))):
            wo.platform_status, wo.platform_extended = statuses[wo.sc_id]
        session.flush()
        return log_changes(session, collector)

    def _committed(self, version: int) -> None:
        if version and self.on_committed is not None:
            self.on_committed(version)  # on the loop: it pokes the consoles

    async def run(self) -> None:
        """Send continuously: up to ``batch`` rows in flight; a row that went through frees its place at
        once, and the next trip to the database both records it and leases more. (Waiting for a whole
        batch before claiming again left the budget idle behind the slowest send and the database.)"""
        flying: set[asyncio.Task[None]] = set()
        sent: list[Claimed] = []  # filled by the sends in flight, emptied by each trip

        def landed(task: asyncio.Task[None]) -> None:
            flying.discard(task)
            self.wake.set()  # its place is free (and, when it went through, it is to be recorded)

        loop = asyncio.get_running_loop()
        last = -TRIP_SPACING
        while True:
            # Trips at most every TRIP_SPACING: a console's accepts (each waking the worker) and the sends
            # landing (each freeing a place) share trips instead of one commit each — every trip is a
            # turn of the server's single SQLite writer, which the deliveries and pushes need too.
            if (delay := last + TRIP_SPACING - loop.time()) > 0:
                await asyncio.sleep(delay)
            last = loop.time()
            self.wake.clear()  # before the trip: a commit during it brings the next one at once
            done = sent[:]
            sent.clear()
            try:
                rows, version = await asyncio.to_thread(
                    self._record_and_claim, done, self.batch - len(flying)
                )
            except asyncio.CancelledError:
                raise
            except Exception:  # noqa: BLE001 - a database hiccup: the next trip retries
                log.warning("event=sc_outbound_round_failed", exc_info=True)
                sent[:0] = done  # recorded next time (a lease that runs out meanwhile is verified)
                rows, version = [], 0
            self._committed(version)
            for row in rows:
                task = asyncio.get_running_loop().create_task(self._send(row, sent))
                flying.add(task)
                task.add_done_callback(landed)
            if not rows:
                try:
                    await asyncio.wait_for(self.wake.wait(), self.interval)
                except TimeoutError:
                    pass

    async def _send(self, row: Claimed, sent: list[Claimed]) -> None:
        try:
            if row.uncertain and await self._already_done(row):
                self.stats["verified"] += 1
                sent.append(row)
                return
            await self._dispatch(row)
        except ScError as exc:
            if exc.code in ALREADY_DONE:
                sent.append(row)
                return
            self.stats["refused"] += 1
            log.warning("event=sc_refused sc_id=%d action=%s code=%s", row.sc_id, row.action, exc.code)
            self._committed(await asyncio.to_thread(self._refuse, row, exc.message))
            return
        except ScUnavailable as exc:
            self.stats["retried"] += 1
            delay = min(600.0, 5.0 * 2 ** min(row.attempts, 7))
            later = self.clock() + timedelta(seconds=delay)
            await asyncio.to_thread(self._finish, mark_retry, row.id, self.owner, later, str(exc))
            return
        self.stats["sent"] += 1
        sent.append(row)

    def _finish(self, fn: Callable[..., bool], *args: Any) -> None:
        with self.sessions.begin() as session:
            if not fn(session, *args):
                log.warning("event=sc_lease_lost id=%s owner=%s", args[0], self.owner)

    def _refuse(self, row: Claimed, message: str) -> int:
        """Stop the row; the work order carries Action required. The change version (poked on the loop)."""
        with self.sessions.begin() as session:
            lock_change_log(session)
            collector = ChangeCollector(session)
            mark_refused(
                session,
                row.id,
                self.owner,
                row.sc_id,
                f"ServiceChannel refused {_words(row.action)}: {message}",
            )
            return log_changes(session, collector)

    async def _dispatch(self, row: Claimed) -> None:
        path = f"/workorders/{row.sc_id}"
        method, suffix = {
            "accept": ("PUT", "/accept"),
            "decline": ("PUT", "/decline"),
            "status": ("PUT", "/status"),
            "schedule": ("PUT", "/scheduledate"),
            "note": ("POST", "/notes"),
            "check_in": ("POST", "/universalCheckIn"),
            "check_out": ("POST", "/universalCheckOut"),
        }[row.action]
        body = {k: v for k, v in row.payload.items() if k not in (CHANGE, REASON)}
        reason = row.payload.get(REASON)
        params = {"rescheduleReasonCode": str(reason)} if reason is not None else None
        await self.client.call(method, path + suffix, params=params, body=body)

    async def _already_done(self, row: Claimed) -> bool:
        """An uncertain row: did the platform get it before its sender died? (The API takes no idempotency
        key, so we look.)"""
        if row.action == "note":
            notes = await self.client.call("GET", f"/odata/workorders({row.sc_id})/notes")
            return any(
                n.get("NoteData") == row.payload.get("Note") for n in notes or [] if isinstance(n, dict)
            )
        wo = await self.client.call("GET", f"/workorders/{row.sc_id}")
        status = (wo or {}).get("Status") or {}
        current = {"Primary": status.get("Primary"), "Extended": status.get("Extended") or ""}
        expected = {
            "accept": {"Primary": "In Progress", "Extended": "Dispatch Confirmed"},
            "decline": {"Primary": "Open", "Extended": "Declined"},
            "check_in": {"Primary": "In Progress", "Extended": "On Site"},
            "status": row.payload.get("Status"),
        }.get(row.action)
        if row.action == "schedule":
            return (wo or {}).get("ScheduledDate", "")[:19] == str(row.payload.get("Value", ""))[:19]
        if row.action == "check_out":
            return current["Primary"] == "Completed" or current["Extended"] not in ("On Site", "")
        return expected is not None and current == expected


def _resulting_status(row: Claimed) -> tuple[str, str] | None:
    """The platform's status once ``row`` went through, where the API defines it; None otherwise."""
    if row.action == "accept":
        return ("In Progress", "Dispatch Confirmed")
    if row.action == "decline":
        return ("Open", "Declined")
    if row.action == "check_in":
        return ("In Progress", "On Site")
    if row.action == "status":
        status = row.payload.get("Status") or {}
        return (str(status.get("Primary") or ""), str(status.get("Extended") or ""))
    return None


def _status(pair: tuple[str, str] | list[str]) -> dict[str, str]:
    return {"Primary": pair[0], "Extended": pair[1]}


def _words(action: str) -> str:
    return {
        "accept": "the accept",
        "decline": "the decline",
        "status": "the status change",
        "schedule": "the new scheduled date",
        "note": "the note",
        "check_in": "the check-in",
        "check_out": "the check-out",
    }[action]


def _position(session: Session, wo: WorkOrder) -> tuple[float, float]:
    loc = session.get(Location, wo.location_id) if wo.location_id else None
    return (loc.latitude or 0.0, loc.longitude or 0.0) if loc is not None else (0.0, 0.0)
