"""Routing by business hours and the longest wait: the pure rules, the voicemail TwiML (Twilio's <Record>
semantics: greeting, beep, action back to us, the recording by its status callback), and the webhook
path through a real ingress and call desk (signed requests, the recording attached to the call)."""

from __future__ import annotations

import asyncio
import xml.etree.ElementTree as ET
from datetime import UTC, datetime, time, timedelta

import aiohttp
from sqlalchemy import select
from sqlalchemy.orm import sessionmaker
from twilio.request_validator import RequestValidator

from models.callbacks import Callback
from models.calls import Call
from models.db import open_server_db
from models.routing import AFTER_HOURS, MAX_WAIT, RING, RoutingPolicy, open_at, route
from sync.call_desk import CallDesk
from sync.ingress import make_app, start_ingress
from sync.phone_seats import set_phone_settings
from sync.telephony import twilio
from tests.unit.booking_setup import build_setup
from tests.unit.test_twilio_adapter import URLS

HOURS = {d: ((time(7), time(19)),) for d in range(5)}  # Monday–Friday 7–19, Chicago
TUESDAY_NOON = datetime(2026, 12, 1, 18, 0, tzinfo=UTC)  # 12:00 in Chicago
TUESDAY_NIGHT = datetime(2026, 12, 2, 3, 0, tzinfo=UTC)  # 21:00 in Chicago
SUNDAY_NOON = datetime(2026, 12, 6, 18, 0, tzinfo=UTC)
TOKEN = "routing-test-token"


def test_business_hours_in_the_company_time_zone():
    policy = RoutingPolicy(True, 0, "America/Chicago", HOURS)
    assert open_at(policy, TUESDAY_NOON) and not open_at(policy, TUESDAY_NIGHT)
    assert not open_at(policy, SUNDAY_NOON)
    assert open_at(RoutingPolicy(True, 0, "America/Chicago", {}), TUESDAY_NIGHT)  # no hours: always open


def test_route_after_hours_and_after_the_longest_wait():
    on = RoutingPolicy(True, 120, "America/Chicago", HOURS)
    assert route(on, TUESDAY_NIGHT, None) == AFTER_HOURS
    assert route(on, TUESDAY_NOON, None) == RING
    assert route(on, TUESDAY_NOON, 119.0) == RING and route(on, TUESDAY_NOON, 120.0) == MAX_WAIT
    off = RoutingPolicy(False, 0, "America/Chicago", HOURS)
    assert route(off, TUESDAY_NIGHT, 10_000.0) == RING  # neither setting: ring and wait as before
    assert RoutingPolicy.from_settings({"max_wait_seconds": "x"}, HOURS, "UTC").max_wait_seconds == 0


def test_voicemail_twiml_records_with_a_beep_and_comes_back_to_us():
    root = ET.fromstring(twilio.voicemail_twiml(URLS, AFTER_HOURS))
    assert [c.tag for c in root] == ["Say", "Record"]
    assert "closed right now" in root.find("Say").text
    assert root.find("Record").attrib == {
        "action": "https://calls.example.com/telephony/twilio/status",
        "method": "POST",
        "maxLength": str(twilio.VOICEMAIL_SECONDS),
        "timeout": "5",
        "playBeep": "true",
        "recordingStatusCallback": "https://calls.example.com/telephony/twilio/recording",
        "recordingStatusCallbackMethod": "POST",
        "recordingStatusCallbackEvent": "completed",
    }
    # The Record's action request gets an empty answer: Twilio ends the call.
    assert twilio.status_twiml({"CallSid": "CA1", "RecordingUrl": "x"}, URLS) == twilio.empty_twiml()


