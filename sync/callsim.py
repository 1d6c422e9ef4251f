"""`csr-callsim`: simulated calls sent to a csr-server as real, signed Twilio webhooks.

For demos (`csr-console --demo` runs it so a newcomer sees calls ring) and load tests. Each call posts
the voice webhook, follows the server's TwiML answer (whose phones to ring, where their callbacks go)
and then sends the callbacks Twilio would send, in Twilio's order, at their time in the call divided
by ``--speed``; ``--chaos`` duplicates and reorders some of them. Every request is form-encoded and
signed with X-Twilio-Signature exactly as Twilio signs it (the official package's RequestValidator),
over the public URL the server was configured with. One JSON line at the end:
``{"calls", "webhooks", "failed", "seconds"}``.

The auth token comes from ``--auth-token-file`` or the CSR_TWILIO_AUTH_TOKEN environment variable,
never from the command line (where every user of the machine could read it).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import os
import random
import signal
import sys
import time
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
from twilio.request_validator import RequestValidator

from models.base import utcnow

from .telephony.twilio import SIGNATURE_HEADER, STATUS_PATH, VOICE_PATH
from .telephony.twilio_sim import (
    MIX,
    DialPlan,
    Scenario,
    SimCall,
    Webhook,
    callbacks,
    chaos,
    new_call,
    read_twiml,
    voice_webhook,
)

TOKEN_ENV = "CSR_TWILIO_AUTH_TOKEN"
DEFAULT_TRACKING = "+18005550100"
log = logging.getLogger("csr.callsim")


SIP_PASSWORD_ENV = "CSR_CALLSIM_SIP_PASSWORD"


@dataclass
class SimOptions:
    url: str  # where the server's ingress listens (http://host:port)
    auth_token: str = field(repr=False)
    public_url: str = ""  # what the server signs against; default: ``url``
    rate: float = 1.0  # calls started per second
    count: int = 10  # 0: until stopped
    speed: float = 1.0  # 10: a 3-minute call takes 18 s
    seed: int | None = None
    callers: list[str] = field(default_factory=list)
    tracking: list[str] = field(default_factory=lambda: [DEFAULT_TRACKING])
    scenarios: dict[Scenario, int] = field(default_factory=lambda: dict(MIX))
    agents: list[str] = field(default_factory=lambda: ["csr"])
    chaos: float = 0.0
    odd_callers: float = 0.05
    concurrency: int = 200
    timeout: float = 15.0
    verbose: bool = False
    start_after: float = 0.0  # seconds before the first call (the demo's window signs in)


@dataclass
class _Tally:
    calls: int = 0
    webhooks: int = 0
    failed: int = 0


class _Sender:
    """Posts webhooks the way Twilio does, and counts them."""

    def __init__(self, session: aiohttp.ClientSession, options: SimOptions) -> None:
        self.session = session
        self.validator = RequestValidator(options.auth_token)
        self.public = (options.public_url or options.url).rstrip("/")
        self.base = options.url.rstrip("/")
        self.tally = _Tally()

    def _address(self, url: str) -> str:
        # The server may sit behind a proxy: sign the public URL, send to where it listens.
        return self.base + url[len(self.public) :] if url.startswith(self.public) else url

    async def post(self, hook: Webhook) -> str | None:
        """The response body of a 2xx answer, else None (counted as failed)."""
        signature = self.validator.compute_signature(hook.url, hook.params)
        headers = {SIGNATURE_HEADER: signature, "User-Agent": "TwilioProxy/1.1"}
        self.tally.webhooks += 1
        try:
            async with self.session.post(self._address(hook.url), data=hook.params, headers=headers) as resp:
                body = await resp.text()
                if 200 <= resp.status < 300:
                    return body
                log.warning(
                    "event=webhook_failed status=%d url=%s call=%s",
                    resp.status,
                    hook.url,
                    hook.params.get("CallSid", ""),
                )
        except (aiohttp.ClientError, TimeoutError) as exc:
            log.warning(
                "event=webhook_failed error=%s url=%s call=%s",
                type(exc).__name__,
                hook.url,
                hook.params.get("CallSid", ""),
            )
        self.tally.failed += 1
        return None


async def _place(
    sender: _Sender, call: SimCall, rng: random.Random, options: SimOptions, seats: Any = None
) -> None:
    """One call, from the voice webhook to the recording. With ``seats`` (a direct SIP caller,
    sync/callsim_sip.py), a call whose answer rings a ``<Sip>`` seat rings it for real instead."""
    loop = asyncio.get_running_loop()
    start = loop.time()
    voice = voice_webhook(call, sender.public + VOICE_PATH)
    twiml = await sender.post(voice)
    if seats is not None and twiml is not None and "<Sip" in twiml:
        from .callsim_sip import sip_targets

        try:
            ring_seat = bool(sip_targets(twiml, voice.url))
        except ET.ParseError:
            ring_seat = False
        if ring_seat:
            talk = min(seats.sip.talk, max(5.0, call.talk_seconds / options.speed))
            await seats.ring(call, voice, twiml, talk=talk)
            return
    plan = DialPlan()  # no answer: Twilio says its error message and the caller hangs up
    if twiml is not None:
        try:
            plan = read_twiml(twiml, voice.url)
        except ET.ParseError:
            log.warning("event=bad_twiml call=%s", call.call_sid)
            sender.tally.failed += 1
    for hook in chaos(callbacks(call, plan, sender.public + STATUS_PATH), rng, options.chaos):
        delay = start + hook.at / options.speed - loop.time()
        if delay > 0:
            await asyncio.sleep(delay)
        await sender.post(hook)


async def run(
    options: SimOptions, stop: asyncio.Event | None = None, sip: Any = None
) -> dict[str, float | int]:
    """Place the calls; returns the summary. Setting ``stop`` ends the run (calls under way are cut).
    ``sip`` (callsim_sip.SipOptions with no registrar): calls that ring a SIP seat ring it for real."""
    stop = stop or asyncio.Event()
    rng = random.Random(options.seed)
    loop = asyncio.get_running_loop()
    began, first = time.monotonic(), loop.time() + max(0.0, options.start_after)
    scenarios, weights = list(options.scenarios), list(options.scenarios.values())
    tasks: set[asyncio.Task[None]] = set()
    connector = aiohttp.TCPConnector(limit=options.concurrency)
    async with aiohttp.ClientSession(
        connector=connector, timeout=aiohttp.ClientTimeout(total=options.timeout)
    ) as session:
        sender = _Sender(session, options)
        seats = await _direct_caller(sender, options, sip) if sip is not None else None
        while (options.count == 0 or sender.tally.calls < options.count) and not stop.is_set():
            wait = first + sender.tally.calls / options.rate - loop.time()
            if wait > 0:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), wait)
                if stop.is_set():
                    break
            call = new_call(
                rng,
                rng.choices(scenarios, weights)[0],
                callers=options.callers,
                tracking=options.tracking,
                agents=options.agents,
                started_at=utcnow(),
                odd_callers=options.odd_callers,
            )
            task = asyncio.create_task(
                _place(sender, call, random.Random(rng.getrandbits(64)), options, seats)
            )
            tasks.add(task)
            task.add_done_callback(tasks.discard)
            sender.tally.calls += 1
        if tasks:
            waiter = asyncio.ensure_future(asyncio.wait(set(tasks)))
            stopper = asyncio.ensure_future(stop.wait())
            await asyncio.wait({waiter, stopper}, return_when=asyncio.FIRST_COMPLETED)
            stopper.cancel()
            for task in tasks:
                task.cancel()
            await asyncio.gather(waiter, stopper, *tasks, return_exceptions=True)
        if seats is not None:
            await seats.stop()
    tally = sender.tally
    summary: dict[str, float | int] = {
        "calls": tally.calls,
        "webhooks": tally.webhooks,
        "failed": tally.failed,
        "seconds": round(time.monotonic() - began, 3),
    }
    if seats is not None:  # the calls that rang a SIP seat for real
        summary.update(answered=seats.answered, unanswered=seats.unanswered)
    return summary


async def _direct_caller(sender: _Sender, options: SimOptions, sip: Any) -> Any:
    """The SIP caller of ``--sip-direct``, started; None (said on stderr) when its phone can't start:
    then seats are not rung and those calls go unanswered."""
    from .callsim_sip import SipCaller

    caller = SipCaller(sender, options, sip)
    try:
        await caller.start()
    except (RuntimeError, TimeoutError) as exc:
        log.warning("event=sip_caller_not_started error=%s", str(exc) or "the phone did not start in time")
        await caller.stop()
        return None
    return caller


def _numbers(values: list[str] | None) -> list[str]:
    return [n.strip() for v in values or [] for n in v.split(",") if n.strip()]


def _read_numbers(path: Path) -> list[str]:
    lines = path.read_text(encoding="utf-8").splitlines()
    return [line.split("#")[0].strip() for line in lines if line.split("#")[0].strip()]


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="csr-callsim",
        description="Send simulated calls to a csr-server as "
        "signed Twilio webhooks. The auth token comes from --auth-token-file or "
        f"the {TOKEN_ENV} environment variable.",
    )
    p.add_argument(
        "--url", required=True, help="where the server's webhook port listens, e.g. http://127.0.0.1:8766"
    )
    p.add_argument(
        "--public-url", default="", help="the public URL the server signs against (default: --url)"
    )
    p.add_argument("--auth-token-file", type=Path, help="a file holding the Twilio auth token")
    p.add_argument("--rate", type=float, default=1.0, help="calls started per second (default 1)")
    p.add_argument("--count", type=int, default=10, help="calls to place; 0 runs until stopped (default 10)")
    p.add_argument("--speed", type=float, default=1.0, help="time compression: 60 plays a minute in a second")
    p.add_argument("--seed", type=int, default=None)
    p.add_argument("--from", dest="callers", action="append", help="callers' numbers (repeat, or commas)")
    p.add_argument("--from-file", type=Path, help="callers' numbers, one a line (e.g. existing customers)")
    p.add_argument(
        "--to", dest="tracking", action="append", help="tracking numbers dialed (repeat, or commas)"
    )
    p.add_argument(
        "--scenario",
        action="append",
        choices=[s.value for s in Scenario],
        help="only these scenarios (repeat); default: a realistic mix",
    )
    p.add_argument("--agent", dest="agents", action="append", help="softphone identities for outbound calls")
    p.add_argument(
        "--chaos", type=float, default=0.0, help="chance (0..1) of duplicating / reordering a callback"
    )
    p.add_argument(
        "--odd-callers",
        type=float,
        default=0.05,
        help="share of callers with no usable number (anonymous, Restricted, empty)",
    )
    p.add_argument("--concurrency", type=int, default=200, help="HTTP connections at most")
    p.add_argument("--timeout", type=float, default=15.0, help="seconds a webhook may take")
    p.add_argument("-v", "--verbose", action="store_true")
    p.add_argument("--start-after", type=float, default=0.0, help="seconds to wait before the first call")
    p.add_argument("--exit-with-parent", action="store_true", help=argparse.SUPPRESS)  # the demo's simulator
    sip = p.add_argument_group(
        "SIP mode (docs/phone.md)",
        "ring the CSRs' SIP seats for real: each <Sip> of the server's TwiML gets an INVITE through the "
        f"registrar/proxy, and the matching signed status callbacks follow; password in ${SIP_PASSWORD_ENV}",
    )
    sip.add_argument("--sip-registrar", help="the SIP registrar/proxy, e.g. sip:127.0.0.1:5070")
    sip.add_argument(
        "--sip-user", default="carrier", help="the user the caller signs in as (default carrier)"
    )
    sip.add_argument(
        "--sip-direct",
        action="store_true",
        help="no registrar: the simulated calls run as usual, and those whose answer rings a <Sip> seat "
        "get a real INVITE sent straight to the seat's address (the demo's phone seat)",
    )
    sip.add_argument("--talk", type=float, default=2.0, help="seconds of talk before the caller hangs up")
    return p


def options_from_args(argv: list[str] | None = None) -> SimOptions:
    """The options of a command line (exits with a message on a bad one)."""
    parser = _parser()
    args = parser.parse_args(argv)
    if args.auth_token_file:
        try:
            token = args.auth_token_file.read_text(encoding="utf-8").strip()
        except OSError as exc:
            parser.error(f"can't read the auth token file: {exc.strerror}")
    else:
        token = os.environ.get(TOKEN_ENV, "").strip()
    if not token:
        parser.error(f"no auth token: give --auth-token-file or set {TOKEN_ENV}")
    if args.rate <= 0 or args.speed <= 0 or args.count < 0 or not 0 <= args.chaos <= 1:
        parser.error("--rate and --speed must be positive, --count at least 0, --chaos between 0 and 1")
    callers = _numbers(args.callers) + (_read_numbers(args.from_file) if args.from_file else [])
    scenarios = {Scenario(s): 1 for s in args.scenario} if args.scenario else dict(MIX)
    return SimOptions(
        url=args.url,
        auth_token=token,
        public_url=args.public_url,
        rate=args.rate,
        count=args.count,
        speed=args.speed,
        seed=args.seed,
        callers=callers,
        tracking=_numbers(args.tracking) or [DEFAULT_TRACKING],
        scenarios=scenarios,
        agents=_numbers(args.agents) or ["csr"],
        chaos=args.chaos,
        odd_callers=args.odd_callers,
        concurrency=max(1, args.concurrency),
        timeout=args.timeout,
        verbose=args.verbose,
        start_after=args.start_after,
    )


async def _main(
    options: SimOptions, exit_with_parent: bool = False, sip: Any = None
) -> dict[str, float | int]:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, AttributeError, ValueError):  # Windows
            loop.add_signal_handler(sig, stop.set)
    watch = asyncio.create_task(_watch_parent(stop)) if exit_with_parent else None
    try:
        return await run(options, stop, sip)
    finally:
        if watch is not None:
            watch.cancel()


async def _watch_parent(stop: asyncio.Event) -> None:
    """The demo's simulator stops when the console that started it is gone (even after a kill -9). A run
    that has not wound down 10 s later (a direct seat's phone link waiting on a call it can no longer
    finish) exits anyway: an orphaned simulator must not go on ringing a seat nobody watches. The parent
    is watched until the run ends, however ``stop`` was set: a console that sent SIGTERM and then went
    away left a simulator whose wind-down hung alive for good (found in CI: its watch had ended at the
    signal, before the parent was gone)."""
    from .parent_watch import watch_parent

    if await watch_parent(stop, until=lambda: False):
        asyncio.get_running_loop().call_later(10.0, os._exit, 0)


def main(argv: list[str] | None = None) -> int:
    options = options_from_args(argv)
    extra = _parser().parse_args(argv)
    if extra.sip_registrar:
        return _sip_main(options, extra)
    logging.basicConfig(
        level=logging.INFO if options.verbose else logging.WARNING,
        stream=sys.stderr,
        format="csr-callsim: %(message)s",
    )
    sip = None
    if extra.sip_direct:
        from .callsim_sip import SipOptions

        sip = SipOptions(registrar="", user=extra.sip_user, talk=max(0.0, extra.talk))
    summary = asyncio.run(
        _main(options, exit_with_parent="--exit-with-parent" in (argv or sys.argv[1:]), sip=sip)
    )
    print(json.dumps(summary), flush=True)
    return 0 if summary["failed"] == 0 else 1


def _sip_main(options: SimOptions, args: argparse.Namespace) -> int:
    from .callsim_sip import SipOptions, parse_registrar, run_sip

    sip = SipOptions(
        registrar=parse_registrar(args.sip_registrar),
        user=args.sip_user,
        password=os.environ.get(SIP_PASSWORD_ENV, ""),
        talk=max(0.0, args.talk),
    )
    logging.basicConfig(level=logging.INFO if options.verbose else logging.WARNING, stream=sys.stderr,
                        format="csr-callsim: %(message)s")  # fmt: skip

    async def go() -> dict[str, Any]:
        stop = asyncio.Event()
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=options.timeout)) as session:
            sender = _Sender(session, options)
            try:
                result = await run_sip(sender, options, sip, stop)
            except RuntimeError as exc:
                print(str(exc), file=sys.stderr)
                return {"calls": sender.tally.calls, "webhooks": sender.tally.webhooks, "failed": -1}
            return {"calls": sender.tally.calls, "webhooks": sender.tally.webhooks,
                    "failed": sender.tally.failed, **result}  # fmt: skip

    summary = asyncio.run(go())
    print(json.dumps(summary), flush=True)
    return 0 if summary["failed"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
