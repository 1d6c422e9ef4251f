"""`csr-msgsim`: a local STAND-IN of Twilio's Messages API, for tests and the demo — not Twilio.

It speaks the published shapes (docs/notifications.md): ``POST /2010-04-01/Accounts/{Sid}/Messages.json``
(form-encoded; HTTP basic auth AccountSid:AuthToken; ``To``, ``From`` or ``MessagingServiceSid``,
``Body``, ``StatusCallback``) answers 201 with the Message resource as JSON (``sid``, ``status`` queued,
…) or a Twilio error object (``code``, ``message``, ``status``); ``GET …/Messages.json`` lists messages
(filters ``To``, ``From``, ``DateSent>``). After accepting a message it posts the status callbacks
Twilio posts — ``sent`` then ``delivered``, or ``undelivered``/``failed`` with ``ErrorCode`` — signed
with X-Twilio-Signature exactly as Twilio signs them, and it can send a customer's text to the
inbound webhook, signed the same way.

How a number behaves is set per number (``behave``): a refusal at the API (21610 opted out, 21211
invalid), a delivery failure (30006 landline → undelivered), or a run of 5xx answers (``fail_next``).
``GET /sent`` shows what was sent (the demo's "Sent messages" log).
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import itertools
import json
import logging
import os
import re
import secrets
import sys
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

import aiohttp
from aiohttp import web
from twilio.request_validator import RequestValidator

FORM = {"Content-Type": "application/x-www-form-urlencoded"}
log = logging.getLogger("csr.msgsim")
API_VERSION = "2010-04-01"
_E164 = re.compile(r"^\+[1-9]\d{6,14}$")
_MESSAGES = re.compile(r"^/2010-04-01/Accounts/(?P<sid>AC[0-9a-zA-Z]+)/Messages\.json$")


def _rfc2822(moment: datetime) -> str:
    return moment.strftime("%a, %d %b %Y %H:%M:%S +0000")


@dataclass
class Behaviour:
    """What happens to texts to one number."""

    api_error: str = ""  # refused at once with this code (e.g. 21610, 21211)
    delivery_error: str = ""  # accepted, then undelivered with this code (e.g. 30006)


@dataclass
class SimMessage:
    sid: str
    to: str
    from_: str
    messaging_service_sid: str
    body: str
    status: str
    status_callback: str
    created: datetime
    error_code: str = ""

    def resource(self, account: str) -> dict[str, Any]:
        return {
            "sid": self.sid,
            "account_sid": account,
            "api_version": API_VERSION,
            "to": self.to,
            "from": self.from_ or None,
            "messaging_service_sid": self.messaging_service_sid or None,
            "body": self.body,
            "status": self.status,
            "num_segments": str(max(1, -(-len(self.body) // 153))),
            "num_media": "0",
            "direction": "outbound-api",
            "error_code": int(self.error_code) if self.error_code else None,
            "error_message": None,
            "date_created": _rfc2822(self.created),
            "date_updated": _rfc2822(self.created),
            "date_sent": _rfc2822(self.created),
            "price": None,
            "price_unit": "USD",
            "uri": f"/{API_VERSION}/Accounts/{account}/Messages/{self.sid}.json",
        }


@dataclass
class MessagesSim:
    """The stand-in's state; ``app()`` serves it."""

    account_sid: str
    auth_token: str = field(repr=False)
    inbound_url: str = ""  # where customers' texts go (the server's inbound webhook)
    callback_delay: float = 0.01
    log_path: str = ""
    behave: dict[str, Behaviour] = field(default_factory=dict)
    fail_next: int = 0  # answer this many sends with 500 first
    messages: list[SimMessage] = field(default_factory=list)
    callbacks_sent: int = 0
    _tasks: set[asyncio.Task[None]] = field(default_factory=set, repr=False)
    _http: aiohttp.ClientSession | None = field(default=None, repr=False)
    _seq: itertools.count = field(default_factory=itertools.count, repr=False)

    def __post_init__(self) -> None:
        self.validator = RequestValidator(self.auth_token)

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_post(f"/{API_VERSION}/Accounts/{{sid}}/Messages.json", self._create)
        app.router.add_get(f"/{API_VERSION}/Accounts/{{sid}}/Messages.json", self._list)
        app.router.add_get("/sent", self._sent)
        app.on_cleanup.append(self._cleanup)
        return app

    async def _cleanup(self, _app: web.Application) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._http is not None:
            await self._http.close()

    def _authorized(self, request: web.Request, sid: str) -> bool:
        kind, _, encoded = request.headers.get("Authorization", "").partition(" ")
        try:
            login, _, password = base64.b64decode(encoded, validate=True).decode().partition(":")
        except (ValueError, UnicodeDecodeError):
            return False
        return kind == "Basic" and sid == self.account_sid == login and password == self.auth_token

    @staticmethod
    def _error(status: int, code: int, message: str) -> web.Response:
        body = {
            "code": code,
            "message": message,
            "more_info": f"https://www.twilio.com/docs/errors/{code}",
            "status": status,
        }
        return web.json_response(body, status=status)

    async def _create(self, request: web.Request) -> web.Response:
        sid = request.match_info["sid"]
        if not self._authorized(request, sid):
            return self._error(401, 20003, "Authenticate")
        if self.fail_next > 0:
            self.fail_next -= 1
            return self._error(500, 20500, "Internal Server Error")
        form = await request.post()
        to, body = str(form.get("To") or ""), str(form.get("Body") or "")
        from_, service = str(form.get("From") or ""), str(form.get("MessagingServiceSid") or "")
        if not to:
            return self._error(400, 21604, "A 'To' phone number is required.")
        if not _E164.match(to):
            return self._error(400, 21211, f"The 'To' number {to} is not a valid phone number.")
        if bool(from_) == bool(service):
            return self._error(400, 21603, "Exactly one of 'From' or 'MessagingServiceSid' is required.")
        if not body:
            return self._error(400, 21602, "Message body is required.")
        behaviour = self.behave.get(to, Behaviour())
        if behaviour.api_error == "21610":
            return self._error(400, 21610, "Attempt to send to unsubscribed recipient")
        if behaviour.api_error:
            return self._error(400, int(behaviour.api_error), f"Error {behaviour.api_error}")
        message = SimMessage(
            sid=f"SM{secrets.token_hex(16)}",
            to=to,
            from_=from_,
            messaging_service_sid=service,
            body=body,
            status="accepted" if service else "queued",
            status_callback=str(form.get("StatusCallback") or ""),
            created=datetime.now(UTC),
        )
        self.messages.append(message)
        self._log(message)
        task = asyncio.create_task(self._progress(message, behaviour))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return web.json_response(message.resource(self.account_sid), status=201)

    async def _list(self, request: web.Request) -> web.Response:
        sid = request.match_info["sid"]
        if not self._authorized(request, sid):
            return self._error(401, 20003, "Authenticate")
        to, from_ = request.query.get("To", ""), request.query.get("From", "")
        after = request.query.get("DateSent>", "")
        found = [
            m
            for m in self.messages
            if (not to or m.to == to)
            and (not from_ or m.from_ == from_)
            and (not after or m.created.strftime("%Y-%m-%d") >= after)
        ]
        return web.json_response(
            {
                "messages": [m.resource(self.account_sid) for m in reversed(found)],
                "page": 0,
                "page_size": len(found),
            }
        )

    async def _sent(self, request: web.Request) -> web.Response:
        return web.json_response(
            [
                {"sid": m.sid, "to": m.to, "body": m.body, "status": m.status, "at": m.created.isoformat()}
                for m in self.messages
            ]
        )

    def _log(self, m: SimMessage) -> None:
        if self.log_path:
            with open(self.log_path, "a", encoding="utf-8") as out:
                out.write(
                    json.dumps({"at": m.created.isoformat(), "to": m.to, "body": m.body, "sid": m.sid}) + "\n"
                )

    async def _progress(self, message: SimMessage, behaviour: Behaviour) -> None:
        """Twilio's callbacks for a message: sent, then delivered (or undelivered with the error)."""
        await asyncio.sleep(self.callback_delay)
        await self._callback(message, "sent")
        await asyncio.sleep(self.callback_delay)
        if behaviour.delivery_error:
            await self._callback(message, "undelivered", behaviour.delivery_error)
        else:
            await self._callback(message, "delivered")

    async def _callback(self, message: SimMessage, status: str, error: str = "") -> None:
        message.status, message.error_code = status, error
        if not message.status_callback:
            return
        params = {
            "AccountSid": self.account_sid,
            "ApiVersion": API_VERSION,
            "From": message.from_,
            "To": message.to,
            "MessageSid": message.sid,
            "SmsSid": message.sid,
            "SmsStatus": status,
            "MessageStatus": status,
        }
        if message.messaging_service_sid:
            params["MessagingServiceSid"] = message.messaging_service_sid
        if error:
            params["ErrorCode"] = error
        if status in ("delivered", "undelivered"):
            params["RawDlrDoneDate"] = datetime.now(UTC).strftime("%y%m%d%H%M")
        await self.post_signed(message.status_callback, params)
        self.callbacks_sent += 1

    async def post_signed(self, url: str, params: dict[str, str]) -> int:
        """POST ``params`` form-encoded to ``url`` signed as Twilio signs; the HTTP status (0: unreachable)."""
        if self._http is None:
            self._http = aiohttp.ClientSession()
        headers = {"X-Twilio-Signature": self.validator.compute_signature(url, params), **FORM}
        body = urlencode(params).encode()  # encoded once: aiohttp's FormData costs more than the POST
        for attempt in range(3):
            try:
                async with self._http.post(url, data=body, headers=headers) as response:
                    await response.read()
                    if response.status < 500:
                        return response.status
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.2 * (attempt + 1))
        return 0

    async def text_in(self, from_number: str, to_number: str, body: str) -> int:
        """A customer texts the company: the inbound webhook, signed. The HTTP status it got."""
        n = next(self._seq)
        params = {
            "AccountSid": self.account_sid,
            "ApiVersion": API_VERSION,
            "MessageSid": f"SM{secrets.token_hex(12)}{n:08x}",
            "SmsSid": "",
            "From": from_number,
            "To": to_number,
            "Body": body,
            "NumMedia": "0",
            "NumSegments": "1",
        }
        params["SmsSid"] = params["MessageSid"]
        return await self.post_signed(self.inbound_url, params)


