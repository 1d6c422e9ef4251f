"""The Twilio-compatible adapter: each real callback shape → NeutralEvents (legs, end reasons, RFC 2822
stamps, provider keys), the TwiML it answers, and keys that survive duplicated, reordered delivery."""

from __future__ import annotations

import random
import xml.etree.ElementTree as ET
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from models.calls import CallDirection, CallEventKind, EndReason
from sync.telephony import twilio
from sync.telephony.twilio import MalformedWebhook, SignatureCheck, TwilioUrls
from sync.telephony.twilio_sim import DialPlan, Scenario, Target, callbacks, new_call, voice_webhook

NOW = datetime(2025, 3, 4, 15, 30, 12, 250000, tzinfo=UTC)
PARENT = "CA5b7f1f2e9a3c4d5e6f708192a3b4c5d6"
CHILD = "CA0d1e2f3a4b5c6d7e8f9a0b1c2d3e4f5a"
ACCOUNT = "AC1a2b3c4d5e6f7a8b9c0d1e2f3a4b5c6d"
URLS = TwilioUrls.from_public_url("https://calls.example.com")

# The voice webhook as Twilio sends it when a call reaches a number (the parameters of Twilio's "TwiML
# Voice: Your Response" request, with its geographic fields).
VOICE = {
    "AccountSid": ACCOUNT,
    "ApiVersion": "2010-04-01",
    "CallSid": PARENT,
    "CallStatus": "ringing",
    "Called": "+18005550100",
    "CalledCity": "",
    "CalledCountry": "US",
    "CalledState": "",
    "CalledZip": "",
    "Caller": "+14155550123",
    "CallerCity": "SAN FRANCISCO",
    "CallerCountry": "US",
    "CallerState": "CA",
    "CallerZip": "94103",
    "Direction": "inbound",
    "From": "+14155550123",
    "FromCity": "SAN FRANCISCO",
    "FromCountry": "US",
    "FromState": "CA",
    "FromZip": "94103",
    "To": "+18005550100",
    "ToCity": "",
    "ToCountry": "US",
    "ToState": "",
    "ToZip": "",
}


def child(
    status: str,
    sequence: int,
    *,
    to: str = "client:dana",
    stamp: str = "Tue, 04 Mar 2025 15:30:14 +0000",
    **extra: str,
) -> dict[str, str]:
    """A status callback of the leg our <Dial><Client> opened (statusCallbackEvent on the noun)."""
    params = {
        "AccountSid": ACCOUNT,
        "ApiVersion": "2010-04-01",
        "CallSid": CHILD,
        "CallStatus": status,
        "CallbackSource": "call-progress-events",
        "Called": to,
        "Caller": "+14155550123",
        "Direction": "outbound-dial",
        "From": "+14155550123",
        "ParentCallSid": PARENT,
        "SequenceNumber": str(sequence),
        "Timestamp": stamp,
        "To": to,
    }
    params.update(extra)
    return params


def parent(status: str, *, direction: str = "inbound", **extra: str) -> dict[str, str]:
    """The number's "call status changes" callback for the caller's leg."""
    params = {
        "AccountSid": ACCOUNT,
        "ApiVersion": "2010-04-01",
        "CallSid": PARENT,
        "CallStatus": status,
        "CallbackSource": "call-progress-events",
        "Called": "+18005550100",
        "Caller": "+14155550123",
        "Direction": direction,
        "From": "+14155550123",
        "SequenceNumber": "0",
        "Timestamp": "Tue, 04 Mar 2025 15:33:40 +0000",
        "To": "+18005550100",
    }
    params.update(extra)
    return params


RECORDING = {
    "AccountSid": ACCOUNT,
    "CallSid": PARENT,
    "ErrorCode": "0",
    "RecordingChannels": "2",
    "RecordingDuration": "193",
    "RecordingSid": "RE3f1e2d3c4b5a69788796a5b4c3d2e1f0",
    "RecordingSource": "DialVerb",
    "RecordingStartTime": "Tue, 04 Mar 2025 15:30:27 +0000",
    "RecordingStatus": "completed",
    "RecordingTrack": "both",
    "RecordingUrl": f"https://api.twilio.com/2010-04-01/Accounts/{ACCOUNT}/Recordings/RE3f1e2d3c4b5a69788796a5b4c3d2e1f0",
}


