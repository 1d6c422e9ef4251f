"""`csr-scsim`: a local STAND-IN for ServiceChannel's API v3 — the subset the adapter uses, in the shapes
of the published API definition (docs/servicechannel.md). It is not ServiceChannel: tests, benchmarks and
`--demo` use it because the real platform cannot run here.

What it serves (one aiohttp application):

- ``POST /oauth/token`` — HTTP Basic client credentials; ``grant_type=password`` then ``refresh_token``;
  short-lived access tokens (``--token-ttl``). A bad client gets a 302 to an HTML login page, as the
  platform does.
- ``GET /odata/workorders`` (``$filter``, ``$top`` capped at 50, ``$skip``, ``$count``; no nextLink),
  ``GET /workorders/{id}``, ``PUT /workorders/{id}/accept | /decline | /status``,
  ``POST /workorders/{id}/notes``, ``POST /workorders/{id}/universalCheckIn | universalCheckOut``,
  ``GET /workorders/statuses?subscriberId=``, ``POST /NotificationWebHooks``,
  ``GET /NotificationSubscriptions/SigningKey``.
- A rate limit (``--rate-limit`` calls per ``--rate-window`` seconds) answered with the platform's 429
  (``Retry-After`` as an HTTP date); 429s and 5xx on demand.
- Deliveries: every change to a work order is POSTed to each enabled webhook, signed (``Sign-Type:
  HMACSHA256``, ``Sign-Data``), retried 3 times ``--retry-seconds`` apart, then dropped — as the platform.

Test controls live under ``/_sim/`` (not part of the API): create work orders, inject faults, redeliver
an event, read the log of writes the stand-in accepted.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import email.utils
import json
import logging
import random
import secrets
import sys
import time
from collections import deque
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import aiohttp
from aiohttp import web

from models.base import utcnow

from .scsim_data import (
    DECLINE_REASONS,
    DEFAULT_STATUSES,
    SIGN_DATA_HEADER,
    SIGN_TYPE,
    SIGN_TYPE_HEADER,
    iso,
    make_work_order,
    odata_filter,
    sign,
)

log = logging.getLogger("csr.scsim")
PAGE_CAP = 50


@dataclass
class Fault:
    """``count`` API requests answered with ``status`` (429 with the platform's body and Retry-After). A
    status of 0 stalls instead: the request is carried out, then its answer waits ``stall`` seconds (a
    client that dies meanwhile never learns it went through)."""

    status: int
    count: int
    paths: str = ""  # only requests whose path contains this ("" = every API request)
    stall: float = 0.0


@dataclass
class ScSim:
    """The stand-in's state. ``app()`` serves it; everything else is for tests and the demo."""

    client_id: str = "csr-console"
    client_secret: str = "sim-secret"
    username: str = "provider-api"
    password: str = "sim-password"
    token_ttl: float = 600.0
    rate_limit: int = 40
    rate_window: float = 60.0
    retry_seconds: float = 300.0
    seed: int = 1
    signing_key: str = field(default_factory=lambda: base64.b64encode(secrets.token_bytes(32)).decode())
    work_orders: dict[int, dict[str, Any]] = field(default_factory=dict)
    notes: dict[int, list[dict[str, Any]]] = field(default_factory=dict)
    statuses: dict[int, list[tuple[str, str]]] = field(default_factory=dict)  # per subscriber id
    webhooks: dict[int, dict[str, Any]] = field(default_factory=dict)
    writes: list[dict[str, Any]] = field(default_factory=list)  # every write the stand-in accepted
    deliveries: dict[str, int] = field(default_factory=lambda: {"sent": 0, "failed": 0, "dropped": 0})
    faults: list[Fault] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.rng = random.Random(self.seed)
        self._tokens: dict[str, float] = {}  # access token → expiry (monotonic)
        self._refresh: dict[str, float] = {}
        self._calls: deque[float] = deque()
        self._next_id = 80_000_000
        self._tasks: set[asyncio.Task[None]] = set()
        self._http: aiohttp.ClientSession | None = None

    # -- work orders -----------------------------------------------------------------------------------
    def add_work_order(self, deliver: bool = True, **overrides: Any) -> dict[str, Any]:
        """A new work order (random fields unless given); delivered as ``WorkOrderCreated``."""
        self._next_id += 1
        wo = make_work_order(self._next_id, self.rng, utcnow(), **overrides)
        self.work_orders[wo["Id"]] = wo
        if deliver:
            self.deliver("WorkOrderCreated", wo)
        return wo

    def _touch(self, wo: dict[str, Any], event: str) -> None:
        wo["UpdatedDate"] = iso(utcnow())
        self.deliver(event, wo)

    def allowed_statuses(self, subscriber_id: int) -> list[tuple[str, str]]:
        return self.statuses.get(subscriber_id, DEFAULT_STATUSES)

    # -- deliveries ------------------------------------------------------------------------------------
    def deliver(self, event_type: str, wo: dict[str, Any]) -> None:
        """POST the event to every enabled webhook (in the background, with the platform's retries)."""
        body = json.dumps({"EventType": event_type, "Object": json.loads(json.dumps(wo))}).encode()
        for hook in self.webhooks.values():
            if hook.get("Enabled", True):
                self._spawn(self._post(hook["Url"], body))

    def _spawn(self, coro: Any) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def post_signed(self, url: str, body: bytes, *, key: str | None = None) -> int:
        """One delivery attempt; the receiver's status (0 when it could not be reached)."""
        if self._http is None:
            self._http = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=5))
        headers = {
            "Content-Type": "application/json",
            SIGN_TYPE_HEADER: SIGN_TYPE,
            SIGN_DATA_HEADER: sign(self.signing_key if key is None else key, body),
        }
        try:
            async with self._http.post(url, data=body, headers=headers) as response:
                await response.read()
                return response.status
        except (aiohttp.ClientError, TimeoutError):
            return 0

    async def _post(self, url: str, body: bytes) -> None:
        for attempt in range(4):  # the first try and 3 retries, then the platform drops the event
            if attempt:
                await asyncio.sleep(self.retry_seconds)
            if 200 <= await self.post_signed(url, body) < 300:
                self.deliveries["sent"] += 1
                return
            self.deliveries["failed"] += 1
        self.deliveries["dropped"] += 1

    async def close(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._http is not None:
            await self._http.close()

    # -- the application -------------------------------------------------------------------------------
    def app(self) -> web.Application:
        app = web.Application(middlewares=[self._gate])
        r = app.router
        r.add_post("/oauth/token", self._token)
        r.add_get("/odata/workorders", self._list)
        r.add_get("/workorders/statuses", self._statuses)
        r.add_get("/workorders/{id}", self._detail)
        r.add_put("/workorders/{id}/accept", self._accept)
        r.add_put("/workorders/{id}/decline", self._decline)
        r.add_put("/workorders/{id}/status", self._status)
        r.add_put("/workorders/{id}/scheduledate", self._schedule)
        r.add_post("/workorders/{id}/notes", self._add_note)
        r.add_get("/odata/workorders({id})/notes", self._notes)
        r.add_post("/workorders/{id}/universalCheckIn", self._check_in)
        r.add_post("/workorders/{id}/universalCheckOut", self._check_out)
        r.add_post("/NotificationWebHooks", self._subscribe)
        r.add_get("/NotificationSubscriptions/SigningKey", self._signing_key)
        r.add_post("/_sim/workorders", self._sim_create)
        r.add_post("/_sim/faults", self._sim_faults)
        r.add_post("/_sim/redeliver", self._sim_redeliver)
        r.add_put("/_sim/statuses", self._sim_statuses)
        r.add_get("/_sim/log", self._sim_log)
        app.on_cleanup.append(lambda _app: self.close())
        return app

    @web.middleware
    async def _gate(self, request: web.Request, handler: Any) -> web.StreamResponse:
        if request.path.startswith("/_sim/"):
            return await handler(request)
        stall = 0.0
        for fault in self.faults:
            if fault.count > 0 and fault.paths in request.path:
                fault.count -= 1
                if fault.status == 0:
                    stall = fault.stall
                    break
                if fault.status == 429:
                    return self._too_many()
                return web.json_response({"ErrorMessage": "Service unavailable"}, status=fault.status)
        now = time.monotonic()
        while self._calls and self._calls[0] <= now - self.rate_window:
            self._calls.popleft()
        if len(self._calls) >= self.rate_limit:
            return self._too_many(self._calls[0] + self.rate_window - now)
        self._calls.append(now)
        if request.path != "/oauth/token":
            token = request.headers.get("Authorization", "").removeprefix("Bearer ")
            expiry = self._tokens.get(token)
            if expiry is None or expiry <= now:
                return _error(401, "InvalidToken", "The access token is invalid or has expired.", 401)
        response = await handler(request)
        if stall:
            await asyncio.sleep(stall)
        return response

    def _too_many(self, wait: float = 1.0) -> web.Response:
        self.deliveries["throttled"] = self.deliveries.get("throttled", 0) + 1
        retry = email.utils.formatdate(time.time() + max(1.0, wait), usegmt=True)
        text = f"Your current Application limit is [{self.rate_limit}] per [{self.rate_window:g}] seconds"
        return web.json_response({"Message": text}, status=429, headers={"Retry-After": retry})

    async def _token(self, request: web.Request) -> web.Response:
        basic = request.headers.get("Authorization", "")
        expected = base64.b64encode(f"{self.client_id}:{self.client_secret}".encode()).decode()
        if basic != f"Basic {expected}":
            # The platform's answer to a bad client: a redirect to its HTML login page, never a 401.
            raise web.HTTPFound("/login")
        form = await request.post()
        grant = form.get("grant_type")
        if grant == "password":
            if form.get("username") != self.username or form.get("password") != self.password:
                return web.json_response({"error": "invalid_grant"}, status=400)
        elif grant == "refresh_token":
            refresh = str(form.get("refresh_token", ""))
            if self._refresh.pop(refresh, 0) <= time.monotonic():
                return web.json_response({"error": "invalid_grant"}, status=400)
        else:
            return web.json_response({"error": "unsupported_grant_type"}, status=400)
        access, refresh = secrets.token_urlsafe(24), secrets.token_urlsafe(24)
        self._tokens[access] = time.monotonic() + self.token_ttl
        self._refresh[refresh] = time.monotonic() + 30 * 86400
        return web.json_response(
            {
                "access_token": access,
                "token_type": "bearer",
                "expires_in": int(self.token_ttl) if self.token_ttl >= 1 else self.token_ttl,
                "refresh_token": refresh,
            }
        )

    def expire_tokens(self) -> None:
        """Every access token stops working now (a test's "token expired mid-run")."""
        self._tokens.clear()

    async def _list(self, request: web.Request) -> web.Response:
        rows = sorted(self.work_orders.values(), key=lambda w: w["Id"])
        expression = request.query.get("$filter", "")
        try:
            rows = odata_filter(rows, expression) if expression else rows
            top = min(int(request.query.get("$top", PAGE_CAP)), PAGE_CAP)  # silently capped
            skip = int(request.query.get("$skip", 0))
        except ValueError as exc:
            return _error(400, "InvalidFilter", str(exc))
        body: dict[str, Any] = {"value": rows[skip : skip + top]}
        if request.query.get("$count") == "true":
            body["@odata.count"] = len(rows)
        return web.json_response(body)

    def _wo(self, request: web.Request) -> dict[str, Any]:
        try:
            wo = self.work_orders.get(int(request.match_info["id"]))
        except ValueError:
            wo = None
        if wo is None:
            raise _http_error(404, "WorkOrderNotFound", "Work order not found", 502)
        return wo

    async def _detail(self, request: web.Request) -> web.Response:
        return web.json_response(self._wo(request))

    async def _statuses(self, request: web.Request) -> web.Response:
        try:
            subscriber = int(request.query["subscriberId"])
        except (KeyError, ValueError):
            return _error(400, "SubscriberIdIsRequired", "subscriberId is required", 503)
        by_primary: dict[str, list[str]] = {}
        for primary, extended in self.allowed_statuses(subscriber):
            by_primary.setdefault(primary, []).append(extended)
        return web.json_response(
            [
                {"Id": p.replace(" ", ""), "Name": p, "Extended": [e for e in ex if e]}
                for p, ex in by_primary.items()
            ]
        )

    async def _body(self, request: web.Request) -> dict[str, Any]:
        try:
            body = await request.json()
        except (json.JSONDecodeError, UnicodeDecodeError):
            raise _http_error(400, "InvalidRequest", "The body is not JSON", 503) from None
        if not isinstance(body, dict):
            raise _http_error(400, "InvalidRequest", "The body is not an object", 503)
        return body

    def _set_status(self, wo: dict[str, Any], primary: str, extended: str) -> None:
        if (primary, extended) not in self.allowed_statuses(wo["Subscriber"]["Id"]):
            raise _http_error(
                400,
                "InvalidWoStateForUpdate",
                f"Status '{primary}/{extended}' is not configured for this subscriber",
                503,
            )
        wo["Status"] = {"Primary": primary, "Extended": extended, "CanCreateInvoice": primary == "Completed"}
        self._touch(wo, "WorkOrderStatusChanged")

    def _log(self, action: str, wo: dict[str, Any], body: dict[str, Any]) -> None:
        self.writes.append(
            {
                "action": action,
                "work_order": wo["Id"],
                "body": body,
                "at": iso(utcnow()),
                "mono": time.perf_counter(),
            }
        )

    async def _accept(self, request: web.Request) -> web.Response:
        wo, body = self._wo(request), await self._body(request)
        if (wo["Status"]["Primary"], wo["Status"]["Extended"]) == ("In Progress", "Dispatch Confirmed"):
            return _error(400, "WorkOrderWasAccepted", "The work order was already accepted", 503)
        self._set_status(wo, "In Progress", "Dispatch Confirmed")
        self._log("accept", wo, body)
        return web.json_response({"id": wo["Id"], "result": True})

    async def _decline(self, request: web.Request) -> web.Response:
        wo, body = self._wo(request), await self._body(request)
        if body.get("DeclineReasonId") not in DECLINE_REASONS:
            return _error(400, "DeclineReasonIdIsRequired", "A decline reason is required", 503)
        self._set_status(wo, "Open", "Declined")
        self._log("decline", wo, body)
        return web.json_response({"id": wo["Id"], "result": True})

    async def _status(self, request: web.Request) -> web.Response:
        wo, body = self._wo(request), await self._body(request)
        status = body.get("Status")
        if not isinstance(status, dict) or "Primary" not in status or "Extended" not in status:
            return _error(400, "InvalidRequest", "Status.Primary and Status.Extended are required", 503)
        self._set_status(wo, str(status["Primary"]), str(status["Extended"] or ""))
        self._log("status", wo, body)
        return web.json_response({"id": wo["Id"], "result": True})

    async def _schedule(self, request: web.Request) -> web.Response:
        wo, body = self._wo(request), await self._body(request)
        value = str(body.get("Value") or "")
        try:
            when = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return _error(400, "InvalidRequest", "Value must be a date and time", 503)
        wo["ScheduledDate"] = iso(when if when.tzinfo else when.replace(tzinfo=UTC))
        reason = request.query.get("rescheduleReasonCode")
        self._log("schedule", wo, {**body, "rescheduleReasonCode": reason} if reason else body)
        self._touch(wo, "WorkOrderScheduledDateChanged")
        return web.json_response({"id": wo["Id"], "result": True})

    async def _add_note(self, request: web.Request) -> web.Response:
        wo, body = self._wo(request), await self._body(request)
        if not str(body.get("Note", "")).strip():
            return _error(400, "InvalidRequest", "Note is required", 503)
        notes = self.notes.setdefault(wo["Id"], [])
        note = {"Id": len(notes) + 1, "NoteData": body["Note"], "DateCreated": iso(utcnow())}
        notes.append(note)
        wo["Notes"] = {"Count": len(notes), "Last": note}
        self._log("note", wo, body)
        self._touch(wo, "WorkOrderNoteAdded")
        return web.json_response({"id": note["Id"]}, status=201)

    async def _notes(self, request: web.Request) -> web.Response:
        return web.json_response(self.notes.get(self._wo(request)["Id"], []))

    async def _check_in(self, request: web.Request) -> web.Response:
        wo, body = self._wo(request), await self._body(request)
        if "Latitude" not in body or "Longitude" not in body:
            return _error(400, "InvalidRequest", "Latitude and Longitude are required", 503)
        if wo.get("IsExpired"):
            return _error(400, "InvalidWoStateForUpdate", "The work order has expired", 503)
        self._set_status(wo, "In Progress", "On Site")
        self._log("check_in", wo, body)
        return web.json_response({"id": wo["Id"], "result": True})

    async def _check_out(self, request: web.Request) -> web.Response:
        wo, body = self._wo(request), await self._body(request)
        primary = {
            "Completed": ("Completed", "Pending Confirmation"),
            "Incomplete": ("In Progress", "Incomplete"),
        }
        target = primary.get(str(body.get("PrimaryStatus", "")), ("In Progress", "Incomplete"))
        self._set_status(wo, *target)
        self._log("check_out", wo, body)
        return web.json_response({"id": wo["Id"], "result": True})

    async def _subscribe(self, request: web.Request) -> web.Response:
        body = await self._body(request)
        if not str(body.get("Url", "")).startswith(("http://", "https://")):
            return _error(400, "InvalidRequest", "Url is required", 503)
        same = [i for i, h in self.webhooks.items() if h.get("Url") == body["Url"]]
        hook_id = same[0] if same else len(self.webhooks) + 1  # one webhook per URL
        self.webhooks[hook_id] = {**body, "Id": hook_id, "Enabled": body.get("Enabled", True)}
        return web.json_response({"id": hook_id}, status=201)

    async def _signing_key(self, request: web.Request) -> web.Response:
        return web.json_response({"Key": self.signing_key})

    # -- test controls -----------------------------------------------------------------------------------
    async def _sim_create(self, request: web.Request) -> web.Response:
        body = await request.json() if request.can_read_body else {}
        count = int(body.pop("count", 1))
        return web.json_response([self.add_work_order(**body)["Id"] for _ in range(count)])

    async def _sim_faults(self, request: web.Request) -> web.Response:
        body = await request.json()
        self.faults.append(
            Fault(
                int(body["status"]),
                int(body.get("count", 1)),
                str(body.get("paths", "")),
                float(body.get("stall", 0)),
            )
        )
        return web.json_response({"ok": True})

    async def _sim_redeliver(self, request: web.Request) -> web.Response:
        body = await request.json()
        self.deliver(str(body.get("event", "WorkOrderCreated")), self.work_orders[int(body["id"])])
        return web.json_response({"ok": True})

    async def _sim_statuses(self, request: web.Request) -> web.Response:
        body = await request.json()
        self.statuses[int(body["subscriber"])] = [tuple(s) for s in body["statuses"]]
        return web.json_response({"ok": True})

    async def _sim_log(self, request: web.Request) -> web.Response:
        return web.json_response({"writes": self.writes, "deliveries": self.deliveries})


def _error(status: int, code: str, message: str, number: int = 503) -> web.Response:
    return web.json_response(
        {"ErrorCodes": [number], "ErrorCode": code, "ErrorMessage": message, "Data": None}, status=status
    )


def _http_error(status: int, code: str, message: str, number: int) -> web.HTTPException:
    body = json.dumps({"ErrorCodes": [number], "ErrorCode": code, "ErrorMessage": message, "Data": None})
    cls = {400: web.HTTPBadRequest, 404: web.HTTPNotFound}[status]
    return cls(text=body, content_type="application/json")


async def _run(args: argparse.Namespace) -> int:
    sim = ScSim(
        token_ttl=args.token_ttl,
        rate_limit=args.rate_limit,
        rate_window=args.rate_window,
        retry_seconds=args.retry_seconds,
        seed=args.seed,
    )
    if args.client_secret_file:
        with open(args.client_secret_file, encoding="utf-8") as handle:
            sim.client_secret = handle.read().strip()
    runner = web.AppRunner(sim.app(), access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, args.host, args.port)
    await site.start()
    port = int(runner.addresses[0][1])
    print(f"csr-scsim: ServiceChannel stand-in on http://{args.host}:{port}", flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    import signal

    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    watch = asyncio.create_task(_watch_parent(stop)) if args.exit_with_parent else None
    first = args.demo_first if args.demo_first >= 0 else args.demo_every
    try:
        wait = first
        while not stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=wait if args.demo else 3600)
            if args.demo and not stop.is_set():
                wo = sim.add_work_order()
                log.info("event=scsim_demo_work_order id=%s number=%s", wo["Id"], wo["Number"])
            wait = args.demo_every
    finally:
        if watch is not None:
            watch.cancel()
        await sim.close()
        await runner.cleanup()
    return 0


async def _watch_parent(stop: asyncio.Event) -> None:
    """The demo's stand-in stops when the console that started it is gone (even after a kill -9)."""
    from .parent_watch import watch_parent

    await watch_parent(stop)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="csr-scsim", description="A local stand-in of the ServiceChannel API.")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8471)
    p.add_argument("--client-secret-file", default="", help="the OAuth client secret (default sim-secret)")
    p.add_argument("--token-ttl", type=float, default=600.0, help="access-token lifetime, seconds")
    p.add_argument("--rate-limit", type=int, default=40, help="calls allowed per --rate-window")
    p.add_argument("--rate-window", type=float, default=60.0, help="seconds")
    p.add_argument("--retry-seconds", type=float, default=300.0, help="between a delivery's retries")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--demo", action="store_true", help="a new work order now and then")
    p.add_argument("--demo-every", type=float, default=45.0, help="seconds between demo work orders")
    p.add_argument(
        "--demo-first",
        type=float,
        default=-1.0,
        help="seconds before the first demo work order (default --demo-every)",
    )
    p.add_argument("--exit-with-parent", action="store_true", help=argparse.SUPPRESS)  # the demo's stand-in
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    return asyncio.run(_run(args))


if __name__ == "__main__":
    raise SystemExit(main())
