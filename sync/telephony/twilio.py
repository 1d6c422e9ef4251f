"""The Twilio-compatible adapter: webhooks in, NeutralEvents out, TwiML back (docs/telephony.md).

SignalWire and Kazoo send the same parameters and read the same TwiML, so they use this module too.

Each callback is parsed on its own, with no memory of the call: Twilio delivers them duplicated, late
and out of order, so everything a callback means must be in the callback. The store dedupes on
``provider_key`` and the reducer (models/call_rules.py) reads the set of a call's events in the order
the provider stamped them. The keys are built only from what Twilio repeats verbatim when it
redelivers a request (the sids, the status, the SequenceNumber), never from our clock.

Legs: an inbound call is the parent leg; each CSR's phone we ring (``<Dial><Client>``) is a child leg
with its own CallSid and ``ParentCallSid``. Every event names the parent's sid as ``provider_call_id``
so all legs reduce into one call; the child's own sid stays in ``provider_key`` and ``payload``.
"""

from __future__ import annotations

import email.utils
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlencode, urlsplit

from twilio.request_validator import RequestValidator
from twilio.twiml.voice_response import Dial, VoiceResponse

from models.call_rules import caller_number
from models.calls import CallDirection, CallEventKind, EndReason, NeutralEvent

PROVIDER = "twilio"
VOICE_PATH = "/telephony/twilio/voice"
STATUS_PATH = "/telephony/twilio/status"
RECORDING_PATH = "/telephony/twilio/recording"
CALLBACK_PATH = "/telephony/twilio/callback"  # the <Gather> action of the "press 1 to be called back" offer
SIGNATURE_HEADER = "X-Twilio-Signature"
# Present when a Twilio "Webhook Rule" signs with a shared key instead of the auth token (public beta):
# another secret, which this server doesn't hold, so such requests are refused.
SHARED_KEY_HEADER = "X-Twilio-Webhooks-Signature-Settings"

# How long the CSRs' phones ring before the caller goes back to waiting (and then they ring again).
RING_SECONDS = 30
# A waiting caller asks again for someone to ring this often.
HOLD_SECONDS = 10
# Twilio dials at most ten nouns of one <Dial> at once.
MAX_RINGING = 10
CHILD_EVENTS = "initiated ringing answered completed"
HOLD_MESSAGE = "Thanks for calling. Everyone is helping another customer; please stay on the line."
CLIENT_PREFIX = "client:"
SEAT_CALL_HEADER = "X-CSR-Call-Sid"  # the header carrying the parent call's sid to a SIP seat
SEAT_DIAL_HEADER = "X-CSR-Dial"  # on a click-to-call to a SIP seat: the customer's number it will dial

_FINAL = {
    "completed": EndReason.COMPLETED,
    "busy": EndReason.BUSY,
    "no-answer": EndReason.NO_ANSWER,
    "failed": EndReason.FAILED,
    "canceled": EndReason.CANCELED,
}
_CONNECTED = {"completed", "answered"}  # DialCallStatus values meaning a CSR talked to the caller


class MalformedWebhook(ValueError):
    """A request without what every webhook of its kind carries; the message names the missing field."""


@dataclass(frozen=True, slots=True)
class TwilioUrls:
    """The public URLs the provider calls, built from the ``public_url`` it was configured with."""

    base: str

    @classmethod
    def from_public_url(cls, public_url: str) -> TwilioUrls:
        parts = urlsplit(public_url.strip())
        if parts.scheme not in ("http", "https") or not parts.netloc or parts.query or parts.fragment:
            raise ValueError(f"the public URL must look like https://calls.example.com, not {public_url!r}")
        return cls(public_url.strip().rstrip("/"))

    @property
    def voice(self) -> str:
        return self.base + VOICE_PATH

    @property
    def hold(self) -> str:
        # The voice URL again, for a caller who is already waiting (no greeting twice).
        return self.base + VOICE_PATH + "?hold=1"

    @property
    def status(self) -> str:
        return self.base + STATUS_PATH

    @property
    def recording(self) -> str:
        return self.base + RECORDING_PATH

    @property
    def callback(self) -> str:
        return self.base + CALLBACK_PATH

    def dial_voice(self, number: str, agent: str = "") -> str:
        """The voice URL of a call we place for a CSR (click-to-call): once their softphone answers,
        it dials ``number``. ``agent``: the CSR, named when their phone is a SIP seat (To is then a
        SIP address, not their Client)."""
        return (
            self.base + VOICE_PATH + "?" + urlencode({"dial": number, **({"agent": agent} if agent else {})})
        )

    def dial_status(self, number: str, agent: str = "") -> str:
        """The status callback of that call: it names the customer's number too, since a callback
        may arrive before (or without) the voice request."""
        return (
            self.base + STATUS_PATH + "?" + urlencode({"dial": number, **({"agent": agent} if agent else {})})
        )

    def seat_status(self, agent: str) -> str:
        """The status callback of a CSR's SIP seat leg (``<Dial><Sip>``): its To is a SIP address, so
        the URL names the CSR."""
        return self.base + STATUS_PATH + "?" + urlencode({"agent": agent})

    def signed_url(self, raw_path: str) -> str:
        """The URL the provider signed for a request that reached us at ``raw_path`` (path and query,
        as received): our public base, whatever host and port the request came in on."""
        return self.base + raw_path


