"""The sender's own rules on a real SQLite store: quiet hours hold a reminder until morning in the
customer's zone (urgent messages go), the rate limit spaces sends, backoff grows and is capped."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from models.notifications import NoticeKind, NoticeStatus, Notification
from models.timeutil import as_utc
from sync.notify_sender import BACKOFF_MAX, NotifySender, RateLimit, backoff

from .notify_setup import NOTIFY, make_store


@pytest.fixture
def store(cache):
    return make_store(cache.sessions, notify=NOTIFY)


def test_quiet_hours_hold_a_reminder_until_morning_but_not_on_the_way(store):
    cid, loc = store.customer()
    job = store.book(cid, loc)
    store.push("notify_on_the_way", {"job_id": job})
    night = datetime(2026, 12, 1, 4, 0, tzinfo=UTC)  # 22:00 in Dallas, inside 21:00–08:00
    sender = NotifySender(store.sessions, clock=lambda: night)
    claimed, _version = sender._claim()
    kinds = {c.id: c for c in claimed}
    msgs = {m.id: m for m in store.messages()}
    on_the_way = next(m for m in msgs.values() if m.kind is NoticeKind.ON_THE_WAY)
    confirmation = next(m for m in msgs.values() if m.kind is NoticeKind.CONFIRMATION)
    assert on_the_way.id in kinds and confirmation.id not in kinds
    assert confirmation.status is NoticeStatus.PENDING and "quiet hours" in confirmation.error
    # 08:00 in Dallas the next morning = 14:00 UTC.
    assert as_utc(confirmation.next_attempt_at) == datetime(2026, 12, 1, 14, 0, tzinfo=UTC)
    with store.sessions() as s:
        assert (
            s.scalar(select(Notification.status).where(Notification.id == on_the_way.id))
            is NoticeStatus.SENDING
        )


def test_rate_limit_spaces_sends():
    async def run() -> float:
        limit = RateLimit(20)
        start = time.monotonic()
        for _ in range(30):  # a burst of 20, then 10 more at 20 a second
            await limit.acquire()
        return time.monotonic() - start

    assert 0.4 <= asyncio.run(run()) < 2.0


def test_backoff_doubles_with_jitter_and_is_capped():
    assert 4.0 <= backoff(1) <= 6.0
    assert 8.0 <= backoff(2) <= 12.0
    assert backoff(30) <= BACKOFF_MAX * 1.2
    assert timedelta(seconds=backoff(3)) > timedelta(seconds=15)


def test_a_claim_whose_lease_ran_out_while_waiting_is_not_sent():
    """Another sender may take an expired claim over (and, finding nothing sent, send it): a claim
    held too long before its turn goes back to waiting instead of risking a second copy."""
    from models.notifications import Channel
    from sync.messaging import SendResult
    from sync.notify_sender import Claimed

    sent: list[str] = []

    class Sms:
        async def send(self, _http, to, _body, _ref):
            sent.append(to)
            return SendResult("accepted", "SM1", "queued")

    start = datetime(2026, 12, 1, 15, 0, tzinfo=UTC)
    now = [start]
    sender = NotifySender(None, sms=Sms(), lease=timedelta(seconds=10), clock=lambda: now[0])
    sender._http = object()
    claim = Claimed(
        "n1", Channel.SMS, "+12145550134", "", "Hi", 1, False, start, start + timedelta(seconds=10)
    )
    assert asyncio.run(sender._send(claim)).accepted and sent == ["+12145550134"]
    now[0] = start + timedelta(seconds=9.5)  # inside the last tenth of the lease
    late = asyncio.run(sender._send(claim))
    assert late.outcome == "transient" and "Held too long" in late.error and sent == ["+12145550134"]
