"""The webhook ingress as a real aiohttp server on loopback, fed requests signed with the official twilio
package: good signatures recorded, bad ones refused with nothing stored, the validator's port and JSON
variants, limits, a failing store, and csr-callsim's simulated calls (duplicated and reordered)."""

from __future__ import annotations

import asyncio
import collections
import contextlib
import hashlib
import json
import logging
import os
import sys
import xml.etree.ElementTree as ET
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlencode

import aiohttp
import pytest
from twilio.request_validator import RequestValidator

from models.calls import CallEventKind, NeutralEvent
from sync import callsim
from sync.ingress import MAX_BODY, make_app, set_public_url, start_ingress
from sync.telephony.twilio import RECORDING_PATH, STATUS_PATH, VOICE_PATH

ROOT = Path(__file__).resolve().parents[2]
PUBLIC = "https://calls.example.com"
TOKEN = "0123456789abcdef-test-auth-token"
VOICE = {
    "AccountSid": "AC" + "1" * 32,
    "ApiVersion": "2010-04-01",
    "CallSid": "CA" + "a" * 32,
    "CallStatus": "ringing",
    "Direction": "inbound",
    "From": "+14155550123",
    "Caller": "+14155550123",
    "To": "+18005550100",
    "Called": "+18005550100",
    "FromCountry": "US",
    "ToCountry": "US",
}


class MemorySink:
    """The boundary the server's call store implements; here, a list (a provider key stored once)."""

    def __init__(self, agents: tuple[str, ...] = ("dana", "sam")) -> None:
        self.events: list[NeutralEvent] = []
        self.agents = list(agents)
        self.failing = False

    async def record(self, events: list[NeutralEvent]) -> None:
        if self.failing:
            raise RuntimeError("database is locked")
        known = {e.provider_key for e in self.events}
        self.events.extend(e for e in events if e.provider_key not in known)

    def agents_to_ring(self) -> list[str]:
        return list(self.agents)


@dataclass
class Served:
    session: aiohttp.ClientSession
    base: str
    port: int
    app: object


@contextlib.asynccontextmanager
async def serving(sink: MemorySink, public_url: str = PUBLIC) -> AsyncIterator[Served]:
    app = make_app(sink, TOKEN, public_url)
    runner, port = await start_ingress(app, "127.0.0.1", 0)
    try:
        async with aiohttp.ClientSession() as session:
            yield Served(session, f"http://127.0.0.1:{port}", port, app)
    finally:
        await runner.cleanup()


def sign(url: str, params: dict[str, str], token: str = TOKEN) -> str:
    return RequestValidator(token).compute_signature(url, params)


async def post(
    served: Served,
    path: str,
    params: dict[str, str],
    *,
    signed_url: str | None = None,
    signature: str | None = None,
    token: str = TOKEN,
) -> tuple[int, str, str]:
    """POST a form as Twilio does: signed over the public URL (or ``signed_url``)."""
    if signature is None:
        signature = sign(signed_url or PUBLIC + path, params, token)
    headers = {"X-Twilio-Signature": signature} if signature else {}
    async with served.session.post(served.base + path, data=params, headers=headers) as response:
        return response.status, await response.text(), response.content_type


def test_signed_voice_webhook_is_recorded_and_answered_with_a_dial():
    sink = MemorySink()

    async def scenario() -> tuple[int, str, str]:
        async with serving(sink) as served:
            return await post(served, VOICE_PATH, VOICE)

    status, body, content_type = asyncio.run(scenario())
    assert status == 200 and content_type == "application/xml"
    dial = ET.fromstring(body).find("Dial")
    assert dial is not None and [c.text for c in dial.findall("Client")] == ["dana", "sam"]
    assert (
        dial.get("action") == PUBLIC + STATUS_PATH
        and dial.get("recordingStatusCallback") == PUBLIC + RECORDING_PATH
    )
    assert dial.get("record") == "record-from-answer-dual"
    assert [(e.kind, e.provider_call_id, e.from_number) for e in sink.events] == [
        (CallEventKind.OFFERED, VOICE["CallSid"], "+14155550123")
    ]


