"""SIP seats on the server: kept per user, checked before saving, sent at sign-in, and rung with
<Dial><Sip> (the parent call's sid as an X- header, the CSR named in the leg's status callback URL)."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime
from urllib.parse import parse_qs, urlsplit

import pytest
from sqlalchemy import select
from sqlalchemy.orm import sessionmaker

from models.calls import CallDirection, CallEventKind
from models.db import open_server_db
from models.setup import User
from sync.auth import Accounts, token_secret
from sync.phone_seats import SeatDirectory, SeatRefused, check_seat, clear_seat, seat_for_user, set_seat
from sync.server_auth import AccountsAuthenticator
from sync.server_cli import main as server_main
from sync.telephony import twilio
from tests.unit.test_twilio_adapter import PARENT, URLS, VOICE, _twiml, child

SEAT = {"sip_address": "sip:dana@acme.sip.twilio.com", "registrar": "sip:acme.sip.twilio.com",
        "user": "dana", "transport": "TLS"}  # fmt: skip
PASSWORD = "correct horse battery"


@pytest.fixture
def sessions(tmp_path):
    engine = open_server_db(str(tmp_path / "server.sqlite3"))
    s = sessionmaker(engine, expire_on_commit=False)
    Accounts(s).add_user("dana", "Dana Reyes", "csr", PASSWORD)
    Accounts(s).add_user("sam", "Sam Ortiz", "csr", PASSWORD)
    yield s
    engine.dispose()


def test_a_seat_is_checked_before_it_is_saved(sessions):
    assert check_seat(SEAT)["transport"] == "tls"
    for bad, message in (
        ({**SEAT, "sip_address": "dana"}, "sip address “dana” is not a SIP address"),
        ({**SEAT, "registrar": "http://x"}, "registrar “http://x” is not a SIP address"),
        ({**SEAT, "proxy": "proxy.example"}, "proxy “proxy.example” is not a SIP address"),
        ({**SEAT, "user": " "}, "needs a SIP user name"),
        ({**SEAT, "transport": "sctp"}, "not one of UDP, TCP or TLS"),
    ):
        with pytest.raises(SeatRefused, match=message):
            set_seat(sessions, "dana", bad)
    with pytest.raises(SeatRefused, match="no user “nobody”"):
        set_seat(sessions, "nobody", SEAT)
    direct = {"sip_address": "sip:dana@127.0.0.1:5062", "registrar": "", "user": "dana"}
    for bad, message in (
        ({**direct, "sip_address": "sip:127.0.0.1:5062"}, "is not sip:user@host.*reached at that address"),
        ({**direct, "transport": "tls"}, "no registrar listens on UDP, with no proxy"),
        ({**direct, "proxy": "sip:proxy.example"}, "no registrar listens on UDP, with no proxy"),
    ):
        with pytest.raises(SeatRefused, match=message):
            set_seat(sessions, "dana", bad)
    with sessions() as s:
        dana = s.scalar(select(User).where(User.username == "dana"))
    assert seat_for_user(sessions, dana.id) is None  # nothing saved


def test_a_direct_seat_has_no_registrar_and_is_rung_at_its_own_address(sessions):
    """The demo's kind of seat: the softphone listens at the address itself (docs/phone.md)."""
    direct = {"sip_address": "sip:dana@127.0.0.1:5062", "registrar": "", "user": "dana"}
    assert set_seat(sessions, "dana", direct)["registrar"] == ""
    assert SeatDirectory(sessions).ring_targets(["dana", "sam"]) == ["sip:dana@127.0.0.1:5062", "sam"]


def test_seats_are_kept_per_user_and_rung_at_their_sip_address(sessions):
    clock = [0.0]
    directory = SeatDirectory(sessions, clock=lambda: clock[0])
    assert directory.ring_targets(["dana", "sam"]) == ["dana", "sam"]
    saved = set_seat(sessions, "dana", SEAT)
    assert saved["sip_address"] == SEAT["sip_address"] and "password" not in saved
    clock[0] += 10
    assert directory.addresses() == {"dana": SEAT["sip_address"]}
    assert directory.ring_targets(["dana", "sam"]) == [SEAT["sip_address"], "sam"]
    assert clear_seat(sessions, "dana") and not clear_seat(sessions, "dana")
    clock[0] += 10
    assert directory.addresses() == {}


def test_sign_in_carries_the_seat_and_never_a_password(sessions):
    set_seat(sessions, "dana", SEAT)
    auth = AccountsAuthenticator(Accounts(sessions), token_secret(sessions))

    async def scenario():
        token, _expires, user = await auth.login("dana", PASSWORD)
        again = await auth.verify(token)
        _t, _e, sam = await auth.login("sam", PASSWORD)
        return user, again, sam

    user, again, sam = asyncio.run(scenario())
    assert user["phone_seat"] == again["phone_seat"] == {**check_seat(SEAT)}
    assert sam["phone_seat"] is None
    assert user["phone_auto_claim"] is False