class SignatureCheck:
    """X-Twilio-Signature, checked with the official package's RequestValidator (the URL with and
    without its default port; the ``bodySHA256`` query for JSON bodies). Holds the auth token and
    never shows it."""

    __slots__ = ("_validator",)

    def __init__(self, auth_token: str) -> None:
        if not auth_token:
            raise ValueError("a Twilio auth token is needed to check webhook signatures")
        self._validator = RequestValidator(auth_token)

    def __repr__(self) -> str:
        return "SignatureCheck(auth_token=<hidden>)"

    def form(self, url: str, params: object, signature: str) -> bool:
        """A form-encoded request: ``params`` is a MultiDict (repeated names count) or a dict."""
        return bool(signature) and bool(self._validator.validate(url, params, signature))

    def json_body(self, url: str, body: str, signature: str) -> bool:
        """A JSON request: only valid with the body's hash in the signed URL (otherwise the body
        itself would go unchecked)."""
        if not signature or "bodySHA256" not in parse_qs(urlsplit(url).query):
            return False
        return bool(self._validator.validate(url, body, signature))


def parse_timestamp(value: str | None, default: datetime) -> datetime:
    """Twilio's ``Timestamp`` (RFC 2822, e.g. "Mon, 16 Aug 2010 03:45:01 +0000") as aware UTC;
    ``default`` when absent or unreadable."""
    parsed = _rfc2822(value)
    return default if parsed is None else parsed