def test_nobody_free_holds_the_caller_and_queues_the_call():
    sink = MemorySink(agents=())

    async def scenario() -> str:
        async with serving(sink) as served:
            status, body, _ = await post(served, VOICE_PATH, VOICE)
            assert status == 200
            again, _, _ = await post(served, VOICE_PATH + "?hold=1", VOICE)  # Twilio following <Redirect>
            assert again == 200
            return body

    root = ET.fromstring(asyncio.run(scenario()))
    assert root.find("Redirect").text == PUBLIC + VOICE_PATH + "?hold=1"
    assert [e.kind for e in sink.events] == [CallEventKind.OFFERED, CallEventKind.QUEUED]


@pytest.mark.parametrize(
    "caller",
    ["anonymous", "Restricted", "", "+266696687", "not a number", "+1 (415) 555-0123 ext. 9", "☎" * 40],
)
def test_odd_callers_are_recorded_as_sent(caller):
    sink = MemorySink()

    async def scenario() -> int:
        async with serving(sink) as served:
            return (await post(served, VOICE_PATH, {**VOICE, "From": caller, "Caller": caller}))[0]

    assert asyncio.run(scenario()) == 200
    assert [(e.kind, e.from_number) for e in sink.events] == [(CallEventKind.OFFERED, caller)]


@pytest.mark.parametrize(
    "tamper", ["missing", "garbage", "other-token", "other-url", "changed-param", "extra-param", "shared-key"]
)
def test_bad_or_missing_signature_is_refused_and_nothing_recorded(tamper, caplog):
    sink = MemorySink()
    caplog.set_level(logging.INFO)

    async def scenario() -> tuple[int, str]:
        async with serving(sink) as served:
            params = dict(VOICE)
            kwargs: dict = {}
            if tamper == "missing":
                kwargs["signature"] = ""
            elif tamper == "garbage":
                kwargs["signature"] = "bm90IGEgc2lnbmF0dXJl"
            elif tamper == "other-token":
                kwargs["token"] = "someone-elses-token"
            elif tamper == "other-url":
                kwargs["signed_url"] = "https://attacker.example.net" + VOICE_PATH
            elif tamper in ("changed-param", "extra-param"):
                kwargs["signature"] = sign(PUBLIC + VOICE_PATH, params)
                params = (
                    {**params, "From": "+19995550000"} if tamper == "changed-param" else {**params, "X": "1"}
                )
            elif tamper == "shared-key":
                # Signed right, but announcing another secret (a Twilio shared key) we don't hold.
                headers = {
                    "X-Twilio-Signature": sign(PUBLIC + VOICE_PATH, params),
                    "X-Twilio-Webhooks-Signature-Settings": "key=webhooks_sharedkey_1,algorithm=HMAC_SHA1",
                }
                async with served.session.post(served.base + VOICE_PATH, data=params, headers=headers) as r:
                    return r.status, await r.text()
            status, body, _ = await post(served, VOICE_PATH, params, **kwargs)
            return status, body

    assert asyncio.run(scenario()) == (403, "Invalid signature")
    assert sink.events == []
    refusals = [r.getMessage() for r in caplog.records if "event=webhook_refused" in r.getMessage()]
    assert len(refusals) == 1 and "remote=127.0.0.1" in refusals[0] and f"path={VOICE_PATH}" in refusals[0]
    assert TOKEN not in caplog.text


@pytest.mark.parametrize(
    ("public_url", "signed_over"),
    [
        (PUBLIC, "https://calls.example.com:443"),  # Twilio signed with the default port spelled out
        ("https://calls.example.com:443", PUBLIC),  # ... or configured with it and signed without
        ("http://calls.example.com", "http://calls.example.com:80"),
    ],
)
def test_signature_over_the_url_with_or_without_its_port_is_accepted(public_url, signed_over):
    sink = MemorySink()

    async def scenario() -> int:
        async with serving(sink, public_url) as served:
            status, _, _ = await post(served, VOICE_PATH, VOICE, signed_url=signed_over + VOICE_PATH)
            return status

    assert asyncio.run(scenario()) == 200 and len(sink.events) == 1


def test_public_url_can_be_set_once_the_port_is_known():
    sink = MemorySink()

    async def scenario() -> tuple[int, int]:
        async with serving(sink) as served:
            local = f"http://127.0.0.1:{served.port}"
            set_public_url(served.app, local)
            ok, _, _ = await post(served, VOICE_PATH, VOICE, signed_url=local + VOICE_PATH)
            old, _, _ = await post(served, VOICE_PATH, VOICE)  # signed for the old URL
            return ok, old

    assert asyncio.run(scenario()) == (200, 403)