def test_after_hours_callers_reach_voicemail_and_the_recording_is_on_their_call(tmp_path):
    engine = open_server_db(str(tmp_path / "server.sqlite3"))
    sessions = sessionmaker(engine, expire_on_commit=False)
    with sessions.begin() as s:
        build_setup(s)  # Monday–Friday 7–19, Saturday 8–12, America/Chicago
    set_phone_settings(sessions, after_hours_voicemail=True)
    clock = [TUESDAY_NIGHT]
    desk = CallDesk(sessions, agents=lambda: ["dana"])
    sid = "CA" + "7" * 32
    voice = {"CallSid": sid, "AccountSid": "AC" + "0" * 32, "From": "+12145550134", "To": "+12145550199",
             "Direction": "inbound", "CallStatus": "ringing", "ApiVersion": "2010-04-01"}  # fmt: skip
    recording = {"CallSid": sid, "AccountSid": voice["AccountSid"], "RecordingSid": "RE" + "1" * 32,
                 "RecordingUrl": "https://api.twilio.com/2010-04-01/Accounts/AC/Recordings/RE1",
                 "RecordingStatus": "completed", "RecordingDuration": "14"}  # fmt: skip

    async def post(http, base, path, params):
        url = "http://127.0.0.1" + path
        signature = RequestValidator(TOKEN).compute_signature(url, params)
        async with http.post(base + path, data=params, headers={"X-Twilio-Signature": signature}) as r:
            assert r.status == 200, await r.text()
            return await r.text()

    async def scenario():
        runner, port = await start_ingress(
            make_app(desk, TOKEN, "http://127.0.0.1", clock=lambda: clock[0]), "127.0.0.1", 0
        )
        base = f"http://127.0.0.1:{port}"
        try:
            async with aiohttp.ClientSession() as http:
                night = await post(http, base, "/telephony/twilio/voice", voice)
                await post(http, base, "/telephony/twilio/recording", recording)
                # the caller hangs up after the message: an unanswered call, owed a call back
                await post(http, base, "/telephony/twilio/status", {**voice, "CallStatus": "completed"})
                clock[0] = TUESDAY_NOON
                day = await post(http, base, "/telephony/twilio/voice", {**voice, "CallSid": "CA" + "8" * 32})
        finally:
            await runner.cleanup()
        return night, day

    night, day = asyncio.run(scenario())
    assert "<Record " in night and "<Dial" not in night and "closed right now" in night
    assert "<Client" in day and "<Record" not in day  # in hours: rings as before
    with sessions() as s:
        call = s.scalar(select(Call).where(Call.provider_call_id == sid))
    assert call.recording_url == recording["RecordingUrl"]
    assert call.routed_to == "voicemail"  # marked: call review and the callbacks list say "Voicemail"
    with sessions() as s:  # the callback queue (docs/phone.md): a voicemail with a number is an open item
        item = s.get(Callback, call.id)
    assert item is not None and item.voicemail and item.phone == "+12145550134" and item.status == "open"
    engine.dispose()


def test_a_caller_who_waited_past_the_longest_wait_reaches_voicemail(tmp_path):
    engine = open_server_db(str(tmp_path / "server.sqlite3"))
    sessions = sessionmaker(engine, expire_on_commit=False)
    with sessions.begin() as s:
        build_setup(s)
    set_phone_settings(sessions, max_wait_seconds=60)
    clock = [TUESDAY_NOON]
    desk = CallDesk(sessions, agents=list)  # nobody signed in: the caller waits
    voice = {"CallSid": "CA" + "9" * 32, "AccountSid": "AC" + "0" * 32, "From": "+12145550134",
             "To": "+12145550199", "Direction": "inbound", "CallStatus": "ringing", "ApiVersion": "2010-04-01"}  # fmt: skip

    async def scenario():
        runner, port = await start_ingress(
            make_app(desk, TOKEN, "http://127.0.0.1", clock=lambda: clock[0]), "127.0.0.1", 0
        )
        answers = []
        try:
            async with aiohttp.ClientSession() as http:
                for path, at in (("/telephony/twilio/voice", 0), ("/telephony/twilio/voice?hold=1", 30),
                                 ("/telephony/twilio/voice?hold=1", 61)):  # fmt: skip
                    clock[0] = TUESDAY_NOON + timedelta(seconds=at)
                    url = "http://127.0.0.1" + path
                    signature = RequestValidator(TOKEN).compute_signature(url, voice)
                    headers = {"X-Twilio-Signature": signature}
                    async with http.post(f"http://127.0.0.1:{port}{path}", data=voice, headers=headers) as r:
                        answers.append(await r.text())
        finally:
            await runner.cleanup()
        return answers

    first, half, over = asyncio.run(scenario())
    assert "<Redirect" in first and "<Record" not in first
    assert "<Redirect" in half and "<Record" not in half
    assert "<Record " in over and "Sorry to keep you waiting" in over
    engine.dispose()


def test_the_callback_offer_gathers_one_key_then_falls_through_to_voicemail():
    root = ET.fromstring(twilio.callback_offer_twiml(URLS, MAX_WAIT))
    # Twilio runs <Gather>; with no key in the timeout it goes on to the next verbs: the voicemail.
    assert [c.tag for c in root] == ["Gather", "Say", "Record"]
    gather = root.find("Gather")
    assert gather.attrib == {
        "input": "dtmf",
        "numDigits": "1",
        "timeout": str(twilio.CALLBACK_GATHER_SECONDS),
        "action": "https://calls.example.com/telephony/twilio/callback",
        "method": "POST",
    }
    assert "press 1" in gather.find("Say").text and "Sorry to keep you waiting" in gather.find("Say").text
    assert root.find("Record").attrib["recordingStatusCallback"].endswith("/telephony/twilio/recording")
    # The action: 1 → thanks and hang up; any other key → the voicemail after all.
    one = ET.fromstring(twilio.callback_answer_twiml({"CallSid": "CA1", "Digits": "1"}, URLS))
    assert [c.tag for c in one] == ["Say", "Hangup"] and "call you back" in one.find("Say").text
    other = ET.fromstring(twilio.callback_answer_twiml({"CallSid": "CA1", "Digits": "7"}, URLS))
    assert [c.tag for c in other] == ["Say", "Record"]
    assert twilio.callback_events({"CallSid": "CA1", "Digits": "7"}, TUESDAY_NOON) == []