def test_voice_webhook_offers_the_inbound_call():
    (event,) = twilio.voice_events(VOICE, NOW, waiting=False)
    assert event.kind is CallEventKind.OFFERED and event.provider == "twilio"
    assert event.provider_call_id == PARENT and event.provider_key == f"twilio:{PARENT}:voice"
    assert event.direction is CallDirection.INBOUND
    assert (event.from_number, event.to_number, event.agent) == ("+14155550123", "+18005550100", "")
    assert event.occurred_at == NOW  # the voice webhook carries no Timestamp
    assert event.payload == VOICE


def test_voice_webhook_with_nobody_to_ring_queues_the_caller():
    kinds = [(e.kind, e.provider_key) for e in twilio.voice_events(VOICE, NOW, waiting=True)]
    assert kinds == [
        (CallEventKind.OFFERED, f"twilio:{PARENT}:voice"),
        (CallEventKind.QUEUED, f"twilio:{PARENT}:queued"),
    ]


def test_softphone_call_is_outbound_by_its_csr():
    params = {**VOICE, "From": "client:dana", "Caller": "client:dana", "To": "+14155550177"}
    (event,) = twilio.voice_events(params, NOW, waiting=False)
    assert event.direction is CallDirection.OUTBOUND and event.agent == "dana"
    assert event.to_number == "+14155550177"


@pytest.mark.parametrize(
    "caller", ["anonymous", "Restricted", "", "+266696687", "Unknown", "(415) 55", "sip:someone@example.com"]
)
def test_odd_callers_pass_through_untouched(caller):
    (event,) = twilio.voice_events({**VOICE, "From": caller, "Caller": caller}, NOW, waiting=False)
    assert event.from_number == caller and event.direction is CallDirection.INBOUND


def test_voice_webhook_without_from_at_all_still_offers():
    params = {k: v for k, v in VOICE.items() if k not in ("From", "Caller")}
    (event,) = twilio.voice_events(params, NOW, waiting=False)
    assert event.from_number == ""


def test_child_leg_ringing_alerts_the_csr_on_the_parent_call():
    (event,) = twilio.status_events(child("ringing", 1), NOW)
    assert event.kind is CallEventKind.ALERTING and event.agent == "dana"
    assert event.provider_call_id == PARENT  # every leg reduces into one call
    assert event.provider_key == f"twilio:{CHILD}:status:ringing:1"
    assert event.occurred_at == datetime(2025, 3, 4, 15, 30, 14, tzinfo=UTC)
    assert (event.from_number, event.to_number) == ("", "")  # the leg's numbers, not the call's
    assert event.payload["ParentCallSid"] == PARENT


def test_child_leg_answered_names_the_csr():
    (event,) = twilio.status_events(child("in-progress", 2, stamp="Tue, 04 Mar 2025 15:30:27 +0000"), NOW)
    assert event.kind is CallEventKind.ANSWERED and event.agent == "dana"
    assert event.occurred_at == datetime(2025, 3, 4, 15, 30, 27, tzinfo=UTC)


@pytest.mark.parametrize(
    "status", ["initiated", "queued", "completed", "canceled", "no-answer", "busy", "failed"]
)
def test_child_leg_start_and_end_are_not_the_calls(status):
    assert twilio.status_events(child(status, 3, CallDuration="12"), NOW) == []


def test_customer_leg_of_a_softphone_call_answers_without_an_agent():
    assert twilio.status_events(child("ringing", 1, to="+14155550177"), NOW) == []
    (event,) = twilio.status_events(child("in-progress", 2, to="+14155550177"), NOW)
    assert event.kind is CallEventKind.ANSWERED and event.agent == ""
    assert event.direction is CallDirection.OUTBOUND


