"""What Twilio sends for one call, as data: the simulated calls of `csr-callsim` (sync/callsim.py).

A simulated call starts with the voice webhook; the server's TwiML answer decides the rest, as it does
for Twilio: whose Clients ring, where their status callbacks go, the Dial's action and the recording
callback. :func:`callbacks` then lists every later webhook with the parameters Twilio sends, in the
order Twilio sends them, each at its time in the call (seconds after the voice webhook). Pure: no
network, no clock; the randomness comes from the caller's seeded ``random.Random``.
"""

from __future__ import annotations

import email.utils
import enum
import math
import random
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from urllib.parse import urljoin

from .twilio import CLIENT_PREFIX, RING_SECONDS

API_VERSION = "2010-04-01"
# What callers send instead of a number (blocked caller id, carriers' placeholders, junk).
ODD_CALLERS = ("anonymous", "Restricted", "", "+266696687", "Unknown", "12")


class Scenario(enum.StrEnum):
    ANSWERED = "inbound-answered"
    ABANDONED = "abandoned-while-ringing"
    NEVER_CLAIMED = "answered-never-claimed"  # on the wire, an answered call; nobody clicks its bubble
    SHORT = "short"  # answered, under 60 s of talk
    LONG = "long"  # answered, 60 s of talk or more
    OUTBOUND = "outbound"  # a CSR dials a customer from the console's softphone


# The default mix of a demo's calls.
MIX: dict[Scenario, int] = {
    Scenario.ANSWERED: 35,
    Scenario.ABANDONED: 15,
    Scenario.NEVER_CLAIMED: 10,
    Scenario.SHORT: 15,
    Scenario.LONG: 15,
    Scenario.OUTBOUND: 10,
}


@dataclass(frozen=True, slots=True)
class SimCall:
    scenario: Scenario
    call_sid: str
    account_sid: str
    caller: str  # From of the voice webhook ("client:<csr>" for outbound)
    dialed: str  # To: the tracking number (inbound) or the customer (outbound)
    started_at: datetime  # when the voice webhook is sent (UTC)
    ring_seconds: float
    talk_seconds: int  # 0: nobody answered
    caller_hangs_up: bool  # else the CSR hangs up first
    pick: int  # which of the rung phones answers (modulo their number)
    recording_sid: str
    leg_seed: int  # child legs' sids


@dataclass(frozen=True, slots=True)
class Target:
    """One noun of the server's <Dial>."""

    kind: str  # "client" or "number"
    address: str  # the identity, or the number
    status_callback: str
    events: frozenset[str]


@dataclass(frozen=True, slots=True)
class DialPlan:
    """What the server's TwiML asked for."""

    targets: tuple[Target, ...] = ()
    action: str = ""
    record: bool = False
    recording_callback: str = ""
    caller_id: str = ""

    @property
    def waiting(self) -> bool:
        """No <Dial>: the caller is told to hold (and, in the simulation, hangs up after ringing)."""
        return not self.targets


@dataclass(frozen=True, slots=True)
class Webhook:
    at: float  # seconds after the voice webhook
    url: str  # as the server's TwiML (or the number's configuration) names it
    params: dict[str, str] = field(default_factory=dict)


def _sid(rng: random.Random, prefix: str) -> str:
    return f"{prefix}{rng.getrandbits(128):032x}"


