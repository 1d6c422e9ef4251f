"""`csr-callsim --sip-registrar …`: the phone company running our ``<Dial><Sip>``, for real.

For each call: the signed voice webhook; from the server's TwiML, every ``<Sip>`` noun is rung with a
real INVITE through the SIP registrar/proxy (Kamailio in the tests), carrying the noun's X- headers;
the legs' status callbacks (initiated, ringing, in-progress, completed — those the noun asked for) are
posted signed to the noun's statusCallback as Twilio posts them, then the Dial's action and the parent
leg's completed callback. The first seat to answer takes the call; the others stop ringing. The caller
hangs up after ``talk`` seconds unless the seat hangs up first. Calls run one after another, 0.2 s apart
(the phone's media sockets need the gap — docs/phone.md).

With no registrar (``--sip-direct``, the demo) the caller's phone registers nowhere and sends each INVITE
straight to the ``<Sip>`` address (``sip:dana@127.0.0.1:5062``, where a direct seat listens); there the
simulated calls run as usual and only those whose TwiML rings a seat go through :meth:`SipCaller.ring`,
several at once if they overlap (a seat already on a call answers 486 Busy Here, as a real one does).
"""

from __future__ import annotations

import asyncio
import contextlib
import email.utils
import random
import time
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, urljoin, urlsplit

from models.base import utcnow

from .phone_link import PhoneLink, phone_command
from .telephony.twilio import RING_SECONDS, STATUS_PATH, VOICE_PATH
from .telephony.twilio_sim import Scenario, Webhook, new_call, voice_webhook

GAP_S = 0.2


@dataclass(frozen=True)
class SipOptions:
    registrar: str  # "": direct, no registrar (INVITEs go straight to the seats' addresses)
    user: str = "carrier"
    password: str = ""
    talk: float = 2.0  # seconds of talk before the caller hangs up
    bind: str = "127.0.0.1"


@dataclass(frozen=True)
class SipTarget:
    uri: str  # without the headers part
    headers: dict[str, str]
    status_callback: str
    events: frozenset[str]


def sip_targets(xml: str, base_url: str) -> list[SipTarget]:
    """The ``<Sip>`` nouns of the server's TwiML."""
    dial = ET.fromstring(xml).find("Dial")
    out = []
    for noun in dial if dial is not None else []:
        if noun.tag != "Sip":
            continue
        raw = (noun.text or "").strip()
        uri, _, query = raw.partition("?")
        callback = noun.get("statusCallback", "")
        out.append(
            SipTarget(
                uri,
                dict(parse_qsl(query)),
                urljoin(base_url, callback) if callback else "",
                frozenset((noun.get("statusCallbackEvent") or "completed").split()),
            )
        )
    return out


def _stamp() -> str:
    return email.utils.format_datetime(utcnow().replace(microsecond=0))