@pytest.mark.parametrize(
    ("status", "direction", "reason"),
    [
        ("completed", "inbound", EndReason.COMPLETED),
        ("busy", "inbound", EndReason.BUSY),
        ("no-answer", "inbound", EndReason.NO_ANSWER),
        ("failed", "inbound", EndReason.FAILED),
        ("canceled", "inbound", EndReason.CALLER_HANGUP),  # hung up before being answered
        ("completed", "outbound-api", EndReason.COMPLETED),
        ("canceled", "outbound-api", EndReason.CANCELED),
        ("no-answer", "outbound-api", EndReason.NO_ANSWER),
    ],
)
def test_parent_leg_final_status_ends_the_call(status, direction, reason):
    (event,) = twilio.status_events(
        parent(status, direction=direction, CallDuration="200", Duration="4"), NOW
    )
    assert event.kind is CallEventKind.ENDED and event.end_reason == reason.value
    assert event.provider_call_id == PARENT
    assert event.occurred_at == datetime(2025, 3, 4, 15, 33, 40, tzinfo=UTC)
    assert event.from_number == "+14155550123" and event.to_number == "+18005550100"
    expected = CallDirection.INBOUND if direction == "inbound" else CallDirection.OUTBOUND
    assert event.direction is expected


def test_rest_api_call_offers_rings_and_is_answered_by_the_callee():
    kinds = [
        twilio.status_events(parent(s, direction="outbound-api", SequenceNumber=str(i)), NOW)
        for i, s in enumerate(["queued", "initiated", "ringing", "in-progress"])
    ]
    assert [e.kind for (e,) in kinds] == [CallEventKind.OFFERED] * 3 + [CallEventKind.ANSWERED]
    assert all(e.direction is CallDirection.OUTBOUND for (e,) in kinds)


def test_inbound_parent_in_progress_is_twilio_answering_not_a_csr():
    assert twilio.status_events(parent("in-progress"), NOW) == []


def test_unknown_status_is_ignored():
    assert twilio.status_events(parent("paused-for-lunch"), NOW) == []


def dial_action(dial_status: str, call_status: str, **extra: str) -> dict[str, str]:
    params = {
        **VOICE,
        "CallStatus": call_status,
        "DialCallStatus": dial_status,
        "DialCallSid": CHILD,
        "DialCallDuration": "0",
        "DialBridged": "false",
    }
    params.update(extra)
    return params


@pytest.mark.parametrize(
    ("dial_status", "call_status"),
    [
        ("completed", "completed"),
        ("completed", "in-progress"),
        ("answered", "in-progress"),
        ("no-answer", "completed"),
        ("canceled", "completed"),
    ],
)
def test_dial_action_that_ends_the_call_says_nothing_new_and_hangs_up(dial_status, call_status):
    params = dial_action(dial_status, call_status)
    assert twilio.status_events(params, NOW) == []
    assert ET.fromstring(twilio.status_twiml(params, URLS)).find("Hangup") is not None


@pytest.mark.parametrize("dial_status", ["no-answer", "busy", "failed"])
def test_dial_action_with_the_caller_still_waiting_queues_and_rings_again(dial_status):
    params = dial_action(dial_status, "in-progress")
    (event,) = twilio.status_events(params, NOW)
    assert event.kind is CallEventKind.QUEUED and event.provider_key == f"twilio:{PARENT}:queued:{CHILD}"
    redirect = ET.fromstring(twilio.status_twiml(params, URLS)).find("Redirect")
    assert redirect is not None and redirect.text == "https://calls.example.com/telephony/twilio/voice?hold=1"


def test_softphone_dial_action_never_redials_the_customer():
    params = dial_action("no-answer", "in-progress", From="client:dana", Caller="client:dana")
    assert twilio.status_events(params, NOW) == []
    assert ET.fromstring(twilio.status_twiml(params, URLS)).find("Hangup") is not None