def new_call(
    rng: random.Random,
    scenario: Scenario,
    *,
    callers: Sequence[str],
    tracking: Sequence[str],
    agents: Sequence[str],
    started_at: datetime,
    odd_callers: float = 0.0,
) -> SimCall:
    """One call of a scenario, with its numbers, ring and talk times drawn from ``rng``."""
    customer = rng.choice(callers) if callers else f"+1415555{rng.randrange(100, 200):04d}"
    if scenario is Scenario.OUTBOUND:
        caller, dialed = CLIENT_PREFIX + rng.choice(agents or ["csr"]), customer
    else:
        caller = rng.choice(ODD_CALLERS) if rng.random() < odd_callers else customer
        dialed = rng.choice(tracking)
    ring = {Scenario.ABANDONED: rng.uniform(3, RING_SECONDS - 5)}.get(scenario, rng.uniform(2, 15))
    talk = {
        Scenario.ABANDONED: 0,
        Scenario.SHORT: rng.randint(5, 55),
        Scenario.LONG: rng.randint(60, 480),
        Scenario.NEVER_CLAIMED: rng.randint(15, 120),
        Scenario.OUTBOUND: rng.randint(30, 300),
    }.get(scenario, rng.randint(20, 360))
    return SimCall(
        scenario=scenario,
        call_sid=_sid(rng, "CA"),
        account_sid=_sid(rng, "AC"),
        caller=caller,
        dialed=dialed,
        started_at=started_at,
        ring_seconds=round(ring, 2),
        talk_seconds=talk,
        caller_hangs_up=rng.random() < 0.7,
        pick=rng.randrange(1000),
        recording_sid=_sid(rng, "RE"),
        leg_seed=rng.getrandbits(64),
    )


def voice_webhook(call: SimCall, voice_url: str) -> Webhook:
    """The request Twilio makes when the call reaches the number (or the CSR's softphone dials)."""
    params = _leg(call, call.call_sid, call.caller, call.dialed, "inbound", "ringing")
    if not call.caller.startswith(CLIENT_PREFIX):
        params.update(FromCountry="US", ToCountry="US")
    return Webhook(0.0, voice_url, params)


def read_twiml(xml: str, base_url: str) -> DialPlan:
    """The server's answer to the voice webhook (relative URLs resolved against ``base_url``)."""
    dial = ET.fromstring(xml).find("Dial")
    if dial is None:
        return DialPlan()
    targets = []
    for noun in dial:
        if noun.tag not in ("Client", "Number"):
            continue
        address = (noun.findtext("Identity") or noun.text or "").strip()
        callback = noun.get("statusCallback", "")
        targets.append(
            Target(
                noun.tag.lower(),
                address,
                urljoin(base_url, callback) if callback else "",
                frozenset((noun.get("statusCallbackEvent") or "completed").split()),
            )
        )
    recording = dial.get("recordingStatusCallback", "")
    action = dial.get("action", "")
    return DialPlan(
        targets=tuple(targets),
        action=urljoin(base_url, action) if action else "",
        record=dial.get("record", "do-not-record") not in ("do-not-record", "false"),
        recording_callback=urljoin(base_url, recording) if recording else "",
        caller_id=dial.get("callerId", ""),
    )


def _leg(call: SimCall, sid: str, from_: str, to: str, direction: str, status: str) -> dict[str, str]:
    return {
        "AccountSid": call.account_sid,
        "ApiVersion": API_VERSION,
        "CallSid": sid,
        "CallStatus": status,
        "Direction": direction,
        "From": from_,
        "Caller": from_,
        "To": to,
        "Called": to,
    }


def _stamp(call: SimCall, at: float) -> str:
    # Twilio stamps to the second, RFC 2822.
    moment = (call.started_at + timedelta(seconds=at)).replace(microsecond=0)
    return email.utils.format_datetime(moment)


