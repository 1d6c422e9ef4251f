"""Click-to-call through a real `csr-server run --http-port` process and a local HTTP server standing in
for Twilio's REST API (the one allowed stand-in): the ``dial`` request places the call with the
account's credentials and the right form fields, the signed voice webhook with ``?dial=`` answers TwiML
that dials the customer, and the call is logged as the CSR's Outbound call, linked to the customer and
never classified (kept out of booking rate). A bad number or a refusal by the provider is a plain
``dial_failed``."""

from __future__ import annotations

import asyncio
import base64
import os
import subprocess
import sys
import threading
from urllib.parse import parse_qs, urlsplit

import aiohttp
import pytest
from aiohttp import web
from sqlalchemy import create_engine, select

from bench.headless import PASSWORD, ROOT, USERNAME, build_templates, clone
from models.calls import Call
from tests.integration.test_calls_server import TOKEN, Console, server, signed  # noqa: F401 - fixture
from tests.unit.conftest import customer_args

ACCOUNT = "AC" + "a1" * 16
CALLER_ID = "+12145550100"
CUSTOMER_PHONE = "+12145550177"


class FakeTwilio:
    """Twilio's Calls.json on a local port, in its own thread: checks basic auth, keeps every request's
    form, answers like Twilio (201 with the call) or with ``error`` (status, Twilio's JSON error)."""

    def __init__(self) -> None:
        self.requests: list[dict[str, list[str]]] = []
        self.error: tuple[int, dict] | None = None
        self.loop = asyncio.new_event_loop()
        ready = threading.Event()
        self.thread = threading.Thread(target=self._run, args=(ready,), daemon=True)
        self.thread.start()
        ready.wait(10)

    def _run(self, ready: threading.Event) -> None:
        asyncio.set_event_loop(self.loop)
        app = web.Application()
        app.router.add_post("/2010-04-01/Accounts/{account}/Calls.json", self._calls)
        self.runner = web.AppRunner(app, access_log=None)
        self.loop.run_until_complete(self.runner.setup())
        site = web.TCPSite(self.runner, "127.0.0.1", 0)
        self.loop.run_until_complete(site.start())
        self.port = self.runner.addresses[0][1]
        ready.set()
        self.loop.run_forever()

    async def _calls(self, request: web.Request) -> web.Response:
        expected = "Basic " + base64.b64encode(f"{ACCOUNT}:{TOKEN}".encode()).decode()
        if request.match_info["account"] != ACCOUNT or request.headers.get("Authorization") != expected:
            return web.json_response({"code": 20003, "message": "Authenticate", "status": 401}, status=401)
        self.requests.append(parse_qs(await request.text()))
        if self.error is not None:
            status, body = self.error
            return web.json_response(body, status=status)
        return web.json_response(
            {"sid": "CA" + "b2" * 16, "status": "queued", "account_sid": ACCOUNT}, status=201
        )

    def close(self) -> None:
        asyncio.run_coroutine_threadsafe(self.runner.cleanup(), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)


@pytest.fixture
def calling_server(tmp_path_factory, tmp_path):
    """A server that places calls (account sid, caller id, the stand-in's API) and knows one customer."""
    from sqlalchemy.orm import sessionmaker

    from models.db import open_server_db
    from models.intents import create_customer

    templates = build_templates(tmp_path_factory.getbasetemp() / "call-templates")
    db = clone(templates.server_db, tmp_path / "server.sqlite3")
    engine = open_server_db(str(db))
    sessions = sessionmaker(engine)
    with sessions.begin() as session:
        args = customer_args(name="Olga Outbound", phone="(214) 555-0177")
        args["customer"]["id"] = "cust-olga"
        create_customer(session, args)
    engine.dispose()
    fake = FakeTwilio()
    env = {**os.environ, "CSR_TWILIO_AUTH_TOKEN": TOKEN, "CSR_TWILIO_ACCOUNT_SID": ACCOUNT}
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "sync.server_cli",
            "--db",
            str(db),
            "--log-level",
            "WARNING",
            "run",
            "--port",
            "0",
            "--http-port",
            "0",
            "--caller-id",
            CALLER_ID,
            "--twilio-api-base",
            f"http://127.0.0.1:{fake.port}",
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        ws_url = proc.stdout.readline().split("listening on ")[1].strip()
        http_url = proc.stdout.readline().split("webhooks on ")[1].strip()
        yield ws_url, http_url, db, fake
    finally:
        proc.terminate()
        proc.wait(10)
        proc.stdout.close()
        fake.close()