def test_plain_status_callback_is_answered_with_an_empty_response():
    assert ET.fromstring(twilio.status_twiml(parent("completed"), URLS)).tag == "Response"
    assert len(ET.fromstring(twilio.status_twiml(parent("completed"), URLS))) == 0


def test_recording_ready():
    (event,) = twilio.recording_events(RECORDING, NOW)
    assert event.kind is CallEventKind.RECORDING and event.provider_call_id == PARENT
    assert event.provider_key == "twilio:RE3f1e2d3c4b5a69788796a5b4c3d2e1f0:recording"
    assert event.recording_url == RECORDING["RecordingUrl"] and event.recording_seconds == 193
    assert event.occurred_at == datetime(2025, 3, 4, 15, 30, 27, tzinfo=UTC) + timedelta(seconds=193)


@pytest.mark.parametrize("status", ["in-progress", "absent", "failed"])
def test_recording_not_ready_says_nothing(status):
    assert twilio.recording_events({**RECORDING, "RecordingStatus": status}, NOW) == []


def test_recording_with_odd_duration_or_start():
    (event,) = twilio.recording_events({**RECORDING, "RecordingDuration": "-", "RecordingStartTime": ""}, NOW)
    assert event.recording_seconds == 0 and event.occurred_at == NOW


@pytest.mark.parametrize(
    ("parse", "params"),
    [
        (
            lambda p: twilio.voice_events(p, NOW, waiting=False),
            {k: v for k, v in VOICE.items() if k != "CallSid"},
        ),
        (lambda p: twilio.status_events(p, NOW), {**parent("completed"), "CallSid": ""}),
        (
            lambda p: twilio.recording_events(p, NOW),
            {k: v for k, v in RECORDING.items() if k != "RecordingSid"},
        ),
        (lambda p: twilio.recording_events(p, NOW), {k: v for k, v in RECORDING.items() if k != "CallSid"}),
        (lambda p: twilio.status_events(p, NOW), child("ringing", 1, ParentCallSid="CA" + "0" * 100)),
        (lambda p: twilio.voice_events(p, NOW, waiting=False), {**VOICE, "CallSid": "CA" + "0" * 100}),
    ],
)
def test_missing_or_overlong_sids_are_malformed(parse, params):
    with pytest.raises(MalformedWebhook):
        parse(params)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Tue, 04 Mar 2025 15:30:14 +0000", datetime(2025, 3, 4, 15, 30, 14, tzinfo=UTC)),
        (
            "Tue, 04 Mar 2025 15:30:14 -0000",
            datetime(2025, 3, 4, 15, 30, 14, tzinfo=UTC),
        ),  # zone unknown: UTC
        ("Tue, 04 Mar 2025 08:30:14 -0700", datetime(2025, 3, 4, 15, 30, 14, tzinfo=UTC)),
        ("Tue, 04 Mar 2025 15:30:14 GMT", datetime(2025, 3, 4, 15, 30, 14, tzinfo=UTC)),
        ("04 Mar 2025 15:30:14 +0000", datetime(2025, 3, 4, 15, 30, 14, tzinfo=UTC)),  # no weekday
        ("", NOW),
        ("yesterday", NOW),
        ("2025-03-04T15:30:14Z", NOW),
        ("Tue, 99 Foo 2025 99:99:99 +0000", NOW),
    ],
)
def test_rfc_2822_timestamps(text, expected):
    stamp = twilio.parse_timestamp(text, NOW)
    assert stamp == expected and stamp.tzinfo is not None and stamp.utcoffset() == timedelta(0)