def _json_request(body: str, *, digest: str | None = None) -> tuple[str, str]:
    """A JSON webhook: the body's SHA-256 goes in the URL's query, and the URL alone is signed."""
    digest = hashlib.sha256(body.encode()).hexdigest() if digest is None else digest
    path = f"{STATUS_PATH}?bodySHA256={digest}" if digest else STATUS_PATH
    return path, sign(PUBLIC + path, {})


@pytest.mark.parametrize(
    ("case", "expected"), [("good", 200), ("wrong-hash", 403), ("no-hash", 403), ("changed-body", 403)]
)
def test_json_body_is_checked_through_its_body_sha256(case, expected):
    sink = MemorySink()
    params = {
        "AccountSid": VOICE["AccountSid"],
        "CallSid": VOICE["CallSid"],
        "CallStatus": "completed",
        "Direction": "inbound",
        "From": "+14155550123",
        "To": "+18005550100",
        "SequenceNumber": 0,
        "Timestamp": "Tue, 04 Mar 2025 15:33:40 +0000",
        "CallDuration": 61,
    }
    body = json.dumps(params)
    path, signature = _json_request(body, digest={"wrong-hash": "0" * 64, "no-hash": ""}.get(case))
    if case == "changed-body":
        body = body.replace("+14155550123", "+19995550000")

    async def scenario() -> int:
        async with serving(sink) as served:
            async with served.session.post(
                served.base + path,
                data=body.encode(),
                headers={"X-Twilio-Signature": signature, "Content-Type": "application/json"},
            ) as response:
                return response.status

    assert asyncio.run(scenario()) == expected
    if expected == 200:
        (event,) = sink.events
        assert event.kind is CallEventKind.ENDED and event.payload["SequenceNumber"] == "0"
        assert event.provider_key == f"twilio:{VOICE['CallSid']}:status:completed:0"
    else:
        assert sink.events == []


@pytest.mark.parametrize("chunked", [False, True])
def test_oversized_body_is_refused_with_413(chunked):
    sink = MemorySink()
    params = {**VOICE, "Padding": "x" * (MAX_BODY + 1)}

    async def scenario() -> int:
        async with serving(sink) as served:
            payload = urlencode(params).encode()

            async def stream() -> AsyncIterator[bytes]:  # no Content-Length: the read stops it
                for i in range(0, len(payload), 8192):
                    yield payload[i : i + 8192]

            headers = {
                "X-Twilio-Signature": sign(PUBLIC + VOICE_PATH, params),
                "Content-Type": "application/x-www-form-urlencoded",
            }
            data = stream() if chunked else payload
            async with served.session.post(served.base + VOICE_PATH, data=data, headers=headers) as response:
                return response.status

    assert asyncio.run(scenario()) == 413
    assert sink.events == []


def test_malformed_requests_get_400_and_nothing_recorded():
    sink = MemorySink()
    no_sid = {k: v for k, v in VOICE.items() if k != "CallSid"}

    async def scenario() -> list[int]:
        async with serving(sink) as served:
            missing, _, _ = await post(served, VOICE_PATH, no_sid)
            recording, _, _ = await post(
                served, RECORDING_PATH, {"CallSid": "CA1", "RecordingStatus": "completed"}
            )
            headers = {"X-Twilio-Signature": "c2ln", "Content-Type": "application/x-www-form-urlencoded"}
            async with served.session.post(
                served.base + STATUS_PATH, data=b"CallSid=\xff\xfe", headers=headers
            ) as r:
                not_utf8 = r.status
            async with served.session.post(
                served.base + STATUS_PATH, data=b"CallSid=%FF%FE", headers=headers
            ) as r:
                bad_escape = r.status
            return [missing, recording, not_utf8, bad_escape]

    assert asyncio.run(scenario()) == [400, 400, 400, 400]
    assert sink.events == []


def test_store_failure_answers_500_and_the_redelivery_is_recorded_once():
    sink = MemorySink()

    async def scenario() -> list[int]:
        async with serving(sink) as served:
            sink.failing = True
            first, _, _ = await post(served, VOICE_PATH, VOICE)
            sink.failing = False
            second, _, _ = await post(served, VOICE_PATH, VOICE)  # Twilio tries again: same request
            third, _, _ = await post(served, VOICE_PATH, VOICE)  # ... and once more
            return [first, second, third]

    assert asyncio.run(scenario()) == [500, 200, 200]
    assert [e.provider_key for e in sink.events] == [f"twilio:{VOICE['CallSid']}:voice"]


