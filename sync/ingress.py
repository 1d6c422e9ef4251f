"""csr-server's HTTP ingress for phone-system webhooks: an aiohttp application on its own port, next to
the consoles' websocket endpoint (docs/telephony.md).

Every request goes the same way: the signature first (missing or wrong → 403 "Invalid signature",
logged with the remote address, nothing recorded), then the body (too big → 413, unreadable → 400),
then the adapter turns it into provider-neutral events, which the sink stores durably *before* we
answer. If storing fails we answer 500, so the provider delivers the callback again; a redelivery
carries the same provider keys, so storing twice is harmless.
"""

from __future__ import annotations

import json
import logging
import ssl
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol
from urllib.parse import parse_qsl

from aiohttp import web
from multidict import MultiDict

from models.base import utcnow
from models.call_rules import caller_number
from models.calls import NeutralEvent

from .telephony import twilio
from .telephony.twilio import MalformedWebhook, SignatureCheck, TwilioUrls

log = logging.getLogger("csr.server.ingress")
# Twilio's requests are a few kilobytes; anything this big is not a phone system talking.
MAX_BODY = 64 * 1024
MAX_FIELDS = 200
HEALTH_PATH = "/healthz"


class CallSink(Protocol):
    """Where the ingress hands its events (the server's call store implements it)."""

    async def record(self, events: list[NeutralEvent]) -> None:
        """Store the events durably (a provider key already stored is skipped); raise to make the
        provider retry."""

    def agents_to_ring(self) -> list[str]:
        """The Client identities of the CSRs whose phones should ring for a new call, best first.
        Called on the event loop for every incoming call: keep it cheap (no database round trip)."""


@dataclass
class _Ingress:
    sink: CallSink
    check: SignatureCheck
    urls: TwilioUrls
    caller_id: str
    clock: Callable[[], datetime]


_INGRESS = web.AppKey("csr_ingress", _Ingress)


def make_app(
    sink: CallSink,
    auth_token: str,
    public_url: str,
    *,
    caller_id: str = "",
    clock: Callable[[], datetime] = utcnow,
) -> web.Application:
    """The webhook application. ``public_url`` is the base URL the provider was configured with (e.g.
    https://calls.example.com): signatures are computed over it, whatever address we listen on.
    ``caller_id`` is the number shown to customers a CSR calls (softphone or click-to-call)."""
    app = web.Application(client_max_size=MAX_BODY)
    app[_INGRESS] = _Ingress(
        sink, SignatureCheck(auth_token), TwilioUrls.from_public_url(public_url), caller_id, clock
    )
    app.router.add_post(twilio.VOICE_PATH, _voice)
    app.router.add_post(twilio.STATUS_PATH, _status)
    app.router.add_post(twilio.RECORDING_PATH, _recording)
    app.router.add_post(twilio.CALLBACK_PATH, _callback)
    app.router.add_get(HEALTH_PATH, _health)
    return app


def set_public_url(app: web.Application, public_url: str) -> None:
    """Change the public URL after start (e.g. a demo that only knows its port once listening)."""
    app[_INGRESS].urls = TwilioUrls.from_public_url(public_url)


async def start_ingress(
    app: web.Application, host: str, port: int, *, ssl_context: ssl.SSLContext | None = None
) -> tuple[web.AppRunner, int]:
    """Serve ``app`` on host:port (0: any free port); returns the runner (``await runner.cleanup()``
    stops it) and the port actually bound."""
    # No access log: at hundreds of webhooks a second it would be most of the server's output.
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    # A burst of calls opens many connections at once: a deep listen backlog keeps them all.
    site = web.TCPSite(runner, host, port, backlog=1024, ssl_context=ssl_context)
    try:
        await site.start()
    except BaseException:
        await runner.cleanup()
        raise
    return runner, int(runner.addresses[0][1])


async def _health(request: web.Request) -> web.Response:
    return web.Response(text="ok")


def _refuse(request: web.Request, reason: str) -> web.Response:
    # Never the token, never the signature: what was refused, and from where.
    log.warning("event=webhook_refused reason=%s path=%s remote=%s", reason, request.path, request.remote)
    return web.Response(status=403, text="Invalid signature")


def _bad(request: web.Request, reason: str) -> web.Response:
    log.warning("event=webhook_malformed reason=%s path=%s remote=%s", reason, request.path, request.remote)
    return web.Response(status=400, text="Malformed webhook")


def _json_params(text: str) -> dict[str, str]:
    data = json.loads(text)
    if not isinstance(data, dict):
        raise ValueError("not an object")
    return {str(k): v if isinstance(v, str) else json.dumps(v) for k, v in data.items()}


async def _verified_params(request: web.Request) -> dict[str, str] | web.Response:
    """The request's parameters once its signature holds, or the refusal to send."""
    ingress = request.app[_INGRESS]
    signature = request.headers.get(twilio.SIGNATURE_HEADER, "")
    if not signature:
        return _refuse(request, "missing_signature")
    if twilio.SHARED_KEY_HEADER in request.headers:
        return _refuse(request, "shared_key_signature")
    if request.content_length is not None and request.content_length > MAX_BODY:
        log.warning(
            "event=webhook_too_large path=%s remote=%s bytes=%d",
            request.path,
            request.remote,
            request.content_length,
        )
        return web.Response(status=413, text="Request too large")
    try:
        body = await request.read()  # client_max_size stops a body without Content-Length
    except web.HTTPRequestEntityTooLarge:
        log.warning("event=webhook_too_large path=%s remote=%s", request.path, request.remote)
        return web.Response(status=413, text="Request too large")
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        return _bad(request, "not_utf8")
    url = ingress.urls.signed_url(request.raw_path)
    if request.content_type == "application/json":
        if not ingress.check.json_body(url, text, signature):
            return _refuse(request, "bad_signature")
        try:
            return _json_params(text)
        except (ValueError, RecursionError):  # not JSON, not an object, or nested absurdly deep
            return _bad(request, "bad_json")
    try:
        pairs = parse_qsl(text, keep_blank_values=True, max_num_fields=MAX_FIELDS, errors="strict")
    except ValueError:  # too many fields, or escapes that aren't UTF-8
        return _bad(request, "bad_form")
    # A MultiDict, so a repeated name is signed the way the provider signed it (every value).
    if not ingress.check.form(url, MultiDict(pairs), signature):
        return _refuse(request, "bad_signature")
    return dict(pairs)