def stored_call(db, provider_call_id: str):
    engine = create_engine(f"sqlite:///{db}")
    try:
        with engine.connect() as conn:
            return conn.execute(
                select(Call.__table__).where(Call.__table__.c.provider_call_id == provider_call_id)
            ).one()
    finally:
        engine.dispose()


def leg(sid: str, status: str, **extra: str) -> dict[str, str]:
    """A request about the call Twilio placed: its first leg rang the CSR's softphone."""
    return {
        "CallSid": sid,
        "AccountSid": ACCOUNT,
        "From": CALLER_ID,
        "To": f"client:{USERNAME}",
        "Direction": "outbound-api",
        "CallStatus": status,
        "ApiVersion": "2010-04-01",
        **extra,
    }


def test_click_to_call_places_the_call_and_logs_it_outbound_linked_and_unclassified(calling_server):
    ws_url, http_url, db, fake = calling_server

    async def scenario() -> str:
        dana = await Console.sign_in(ws_url, USERNAME, PASSWORD)
        bad = await dana.request({"type": "dial", "id": "d1", "number": "12", "customer_id": "cust-olga"})
        assert bad["type"] == "error" and bad["code"] == "dial_failed" and "can be dialed" in bad["message"]
        assert fake.requests == []  # nothing sent for a bad number

        placed = await dana.request(
            {"type": "dial", "id": "d2", "number": "(214) 555-0177", "customer_id": "cust-olga"}
        )
        assert placed == {"type": "dialing", "id": "d2", "provider_call_id": "CA" + "b2" * 16}
        [form] = fake.requests
        assert form["To"] == [f"client:{USERNAME}"] and form["From"] == [CALLER_ID]
        voice_url, status_url = form["Url"][0], form["StatusCallback"][0]
        assert voice_url == f"{http_url}/telephony/twilio/voice?dial=%2B12145550177"
        assert urlsplit(status_url).path == "/telephony/twilio/status"
        assert parse_qs(urlsplit(status_url).query) == {"dial": [CUSTOMER_PHONE]}
        assert "initiated" in form["StatusCallbackEvent"] and "completed" in form["StatusCallbackEvent"]

        sid = placed["provider_call_id"]
        async with aiohttp.ClientSession() as http:
            params = leg(sid, "initiated")
            async with http.post(status_url, data=params, headers=signed(status_url, params)) as r:
                assert r.status == 200
            # The CSR answered their softphone: Twilio asks our voice URL what to do.
            params = leg(sid, "in-progress")
            async with http.post(voice_url, data=params, headers=signed(voice_url, params)) as r:
                assert r.status == 200
                twiml = await r.text()
            assert f'callerId="{CALLER_ID}"' in twiml and f">{CUSTOMER_PHONE}</Number>" in twiml
            assert "<Client" not in twiml  # nobody else's phone rings
            # Unsigned (or signed for another URL): refused like every webhook.
            async with http.post(
                voice_url, data=params, headers=signed(f"{http_url}/telephony/twilio/voice", params)
            ) as r:
                assert r.status == 403
            shown = await dana.until(lambda m: m["call"]["provider_call_id"] == sid)
            call = shown["call"]
            assert call["direction"] == "Outbound" and call["agent_id"] == dana.user_id
            assert call["customer_id"] == "cust-olga" and call["to_number"] == CUSTOMER_PHONE
            assert call["from_number"] == CALLER_ID
            params = leg(sid, "completed", CallDuration="95")
            async with http.post(status_url, data=params, headers=signed(status_url, params)) as r:
                assert r.status == 200
            ended = await dana.until(
                lambda m: m["call"]["provider_call_id"] == sid and m["call"]["state"] == "Ended"
            )
            assert ended["call"]["classification"] == ""  # never in booking rate
        await dana.close()
        return sid

    sid = asyncio.run(scenario())
    row = stored_call(db, sid)
    assert row.direction == "Outbound" and row.customer_id == "cust-olga" and row.classification is None


