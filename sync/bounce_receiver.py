"""csr-server's bounce receiver (docs/notifications.md, "Bounces"): an SMTP (or LMTP) listener, run with
``--bounce-smtp HOST:PORT`` (or ``--bounce-lmtp``) and ``--bounce-domain``, that the company's MX or a
forwarding rule hands the mail for ``bounces+…@<bounce domain>`` to.

At RCPT the address must be a bounce address of ours naming an email we sent (else ``550 5.1.1``,
nothing stored). At DATA the mail must be a delivery status notification (or a plain bounce naming that
address); else ``550 5.6.0``, nothing stored. What it reports is written to the message through the
notifications' write path (sync/notify_writes.py: the row locked, written, then one change-log row
under the change-log lock), so consoles see it on the customer's Messages tab; the same report twice
changes nothing more. A store failure answers ``451`` (the sending server tries again later).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session, sessionmaker

from models.base import utcnow
from models.notifications import Notification
from models.notify_bounces import BadBounceAddress, Bounce, apply_bounce, message_id_of, refuse_reason

from .changes import ChangeCollector
from .dsn import NotABounce, read_bounce
from .notify_writes import append_changes, lock_messages

log = logging.getLogger("csr.server.bounces")
DATA_SIZE_LIMIT = 10 * 1024 * 1024  # a report with the whole original attached fits
MAX_RECIPIENTS = 50


class UnknownMessage(LookupError):
    pass


@dataclass(frozen=True)
class Target:
    message_id: str
    bounce_address: str
    to_address: str


class BounceStore:
    """Looks up and writes bounced messages; ``on_committed(version)`` pokes consoles after a write."""

    def __init__(
        self,
        sessions: sessionmaker[Session],
        domain: str,
        *,
        clock: Callable[[], datetime] = utcnow,
        on_committed: Callable[[int], None] | None = None,
    ) -> None:
        self.sessions = sessions
        self.domain = domain
        self.clock = clock
        self.on_committed = on_committed

    def target(self, address: str) -> Target:
        """The message a bounce address names; BadBounceAddress / UnknownMessage (with why)."""
        message_id = message_id_of(address, self.domain)
        with self.sessions() as session:
            row = session.get(Notification, message_id)
            if why := refuse_reason(row):
                raise UnknownMessage(why)
            assert row is not None
            return Target(message_id, address.strip().strip("<>"), row.to_address)

    def record(self, target: Target, bounce: Bounce) -> tuple[bool, int]:
        """Write the report on its message: (changed, change-log version, 0 when nothing changed)."""
        now = self.clock()
        with self.sessions.begin() as session:
            collector = ChangeCollector(session)
            rows = lock_messages(session, [target.message_id])
            row = rows.get(target.message_id)
            if why := refuse_reason(row):
                raise UnknownMessage(why)
            assert row is not None
            if not apply_bounce(row, bounce, now):
                return False, 0
            return True, append_changes(session, collector, locked=False)


class BounceHandler:
    """aiosmtpd's handler: RCPT checks the address, DATA reads and stores the report."""

    def __init__(self, store: BounceStore, *, lmtp: bool = False) -> None:
        self.store = store
        self.lmtp = lmtp
        self.stored = 0  # reports that changed a message
        self.refused = 0

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):  # noqa: N802, ANN001
        if len(envelope.rcpt_tos) >= MAX_RECIPIENTS:
            return "452 4.5.3 Too many recipients"
        try:
            target = await asyncio.to_thread(self.store.target, address)
        except (BadBounceAddress, UnknownMessage) as exc:
            self.refused += 1
            log.warning("event=bounce_refused at=rcpt address=%s why=%s", address[:120], exc)
            return f"550 5.1.1 Unknown bounce address <{address[:120]}>: {exc}"
        except Exception:  # noqa: BLE001 - the store is down: the sending server retries
            log.exception("event=bounce_lookup_failed address=%s", address[:120])
            return "451 4.3.0 Can't check the address now; try again later"
        envelope.rcpt_tos.append(address)
        targets = getattr(envelope, "csr_targets", None)
        if targets is None:
            targets = envelope.csr_targets = []
        targets.append(target)
        return "250 2.1.5 OK"

    async def handle_DATA(self, server, session, envelope):  # noqa: N802, ANN001
        targets: list[Target] = getattr(envelope, "csr_targets", [])
        raw = envelope.original_content or envelope.content or b""
        if isinstance(raw, str):
            raw = raw.encode("utf-8", "surrogateescape")
        answers = [await self._one(target, raw) for target in targets]
        if self.lmtp:  # LMTP answers DATA once per recipient (RFC 2033)
            return "\r\n".join(answers) if answers else "503 5.5.1 No recipients"
        if not answers:
            return "503 5.5.1 No recipients"
        worst = max(answers, key=lambda a: (a[0] == "5", a[0] == "4"))
        return worst

    async def _one(self, target: Target, raw: bytes) -> str:
        try:
            bounce = read_bounce(raw, target.bounce_address, target.to_address)
        except NotABounce as exc:
            self.refused += 1
            log.warning("event=bounce_refused at=data message=%s why=%s", target.message_id, exc)
            return f"550 5.6.0 Not stored: {exc}"
        try:
            changed, version = await asyncio.to_thread(self.store.record, target, bounce)
        except UnknownMessage as exc:
            self.refused += 1
            return f"550 5.1.1 Not stored: {exc}"
        except Exception:  # noqa: BLE001 - not stored: the sending server retries
            log.exception("event=bounce_store_failed message=%s", target.message_id)
            return "451 4.3.0 Not stored; try again later"
        log.info(
            "event=bounce_read message=%s action=%s status=%s changed=%s",
            target.message_id,
            bounce.action,
            bounce.status,
            changed,
        )
        if not changed:
            return "250 2.0.0 Already recorded"
        self.stored += 1
        if version and self.store.on_committed is not None:
            self.store.on_committed(version)
        return f"250 2.0.0 Recorded ({bounce.action})"


@dataclass
class BounceReceiver:
    server: asyncio.AbstractServer
    handler: BounceHandler
    host: str
    port: int

    async def stop(self) -> None:
        self.server.close()
        await self.server.wait_closed()


async def start_bounce_receiver(
    store: BounceStore, host: str, port: int, *, lmtp: bool = False, hostname: str | None = None
) -> BounceReceiver:
    """Listen on ``host:port`` (port 0: any free one) on the running loop."""
    from aiosmtpd.lmtp import LMTP
    from aiosmtpd.smtp import SMTP

    handler = BounceHandler(store, lmtp=lmtp)
    protocol = LMTP if lmtp else SMTP

    def factory() -> SMTP:
        return protocol(
            handler,
            hostname=hostname or store.domain,
            data_size_limit=DATA_SIZE_LIMIT,
            enable_SMTPUTF8=True,
            ident="csr-server bounce receiver",
        )

    server = await asyncio.get_running_loop().create_server(factory, host, port)
    bound = server.sockets[0].getsockname()[1]
    log.info("event=bounce_receiver_listening host=%s port=%d lmtp=%s", host, bound, lmtp)
    return BounceReceiver(server, handler, host, bound)