def _rfc2822(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        parsed = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    # "-0000" (no zone known) parses naive: Twilio means UTC.
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def identity(address: str) -> str:
    """The Client identity in "client:dana" ("" for a phone number)."""
    return address[len(CLIENT_PREFIX) :] if address.startswith(CLIENT_PREFIX) else ""


def _sid(params: Mapping[str, str], name: str = "CallSid", *, required: bool = True) -> str:
    # Sids are 34 characters; the store's columns take 64 (a call id) and 160 (a key built of them).
    value = (params.get(name) or "").strip()
    if (required and not value) or len(value) > 64:
        raise MalformedWebhook(name)
    return value


def _from_softphone(params: Mapping[str, str]) -> bool:
    """A CSR dialing out from the console's softphone reaches the voice URL as an inbound leg from
    their Client."""
    return (params.get("From") or "").startswith(CLIENT_PREFIX)


def dial_number(raw: str) -> str:
    """The customer's number of a click-to-call (the ``dial`` query parameter of a URL we gave the
    provider) in E.164, or "" when there is none; MalformedWebhook when it is no phone number."""
    if not raw:
        return ""
    number = caller_number(raw)
    if not number:
        raise MalformedWebhook("dial")
    return number


def _placed_for_csr(params: Mapping[str, str]) -> bool:
    """A call a CSR makes (from the softphone, or placed for them through the REST API): nobody waits
    in a queue for it."""
    return _from_softphone(params) or (params.get("Direction") or "").startswith("outbound")


def _direction(params: Mapping[str, str]) -> CallDirection:
    """The call's direction, read on a parent leg."""
    if (params.get("Direction") or "").startswith("outbound") or _from_softphone(params):
        return CallDirection.OUTBOUND
    return CallDirection.INBOUND


def _event(
    params: Mapping[str, str], call_id: str, key: str, kind: CallEventKind, at: datetime, **fields: object
) -> NeutralEvent:
    return NeutralEvent(
        provider=PROVIDER,
        provider_call_id=call_id,
        provider_key=key,
        kind=kind,
        occurred_at=at,
        payload=dict(params),
        **fields,
    )  # type: ignore[arg-type]


def _parent_fields(params: Mapping[str, str], dial: str = "", agent: str = "") -> dict[str, object]:
    """What a parent leg's request says about the whole call: direction, numbers as sent, and the CSR
    when they dialed out from their softphone. A click-to-call (``dial``) rang the CSR's Client first
    (To is "client:dana"); the customer is the number it then dials."""
    if dial:
        return {
            "direction": CallDirection.OUTBOUND,
            "from_number": params.get("From") or "",
            "to_number": dial,
            "agent": agent or identity(params.get("To") or params.get("Called") or ""),
        }
    return {
        "direction": _direction(params),
        "from_number": params.get("From") or params.get("Caller") or "",
        "to_number": params.get("To") or params.get("Called") or "",
        "agent": identity(params.get("From") or ""),
    }


def voice_events(
    params: Mapping[str, str], received_at: datetime, *, waiting: bool, dial: str = "", agent: str = ""
) -> list[NeutralEvent]:
    """The voice webhook (a call reached one of our numbers, a CSR dialed out, or a CSR answered the
    click-to-call placed for them: ``dial``): OFFERED, plus QUEUED when nobody is there to ring
    (``waiting``)."""
    sid = _sid(params)
    call_id = _sid(params, "ParentCallSid", required=False) or sid
    at = parse_timestamp(params.get("Timestamp"), received_at)
    fields = _parent_fields(params, dial, agent)
    # A redirect back here (a waiting caller) is the same offer: same key, stored once.
    events = [_event(params, call_id, f"twilio:{sid}:voice", CallEventKind.OFFERED, at, **fields)]
    if waiting:
        events.append(_event(params, call_id, f"twilio:{sid}:queued", CallEventKind.QUEUED, at, **fields))
    return events


def caller_waiting(params: Mapping[str, str]) -> bool:
    """Whether a Dial action request leaves an inbound caller on the line with nobody connected
    (every CSR's phone rang out, or was busy): they wait and we ring again."""
    return (
        (params.get("DialCallStatus") or "") not in _CONNECTED
        and (params.get("CallStatus") or "") not in _FINAL
        and not _placed_for_csr(params)
    )


def status_events(
    params: Mapping[str, str], received_at: datetime, dial: str = "", agent: str = ""
) -> list[NeutralEvent]:
    """A call status callback (a parent or child leg), or the Dial's action request; ``dial``: the
    customer's number of a click-to-call, ``agent``: the CSR of a SIP seat leg, from the callback URL
    we gave."""
    sid = _sid(params)
    status = (params.get("CallStatus") or "").strip().lower()
    if "DialCallStatus" in params:
        # The Dial ended. What it says comes again in the legs' own callbacks (the CSR's answer, the
        # caller's hang-up), stamped by Twilio; only a caller left waiting is news.
        if not caller_waiting(params):
            return []
        dial = _sid(params, "DialCallSid", required=False) or (params.get("DialCallStatus") or "-")[:20]
        return [
            _event(
                params,
                sid,
                f"twilio:{sid}:queued:{dial}",
                CallEventKind.QUEUED,
                received_at,
                **_parent_fields(params, dial),
            )
        ]
    sequence = (params.get("SequenceNumber") or "-").strip()[:20]
    key = f"twilio:{sid}:status:{status[:20] or '-'}:{sequence}"
    at = parse_timestamp(params.get("Timestamp"), received_at)
    parent = _sid(params, "ParentCallSid", required=False)
    if parent:
        return _child_events(params, parent, key, status, at, agent)
    fields = _parent_fields(params, dial, agent)
    if status in ("queued", "initiated", "ringing"):
        return [_event(params, sid, key, CallEventKind.OFFERED, at, **fields)]
    if status == "in-progress":
        # A call we placed through the REST API was picked up by the callee. An inbound parent goes
        # in-progress when Twilio itself answers to run our TwiML: nobody has answered yet.
        if (params.get("Direction") or "").startswith("outbound"):
            return [_event(params, sid, key, CallEventKind.ANSWERED, at, **fields)]
        return []
    if status in _FINAL:
        reason = _FINAL[status]
        if reason is EndReason.CANCELED and (params.get("Direction") or "") == "inbound":
            reason = EndReason.CALLER_HANGUP  # the caller hung up before being answered
        # "completed" on an inbound parent does not say whether a CSR answered (Twilio answers to run
        # the TwiML); the reducer turns a completed call nobody answered into a caller hang-up.
        return [_event(params, sid, key, CallEventKind.ENDED, at, end_reason=reason.value, **fields)]
    return []


def _child_events(
    params: Mapping[str, str], parent: str, key: str, status: str, at: datetime, seat_agent: str = ""
) -> list[NeutralEvent]:
    """A leg we dialed: a CSR's Client (inbound calls) or the customer's number (softphone calls).
    Its numbers are the leg's, not the call's (To is "client:dana"), so they stay in the payload."""
    agent = seat_agent or identity(params.get("To") or params.get("Called") or "")
    direction = CallDirection.INBOUND if agent else CallDirection.OUTBOUND
    if status == "ringing" and agent:
        return [_event(params, parent, key, CallEventKind.ALERTING, at, direction=direction, agent=agent)]
    if status == "in-progress":
        return [_event(params, parent, key, CallEventKind.ANSWERED, at, direction=direction, agent=agent)]
    # initiated; and the end of a leg, which is not the end of the call: other CSRs' phones stop ringing
    # when one answers, and the call ends with the parent leg.
    return []


def recording_events(params: Mapping[str, str], received_at: datetime) -> list[NeutralEvent]:
    """A recording status callback: RECORDING once the file is ready."""
    if (params.get("RecordingStatus") or "completed").strip().lower() != "completed":
        return []  # in-progress, absent (nothing said), failed
    sid = _sid(params)
    recording = _sid(params, "RecordingSid")
    try:
        seconds = max(0, int(params.get("RecordingDuration") or 0))
    except ValueError:
        seconds = 0
    # Ready when it ended, by the provider's clock if it says when it started.
    started = _rfc2822(params.get("RecordingStartTime"))
    at = received_at if started is None else started + timedelta(seconds=seconds)
    return [
        _event(
            params,
            sid,
            f"twilio:{recording}:recording",
            CallEventKind.RECORDING,
            at,
            recording_url=params.get("RecordingUrl") or "",
            recording_seconds=seconds,
        )
    ]


def _dial(urls: TwilioUrls, caller_id: str | None = None) -> Dial:
    # answerOnBridge: the caller hears ringing (and isn't billed as answered) until a CSR picks up.
    return Dial(
        action=urls.status,
        method="POST",
        timeout=RING_SECONDS,
        answer_on_bridge=True,
        caller_id=caller_id or None,
        record="record-from-answer-dual",
        recording_status_callback=urls.recording,
        recording_status_callback_method="POST",
        recording_status_callback_event="completed",
    )


def voice_twiml(
    params: Mapping[str, str],
    agents: Iterable[str],
    urls: TwilioUrls,
    *,
    hold: bool = False,
    caller_id: str = "",
    dial_to: str = "",
    seats: Mapping[str, str] | None = None,
) -> str:
    """The answer to the voice webhook: ring the CSRs' Clients — or their SIP seats (``seats``:
    username → SIP address, rung with ``<Sip>``) — (or, from a CSR's softphone, the number they
    dialed; or, for a click-to-call the CSR answered, ``dial_to``), recording from the answer; or,
    with nobody to ring, keep the caller waiting."""
    response = VoiceResponse()
    if dial_to or _from_softphone(params):
        if dial_to:
            dial = _dial(urls, caller_id or params.get("From") or "")
        else:
            dial = _dial(urls, params.get("CallerId") or caller_id)
        dial.number(
            dial_to or params.get("To") or "",
            status_callback_event=CHILD_EVENTS,
            status_callback=urls.status,
            status_callback_method="POST",
        )
        response.append(dial)
        return str(response.to_xml())
    ring = [a for a in dict.fromkeys(agents) if a][:MAX_RINGING]
    if ring:
        dial = _dial(urls)
        for agent in ring:
            if seats and agent in seats:
                dial.sip(
                    sip_with_call_sid(seats[agent], params.get("CallSid") or ""),
                    status_callback_event=CHILD_EVENTS,
                    status_callback=urls.seat_status(agent),
                    status_callback_method="POST",
                )
                continue
            dial.client(
                agent,
                status_callback_event=CHILD_EVENTS,
                status_callback=urls.status,
                status_callback_method="POST",
            )
        response.append(dial)
    else:
        if not hold:
            response.say(HOLD_MESSAGE)
        response.pause(length=HOLD_SECONDS)
        response.redirect(urls.hold, method="POST")
    return str(response.to_xml())


def sip_with_call_sid(address: str, call_sid: str, header: str = SEAT_CALL_HEADER) -> str:
    """The seat's SIP address with our call's sid as an X- header (Twilio sends ``?x-name=value`` of a
    ``<Sip>`` URI as a SIP header): the console's softphone ties the ringing leg to its bubble."""
    if not call_sid:
        return address
    return address + ("&" if "?" in address else "?") + urlencode({header: call_sid})


VOICEMAIL_SECONDS = 120
VOICEMAIL_MESSAGES = {
    "after_hours": "Thanks for calling. We're closed right now. Please leave your name, number and a short "
    "message after the tone, and we'll call you back.",
    "max_wait": "Sorry to keep you waiting. Please leave your name, number and a short message after the "
    "tone, and we'll call you back as soon as someone is free.",
}


CALLBACK_DIGIT = "1"
CALLBACK_OFFERS = {
    "after_hours": "Thanks for calling. We're closed right now. To have us call you back at the number you're "
    "calling from, press 1. Or stay on the line to leave a message.",
    "max_wait": "Sorry to keep you waiting. To hang up and have us call you back at the number you're calling "
    "from as soon as someone is free, press 1. Or stay on the line to leave a message.",
}
CALLBACK_THANKS = "Thank you. We'll call you back at this number as soon as someone is free. Goodbye."
CALLBACK_LEAVE_MESSAGE = "Please leave your name, number and a short message after the tone."
CALLBACK_GATHER_SECONDS = 6


def voicemail_twiml(urls: TwilioUrls, reason: str) -> str:
    """Voicemail (models/routing.py said why): a greeting, then ``<Record>`` with a beep. The recording
    reaches the call through the recording callback, like a call's recording; when the caller is done
    Twilio requests ``action`` (our status URL, which answers an empty document: the call ends)."""
    response = VoiceResponse()
    response.say(VOICEMAIL_MESSAGES.get(reason, VOICEMAIL_MESSAGES["max_wait"]))
    _record(response, urls)
    return str(response.to_xml())


def callback_offer_twiml(urls: TwilioUrls, reason: str) -> str:
    """A callback offered instead of voicemail: ``<Gather numDigits="1">`` around the offer; a key press
    makes Twilio request ``action`` (our callback URL) with ``Digits`` and skip what follows; with no
    key pressed within the timeout Twilio goes on to the next verbs — the voicemail."""
    response = VoiceResponse()
    gather = response.gather(
        input="dtmf",
        num_digits=1,
        timeout=CALLBACK_GATHER_SECONDS,
        action=urls.callback,
        method="POST",
    )
    gather.say(CALLBACK_OFFERS.get(reason, CALLBACK_OFFERS["max_wait"]))
    response.say(CALLBACK_LEAVE_MESSAGE)
    _record(response, urls)
    return str(response.to_xml())


def callback_events(params: Mapping[str, str], received_at: datetime) -> list[NeutralEvent]:
    """The offer's ``<Gather>`` action: CALLBACK_REQUESTED when the caller pressed 1 (keyed on the call,
    so a redelivered request is stored once); any other key asks for nothing."""
    sid = _sid(params)
    if (params.get("Digits") or "").strip() != CALLBACK_DIGIT:
        return []
    at = parse_timestamp(params.get("Timestamp"), received_at)
    fields = _parent_fields(params)
    return [_event(params, sid, f"twilio:{sid}:callback", CallEventKind.CALLBACK_REQUESTED, at, **fields)]


def callback_answer_twiml(params: Mapping[str, str], urls: TwilioUrls) -> str:
    """The answer to the offer's action: 1 → thanks and hang up (the callback item is open); another
    key → the voicemail after all."""
    response = VoiceResponse()
    if (params.get("Digits") or "").strip() == CALLBACK_DIGIT:
        response.say(CALLBACK_THANKS)
        response.hangup()
        return str(response.to_xml())
    response.say(CALLBACK_LEAVE_MESSAGE)
    _record(response, urls)
    return str(response.to_xml())


def voicemail_event(params: Mapping[str, str], received_at: datetime) -> NeutralEvent:
    """Routing sent the caller to voicemail (the call is marked, docs/phone.md): once per call."""
    sid = _sid(params)
    at = parse_timestamp(params.get("Timestamp"), received_at)
    return _event(
        params, sid, f"twilio:{sid}:voicemail", CallEventKind.VOICEMAIL, at, **_parent_fields(params)
    )


def _record(response: VoiceResponse, urls: TwilioUrls) -> None:
    response.record(
        action=urls.status,
        method="POST",
        max_length=VOICEMAIL_SECONDS,
        timeout=5,
        play_beep=True,
        recording_status_callback=urls.recording,
        recording_status_callback_method="POST",
        recording_status_callback_event="completed",
    )


def status_twiml(params: Mapping[str, str], urls: TwilioUrls) -> str:
    """The answer to a status callback (ignored by the provider) or to the Dial's action: a caller
    still waiting goes back to the voice URL to ring whoever is free; otherwise the call is over."""
    response = VoiceResponse()
    if "DialCallStatus" in params:
        if caller_waiting(params):
            response.redirect(urls.hold, method="POST")
        else:
            response.hangup()
    return str(response.to_xml())


def empty_twiml() -> str:
    return str(VoiceResponse().to_xml())