# The messaging webhooks (sync/notify_webhooks.py) check signatures the same way.
verified_params = _verified_params


async def _accept(
    request: web.Request, params: Mapping[str, str], events: list[NeutralEvent], answer: str
) -> web.Response:
    if events:
        try:
            await request.app[_INGRESS].sink.record(events)
        except Exception:  # noqa: BLE001 - any store failure: 500, and the provider delivers again
            log.exception(
                "event=webhook_store_failed path=%s call=%s", request.path, params.get("CallSid", "")
            )
            return web.Response(status=500, text="Not stored; please retry")
    return web.Response(text=answer, content_type="application/xml")


async def _voice(request: web.Request) -> web.Response:
    params = await _verified_params(request)
    if isinstance(params, web.Response):
        return params
    ingress = request.app[_INGRESS]
    softphone = (params.get("From") or "").startswith(twilio.CLIENT_PREFIX)
    try:
        # A click-to-call the CSR answered: the URL we gave the provider names the customer's number.
        dial = twilio.dial_number(request.query.get("dial", ""))
        placed = softphone or bool(dial)
        agents = [] if placed else ingress.sink.agents_to_ring()
        # CSRs with a SIP seat are rung at it (<Dial><Sip>); the others as Client identities.
        seats = getattr(ingress.sink, "seat_addresses", dict)() if agents else {}
        events = twilio.voice_events(
            params,
            ingress.clock(),
            waiting=not placed and not agents,
            dial=dial,
            agent=request.query.get("agent", "")[:60],
        )
    except MalformedWebhook as exc:
        return _bad(request, f"missing_{exc}")
    except Exception:  # noqa: BLE001 - the sink could not say who is free: 500, the provider retries
        log.exception("event=agents_to_ring_failed call=%s", params.get("CallSid", ""))
        return web.Response(status=500, text="Please retry")
    # Business hours and the longest wait (models/routing.py): voicemail instead of ringing or waiting.
    voicemail = ""
    route = getattr(ingress.sink, "voicemail_reason", None)
    if not placed and route is not None:
        try:
            voicemail = await route(params.get("CallSid") or "", ingress.clock())
        except Exception:  # noqa: BLE001 - routing can't be read: ring as before, and say so in the log
            log.exception("event=routing_failed call=%s", params.get("CallSid", ""))
    if voicemail:
        events = twilio.voice_events(params, ingress.clock(), waiting=False)
        events.append(twilio.voicemail_event(params, ingress.clock()))
        # A callback offered first ("press 1"), when the company wants it and we have a number to call.
        answer = twilio.voicemail_twiml(ingress.urls, voicemail)
        if caller_number(params.get("From") or "") and await _offers_callback(ingress.sink, params):
            answer = twilio.callback_offer_twiml(ingress.urls, voicemail)
        return await _accept(request, params, events, answer)
    answer = twilio.voice_twiml(
        params,
        agents,
        ingress.urls,
        hold=request.query.get("hold") == "1",
        caller_id=ingress.caller_id,
        dial_to=dial,
        seats=seats,
    )
    return await _accept(request, params, events, answer)


async def _offers_callback(sink: CallSink, params: Mapping[str, str]) -> bool:
    offers = getattr(sink, "offers_callback", None)
    if offers is None:
        return False
    try:
        return bool(await offers())
    except Exception:  # noqa: BLE001 - the setting can't be read: plain voicemail, and say so in the log
        log.exception("event=callback_setting_failed call=%s", params.get("CallSid", ""))
        return False


async def _callback(request: web.Request) -> web.Response:
    """The callback offer's <Gather> action: 1 opens the caller's callback item (once, however often
    the provider delivers it) and says goodbye; another key leads to the voicemail."""
    params = await _verified_params(request)
    if isinstance(params, web.Response):
        return params
    ingress = request.app[_INGRESS]
    try:
        events = twilio.callback_events(params, ingress.clock())
    except MalformedWebhook as exc:
        return _bad(request, f"missing_{exc}")
    return await _accept(request, params, events, twilio.callback_answer_twiml(params, ingress.urls))


async def _status(request: web.Request) -> web.Response:
    params = await _verified_params(request)
    if isinstance(params, web.Response):
        return params
    ingress = request.app[_INGRESS]
    try:
        events = twilio.status_events(
            params,
            ingress.clock(),
            twilio.dial_number(request.query.get("dial", "")),
            agent=request.query.get("agent", "")[:60],
        )
    except MalformedWebhook as exc:
        return _bad(request, f"missing_{exc}")
    return await _accept(request, params, events, twilio.status_twiml(params, ingress.urls))


async def _recording(request: web.Request) -> web.Response:
    params = await _verified_params(request)
    if isinstance(params, web.Response):
        return params
    ingress = request.app[_INGRESS]
    try:
        events = twilio.recording_events(params, ingress.clock())
    except MalformedWebhook as exc:
        return _bad(request, f"missing_{exc}")
    return await _accept(request, params, events, twilio.empty_twiml())
