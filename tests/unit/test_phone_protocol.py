"""The console ↔ phone channel: commands checked before they reach pjsua2, SIP URIs told apart."""

from __future__ import annotations

import pytest

from sync.phone_protocol import BadCommand, decode_command, decode_event, encode, is_sip_uri, listen_address


@pytest.mark.parametrize(
    "uri",
    ["sip:1001@127.0.0.1:5070", "sip:127.0.0.1", "sips:dana@acme.sip.twilio.com", "sip:+15550100@[::1]:5060",
     "sip:1001@pbx.example.com;transport=tcp", "sip:1001@pbx.example.com?X-CSR-Call-Sid=CA1"],
)  # fmt: skip
def test_good_sip_uris(uri):
    assert is_sip_uri(uri)


@pytest.mark.parametrize(
    "uri", ["", "1001", "http://x", "sip:", "sip:not a uri", "sip:a@", "sip:@host", "tel:+1555"]
)
def test_malformed_sip_uris(uri):
    assert not is_sip_uri(uri)


def test_commands_are_checked_with_sentences():
    assert decode_command(encode({"cmd": "answer", "call": "c1"}))["call"] == "c1"
    with pytest.raises(BadCommand, match="not JSON"):
        decode_command(b"{nope")
    with pytest.raises(BadCommand, match="does not know the command “dance”"):
        decode_command(encode({"cmd": "dance"}))
    with pytest.raises(BadCommand, match="needs call"):
        decode_command(encode({"cmd": "hold"}))
    with pytest.raises(BadCommand, match="transfer target “1002” is not a SIP address"):
        decode_command(encode({"cmd": "transfer", "call": "c1", "to": "1002"}))
    with pytest.raises(BadCommand, match="not one of UDP, TCP or TLS"):
        decode_command(encode({"cmd": "register", "registrar": "sip:h", "user": "u", "password": "p",
                               "transport": "sctp"}))  # fmt: skip
    with pytest.raises(BadCommand, match="not keypad digits"):
        decode_command(encode({"cmd": "dtmf", "call": "c1", "digits": "12x"}))


def test_events_that_are_not_events_are_none():
    assert decode_event(b'{"event": "ready"}') == {"event": "ready"}
    assert decode_event(b"pjsua log line") is None
    assert decode_event(b'{"cmd": "x"}') is None


def test_a_direct_seat_listens_at_sip_user_at_host_and_port():
    assert listen_address("sip:dana@127.0.0.1:5062") == ("dana", "127.0.0.1", 5062)
    assert listen_address("sip:carrier@127.0.0.1") == ("carrier", "127.0.0.1", 0)  # any free port
    assert decode_command(encode({"cmd": "listen", "address": "sip:dana@127.0.0.1:5062"}))["cmd"] == "listen"
    for bad, message in (
        ("dana", "seat address “dana” is not a SIP address"),
        ("sip:127.0.0.1:5062", "is not sip:user@host"),  # no user to be called
        ("sip:dana@127.0.0.1;transport=tcp", "is not sip:user@host"),
        ("sip:dana@127.0.0.1:99999", "no valid port"),
    ):
        with pytest.raises(BadCommand, match=message):
            decode_command(encode({"cmd": "listen", "address": bad}))
    with pytest.raises(BadCommand, match="needs address"):
        decode_command(encode({"cmd": "listen"}))