class SipCaller:
    """Places the calls through one carrier phone process registered at the registrar."""

    def __init__(self, sender: Any, options: Any, sip: SipOptions) -> None:
        self.sender = sender  # callsim._Sender: signs and posts, counts
        self.options = options
        self.sip = sip
        # Call events go to the queue of the call whose leg they belong to (calls may overlap).
        self._routes: dict[str, asyncio.Queue[dict[str, Any]]] = {}
        self._early: dict[str, list[dict[str, Any]]] = {}  # a leg's events before its call id came back
        self._finished: set[str] = set()
        self.link = PhoneLink(
            phone_command(null_audio=True, bind=sip.bind), on_event=self._on_event, backoff=(0.5,)
        )
        self.answered = 0
        self.unanswered = 0

    def _on_event(self, event: dict[str, Any]) -> None:
        if event["event"] != "call":
            return
        leg = str(event.get("call", ""))
        queue = self._routes.get(leg)
        if queue is not None:
            queue.put_nowait(event)
        elif leg not in self._finished:
            self._early.setdefault(leg, []).append(event)
            while len(self._early) > 64:  # legs whose placing failed: never routed
                self._early.pop(next(iter(self._early)))

    def _route(self, leg: str, queue: asyncio.Queue[dict[str, Any]]) -> None:
        self._routes[leg] = queue
        for event in self._early.pop(leg, []):
            queue.put_nowait(event)

    def _unroute(self, legs: Any) -> None:
        for leg in legs:
            self._routes.pop(leg, None)
            self._finished.add(leg)

    async def start(self) -> None:
        ready = self.link.wait_for(lambda e: e["event"] == "ready", 20)
        self.link.start()
        await ready
        registered = self.link.wait_for(lambda e: e["event"] == "registration", 15)
        if self.sip.registrar:
            self.link.register(
                {"registrar": self.sip.registrar, "user": self.sip.user, "password": self.sip.password}
            )
            expected = "registered"
        else:  # direct: any free port on the loopback, registered nowhere
            self.link.listen(f"sip:{self.sip.user}@{self.sip.bind}")
            expected = "listening"
        event = await registered
        if event["state"] != expected:
            raise RuntimeError(f"csr-callsim: the carrier seat did not sign in: {event.get('message')}")

    async def stop(self) -> None:
        await self.link.stop()

    async def _next(self, queue: asyncio.Queue[dict[str, Any]], legs: Any, timeout: float) -> dict[str, Any]:
        """The next call event of one of ``legs`` (events queue in order: none is missed)."""
        deadline = time.monotonic() + timeout
        while True:
            event = await asyncio.wait_for(queue.get(), max(0.0, deadline - time.monotonic()))
            if event.get("call") in legs:
                return event

    async def place(self, rng: random.Random) -> None:
        call = new_call(
            rng,
            Scenario.ANSWERED,
            callers=self.options.callers,
            tracking=self.options.tracking,
            agents=self.options.agents,
            started_at=utcnow(),
        )
        voice = voice_webhook(call, self.sender.public + VOICE_PATH)
        twiml = await self.sender.post(voice)
        await self.ring(call, voice, twiml or "")

    async def ring(self, call: Any, voice: Webhook, twiml: str, talk: float | None = None) -> None:
        """Ring the ``<Sip>`` seats of the server's answer for real and post what happens, to the end of
        the call (the caller hangs up after ``talk`` seconds, default the options', unless the seat does)."""
        queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        placed_legs: list[str] = []
        try:
            await self._ring(call, voice, twiml, queue, placed_legs, self.sip.talk if talk is None else talk)
        finally:
            self._unroute(placed_legs)

    async def _ring(
        self, call: Any, voice: Webhook, twiml: str, queue: Any, placed_legs: list[str], talk: float
    ) -> None:
        targets = sip_targets(twiml, voice.url) if twiml else []
        parent = {k: voice.params[k] for k in ("AccountSid", "ApiVersion", "From", "To", "Caller", "Called")}
        parent["CallSid"] = call.call_sid
        began = time.monotonic()
        legs: dict[str, tuple[SipTarget, str, int]] = {}  # phone call id → target, child sid, sequence
        sequences: dict[str, int] = {}

        async def status(target: SipTarget, child: str, state: str, **extra: str) -> None:
            kind = {"initiated": "initiated", "ringing": "ringing", "in-progress": "answered"}.get(
                state, "completed"
            )
            if kind not in target.events:
                return
            sequences[child] = sequences.get(child, -1) + 1
            params = {
                **parent,
                "CallSid": child,
                "ParentCallSid": call.call_sid,
                "CallStatus": state,
                "Direction": "outbound-dial",
                "To": target.uri,
                "Called": target.uri,
                "SequenceNumber": str(sequences[child]),
                "Timestamp": _stamp(),
                "CallbackSource": "call-progress-events",
                **extra,
            }
            await self.sender.post(Webhook(0.0, target.status_callback, params))

        answered: tuple[str, SipTarget, str] | None = None
        sids = random.Random(call.leg_seed)  # the child legs' sids
        for target in targets:
            child = f"CA{sids.getrandbits(128):032x}"
            await status(target, child, "initiated")
            placed = await self.link.request({"cmd": "call", "to": target.uri, "headers": target.headers})
            if placed["event"] == "ok":
                legs[placed["call"]] = (target, child, 0)
                placed_legs.append(placed["call"])
                self._route(placed["call"], queue)
        # Events of every leg until one answers or the ring time is over.
        ring_until = began + RING_SECONDS
        rang: set[str] = set()
        while legs and answered is None and time.monotonic() < ring_until:
            try:
                event = await self._next(queue, legs, ring_until - time.monotonic())
            except TimeoutError:
                break
            target, child, _ = legs[event["call"]]
            if event["state"] == "early" and event["call"] not in rang:
                rang.add(event["call"])
                await status(target, child, "ringing")
            elif event["state"] in ("connecting", "confirmed") and event.get("code") == 200:
                answered = (event["call"], target, child)
                await status(target, child, "in-progress")
            elif event["state"] == "disconnected":
                del legs[event["call"]]
                final = "busy" if event.get("code") == 486 else "no-answer"
                await status(target, child, final, CallDuration="0")
        for leg, (target, child, _) in list(legs.items()):
            if answered is None or leg != answered[0]:
                self.link.send({"cmd": "hangup", "call": leg})
                await status(target, child, "completed", CallDuration="0")
        if answered is None:
            self.unanswered += 1
            await self._parent_done(parent, "completed", 0)
            return
        self.answered += 1
        leg, target, child = answered
        talk_began = time.monotonic()
        seat_hung_up = False
        with contextlib.suppress(TimeoutError):
            while not seat_hung_up:
                event = await self._next(queue, {leg}, talk - (time.monotonic() - talk_began))
                seat_hung_up = event["state"] == "disconnected"
        if not seat_hung_up:
            self.link.send({"cmd": "hangup", "call": leg})  # the caller hangs up
            with contextlib.suppress(TimeoutError):
                while (await self._next(queue, {leg}, 10))["state"] != "disconnected":
                    pass
        seconds = str(max(1, round(time.monotonic() - talk_began)))
        await status(target, child, "completed", CallDuration=seconds)
        await self.sender.post(
            Webhook(
                0.0,
                self.sender.public + STATUS_PATH,
                {
                    **parent,
                    "CallStatus": "in-progress",
                    "Direction": "inbound",
                    "DialCallSid": child,
                    "DialCallStatus": "completed",
                    "DialCallDuration": seconds,
                },
            )  # fmt: skip
        )
        await self._parent_done(parent, "completed", int(seconds))

    async def _parent_done(self, parent: dict[str, str], state: str, seconds: int) -> None:
        params = {**parent, "CallStatus": state, "Direction": "inbound", "CallDuration": str(seconds),
                  "Timestamp": _stamp(), "SequenceNumber": "9", "CallbackSource": "call-progress-events"}  # fmt: skip
        await self.sender.post(Webhook(0.0, self.sender.public + STATUS_PATH, params))


async def run_sip(sender: Any, options: Any, sip: SipOptions, stop: asyncio.Event) -> dict[str, Any]:
    """Place ``options.count`` calls one after another (0 = until stopped)."""
    caller = SipCaller(sender, options, sip)
    rng = random.Random(options.seed)
    await caller.start()
    try:
        placed = 0
        while (options.count == 0 or placed < options.count) and not stop.is_set():
            await caller.place(random.Random(rng.getrandbits(64)))
            placed += 1
            sender.tally.calls += 1
            await asyncio.sleep(GAP_S)
    finally:
        await caller.stop()
    return {"answered": caller.answered, "unanswered": caller.unanswered}


def parse_registrar(value: str) -> str:
    """The registrar as a SIP URI (``127.0.0.1:5070`` → ``sip:127.0.0.1:5070``)."""
    value = value.strip()
    return value if value.startswith(("sip:", "sips:")) else "sip:" + urlsplit("//" + value).netloc