def test_agents_to_ring_failure_answers_500():
    sink = MemorySink()

    def broken() -> list[str]:
        raise RuntimeError("presence unknown")

    sink.agents_to_ring = broken  # type: ignore[method-assign]

    async def scenario() -> int:
        async with serving(sink) as served:
            return (await post(served, VOICE_PATH, VOICE))[0]

    assert asyncio.run(scenario()) == 500 and sink.events == []


def test_health():
    async def scenario() -> tuple[int, str]:
        async with serving(MemorySink()) as served:
            async with served.session.get(served.base + "/healthz") as response:
                return response.status, await response.text()

    assert asyncio.run(scenario()) == (200, "ok")


def _by_call(events: list[NeutralEvent]) -> dict[str, collections.Counter]:
    calls: dict[str, collections.Counter] = collections.defaultdict(collections.Counter)
    for e in events:
        calls[e.provider_call_id][e.kind] += 1
    return calls


def test_callsim_calls_with_chaos_are_all_recorded(monkeypatch):
    sink = MemorySink()
    monkeypatch.setenv(callsim.TOKEN_ENV, TOKEN)

    async def scenario() -> dict:
        async with serving(sink) as served:
            options = callsim.options_from_args(
                [
                    "--url",
                    served.base,
                    "--public-url",
                    PUBLIC,
                    "--count",
                    "20",
                    "--rate",
                    "200",
                    "--speed",
                    "5000",
                    "--seed",
                    "11",
                    "--chaos",
                    "0.3",
                    "--to",
                    "+18005550100,+18005550101",
                ]
            )
            return await callsim.run(options)

    summary = asyncio.run(scenario())
    assert summary["calls"] == 20 and summary["failed"] == 0 and summary["webhooks"] > 20 * 8
    calls = _by_call(sink.events)
    assert len(calls) == 20
    for kinds in calls.values():
        assert kinds[CallEventKind.OFFERED] == 1 and kinds[CallEventKind.ENDED] == 1
        assert kinds[CallEventKind.RECORDING] == (1 if kinds[CallEventKind.ANSWERED] else 0)
    assert len({e.provider_key for e in sink.events}) == len(sink.events)


def test_a_burst_of_500_calls_in_a_second_loses_none():
    sink = MemorySink()

    async def scenario() -> dict:
        async with serving(sink) as served:
            return await callsim.run(
                callsim.SimOptions(
                    url=served.base,
                    public_url=PUBLIC,
                    auth_token=TOKEN,
                    count=500,
                    rate=500,
                    speed=10_000,
                    seed=5,
                    concurrency=100,
                )
            )

    summary = asyncio.run(scenario())
    assert summary["calls"] == 500 and summary["failed"] == 0
    calls = _by_call(sink.events)
    assert len(calls) == 500 and all(k[CallEventKind.ENDED] == 1 for k in calls.values())


def test_csr_callsim_command_prints_one_summary_line(tmp_path):
    sink = MemorySink()
    token_file = tmp_path / "token"
    token_file.write_text(TOKEN + "\n")

    async def scenario() -> tuple[int, str, str]:
        async with serving(sink) as served:
            env = {k: v for k, v in os.environ.items() if k != callsim.TOKEN_ENV}
            proc = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "sync.callsim",
                "--url",
                served.base,
                "--public-url",
                PUBLIC,
                "--auth-token-file",
                str(token_file),
                "--count",
                "3",
                "--rate",
                "50",
                "--speed",
                "5000",
                "--seed",
                "2",
                cwd=ROOT,
                env=env,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
            )
            out, err = await asyncio.wait_for(proc.communicate(), 60)
            return proc.returncode, out.decode(), err.decode()

    code, out, err = asyncio.run(scenario())
    assert code == 0, err
    (line,) = out.splitlines()
    summary = json.loads(line)
    assert set(summary) == {"calls", "webhooks", "failed", "seconds"} and summary["calls"] == 3
    assert summary["failed"] == 0 and len(_by_call(sink.events)) == 3


def test_csr_callsim_wants_a_token(monkeypatch, capsys):
    monkeypatch.delenv(callsim.TOKEN_ENV, raising=False)
    with pytest.raises(SystemExit) as exit_info:
        callsim.options_from_args(["--url", "http://127.0.0.1:9"])
    assert exit_info.value.code == 2 and callsim.TOKEN_ENV in capsys.readouterr().err
