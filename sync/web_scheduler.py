"""The Web Scheduler: the public booking page, served by csr-server on a port of its own (--web-port).

ZIP → service → day and arrival window (held for a few minutes) → contact details → "request received"
(or "booked"). Plain forms, so the basic flow works without JavaScript; a small script only moves the
focus to errors. Each stored request goes into the change log in the transaction that stores it, and
every console is poked at once: it reaches the Bookings inbox through the ordinary sync.

Abuse: a per-address sliding hour on every POST and a per-phone daily cap, both counted in the database
so every instance counts them (an address already at its limit on this instance is turned away from
memory, before any database work), a honeypot field, a minimum fill time carried in a signed form token,
field size limits and a 16 KB body cap, a pluggable captcha hook (off by default), CSP
``frame-ancestors`` and CORS from the company's allowed origins (sync/web_limits.py). Database work runs on
the scheduler's own small thread pool, so a flood of bookings can't take the threads the consoles' sync
and the phone webhooks use; the pages' reads are shared and single-flight (sync/web_reads.py).
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import date, datetime
from importlib.resources import files
from typing import Any
from urllib.parse import urlencode

from aiohttp import web
from sqlalchemy.orm import Session, sessionmaker

from models.base import utcnow
from models.notify_online import queue_online_booking_received
from models.timeutil import as_utc, zone
from models.validation import ValidationFailed
from models.web_booking import CustomerMatch
from models.web_capacity import (
    WindowFilled,
    check_contact_form,
    check_zip,
    live_hold,
    offer_for,
    offers,
    place_hold,
    submit_request,
)

from . import web_pages as pages
from .apply import lock_change_log
from .call_desk import _log_changes
from .changes import ChangeCollector
from .web_limits import AddressCounting, AddressWindow
from .web_reads import READ_REUSE_SECONDS, PageContext, WebReads, reader_sessions

log = logging.getLogger("csr.server.web")
MAX_BODY = 16 * 1024
FORM_TOKEN_MAX_AGE = 6 * 3600  # a details form older than this is started again
Captcha = Callable[[web.Request, dict[str, str]], Awaitable[bool]]
_SCHEDULER: web.AppKey[WebScheduler] = web.AppKey("web_scheduler")
_ORIGINS: web.RequestKey[tuple[str, ...]] = web.RequestKey("csr_origins", tuple)


class WebScheduler(WebReads, AddressCounting):
    """The page's state: the store, the poke after a stored request, the clock, the optional captcha."""

    def __init__(
        self,
        sessions: sessionmaker[Session],
        secret: bytes,
        *,
        on_committed: Callable[[int], None] | None = None,
        clock: Callable[[], datetime] = utcnow,
        region: str = "US",
        captcha: Captcha | None = None,
        threads: int = 4,
        reuse_seconds: float = READ_REUSE_SECONDS,
    ) -> None:
        self.sessions = sessions
        self.readers = reader_sessions(sessions)  # the pages' reads never queue behind the writers
        self.key = hmac.new(secret, b"csr web scheduler form", hashlib.sha256).digest()
        self.on_committed = on_committed
        self.clock = clock
        self.region = region
        self.captcha = captcha
        self.addresses = AddressWindow()
        self._purged = 0.0  # when this instance last purged the per-address counts (epoch seconds)
        self.pool = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="web")
        self._init_reads(reuse_seconds)

    async def run(self, fn: Callable[..., Any], *args: Any) -> Any:
        return await asyncio.get_running_loop().run_in_executor(self.pool, fn, *args)

    def wrote(self) -> None:
        """A hold or a request was stored here: the next page reads capacity afresh."""
        self.changed()

    # -- the signed form token: when the details form was served, for which hold ------------------------
    def form_token(self, hold: str, now: datetime) -> str:
        stamp = str(int(as_utc(now).timestamp()))
        mac = hmac.new(self.key, f"{hold}.{stamp}".encode(), hashlib.sha256).hexdigest()[:32]
        return f"{stamp}.{mac}"

    def form_age(self, hold: str, token: str, now: datetime) -> float | None:
        """Seconds since the form was served; None when the token is not ours."""
        stamp, _, mac = token.partition(".")
        if not stamp.isdigit() or len(token) > 64:
            return None
        good = hmac.new(self.key, f"{hold}.{stamp}".encode(), hashlib.sha256).hexdigest()[:32]
        if not hmac.compare_digest(good, mac):
            return None
        return as_utc(now).timestamp() - int(stamp)

    def close(self) -> None:
        self.pool.shutdown(wait=False, cancel_futures=True)