def test_redelivered_callbacks_keep_their_keys_and_distinct_ones_differ():
    first = twilio.status_events(child("ringing", 1), NOW)
    again = twilio.status_events(child("ringing", 1), NOW + timedelta(minutes=5))  # a retry, later
    assert [e.provider_key for e in first] == [e.provider_key for e in again]
    keys = {
        e.provider_key
        for p in (
            child("ringing", 1),
            child("in-progress", 2),
            parent("completed"),
            {**child("ringing", 1), "CallSid": "CA" + "9" * 32},
        )
        for e in twilio.status_events(p, NOW)
    }
    keys |= {e.provider_key for e in twilio.voice_events(VOICE, NOW, waiting=True)}
    keys |= {e.provider_key for e in twilio.recording_events(RECORDING, NOW)}
    assert len(keys) == 7 and all(len(k) <= 160 for k in keys)  # call_events.provider_key is 160 wide


def test_callbacks_without_a_sequence_number_are_keyed_by_status():
    bare = {k: v for k, v in child("ringing", 1).items() if k != "SequenceNumber"}
    (ringing,) = twilio.status_events(bare, NOW)
    (answered,) = twilio.status_events({**bare, "CallStatus": "in-progress"}, NOW)
    assert ringing.provider_key == f"twilio:{CHILD}:status:ringing:-" != answered.provider_key


def _twiml(xml: str) -> ET.Element:
    root = ET.fromstring(xml)
    assert root.tag == "Response"
    return root


def test_voice_answer_rings_every_csr_and_records_from_the_answer():
    root = _twiml(twilio.voice_twiml(VOICE, ["dana", "sam", "dana", ""], URLS))
    dial = root.find("Dial")
    assert dial is not None
    assert dial.attrib == {
        "action": "https://calls.example.com/telephony/twilio/status",
        "method": "POST",
        "answerOnBridge": "true",
        "timeout": str(twilio.RING_SECONDS),
        "record": "record-from-answer-dual",
        "recordingStatusCallback": "https://calls.example.com/telephony/twilio/recording",
        "recordingStatusCallbackEvent": "completed",
        "recordingStatusCallbackMethod": "POST",
    }
    clients = dial.findall("Client")
    assert [c.text for c in clients] == ["dana", "sam"]
    assert all(
        c.get("statusCallback") == "https://calls.example.com/telephony/twilio/status" for c in clients
    )
    assert all(c.get("statusCallbackEvent") == "initiated ringing answered completed" for c in clients)


def test_voice_answer_rings_at_most_ten_phones():
    dial = _twiml(twilio.voice_twiml(VOICE, [f"csr{i}" for i in range(15)], URLS)).find("Dial")
    assert dial is not None and len(dial.findall("Client")) == twilio.MAX_RINGING


def test_voice_answer_with_nobody_free_holds_and_asks_again():
    root = _twiml(twilio.voice_twiml(VOICE, [], URLS))
    assert [child.tag for child in root] == ["Say", "Pause", "Redirect"]
    assert root.find("Redirect").text == URLS.hold
    held = _twiml(twilio.voice_twiml(VOICE, [], URLS, hold=True))
    assert [child.tag for child in held] == ["Pause", "Redirect"]  # greeted once only


def test_voice_answer_for_a_softphone_dials_the_customer_with_our_caller_id():
    params = {**VOICE, "From": "client:dana", "To": "+14155550177"}
    dial = _twiml(twilio.voice_twiml(params, ["sam"], URLS, caller_id="+18005550100")).find("Dial")
    assert dial is not None and dial.get("callerId") == "+18005550100"
    assert [n.text for n in dial.findall("Number")] == ["+14155550177"] and dial.find("Client") is None


def test_public_url_forms():
    assert (
        TwilioUrls.from_public_url("https://calls.example.com/").voice
        == "https://calls.example.com/telephony/twilio/voice"
    )
    assert (
        TwilioUrls.from_public_url("https://example.com/csr").signed_url("/telephony/twilio/status?x=1")
        == "https://example.com/csr/telephony/twilio/status?x=1"
    )
    for bad in ("calls.example.com", "ftp://calls.example.com", "https://calls.example.com/?a=1", ""):
        with pytest.raises(ValueError):
            TwilioUrls.from_public_url(bad)


