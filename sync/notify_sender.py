"""The notifications sender: drains the ``notifications`` outbox (docs/notifications.md).

Each pass claims a batch of due messages in one transaction — ``FOR UPDATE SKIP LOCKED`` on
PostgreSQL, so several ``csr-server`` instances share the work; SQLite serializes writers, and one
sender per SQLite store is the rule — marking them ``sending`` with a lease. It then sends them
(concurrently, under the per-sender rate limit) and records every answer in one transaction.

Never twice: a message is claimed by one sender at a time; a sender that dies leaves its claims to
expire, and whoever takes an expired claim over first asks the text service whether that text already
went (``GET Messages.json?To=…``) and adopts it instead of sending again. Never lost: a claim that
is not recorded comes back when its lease ends; a transient failure (5xx, 429, no answer, SMTP 4xx) is
retried with exponential backoff and jitter up to MAX_ATTEMPTS, then the message is failed with the
reason, which the CSR sees on the customer's Messages tab.
"""

from __future__ import annotations

import asyncio
import logging
import os
import random
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

import aiohttp
from sqlalchemy import and_, insert, or_, select, update
from sqlalchemy.orm import Session, sessionmaker

from models.base import utcnow
from models.notifications import LANDLINE_CODES, OPTED_OUT, Channel, NoticeStatus, Notification
from models.notify_outcomes import apply_status, hold_for_quiet, prefetch_for_send, why_not_send
from models.notify_templates import NotifySettings
from models.sync_tables import ChangeRow
from models.timeutil import as_utc

from .apply import lock_change_log
from .changes import ChangeCollector
from .messaging import SendResult, SmtpEmail, TwilioSms
from .notify_writes import SettingsCache, append_changes, lock_messages, states

log = logging.getLogger("csr.server.notify")
MAX_ATTEMPTS = 8
CONSEQUENTIAL_CODES = frozenset({OPTED_OUT, *LANDLINE_CODES})  # a failure that changes other records
BACKOFF_BASE = 5.0  # seconds before the second attempt; doubles each time
BACKOFF_MAX = 1800.0


def backoff(attempts: int, base: float = BACKOFF_BASE) -> float:
    """Seconds before attempt ``attempts + 1``: exponential, capped, ±20 % jitter (no herd)."""
    delay = min(BACKOFF_MAX, base * 2 ** max(0, attempts - 1))
    return delay * random.uniform(0.8, 1.2)


class RateLimit:
    """A token bucket: at most ``rate`` sends a second (a burst of one second's worth); 0 = no limit."""

    def __init__(self, rate: float) -> None:
        self.rate = rate
        self._tokens = rate
        self._at = time.monotonic()
        self._lock = asyncio.Lock()

    async def acquire(self) -> None:
        if self.rate <= 0:
            return
        async with self._lock:
            while True:
                now = time.monotonic()
                self._tokens = min(self.rate, self._tokens + (now - self._at) * self.rate)
                self._at = now
                if self._tokens >= 1:
                    self._tokens -= 1
                    return
                await asyncio.sleep((1 - self._tokens) / self.rate)


@dataclass(frozen=True)
class Claimed:
    id: str
    channel: Channel
    to: str
    subject: str
    body: str
    attempts: int
    recovering: bool  # a claim another sender held and never recorded: it may already have gone
    claimed_at: datetime
    lease_until: datetime  # this claim's lease: not sent after it