def make_web_app(scheduler: WebScheduler) -> web.Application:
    app = web.Application(client_max_size=MAX_BODY, middlewares=[_guard])
    app[_SCHEDULER] = scheduler
    app.router.add_get("/", _index)
    app.router.add_get("/times", _times)
    app.router.add_post("/hold", _hold)
    app.router.add_get("/details", _details)
    app.router.add_post("/submit", _submit)
    app.router.add_get("/api/slots", _api_slots)
    app.router.add_get("/embed.js", _static_file("embed.js", "application/javascript"))
    app.router.add_get("/static/web.css", _static_file("web.css", "text/css"))
    app.router.add_get("/static/web.js", _static_file("web.js", "application/javascript"))
    app.router.add_get("/health", _health)
    app.on_cleanup.append(_cleanup)
    return app


async def _cleanup(app: web.Application) -> None:
    app[_SCHEDULER].close()


async def start_web(
    app: web.Application, host: str, port: int, *, ssl_context: Any = None
) -> tuple[web.AppRunner, int]:
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, host, port, backlog=1024, ssl_context=ssl_context)
    try:
        await site.start()
    except BaseException:
        await runner.cleanup()
        raise
    return runner, int(runner.addresses[0][1])


async def _health(request: web.Request) -> web.Response:
    return web.Response(text="ok")


def _static_file(name: str, content_type: str) -> Callable[[web.Request], Awaitable[web.Response]]:
    body = files("resources").joinpath("web", name).read_bytes()

    async def handler(request: web.Request) -> web.Response:
        return web.Response(body=body, content_type=content_type, headers={"Cache-Control": "max-age=300"})

    return handler