async def serve(sim: MessagesSim, host: str = "127.0.0.1", port: int = 0) -> tuple[web.AppRunner, int]:
    runner = web.AppRunner(sim.app(), access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    await site.start()
    return runner, int(runner.addresses[0][1])


async def _watch_parent(stop: asyncio.Event) -> None:
    """The demo's stand-in stops when the console that started it is gone (even after a kill -9)."""
    from .parent_watch import watch_parent

    await watch_parent(stop)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        prog="csr-msgsim", description="A local stand-in of Twilio's Messages API (not Twilio)."
    )
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=0)
    p.add_argument("--account-sid", default="AC" + "0" * 32)
    p.add_argument("--auth-token-file", default="", help="the auth token (else $CSR_TWILIO_AUTH_TOKEN)")
    p.add_argument("--inbound-url", default="")
    p.add_argument("--log", default="", help="append every message sent, one JSON line each")
    p.add_argument("--exit-with-parent", action="store_true", help=argparse.SUPPRESS)  # the demo's stand-in
    args = p.parse_args(argv)
    if args.auth_token_file:
        with open(args.auth_token_file, encoding="utf-8") as f:
            token = f.read().strip()
    else:
        token = os.environ.get("CSR_TWILIO_AUTH_TOKEN", "").strip()
    if not token:
        p.error("an auth token is needed: --auth-token-file FILE or $CSR_TWILIO_AUTH_TOKEN")
    sim = MessagesSim(args.account_sid, token, inbound_url=args.inbound_url, log_path=args.log)

    async def run() -> None:
        runner, port = await serve(sim, args.host, args.port)
        print(f"csr-msgsim: Messages API stand-in on http://{args.host}:{port}", flush=True)
        stop = asyncio.Event()
        watch = asyncio.create_task(_watch_parent(stop)) if args.exit_with_parent else None
        with contextlib.suppress(asyncio.CancelledError):
            await stop.wait()
        if watch is not None:
            watch.cancel()
        await runner.cleanup()

    logging.basicConfig(level=os.environ.get("CSR_LOG_LEVEL", "WARNING"))
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(run())
    return 0


if __name__ == "__main__":
    sys.exit(main())