def callbacks(call: SimCall, plan: DialPlan, status_url: str) -> list[Webhook]:
    """Every webhook after the voice webhook, in the order Twilio sends them. ``status_url`` is the
    number's "call status changes" URL (the parent leg's final callback)."""
    hooks: list[Webhook] = []
    answered = call.talk_seconds > 0 and not plan.waiting
    ring, end = call.ring_seconds, call.ring_seconds + (call.talk_seconds if answered else 0)
    legs = random.Random(call.leg_seed)
    winner = call.pick % len(plan.targets) if plan.targets else -1
    winner_sid = ""
    for index, target in enumerate(plan.targets):
        sid = _sid(legs, "CA")
        if index == winner:
            winner_sid = sid
        address = CLIENT_PREFIX + target.address if target.kind == "client" else target.address
        # A CSR's phone shows the caller's number; a customer's shows our caller id.
        leg_from = call.caller if target.kind == "client" else plan.caller_id
        timeline = [(0.1, "initiated", "initiated", 0), (0.3, "ringing", "ringing", 0)]
        if answered and index == winner:
            timeline += [
                (ring, "in-progress", "answered", 0),
                (end, "completed", "completed", call.talk_seconds),
            ]
        else:
            # Another phone answered, or the caller hung up: this one stops ringing.
            timeline += [(ring, "canceled", "completed", 0)]
        sequence = 0
        for at, status, event, duration in timeline:
            if not target.status_callback or event not in target.events:
                continue
            params = _leg(call, sid, leg_from, address, "outbound-dial", status)
            params.update(
                ParentCallSid=call.call_sid,
                Timestamp=_stamp(call, at),
                CallbackSource="call-progress-events",
                SequenceNumber=str(sequence),
            )
            if event == "completed":
                params.update(CallDuration=str(duration), Duration=str(math.ceil(duration / 60)))
            hooks.append(Webhook(at, target.status_callback, params))
            sequence += 1
    parent_status = "completed" if call.caller_hangs_up or not answered else "in-progress"
    if plan.action and plan.targets:
        params = _leg(call, call.call_sid, call.caller, call.dialed, "inbound", parent_status)
        params.update(
            DialCallStatus="completed" if answered else "no-answer",
            DialCallDuration=str(call.talk_seconds if answered else 0),
            DialBridged="true" if answered else "false",
        )
        if winner_sid and answered:
            params["DialCallSid"] = winner_sid
        hooks.append(Webhook(end, plan.action, params))
    # The caller's leg ends; with answerOnBridge it was answered when a phone we rang was.
    talked = call.talk_seconds if answered else (round(ring) if plan.waiting else 0)
    params = _leg(call, call.call_sid, call.caller, call.dialed, "inbound", "completed")
    params.update(
        Timestamp=_stamp(call, end + 0.1),
        CallbackSource="call-progress-events",
        SequenceNumber="0",
        CallDuration=str(talked),
        Duration=str(math.ceil(talked / 60)),
    )
    hooks.append(Webhook(end + 0.1, status_url, params))
    if answered and plan.record and plan.recording_callback:
        hooks.append(
            Webhook(
                end + 2.0,
                plan.recording_callback,
                {
                    "AccountSid": call.account_sid,
                    "CallSid": call.call_sid,
                    "RecordingSid": call.recording_sid,
                    "RecordingUrl": f"https://api.twilio.com/{API_VERSION}/Accounts/{call.account_sid}"
                    f"/Recordings/{call.recording_sid}",
                    "RecordingStatus": "completed",
                    "RecordingDuration": str(call.talk_seconds),
                    "RecordingChannels": "2",
                    "RecordingStartTime": _stamp(call, ring),
                    "RecordingSource": "DialVerb",
                    "RecordingTrack": "both",
                    "ErrorCode": "0",
                },
            )
        )
    return sorted(hooks, key=lambda h: h.at)  # stable: simultaneous callbacks keep their order


def chaos(hooks: Sequence[Webhook], rng: random.Random, rate: float) -> list[Webhook]:
    """Deliver as Twilio sometimes does: some callbacks twice (a redelivery, later), some swapped with
    their neighbour, now and then one very late. ``rate`` in 0..1 is the chance of each mishap."""
    out = list(hooks)
    if rate <= 0:
        return out
    for hook in hooks:
        if rng.random() < rate:
            position = out.index(hook)
            out.insert(rng.randint(position + 1, len(out)), replace(hook, params=dict(hook.params)))
    for i in range(len(out) - 1):
        if rng.random() < rate:
            out[i], out[i + 1] = out[i + 1], out[i]
    if out and rng.random() < rate:
        out.append(out.pop(rng.randrange(len(out))))
    return out