def test_csr_server_phone_settings(tmp_path, sessions, capsys):
    db = str(tmp_path / "server.sqlite3")
    assert (
        server_main(["--db", db, "phone-settings", "--after-hours-voicemail", "on", "--max-wait", "90"]) == 0
    )
    assert json.loads(capsys.readouterr().out) == {
        "after_hours_voicemail": True, "max_wait_seconds": 90, "auto_claim": False, "overflow": [],
        "offer_callback": False, "callback_claim_minutes": 30}  # fmt: skip
    assert server_main(["--db", db, "phone-settings", "--offer-callback", "on"]) == 0
    assert json.loads(capsys.readouterr().out)["offer_callback"] is True
    assert server_main(["--db", db, "phone-settings", "--callback-claim-minutes", "0"]) == 0
    assert json.loads(capsys.readouterr().out)["callback_claim_minutes"] == 0
    assert server_main(["--db", db, "phone-settings", "--callback-claim-minutes", "-1"]) == 2
    assert "number of minutes" in capsys.readouterr().err
    assert server_main(["--db", db, "phone-settings", "--max-wait", "-5"]) == 2
    assert "number of seconds" in capsys.readouterr().err
    assert server_main(["--db", db, "phone-settings", "--auto-claim", "on"]) == 0
    assert json.loads(capsys.readouterr().out)["max_wait_seconds"] == 90  # the others kept
    assert server_main(["--db", db, "phone-settings", "--overflow", "sam,nobody"]) == 2
    assert "There is no user “nobody”. Nothing was changed." in capsys.readouterr().err
    assert server_main(["--db", db, "phone-settings", "--overflow", "sam"]) == 0
    assert json.loads(capsys.readouterr().out)["overflow"] == ["sam"]


def test_the_second_group_rings_only_when_nobody_of_the_first_is_available(sessions):
    from sync.call_desk import CallDesk
    from sync.phone_seats import ring_order, set_phone_settings

    second = frozenset({"sam", "kim"})
    agents = ["dana", "lee", "sam", "kim"]
    assert ring_order(agents, {"lee", "sam"}, second) == ["lee", "dana"]
    assert ring_order(agents, {"sam"}, second) == ["sam", "dana", "lee", "kim"]
    assert ring_order(agents, set(), second) == ["dana", "lee", "sam", "kim"]
    signed_in, free = ["dana", "sam"], {"sam"}
    desk = CallDesk(sessions, agents=lambda: signed_in, available=lambda: free)
    assert desk.agents_to_ring() == ["sam", "dana"]  # no second group: everyone, Available first
    set_phone_settings(sessions, overflow=["sam"])
    desk = CallDesk(sessions, agents=lambda: signed_in, available=lambda: free)
    assert desk.agents_to_ring() == ["sam", "dana"]  # Dana (first group) is not Available: Sam rings
    free.add("dana")
    desk = CallDesk(sessions, agents=lambda: signed_in, available=lambda: free)
    assert desk.agents_to_ring() == ["dana"]  # Dana is free: the second group waits


def test_dial_sip_rings_a_seat_with_the_call_sid_header_and_a_named_status_url():
    seats = {"dana": SEAT["sip_address"]}
    dial = _twiml(twilio.voice_twiml(VOICE, ["dana", "sam"], URLS, seats=seats)).find("Dial")
    sip, client = dial.find("Sip"), dial.find("Client")
    assert client.text == "sam"
    uri = urlsplit(sip.text)
    assert sip.text.startswith(SEAT["sip_address"] + "?")
    assert parse_qs(uri.query) == {"X-CSR-Call-Sid": [VOICE["CallSid"]]}
    assert sip.get("statusCallback") == "https://calls.example.com/telephony/twilio/status?agent=dana"
    assert sip.get("statusCallbackEvent") == "initiated ringing answered completed"
    assert twilio.sip_with_call_sid("sip:a@b?x-a=1", "CA1") == "sip:a@b?x-a=1&X-CSR-Call-Sid=CA1"


def test_a_seat_legs_callbacks_name_the_csr_from_the_url():
    at = datetime(2025, 3, 4, 15, 30, tzinfo=UTC)
    to = SEAT["sip_address"]
    (ringing,) = twilio.status_events(child("ringing", 1, to=to), at, agent="dana")
    assert ringing.kind is CallEventKind.ALERTING and ringing.agent == "dana"
    assert ringing.provider_call_id == PARENT and ringing.direction is CallDirection.INBOUND
    (answered,) = twilio.status_events(child("in-progress", 2, to=to), at, agent="dana")
    assert answered.kind is CallEventKind.ANSWERED and answered.agent == "dana"


def test_csr_server_phone_seat_commands(tmp_path, sessions, capsys):
    db = str(tmp_path / "server.sqlite3")
    base = ["--db", db, "phone-seat"]
    args = ["set", "dana", "--address", SEAT["sip_address"], "--registrar", SEAT["registrar"],
            "--sip-user", "dana", "--transport", "tcp"]  # fmt: skip
    assert server_main([*base, *args]) == 0
    said = capsys.readouterr()
    assert json.loads(said.out)["transport"] == "tcp"
    # SQLite: no note reaches a running server; the command says when connected consoles see it.
    assert (
        "dana's consoles already connected to a running server get this at their next connection" in said.err
    )
    assert (
        server_main([*base, "set", "dana", "--address", "nope", "--registrar", "sip:x", "--sip-user", "d"])
        == 2
    )
    assert "“nope” is not a SIP address (sip:…). Nothing was changed." in capsys.readouterr().err
    assert server_main([*base, "show", "dana"]) == 0
    assert json.loads(capsys.readouterr().out)["sip_address"] == SEAT["sip_address"]
    assert server_main([*base, "clear", "dana"]) == 0
    assert "at their next connection" in capsys.readouterr().err
    assert server_main([*base, "show", "dana"]) == 1
    assert "dana has no phone seat" in capsys.readouterr().err
