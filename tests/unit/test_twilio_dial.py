"""The Twilio adapter's click-to-call pieces: the ``dial`` number, the placed call's legs read as the
CSR's Outbound call, a Dial that ends unanswered never puts the CSR in the queue, and the REST
client never shows the auth token."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from models.calls import CallDirection, CallEventKind
from sync.telephony import twilio
from sync.telephony.twilio_rest import TwilioRest

AT = datetime(2026, 3, 2, 15, 30, tzinfo=UTC)
URLS = twilio.TwilioUrls.from_public_url("https://calls.example.com")
PLACED = {
    "CallSid": "CA" + "1" * 32,
    "From": "+12145550100",
    "To": "client:dana",
    "Direction": "outbound-api",
}


def test_the_dial_number_is_e164_or_refused() -> None:
    assert twilio.dial_number("") == ""
    assert twilio.dial_number("+12145550177") == "+12145550177"
    with pytest.raises(twilio.MalformedWebhook):
        twilio.dial_number("client:lee")


def test_the_placed_calls_urls_name_the_customer() -> None:
    assert (
        URLS.dial_voice("+12145550177")
        == "https://calls.example.com/telephony/twilio/voice?dial=%2B12145550177"
    )
    assert (
        URLS.dial_status("+12145550177")
        == "https://calls.example.com/telephony/twilio/status?dial=%2B12145550177"
    )


def test_the_placed_call_is_the_csrs_outbound_call_to_the_customer() -> None:
    [offered] = twilio.voice_events(
        {**PLACED, "CallStatus": "in-progress"}, AT, waiting=False, dial="+12145550177"
    )
    assert offered.kind is CallEventKind.OFFERED and offered.direction is CallDirection.OUTBOUND
    assert (offered.agent, offered.from_number, offered.to_number) == ("dana", "+12145550100", "+12145550177")
    [initiated] = twilio.status_events({**PLACED, "CallStatus": "initiated"}, AT, "+12145550177")
    assert initiated.agent == "dana" and initiated.to_number == "+12145550177"
    twiml = twilio.voice_twiml(PLACED, ["lee"], URLS, caller_id="+12145550100", dial_to="+12145550177")
    assert ">+12145550177</Number>" in twiml and "<Client" not in twiml


def test_an_unanswered_dial_hangs_up_instead_of_queueing_the_csr() -> None:
    action = {**PLACED, "CallStatus": "in-progress", "DialCallStatus": "no-answer"}
    assert not twilio.caller_waiting(action)
    assert twilio.status_events(action, AT) == []
    assert "<Hangup" in twilio.status_twiml(action, URLS)


def test_the_rest_client_hides_the_token() -> None:
    rest = TwilioRest("AC123", "secret-token", URLS, "+12145550100")
    assert "secret-token" not in repr(rest)
    assert rest.calls_url() == "https://api.twilio.com/2010-04-01/Accounts/AC123/Calls.json"