# -- security headers, CORS, and never a 500 for a client's mistake ------------------------------------
@web.middleware
async def _guard(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    try:
        response = await handler(request)
    except web.HTTPException as exc:
        await _secure(request, exc)  # 303 after a hold, 413 for an oversized body…
        raise
    except (UnicodeDecodeError, ValueError) as exc:
        log.info(
            "event=web_bad_request path=%s remote=%s error=%s",
            request.path,
            request.remote,
            type(exc).__name__,
        )
        response = web.Response(status=400, text="That request couldn't be read.")
    except Exception:  # noqa: BLE001 - logged; the browser gets a plain sentence, never a traceback
        log.exception("event=web_failed path=%s", request.path)
        response = web.Response(status=500, text="Something went wrong on our side. Please call us.")
    await _secure(request, response)
    return response


async def _secure(request: web.Request, response: web.StreamResponse) -> None:
    """CSP (frame-ancestors from the allowed origins) and CORS for an allowed origin."""
    origins = request.get(_ORIGINS)
    if origins is None:
        try:
            scheduler = request.app[_SCHEDULER]
            origins = (await scheduler.run(scheduler.context)).settings.allowed_origins
        except Exception:  # noqa: BLE001 - no origins: only this site may frame the page
            origins = ()
    ancestors = " ".join(("'self'", *origins))
    response.headers["Content-Security-Policy"] = (
        f"default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        f"form-action 'self'; base-uri 'none'; frame-ancestors {ancestors}"
    )
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "same-origin"
    origin = request.headers.get("Origin", "")
    if origin and origin.rstrip("/").lower() in origins:
        response.headers["Access-Control-Allow-Origin"] = origin
        response.headers["Vary"] = "Origin"


def _html(text: str, status: int = 200) -> web.Response:
    return web.Response(
        text=text, status=status, content_type="text/html", headers={"Cache-Control": "no-store"}
    )


def _param(data: Any, key: str, limit: int = 64) -> str:
    value = data.get(key, "")
    if not isinstance(value, str):
        raise web.HTTPBadRequest(text="That request couldn't be read.")
    if len(value) > limit:
        raise web.HTTPRequestEntityTooLarge(
            max_size=limit, actual_size=len(value), text="A field is too long."
        )
    return value.strip()


def _slot(text: str) -> tuple[date, str] | None:
    day, _, window = text.partition("|")
    try:
        return date.fromisoformat(day), window
    except ValueError:
        return None


async def _ctx(request: web.Request) -> PageContext:
    scheduler = request.app[_SCHEDULER]
    ctx = await scheduler.current_context()
    request[_ORIGINS] = ctx.settings.allowed_origins
    return ctx


def _company(ctx: PageContext) -> str:
    return ctx.setup.company_name or "Online booking"


def _tz_label(ctx: PageContext, now: datetime) -> str:
    return pages.zone_label(zone(ctx.setup.time_zone), now)


async def _limited(request: web.Request, ctx: PageContext) -> web.Response | None:
    scheduler = request.app[_SCHEDULER]
    address, limit = request.remote or "?", ctx.settings.requests_per_address_per_hour
    if not scheduler.addresses.full(address, limit) and await scheduler.run(
        scheduler.take_address, address, limit
    ):
        scheduler.addresses.add(address)
        return None
    log.warning("event=web_rate_limited remote=%s path=%s", request.remote, request.path)
    return _html(
        pages.message_page(
            _company(ctx), "Too many tries", "Too many requests from your network — please call us instead."
        ),
        429,
    )


# -- the steps -------------------------------------------------------------------------------------------
async def _index(request: web.Request) -> web.Response:
    ctx = await _ctx(request)
    company = _company(ctx)
    if not ctx.settings.enabled:
        return _html(pages.closed_page(company))
    utm = _param(request.query, "utm_campaign", 80)
    if "zip" not in request.query:
        return _html(pages.zip_page(company, utm=utm))
    zip_ = _param(request.query, "zip", 10)
    problem = check_zip(zip_, ctx.settings)
    if problem and problem.startswith(("A ZIP", "We don't know")):
        return _html(pages.zip_page(company, zip_, problem, utm), 422)
    if problem:
        return _html(pages.out_of_area_page(company, zip_, problem, utm))
    listed = [(o.job_type.id, o.public_name) for o in offers(ctx.setup, ctx.settings)]
    return _html(pages.services_page(company, zip_, listed, utm))


async def _slots(request: web.Request, ctx: PageContext, job_type_id: str, now: datetime) -> list:
    return await request.app[_SCHEDULER].slots(ctx, job_type_id, now)


async def _times(request: web.Request) -> web.Response:
    ctx = await _ctx(request)
    scheduler = request.app[_SCHEDULER]
    company = _company(ctx)
    if not ctx.settings.enabled:
        return _html(pages.closed_page(company))
    zip_, service = _param(request.query, "zip", 10), _param(request.query, "service")
    utm = _param(request.query, "utm_campaign", 80)
    problem = check_zip(zip_, ctx.settings)
    if problem:
        return _html(pages.zip_page(company, zip_, problem, utm), 422)
    listed = [(o.job_type.id, o.public_name) for o in offers(ctx.setup, ctx.settings)]
    try:
        offer = offer_for(ctx.setup, ctx.settings, service)
    except ValidationFailed:
        return _html(pages.services_page(company, zip_, listed, utm, "Pick what you need."), 422)
    now = scheduler.clock()
    slots = await _slots(request, ctx, service, now)
    return _html(
        pages.times_page(company, zip_, service, offer.public_name, slots, _tz_label(ctx, now), utm=utm)
    )


async def _hold(request: web.Request) -> web.Response:
    ctx = await _ctx(request)
    scheduler = request.app[_SCHEDULER]
    company = _company(ctx)
    if not ctx.settings.enabled:
        return _html(pages.closed_page(company))
    if (refused := await _limited(request, ctx)) is not None:
        return refused
    form = await request.post()
    zip_, service = _param(form, "zip", 10), _param(form, "service")
    utm, slot_text = _param(form, "utm_campaign", 80), _param(form, "slot", 80)
    if check_zip(zip_, ctx.settings):
        return _html(pages.zip_page(company, zip_, check_zip(zip_, ctx.settings) or "", utm), 422)
    try:
        offer = offer_for(ctx.setup, ctx.settings, service)
    except ValidationFailed:
        listed = [(o.job_type.id, o.public_name) for o in offers(ctx.setup, ctx.settings)]
        return _html(pages.services_page(company, zip_, listed, utm, "Pick what you need."), 422)
    now = scheduler.clock()
    slot = _slot(slot_text)
    if slot is None:
        slots = await _slots(request, ctx, service, now)
        return _html(
            pages.times_page(
                company,
                zip_,
                service,
                offer.public_name,
                slots,
                _tz_label(ctx, now),
                utm=utm,
                error="Pick an arrival window.",
            ),
            422,
        )

    def hold() -> str:
        with scheduler.sessions.begin() as session:
            return place_hold(session, ctx.setup, ctx.settings, service, slot[0], slot[1], now).id

    try:
        hold_id = await scheduler.run(hold)
        scheduler.wrote()
    except ValidationFailed as exc:
        slots = await _slots(request, ctx, service, now)
        message = next(iter(exc.errors.values()), "Pick an arrival window.")
        return _html(
            pages.times_page(
                company, zip_, service, offer.public_name, slots, _tz_label(ctx, now), utm=utm, error=message
            ),
            422,
        )
    except WindowFilled as exc:
        scheduler.wrote()  # the read this page showed was out of date: the next one reads afresh
        return _html(
            pages.times_page(
                company,
                zip_,
                service,
                offer.public_name,
                exc.nearest,
                _tz_label(ctx, now),
                utm=utm,
                note=str(exc),
            ),
            409,
        )
    query = {"hold": hold_id, "zip": zip_, "service": service, "slot": slot_text}
    if utm:
        query["utm_campaign"] = utm
    raise web.HTTPSeeOther(location="details?" + urlencode(query))


def _window_label(ctx: PageContext, slot: tuple[date, str]) -> str:
    window = next((w for w in ctx.setup.windows if w.id == slot[1]), None)
    day = slot[0]
    if window is None:
        return f"{day:%A, %B} {day.day}"
    return f"{day:%A, %B} {day.day}, {pages.clock(window.start)}–{pages.clock(window.end)}"


async def _details(request: web.Request) -> web.Response:
    ctx = await _ctx(request)
    scheduler = request.app[_SCHEDULER]
    company = _company(ctx)
    if not ctx.settings.enabled:
        return _html(pages.closed_page(company))
    hold_id, zip_ = _param(request.query, "hold"), _param(request.query, "zip", 10)
    utm = _param(request.query, "utm_campaign", 80)
    now = scheduler.clock()

    def read() -> Any:
        with scheduler.readers() as session:
            hold = live_hold(session, hold_id, now)
            return (
                None
                if hold is None
                else (hold.expires_at, hold.job_type_id, hold.day, hold.arrival_window_id)
            )

    held = await scheduler.run(read)
    if held is None:
        return _html(
            pages.message_page(
                company,
                "That hold ran out",
                "We held that window for a few minutes only — please pick a time again.",
            ),
            410,
        )
    expires, job_type_id, day, window_id = held
    offer = offer_for(ctx.setup, ctx.settings, job_type_id)
    tz = zone(ctx.setup.time_zone)
    until = pages.clock(as_utc(expires).astimezone(tz).time())
    slot = (day, window_id)
    return _html(
        pages.details_page(
            company,
            hold=hold_id,
            token=scheduler.form_token(hold_id, now),
            service_name=offer.public_name,
            window_label=_window_label(ctx, slot),
            held_until=f"{until} ({_tz_label(ctx, now)})",
            values={"zip": zip_},
            errors={},
            utm=utm,
            job_type_id=job_type_id,
            slot=f"{day.isoformat()}|{window_id}",
        )
    )


async def _submit(request: web.Request) -> web.Response:
    ctx = await _ctx(request)
    scheduler = request.app[_SCHEDULER]
    company = _company(ctx)
    if not ctx.settings.enabled:
        return _html(pages.closed_page(company))
    if (refused := await _limited(request, ctx)) is not None:
        return refused
    form = await request.post()
    raw = {k: _param(form, k, 2000) for k in (*pages.CONTACT_LABELS, "utm_campaign", "sms_consent")}
    hold_id, token = _param(form, "hold"), _param(form, "t", 64)
    service, slot_text = _param(form, "service"), _param(form, "slot", 80)
    now = scheduler.clock()
    slot = _slot(slot_text)
    try:
        offer = offer_for(ctx.setup, ctx.settings, service)
    except ValidationFailed:
        offer = None
    if slot is None or offer is None:
        return _html(
            pages.message_page(company, "Let's start again", "Please pick the service and the time again."),
            422,
        )
    tz_label = _tz_label(ctx, now)
    label = _window_label(ctx, slot)
    if _param(form, "website", 200):
        # The honeypot: a bot filled the hidden field. It sees the usual page; nothing is stored.
        log.warning("event=web_honeypot remote=%s", request.remote)
        return _html(
            pages.done_page(
                company, booked=False, service_name=offer.public_name, window_label=label, tz_label=tz_label
            )
        )

    def again(errors: dict[str, str], status: int, *, restart_clock: bool = False) -> web.Response:
        # The form comes back with its problems; the time the customer already spent still counts, unless
        # they were too quick (then the minimum fill time starts again).
        return _html(
            pages.details_page(
                company,
                hold=hold_id,
                token=scheduler.form_token(hold_id, now) if restart_clock else token,
                service_name=offer.public_name,
                window_label=label,
                held_until="",
                values=raw | {"sms_consent": raw.get("sms_consent") in ("1", "on")},
                errors=errors,
                utm=raw["utm_campaign"],
                job_type_id=service,
                slot=slot_text,
            ),
            status,
        )

    age = scheduler.form_age(hold_id, token, now)
    if age is None or age > FORM_TOKEN_MAX_AGE:
        return _html(
            pages.message_page(
                company, "Let's start again", "This form is out of date — please pick a time again."
            ),
            400,
        )
    if age < ctx.settings.min_fill_seconds:
        log.warning("event=web_too_fast remote=%s seconds=%.1f", request.remote, age)
        return again(
            {"form": "That was very quick — please check your details and send them again."},
            422,
            restart_clock=True,
        )
    if scheduler.captcha is not None and not await scheduler.captcha(
        request, {k: str(v) for k, v in form.items()}
    ):
        return again({"form": "Please complete the check that you're not a robot."}, 422)
    values, errors = check_contact_form(raw, ctx.settings, scheduler.region)
    if errors:
        return again(errors, 422)

    def store() -> tuple[int, Any]:
        with scheduler.sessions.begin() as session:
            collector = ChangeCollector(session)
            submitted = submit_request(
                session,
                ctx.setup,
                ctx.settings,
                job_type_id=service,
                day=slot[0],
                window_id=slot[1],
                hold_id=hold_id,
                values=values,
                now=now,
            )
            queue_online_booking_received(session, submitted.request_id, now)  # docs/notifications.md
            lock_change_log(session)
            return _log_changes(session, collector), submitted

    try:
        version, submitted = await scheduler.run(store)
        scheduler.wrote()
    except ValidationFailed as exc:
        status = 429 if "phone" in exc.errors and "already" in exc.errors["phone"] else 422
        return again(exc.errors, status)
    except WindowFilled as exc:
        scheduler.wrote()  # the read this page showed was out of date: the next one reads afresh
        return _html(
            pages.times_page(
                company,
                values["zip"],
                service,
                offer.public_name,
                exc.nearest,
                tz_label,
                utm=values["utm_campaign"],
                note=str(exc),
            ),
            409,
        )
    log.info("event=web_request id=%s match=%s", submitted.request_id, submitted.customer_match)
    if version and scheduler.on_committed is not None:
        scheduler.on_committed(version)
    if submitted.customer_match == CustomerMatch.DO_NOT_SERVICE.value:
        return _html(pages.refused_page(company))
    return _html(
        pages.done_page(
            company,
            booked=submitted.status == "Booked",
            service_name=offer.public_name,
            window_label=label,
            tz_label=tz_label,
        )
    )


async def _api_slots(request: web.Request) -> web.Response:
    """Free online windows as JSON (the overlay script and load tests read it)."""
    ctx = await _ctx(request)
    scheduler = request.app[_SCHEDULER]
    if not ctx.settings.enabled:
        return web.json_response({"error": "closed"}, status=404)
    service = _param(request.query, "service")
    try:
        offer_for(ctx.setup, ctx.settings, service)
    except ValidationFailed as exc:
        return web.json_response({"error": exc.errors}, status=422)
    now = scheduler.clock()
    slots = await _slots(request, ctx, service, now)
    return web.json_response(
        {
            "time_zone": ctx.setup.time_zone,
            "slots": [
                {
                    "slot": s.key,
                    "day": s.day.isoformat(),
                    "window": s.window_name,
                    "start": f"{s.start:%H:%M}",
                    "end": f"{s.end:%H:%M}",
                }
                for s in slots
                if s.fits
            ],
        }
    )
