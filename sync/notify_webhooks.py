"""The text service's webhooks on csr-server's HTTP ingress (docs/notifications.md): message status
callbacks and customers' inbound texts.

Signatures are checked exactly as for the voice webhooks (sync/ingress.py ``verified_params``: the
X-Twilio-Signature over our public URL and every parameter received). A bad or missing signature, or
a request without what every such webhook carries, is answered 403 and nothing is stored. What is
accepted is stored (and written to the change log, so consoles see it) before we answer; a store
failure is a 500 so the provider delivers again, and a redelivery is stored once (MessageSid).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import datetime

from aiohttp import web
from sqlalchemy.orm import Session, sessionmaker

from models.base import utcnow
from models.notify_inbound import receive_text, record_status
from models.notify_templates import load_settings
from models.phone import InvalidPhone, parse_phone

from .apply import lock_change_log
from .changes import ChangeCollector
from .ingress import verified_params
from .messaging import error_text
from .notify_sender import _log
from .notify_writes import SettingsCache, append_changes, lock_messages, states

log = logging.getLogger("csr.server.messaging")
STATUS_PATH = "/messaging/twilio/status"
INBOUND_PATH = "/messaging/twilio/inbound"
EMPTY_TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response/>'


class MessagingHooks:
    """Stores what the webhooks bring; ``on_committed(version)`` pokes consoles after each commit."""

    def __init__(
        self,
        sessions: sessionmaker[Session],
        *,
        clock: Callable[[], datetime] = utcnow,
        on_committed: Callable[[int], None] | None = None,
        on_queued: Callable[[], None] | None = None,
    ) -> None:
        self.sessions = sessions
        self.clock = clock
        self.on_committed = on_committed
        self.on_queued = on_queued  # a HELP answer was queued: wake the sender
        self._settings = SettingsCache()
        self._queue: list[tuple[dict[str, str], str, asyncio.Future[int]]] = []
        self._writer: asyncio.Task[None] | None = None

    def status(self, params: dict[str, str], ref: str) -> int:
        """One status callback in its own transaction."""
        return self.statuses([(params, ref)])

    def statuses(self, callbacks: list[tuple[dict[str, str], str]]) -> int:
        """Status callbacks in one transaction: their messages locked and read in one statement, one
        change-log append, the row writes before the change-log lock (sync/notify_writes.py) unless a
        failure may change other records (an opt-out, a landline's email)."""
        now = self.clock()
        beyond = any(
            not ref
            or (p.get("ErrorCode") or "").strip()
            or (p.get("MessageStatus") or "").strip().lower() in ("failed", "undelivered")
            for p, ref in callbacks
        )
        with self.sessions.begin() as session:
            settings = self._settings.get(session)
            if beyond:
                lock_change_log(session)
            collector = ChangeCollector(session)
            rows = lock_messages(session, (ref for _p, ref in callbacks if ref))  # record_status finds them
            before = states(rows)
            for params, ref in callbacks:
                code = (params.get("ErrorCode") or "").strip()
                record_status(
                    session,
                    settings,
                    ref=ref,
                    sid=params["MessageSid"],
                    status=(params.get("MessageStatus") or "").strip().lower(),
                    error_code=code,
                    error=error_text(code, params.get("ErrorMessage") or "") if code else "",
                    now=now,
                )
            return append_changes(session, collector, locked=beyond, rows=rows, before=before)

    async def status_grouped(self, params: dict[str, str], ref: str) -> int:
        """Store a callback with every other one waiting meanwhile (as the call desk groups call events);
        if a group fails, each is stored alone so one bad callback fails alone (and gets its 500)."""
        future: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        self._queue.append((params, ref, future))
        if self._writer is None or self._writer.done():
            self._writer = asyncio.create_task(self._drain())
        return await future

    async def _drain(self) -> None:
        while self._queue:
            group, self._queue = self._queue, []
            try:
                version = await asyncio.to_thread(self.statuses, [(p, r) for p, r, _ in group])
                results = [(f, version, None) for _, _, f in group]
            except Exception:  # noqa: BLE001 - one by one: a bad one fails alone
                log.warning("event=status_group_failed size=%d", len(group), exc_info=True)
                results = []
                for params, ref, future in group:
                    try:
                        results.append((future, await asyncio.to_thread(self.status, params, ref), None))
                    except Exception as exc:  # noqa: BLE001 - answered 500: the provider retries
                        results.append((future, 0, exc))
            for future, version, exc in results:
                if future.done():
                    continue
                if exc is None:
                    future.set_result(version)
                else:
                    future.set_exception(exc)

    def inbound(self, params: dict[str, str]) -> int:
        now = self.clock()
        try:
            sender = parse_phone(params["From"]).e164
        except InvalidPhone:
            sender = params["From"].strip()
        with self.sessions.begin() as session:
            lock_change_log(session)
            collector = ChangeCollector(session)
            receive_text(
                session,
                load_settings(session),
                sid=params["MessageSid"],
                from_number=sender,
                to_number=params.get("To") or "",
                body=params.get("Body") or "",
                now=now,
            )
            return _log(session, collector)


_HOOKS = web.AppKey("csr_messaging", MessagingHooks)


def add_routes(app: web.Application, hooks: MessagingHooks) -> None:
    """Serve the messaging webhooks on the ingress application (before it starts)."""
    app[_HOOKS] = hooks
    app.router.add_post(STATUS_PATH, _status)
    app.router.add_post(INBOUND_PATH, _inbound)


def _malformed(request: web.Request, missing: str) -> web.Response:
    log.warning("event=webhook_malformed missing=%s path=%s remote=%s", missing, request.path, request.remote)
    return web.Response(status=403, text="Malformed webhook")


async def _stored(request: web.Request, work: Callable[[], Awaitable[int]]) -> web.Response:
    hooks = request.app[_HOOKS]
    try:
        version = await work()
    except Exception:  # noqa: BLE001 - not stored: 500, the provider delivers it again
        log.exception("event=messaging_store_failed path=%s", request.path)
        return web.Response(status=500, text="Not stored; please retry")
    if version and hooks.on_committed is not None:
        hooks.on_committed(version)
    if request.path == INBOUND_PATH and hooks.on_queued is not None:
        hooks.on_queued()
    return web.Response(text=EMPTY_TWIML, content_type="application/xml")


async def _status(request: web.Request) -> web.Response:
    params = await verified_params(request)
    if isinstance(params, web.Response):
        return params
    for name in ("MessageSid", "MessageStatus"):
        if not (params.get(name) or "").strip():
            return _malformed(request, name)
    hooks = request.app[_HOOKS]
    ref = request.query.get("n", "")
    return await _stored(request, lambda: hooks.status_grouped(params, ref))


async def _inbound(request: web.Request) -> web.Response:
    params = await verified_params(request)
    if isinstance(params, web.Response):
        return params
    for name in ("MessageSid", "From"):
        if not (params.get(name) or "").strip():
            return _malformed(request, name)
    hooks = request.app[_HOOKS]
    return await _stored(request, lambda: asyncio.to_thread(hooks.inbound, params))