def _desk_with_settings(tmp_path, **settings):
    engine = open_server_db(str(tmp_path / "server.sqlite3"))
    sessions = sessionmaker(engine, expire_on_commit=False)
    with sessions.begin() as s:
        build_setup(s)
    set_phone_settings(sessions, **settings)
    return engine, sessions


async def _signed_post(http, base, path, params):
    url = "http://127.0.0.1" + path
    signature = RequestValidator(TOKEN).compute_signature(url, params)
    async with http.post(base + path, data=params, headers={"X-Twilio-Signature": signature}) as r:
        assert r.status == 200, await r.text()
        return await r.text()


def test_pressing_1_opens_one_callback_item_through_the_real_ingress(tmp_path):
    engine, sessions = _desk_with_settings(tmp_path, after_hours_voicemail=True, offer_callback=True)
    desk = CallDesk(sessions, agents=lambda: ["dana"])
    sid, anon_sid, other_sid = "CA" + "a" * 32, "CA" + "b" * 32, "CA" + "c" * 32
    voice = {"CallSid": sid, "AccountSid": "AC" + "0" * 32, "From": "+12145550134", "To": "+12145550199",
             "Direction": "inbound", "CallStatus": "in-progress", "ApiVersion": "2010-04-01"}  # fmt: skip

    async def scenario():
        app = make_app(desk, TOKEN, "http://127.0.0.1", clock=lambda: TUESDAY_NIGHT)
        runner, port = await start_ingress(app, "127.0.0.1", 0)
        base = f"http://127.0.0.1:{port}"
        out = {}
        try:
            async with aiohttp.ClientSession() as http:
                out["offer"] = await _signed_post(http, base, "/telephony/twilio/voice", voice)
                pressed = {**voice, "Digits": "1", "FinishedOnKey": ""}
                out["thanks"] = await _signed_post(http, base, "/telephony/twilio/callback", pressed)
                # Twilio may deliver the action again: still one item
                await _signed_post(http, base, "/telephony/twilio/callback", pressed)
                out["unsigned"] = await http.post(base + "/telephony/twilio/callback", data=pressed)
                await _signed_post(
                    http, base, "/telephony/twilio/status", {**voice, "CallStatus": "completed"}
                )
                # an anonymous caller can't be called back: plain voicemail, no offer
                anon = {**voice, "CallSid": anon_sid, "From": "anonymous"}
                out["anon"] = await _signed_post(http, base, "/telephony/twilio/voice", anon)
                # another caller presses 2: the voicemail after all, no callback asked for
                other = {**voice, "CallSid": other_sid, "From": "+12145550177"}
                await _signed_post(http, base, "/telephony/twilio/voice", other)
                out["two"] = await _signed_post(
                    http, base, "/telephony/twilio/callback", {**other, "Digits": "2"}
                )
        finally:
            await runner.cleanup()
        return out

    out = asyncio.run(scenario())
    assert "<Gather " in out["offer"] and "<Record " in out["offer"] and "<Dial" not in out["offer"]
    assert "<Hangup" in out["thanks"] and "<Record" not in out["thanks"]
    assert out["unsigned"].status == 403
    assert "<Gather" not in out["anon"] and "<Record " in out["anon"]
    assert "<Record " in out["two"]
    with sessions() as s:
        call = s.scalar(select(Call).where(Call.provider_call_id == sid))
        items = list(s.scalars(select(Callback)))
        other_call = s.scalar(select(Call).where(Call.provider_call_id == other_sid))
    assert call.routed_to == "callback" and call.classification == "Abandoned"
    [item] = items  # the one who pressed 1; the one who pressed 2 is still on the line
    assert item.id == call.id and item.requested and not item.voicemail and item.phone == "+12145550134"
    assert item.waiting_since.replace(tzinfo=UTC) == TUESDAY_NIGHT
    assert other_call.routed_to == "voicemail"
    engine.dispose()


def test_without_the_setting_no_callback_is_offered(tmp_path):
    engine, sessions = _desk_with_settings(tmp_path, after_hours_voicemail=True)
    desk = CallDesk(sessions, agents=lambda: ["dana"])
    voice = {"CallSid": "CA" + "d" * 32, "AccountSid": "AC" + "0" * 32, "From": "+12145550134",
             "To": "+12145550199", "Direction": "inbound", "CallStatus": "ringing", "ApiVersion": "2010-04-01"}  # fmt: skip

    async def scenario():
        app = make_app(desk, TOKEN, "http://127.0.0.1", clock=lambda: TUESDAY_NIGHT)
        runner, port = await start_ingress(app, "127.0.0.1", 0)
        try:
            async with aiohttp.ClientSession() as http:
                return await _signed_post(http, f"http://127.0.0.1:{port}", "/telephony/twilio/voice", voice)
        finally:
            await runner.cleanup()

    answer = asyncio.run(scenario())
    assert "<Gather" not in answer and "<Record " in answer
    assert set_phone_settings(sessions)["offer_callback"] is False
    engine.dispose()