def test_a_provider_refusal_is_a_plain_dial_failed_with_its_message(calling_server):
    ws_url, _http_url, _db, fake = calling_server
    fake.error = (
        400,
        {
            "code": 21211,
            "message": "The 'To' number client:chaos is not a valid phone number.",
            "more_info": "https://www.twilio.com/docs/errors/21211",
            "status": 400,
        },
    )

    async def scenario() -> dict:
        dana = await Console.sign_in(ws_url, USERNAME, PASSWORD)
        answer = await dana.request({"type": "dial", "id": "d1", "number": "+12145550177"})
        await dana.close()
        return answer

    answer = asyncio.run(scenario())
    assert answer["type"] == "error" and answer["code"] == "dial_failed"
    assert answer["message"] == (
        "The phone system refused the call: The 'To' number client:chaos is not a valid phone number."
    )
    assert TOKEN not in answer["message"] and len(fake.requests) == 1


def test_without_the_account_sid_dial_says_what_is_missing(server):  # noqa: F811 - the fixture
    ws_url, _http_url, _db = server

    async def scenario() -> dict:
        dana = await Console.sign_in(ws_url, USERNAME, PASSWORD)
        answer = await dana.request({"type": "dial", "id": "d1", "number": "+12145550177"})
        await dana.close()
        return answer

    answer = asyncio.run(scenario())
    assert answer["code"] == "dial_failed"
    assert answer["message"] == "Calling out needs the phone system's account (--twilio-account-sid)."


def test_click_to_call_rings_a_csrs_sip_seat_and_the_call_is_still_theirs(calling_server):
    """With a SIP seat, Twilio is asked to ring the seat (the number in X-CSR-Dial, so the console
    answers its own click-to-call), and the URLs name the CSR: the call is logged as theirs."""
    from sqlalchemy.orm import sessionmaker

    from models.db import open_server_db
    from sync.phone_seats import set_seat

    ws_url, http_url, db, fake = calling_server
    engine = open_server_db(str(db))
    seat = "sip:dana@acme.sip.example.com"
    set_seat(sessionmaker(engine), USERNAME, {"sip_address": seat, "registrar": "sip:acme.sip.example.com",
                                              "user": "dana"})  # fmt: skip
    engine.dispose()

    async def scenario() -> None:
        dana = await Console.sign_in(ws_url, USERNAME, PASSWORD)
        placed = await dana.request(
            {"type": "dial", "id": "d3", "number": "(214) 555-0177", "customer_id": "cust-olga"}
        )
        assert placed["type"] == "dialing"
        [form] = fake.requests
        assert form["To"] == [f"{seat}?X-CSR-Dial=%2B12145550177"]
        voice_url, status_url = form["Url"][0], form["StatusCallback"][0]
        assert parse_qs(urlsplit(voice_url).query) == {"dial": [CUSTOMER_PHONE], "agent": [USERNAME]}
        assert parse_qs(urlsplit(status_url).query) == {"dial": [CUSTOMER_PHONE], "agent": [USERNAME]}
        sid = placed["provider_call_id"]
        async with aiohttp.ClientSession() as http:
            for url, params in (
                (status_url, {**leg(sid, "initiated"), "To": seat, "Called": seat}),
                (voice_url, {**leg(sid, "in-progress"), "To": seat, "Called": seat}),
            ):
                async with http.post(url, data=params, headers=signed(url, params)) as r:
                    assert r.status == 200
        shown = await dana.until(lambda m: m["call"]["provider_call_id"] == sid and m["call"]["agent_id"])
        assert shown["call"]["agent_id"] == dana.user_id and shown["call"]["direction"] == "Outbound"
        await dana.close()

    asyncio.run(scenario())