def test_signature_check_hides_its_token_and_wants_a_body_hash_for_json():
    check = SignatureCheck("s3cret-token-value")
    assert "s3cret" not in repr(check)
    with pytest.raises(AttributeError):
        check.__dict__  # noqa: B018 - slots only: no token in vars() either
    assert not check.json_body("https://calls.example.com/telephony/twilio/status", '{"CallSid": "CA1"}', "x")
    assert not check.form("https://calls.example.com/telephony/twilio/status", {"CallSid": "CA1"}, "")
    with pytest.raises(ValueError):
        SignatureCheck("")


# -- A whole call's callbacks, delivered in any order, any number of times ----------------------------

PLAN = DialPlan(
    targets=tuple(
        Target("client", name, URLS.status, frozenset(twilio.CHILD_EVENTS.split()))
        for name in ("dana", "sam")
    ),
    action=URLS.status,
    record=True,
    recording_callback=URLS.recording,
)


def _parse(hook_url: str, params: dict[str, str], received_at: datetime) -> list:
    path = urlsplit(hook_url).path
    if path == twilio.VOICE_PATH:
        return twilio.voice_events(params, received_at, waiting=False)
    if path == twilio.RECORDING_PATH:
        return twilio.recording_events(params, received_at)
    return twilio.status_events(params, received_at)


def _call_hooks(scenario: Scenario, seed: int) -> list:
    call = new_call(
        random.Random(seed),
        scenario,
        callers=["+14155550123"],
        tracking=["+18005550100"],
        agents=["dana"],
        started_at=NOW,
    )
    return [voice_webhook(call, URLS.voice), *callbacks(call, PLAN, URLS.status)], call


@settings(max_examples=60, deadline=None)
@given(scenario=st.sampled_from(list(Scenario)), seed=st.integers(0, 2**32), data=st.data())
def test_any_delivery_of_a_calls_callbacks_gives_the_same_distinct_keys(scenario, seed, data):
    hooks, call = _call_hooks(scenario, seed)
    tidy = [e for h in hooks for e in _parse(h.url, h.params, NOW)]
    expected = {e.provider_key for e in tidy}
    assert len(expected) == len(tidy)  # distinct callbacks never share a key
    assert {e.provider_call_id for e in tidy} == {call.call_sid}
    twice = data.draw(st.lists(st.sampled_from(hooks), max_size=len(hooks)), label="redelivered")
    delivered = data.draw(st.permutations(hooks + twice), label="arrival order")
    offsets = data.draw(st.lists(st.integers(0, 3600), min_size=len(delivered), max_size=len(delivered)))
    seen = [
        e
        for h, late in zip(delivered, offsets, strict=True)
        for e in _parse(h.url, h.params, NOW + timedelta(seconds=late))
    ]
    assert {e.provider_key for e in seen} == expected
    # The same key always means the same event, whenever it arrived (stamps from the provider).
    by_key = {e.provider_key: e for e in tidy}
    for e in seen:
        same = by_key[e.provider_key]
        assert (e.kind, e.agent, e.end_reason, e.recording_url) == (
            same.kind,
            same.agent,
            same.end_reason,
            same.recording_url,
        )
        if "Timestamp" in e.payload:
            assert e.occurred_at == same.occurred_at


def test_a_simulated_answered_call_says_what_twilio_would():
    hooks, call = _call_hooks(Scenario.LONG, 7)
    events = [e for h in hooks for e in _parse(h.url, h.params, NOW)]
    kinds = [e.kind for e in events]
    assert kinds.count(CallEventKind.ALERTING) == 2 and kinds.count(CallEventKind.ANSWERED) == 1
    assert kinds[0] is CallEventKind.OFFERED and CallEventKind.RECORDING in kinds
    (ended,) = [e for e in events if e.kind is CallEventKind.ENDED]
    assert ended.end_reason == EndReason.COMPLETED.value
    (answered,) = [e for e in events if e.kind is CallEventKind.ANSWERED]
    assert (ended.occurred_at - answered.occurred_at).total_seconds() >= 59  # a long call, by the stamps