class NotifySender:
    """One sender; ``run(stop)`` until ``stop`` is set. ``on_committed(version)`` runs on the event loop
    after each commit that wrote the change log (the server pokes its consoles)."""

    def __init__(
        self,
        sessions: sessionmaker[Session],
        *,
        sms: TwilioSms | None = None,
        email: SmtpEmail | None = None,
        instance: str = "",
        batch: int = 64,
        concurrency: int = 48,
        lease: timedelta = timedelta(seconds=60),
        poll_interval: float = 0.5,
        rate_per_second: float | None = None,
        clock: Callable[[], datetime] = utcnow,
        on_committed: Callable[[int], None] | None = None,
    ) -> None:
        self.sessions = sessions
        self.sms = sms
        self.email = email
        self.instance = instance or f"{socket.gethostname()}:{os.getpid()}"
        self.batch = batch
        self.concurrency = concurrency
        self.lease = lease
        self.poll_interval = poll_interval
        self.clock = clock
        self.on_committed = on_committed
        self._rate_override = rate_per_second
        self._limit = RateLimit(rate_per_second or 0)
        self._wake = asyncio.Event()
        self._http: aiohttp.ClientSession | None = None
        self._answers: list[tuple[Claimed, SendResult, datetime]] = []  # sent, not yet recorded
        self._recorder: asyncio.Task[None] | None = None
        self._settings = SettingsCache()
        self._held = 0  # claims of run() not yet recorded
        self._recorded = asyncio.Event()
        self.sent = 0  # messages the providers accepted from this sender (tests, logs)

    def wake(self) -> None:
        """Something may be due now (a booking committed): look without waiting for the poll."""
        self._wake.set()

    async def run(self, stop: asyncio.Event) -> None:
        """Send until ``stop``: a pipeline, not batch after batch. Claims are taken in chunks while
        earlier sends are in flight (at most ``concurrency`` sends at once, 1.5 times that claimed),
        and answers are recorded as they come, grouped: each record transaction takes every answer
        that arrived while the previous one committed."""
        connector = aiohttp.TCPConnector(limit=self.concurrency)
        async with aiohttp.ClientSession(connector=connector) as http:
            self._http = http
            gate = asyncio.Semaphore(self.concurrency)
            inflight: set[asyncio.Task[None]] = set()
            failures = 0
            stopper = asyncio.ensure_future(stop.wait())
            while not stop.is_set():
                # Claims held (being sent, or sent and not yet recorded) stay under one and a half times
                # the concurrency: enough to keep every send slot busy while the next claim commits,
                # few enough that a sender killed now leaves few claims to wait for their lease, and a
                # slow record holds the claims back instead of letting leases run out.
                cap = self.concurrency + self.concurrency // 2
                if self._limit.rate > 0:  # and what the rate limit lets go well inside a lease
                    cap = min(cap, max(1, int(self._limit.rate * self.lease.total_seconds() / 4)))
                room = cap - self._held
                if room < max(1, min(self.concurrency, cap) // 2):
                    self._recorded.clear()
                    done = asyncio.ensure_future(self._recorded.wait())
                    await asyncio.wait(inflight | {stopper, done}, return_when="FIRST_COMPLETED")
                    done.cancel()
                    continue
                try:
                    claimed, version = await asyncio.to_thread(self._claim, min(self.batch, room))
                    self._committed(version)
                    failures = 0
                except Exception:  # noqa: BLE001 - the database went away: back off, never die
                    failures += 1
                    log.exception("event=notify_pass_failed instance=%s", self.instance)
                    await _wait(stop, min(30.0, 0.5 * 2**failures))
                    continue
                self._held += len(claimed)
                for c in claimed:
                    task = asyncio.create_task(self._send_and_queue(gate, c))
                    inflight.add(task)
                    task.add_done_callback(inflight.discard)
                if not claimed and not stop.is_set():
                    self._wake.clear()
                    waiter = asyncio.ensure_future(self._wake.wait())
                    await asyncio.wait(
                        {waiter, stopper}, timeout=self.poll_interval, return_when="FIRST_COMPLETED"
                    )
                    waiter.cancel()
            stopper.cancel()
            # Stopping: what is in flight is sent and recorded (a claim left unrecorded would only
            # come back when its lease ends, to be checked and adopted by another sender).
            if inflight:
                await asyncio.wait(inflight, timeout=self.lease.total_seconds() / 2)
            if self._recorder is not None:
                done, _ = await asyncio.wait({self._recorder}, timeout=self.lease.total_seconds() / 2)
                if not done:
                    self._recorder.cancel()  # the database is gone: the leases bring the claims back
                    await asyncio.gather(self._recorder, return_exceptions=True)
        self._http = None

    async def drain_once(self) -> int:
        """Claim one batch, send it, record the answers; how many were claimed."""
        claimed, version = await asyncio.to_thread(self._claim)
        self._committed(version)
        if not claimed:
            return 0
        gate = asyncio.Semaphore(self.concurrency)
        await asyncio.gather(*(self._send_and_queue(gate, c) for c in claimed))
        if self._recorder is not None:
            await self._recorder
        return len(claimed)

    async def _send_and_queue(self, gate: asyncio.Semaphore, c: Claimed) -> None:
        async with gate:
            try:
                result = await self._send(c)
                # The moment the provider took it is when the message went, however long the record
                # waits (for a message found already sent after a crash: the provider's own time).
                answered = max(as_utc(result.at), c.claimed_at) if result.at is not None else self.clock()
            except Exception as exc:  # noqa: BLE001 - never lose the claim's answer: retried later
                log.exception("event=notify_send_crashed id=%s", c.id)
                result = SendResult("transient", error=f"The sender failed ({type(exc).__name__}).")
                answered = self.clock()
        self._answers.append((c, result, answered))
        if self._recorder is None or self._recorder.done():
            self._recorder = asyncio.create_task(self._record_answers())

    async def _record_answers(self) -> None:
        """Record every answer waiting, a group per transaction, until none is left."""
        failures = 0
        while self._answers:
            group, self._answers = self._answers, []
            try:
                version = await asyncio.to_thread(self._record, group)
            except Exception:  # noqa: BLE001 - the database went away: keep the answers, try again
                # (Meanwhile their leases may run out: whoever takes one over asks the provider
                # first, and this record, when it gets through, keeps only what the row lacks.)
                failures += 1
                log.exception("event=notify_record_failed instance=%s size=%d", self.instance, len(group))
                self._answers = group + self._answers
                await asyncio.sleep(min(5.0, 0.2 * 2**failures))
                continue
            failures = 0
            self._held = max(0, self._held - len(group))
            self._recorded.set()
            self._committed(version)

    def _committed(self, version: int) -> None:
        if version and self.on_committed is not None:
            self.on_committed(version)

    # -- claim -------------------------------------------------------------------------------------------
    def _claim(self, size: int | None = None) -> tuple[list[Claimed], int]:
        """Claim up to ``size`` due messages. The claim takes no change-log lock (it writes no change-log
        rows: consoles learn the outcome); messages that must not go after all, or wait for quiet hours
        to end, are settled afterwards in a transaction of their own that does (``_settle``)."""
        now = self.clock()
        due = or_(
            and_(Notification.status == NoticeStatus.PENDING, Notification.next_attempt_at <= now),
            and_(Notification.status == NoticeStatus.SENDING, Notification.claimed_until < now),
        )
        with self.sessions() as session:  # most passes find nothing: no lock for them
            if session.scalar(select(Notification.id).where(due).limit(1)) is None:
                return [], 0
        unsendable: list[str] = []
        with self.sessions.begin() as session:
            settings = self._settings.get(session)
            if self._rate_override is None and self._limit.rate != settings.rate_per_second:
                self._limit = RateLimit(settings.rate_per_second)
            size = min(size or self.batch, self.batch)
            if self._limit.rate > 0:
                # A batch must be sent well inside its lease.
                size = max(1, min(size, int(self._limit.rate * self.lease.total_seconds() / 4)))
            query = select(Notification).where(due).order_by(Notification.next_attempt_at).limit(size)
            if session.get_bind().dialect.name == "postgresql":
                query = query.with_for_update(skip_locked=True)
            rows = list(session.scalars(query))
            if not rows:
                return [], 0
            batch = prefetch_for_send(session, rows)
            out: list[Claimed] = []
            for row in rows:
                recovering = NoticeStatus(row.status) is NoticeStatus.SENDING
                if not recovering and (
                    why_not_send(session, row, batch.opted_out) is not None
                    or hold_for_quiet(session, settings, row, now) is not None
                ):
                    unsendable.append(row.id)
                    continue
                if recovering:
                    log.warning("event=notify_claim_expired id=%s by=%s", row.id, row.claimed_by)
                previous = as_utc(row.claimed_until) - self.lease if row.claimed_until else now
                attempts = row.attempts if recovering else row.attempts + 1
                out.append(
                    Claimed(
                        row.id,
                        Channel(row.channel),
                        row.to_address,
                        row.subject,
                        row.body,
                        attempts,
                        recovering,
                        previous,
                        now + self.lease,
                    )
                )
            for recovering, bump in ((False, 1), (True, 0)):
                ids = [c.id for c in out if c.recovering is recovering]
                if ids:
                    session.execute(
                        update(Notification)
                        .where(Notification.id.in_(ids))
                        .values(
                            status=NoticeStatus.SENDING,
                            claimed_by=self.instance,
                            claimed_until=now + self.lease,
                            attempts=Notification.attempts + bump,
                        )
                        .execution_options(synchronize_session=False)
                    )
        return out, (self._settle(unsendable, now) if unsendable else 0)

    def _settle(self, ids: list[str], now: datetime) -> int:
        """Messages a claim found unsendable: canceled / not sent with the reason, or held until the
        customer's quiet hours end — in the change log, so the CSR sees why. The change-log lock is
        taken first, as every change-log writer takes it (rows locked after it: no deadlock)."""
        with self.sessions.begin() as session:
            settings = self._settings.get(session)
            lock_change_log(session)
            collector = ChangeCollector(session)
            query = select(Notification).where(
                Notification.id.in_(ids),
                Notification.status == NoticeStatus.PENDING,
                Notification.next_attempt_at <= now,
            )
            if session.get_bind().dialect.name == "postgresql":
                query = query.with_for_update(skip_locked=True)
            rows = list(session.scalars(query))
            batch = prefetch_for_send(session, rows)
            for row in rows:  # looked at again: it may have changed since the claim
                verdict = why_not_send(session, row, batch.opted_out)
                if verdict is not None:
                    row.status, row.error = verdict[0], verdict[1]
                    row.status_at = now
                elif (hold := hold_for_quiet(session, settings, row, now)) is not None:
                    row.next_attempt_at = hold
                    row.error = "Held for the customer's quiet hours."
            return _log(session, collector)

    # -- send --------------------------------------------------------------------------------------------
    async def _send(self, c: Claimed) -> SendResult:
        if c.channel is Channel.SMS:
            if self.sms is None:
                return SendResult("permanent", error="Texting is not set up on the server (no text service).")
            assert self._http is not None
            if c.recovering:
                try:
                    found = await self.sms.find_sent(self._http, c.to, c.body, c.claimed_at)
                except LookupError as exc:
                    return SendResult("transient", error=f"Couldn't check whether it already went: {exc}")
                if found is not None:
                    log.warning("event=notify_adopted id=%s sid=%s", c.id, found.provider_id)
                    return found
            await self._limit.acquire()
            if (late := self._lease_ending(c)) is not None:
                return late
            return await self.sms.send(self._http, c.to, c.body, c.id)
        if self.email is None:
            return SendResult("permanent", error="Email is not set up on the server (no SMTP server).")
        await self._limit.acquire()
        if (late := self._lease_ending(c)) is not None:
            return late
        return await self.email.send(c.to, c.subject, c.body, c.id)

    def _lease_ending(self, c: Claimed) -> SendResult | None:
        """A claim whose lease has (nearly) run out is not sent: another sender may take it over any
        moment, and finding nothing sent yet, send it too. It goes back to waiting instead."""
        if self.clock() < c.lease_until - self.lease / 10:
            return None
        log.warning("event=notify_lease_ran_out id=%s", c.id)
        return SendResult("transient", error="Held too long before sending (the server was busy).")

    # -- record ------------------------------------------------------------------------------------------
    def _record(self, results: list[tuple[Claimed, SendResult, datetime]]) -> int:
        """Every answer of a group in one transaction: the rows locked and read in one statement, written
        in one flush, then one change-log append under the change-log lock (sync/notify_writes.py) — a
        constant number of round trips whatever the group's size, and none of the row writes under
        the lock, unless a permanent failure has consequences beyond the message."""
        now = self.clock()
        beyond = any(
            not r.accepted and (r.outcome == "permanent" or r.error_code in CONSEQUENTIAL_CODES)
            for _c, r, _t in results
        )
        with self.sessions.begin() as session:
            settings = self._settings.get(session)
            if beyond:
                lock_change_log(session)
            collector = ChangeCollector(session)
            rows = lock_messages(session, (c.id for c, _r, _t in results))
            before = states(rows)
            for c, result, answered in results:
                row = rows.get(c.id)
                if row is not None:
                    self._record_one(session, settings, row, c, result, answered, now)
            return append_changes(session, collector, locked=beyond, rows=rows, before=before)

    def _record_one(
        self,
        session: Session,
        settings: NotifySettings,
        row: Notification,
        c: Claimed,
        result: SendResult,
        answered: datetime,
        now: datetime,
    ) -> None:
        if row.claimed_by != self.instance:
            # Our lease ran out and another sender took the message over (it checks before
            # sending); keep what the provider told us, if the row has nothing better.
            log.warning("event=notify_lease_lost id=%s now_by=%s", c.id, row.claimed_by)
            if result.accepted and not row.provider_id:
                row.provider_id = result.provider_id
            return
        if NoticeStatus(row.status) is not NoticeStatus.SENDING:
            # The provider's status callback got here before us (it found the row by id).
            row.claimed_until = None
            if result.accepted:
                self.sent += 1
                row.provider_id = row.provider_id or result.provider_id
                row.sent_at = min(as_utc(row.sent_at), answered) if row.sent_at else answered
            return
        row.claimed_until = None
        if result.accepted:
            self.sent += 1
            row.provider_id = result.provider_id
            row.sent_at = answered
            row.status_at = answered
            row.error_code, row.error = "", ""
            row.status = NoticeStatus.SENT if result.status in ("sent", "delivered") else NoticeStatus.QUEUED
            if c.channel is Channel.EMAIL:
                row.status = NoticeStatus.SENT
        elif result.outcome == "transient" and row.attempts < MAX_ATTEMPTS:
            row.status = NoticeStatus.PENDING
            row.next_attempt_at = now + timedelta(seconds=backoff(row.attempts))
            row.error_code = result.error_code[:16]
            row.error = f"Will retry: {result.error}"[:300]
        else:
            row.status = NoticeStatus.SENDING  # apply_status moves it on from here
            apply_status(session, settings, row, NoticeStatus.FAILED, now, result.error_code, result.error)


def _log(session: Session, collector: ChangeCollector) -> int:
    changes = collector.collect()
    if not changes:
        return 0
    versions = list(
        session.execute(
            insert(ChangeRow.__table__).returning(
                ChangeRow.__table__.c.version, sort_by_parameter_order=True
            ),
            [{"entity": e, "entity_id": i, "op": op, "data": data} for e, i, op, data in changes],
        ).scalars()
    )
    return versions[-1]


async def _wait(stop: asyncio.Event, seconds: float) -> None:
    try:
        await asyncio.wait_for(stop.wait(), seconds)
    except TimeoutError:
        pass
