"""Calls in the assembled console, against a real server with its webhook ingress, on the qasync loop:
a signed webhook rings a bubble on both CSRs' consoles with the caller matched from each cache, a click
claims it (the other console shows who has it), the claimed call pops its customer and binds the
booking form with the call's campaign, the call ends (gray), and its X closes and classifies it. Book
Job on a call keeps its bubble while the call lasts; a retired campaign's tracking number books with
that campaign; a phone that answered is not a claim; ended bubbles are reached and closed by keys."""

from __future__ import annotations

from datetime import timedelta
from email.utils import format_datetime

import aiohttp
import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication, QComboBox, QDialogButtonBox, QPushButton
from sqlalchemy import select
from sqlalchemy.orm import sessionmaker
from twilio.request_validator import RequestValidator

from models.base import new_id, utcnow
from models.calls import Call, CallClass
from models.db import open_server_db
from models.jobs import Job
from models.setup import CallReason, Campaign, TrackingNumber
from models.writer import LocalWriter
from sync.apply import Applier
from sync.auth import Accounts, token_secret
from sync.call_desk import CallDesk
from sync.ingress import make_app, start_ingress
from sync.server import SyncServer
from sync.server_auth import AccountsAuthenticator
from tests.gui.helpers import booked, open_now, settled, show_active, until, wait_for_workers
from tests.unit.booking_setup import NOW, build_setup
from tests.unit.conftest import customer_args

pytest_plugins = ["tests.gui.conftest_sync"]
PASSWORD = "correct horse battery"
TOKEN = "gui-test-auth-token"
TRACKING = "+12145550199"
CALLER = "+12145550134"  # customer_args' phone


def running_server(loop, tmp_path, **server_options):
    """A server with webhooks on the qasync loop: (ws url, webhook base, sessions, customer id, campaign id).
    A generator: the code after its one ``yield`` stops everything."""
    engine = open_server_db(str(tmp_path / "server.sqlite3"))
    sessions = sessionmaker(engine, expire_on_commit=False)
    with sessions.begin() as s:
        build_setup(s)
        campaign = Campaign(id=new_id(), name="Radio spots")
        s.add(campaign)
        s.add(TrackingNumber(id=new_id(), number=TRACKING, campaign=campaign, label="Radio"))
        s.add(CallReason(id=new_id(), name="Wrong number", is_lead=False))
        s.add(CallReason(id=new_id(), name="Wants a quote", is_lead=True))
    customer_id = LocalWriter(sessions).execute("create_customer", customer_args()).applied.entity_id
    accounts = Accounts(sessions)
    accounts.add_user("dana", "Dana Reyes", "csr", PASSWORD)
    accounts.add_user("lee", "Lee Park", "csr", PASSWORD)
    srv = SyncServer(
        Applier(sessions, clock=lambda: NOW),
        AccountsAuthenticator(accounts, token_secret(sessions), clock=lambda: NOW),
        **server_options,
    )
    srv.attach_calls(CallDesk(sessions, agents=srv.signed_in_agents))
    endpoint = loop.run_until_complete(srv.serve("127.0.0.1", 0))
    url = f"ws://127.0.0.1:{endpoint.sockets[0].getsockname()[1]}"
    runner, port = loop.run_until_complete(
        start_ingress(make_app(srv.calls, TOKEN, "http://127.0.0.1"), "127.0.0.1", 0)
    )
    yield url, f"http://127.0.0.1:{port}", sessions, customer_id, campaign.id
    loop.run_until_complete(runner.cleanup())
    endpoint.close()
    loop.run_until_complete(endpoint.wait_closed())
    loop.run_until_complete(srv.aclose())
    engine.dispose()


@pytest.fixture
def server(loop, tmp_path):
    yield from running_server(loop, tmp_path)


async def post(http: aiohttp.ClientSession, base: str, path: str, params: dict[str, str]) -> None:
    # The ingress checks signatures against its public URL (http://127.0.0.1) + the path.
    signature = RequestValidator(TOKEN).compute_signature(f"http://127.0.0.1{path}", params)
    async with http.post(base + path, data=params, headers={"X-Twilio-Signature": signature}) as r:
        assert r.status == 200, await r.text()


def test_a_call_rings_both_consoles_is_claimed_popped_ended_and_classified(qtbot, loop, server, desks):
    url, webhooks, sessions, customer_id, campaign_id = server
    sid = "CA" + "5" * 32
    leg = {
        "CallSid": sid,
        "AccountSid": "AC" + "0" * 32,
        "From": CALLER,
        "To": TRACKING,
        "Direction": "inbound",
        "ApiVersion": "2010-04-01",
    }

    async def scenario() -> None:
        a, b = desks("a"), desks("b")
        for console, user in ((a, "dana"), (b, "lee")):
            console.window.show()
            await console.sync.sign_in_with(url, user, PASSWORD)
            await until(lambda c=console: c.window.sync_status.state == "online", 20)
        async with aiohttp.ClientSession() as http:
            await post(http, webhooks, "/telephony/twilio/voice", {**leg, "CallStatus": "ringing"})
            await until(lambda: a.window.bubble_strip.call_ids() and b.window.bubble_strip.call_ids())
            call_id = a.window.bubble_strip.call_ids()[0]
            # Each console matches the caller on its match worker; the bubble says so meanwhile.
            await until(lambda: not a.calls.cards[call_id].matching and not b.calls.cards[call_id].matching)
            assert a.window.bubble_strip.call_bubble(call_id).caller_label.full == "Maria Garcia"
            card = a.calls.cards[call_id]
            assert card.caller_name == "Maria Garcia" and card.campaign == "Radio spots"
            assert b.calls.cards[call_id].match_ids == (customer_id,)  # matched from b's own cache

            bubble = a.window.bubble_strip.call_bubble(call_id)
            qtbot.mouseClick(bubble, Qt.MouseButton.LeftButton)
            await until(
                lambda: b.calls.cards.get(call_id) and b.calls.cards[call_id].claimed_by_name == "Dana Reyes"
            )
            # The claimed call popped its customer on Dana's console, and the booking form is on the call.
            await until(lambda: a.window.customer_panel.record() is not None)
            assert a.window.customer_panel.record().id == customer_id
            assert a.booking.call_for[customer_id][0] == call_id
            assert a.booking.form.values()["campaign_id"] == campaign_id
            # The call's booking lives in its own bubble: no manual bubble was made for it.
            assert a.drafts.active == call_id and a.window.bubble_strip.ids() == []
            # Lee clicking it asks first (takeover); Lee says no: nothing changes.
            qtbot.mouseClick(b.window.bubble_strip.call_bubble(call_id), Qt.MouseButton.LeftButton)
            await until(lambda: b.window.bubble_strip.findChild(object, "takeoverConfirm") is not None)

            ended = format_datetime(utcnow().replace(microsecond=0), usegmt=True)
            await post(
                http,
                webhooks,
                "/telephony/twilio/status",
                {
                    **leg,
                    "CallStatus": "completed",
                    "CallDuration": "12",
                    "Timestamp": ended,
                    "SequenceNumber": "3",
                    "CallbackSource": "call-progress-events",
                },
            )
            await until(lambda: a.calls.cards.get(call_id) and a.calls.cards[call_id].ended)
            await until(lambda: call_id not in b.window.bubble_strip.call_ids())  # nobody's but Dana's now

        # Dana closes it: the X opens the close-and-classify dialog; a not-lead reason.
        a.calls.classify(call_id)  # the dialog opens once the call reasons are read on the worker
        await until(lambda: a.calls.dialog is not None)
        dialog = a.calls.dialog
        assert dialog.objectName() == "classifyDialog"
        reason = dialog.findChild(QComboBox, "classifyReason")
        reason.setCurrentIndex(reason.findText("Wrong number"))
        ok = dialog.findChild(QPushButton, "classifyOk") or dialog.findChild(QDialogButtonBox).button(
            QDialogButtonBox.StandardButton.Ok
        )
        qtbot.mouseClick(ok, Qt.MouseButton.LeftButton)
        await until(lambda: call_id not in a.window.bubble_strip.call_ids())
        # An update sent before the server heard of the close (e.g. the recording is ready) doesn't
        # bring the bubble back.
        a.calls.on_calls([{**a.calls.calls[call_id], "closed": False, "recording_url": "https://r/1"}])
        assert call_id not in a.window.bubble_strip.call_ids()
        a.sync.sync_now()

        def closed_on_server() -> bool:
            with sessions() as s:
                call = s.scalar(select(Call).where(Call.provider_call_id == sid))
                return call is not None and call.closed_at is not None

        await until(closed_on_server)
        with sessions() as s:
            call = s.scalar(select(Call).where(Call.provider_call_id == sid))
            assert call.classification is CallClass.NOT_LEAD and call.agent_id is not None

    loop.run_until_complete(scenario())


def test_the_call_review_tab_is_for_supervisors_only(qtbot, loop, server, desks):
    url, _webhooks, sessions, _customer_id, _campaign_id = server
    Accounts(sessions).add_user("sam", "Sam Ortiz", "supervisor", PASSWORD)

    async def scenario() -> None:
        csr, supervisor = desks("csr"), desks("sup")
        for console, user in ((csr, "dana"), (supervisor, "sam")):
            await console.sync.sign_in_with(url, user, PASSWORD)
            await until(lambda c=console: c.window.sync_status.state == "online", 20)
        tabs = [supervisor.window.work_tabs.tabText(i) for i in range(supervisor.window.work_tabs.count())]
        assert "Call review" in tabs and supervisor.review is not None
        assert csr.review is None
        assert "Call review" not in [
            csr.window.work_tabs.tabText(i) for i in range(csr.window.work_tabs.count())
        ]

    loop.run_until_complete(scenario())


@pytest.mark.parametrize("matches", [0, 1, 3])
def test_screen_pop_for_no_one_and_several_matches(qtbot, loop, desks, matches):
    """The claimed call's number in this PC's cache: none → New customer with the number filled in;
    one → that customer opens; several → they are listed and the one the CSR opens is the caller."""
    console = desks("pop")
    writer = console.writer
    ids = [
        writer.execute(
            "create_customer",
            customer_args(name=f"Customer {i}", phone="(214) 555-0177", street=f"{i + 1} Elm St"),
        ).applied.entity_id
        for i in range(matches)
    ]
    console.calls.me = "dana"
    call = {
        "id": "call1",
        "state": "Talking",
        "direction": "Inbound",
        "from_number": "+12145550177",
        "to_number": TRACKING,
        "campaign_id": None,
        "campaign": "Radio spots",
        "unknown_campaign": False,
        "customer_id": None,
        "started_at": "2026-11-27T15:00:00+00:00",
        "answered_at": None,
        "ended_at": None,
        "agent_id": "dana",
        "agent_name": "Dana Reyes",
        "classification": "",
        "closed": False,
    }
    console.calls.on_calls([call])
    assert console.calls.cards["call1"].matching  # "Looking up…" until the match worker answers
    qtbot.waitUntil(lambda: not console.calls.cards["call1"].matching)
    card = console.calls.cards["call1"]
    assert set(card.match_ids) == set(ids)
    assert card.caller_name == {0: "", 1: "Customer 0", 3: "3 customers"}[matches]
    opened: list = []
    console.customers.new_customer = lambda **kw: opened.append(kw)  # the dialog itself is tested elsewhere
    console.calls.screen_pop("call1")
    wait_for_workers(qtbot, console.window)  # the customer is read on the worker
    panel = console.window.customer_panel
    if matches == 0:
        assert opened == [{"prefill_phone": "+12145550177"}]
        assert panel.record() is None
    elif matches == 1:
        assert panel.record().id == ids[0]
        assert console.booking.call_for[ids[0]][0] == "call1"
    else:
        assert panel.record() is None
        assert console.window.lookup.search.text() == "(214) 555-0177"  # the customers on this number
        open_now(qtbot, console.customers, ids[1])
        assert console.booking.call_for[ids[1]][0] == "call1"


def test_a_bubble_looks_up_its_caller_and_a_click_meanwhile_pops_once_matched(qtbot, loop, desks):
    """A new bubble shows at once with "Looking up…" (the match is read on the calls' match worker); a
    click within that moment pops the caller when the match comes; an update keeps the match shown."""
    console = desks("looking")
    cid = console.writer.execute(
        "create_customer", customer_args(name="Rosa Diaz", phone="(214) 555-0188")
    ).applied.entity_id
    console.calls.me = "dana"
    call = {
        "id": "call2",
        "state": "Talking",
        "direction": "Inbound",
        "from_number": "+12145550188",
        "to_number": TRACKING,
        "campaign": "Radio spots",
        "started_at": "2026-11-27T15:00:00+00:00",
        "agent_id": "dana",
        "agent_name": "Dana Reyes",
    }
    console.calls.on_calls([call])
    bubble = console.window.bubble_strip.call_bubble("call2")
    assert bubble.caller_label.full == "Looking up…" and "being looked up" in bubble.accessibleName()
    console.calls.screen_pop("call2")  # before the match has answered
    assert console.window.customer_panel.record() is None
    qtbot.waitUntil(lambda: not console.calls.cards["call2"].matching)
    assert bubble.caller_label.full == "Rosa Diaz"
    wait_for_workers(qtbot, console.window)
    assert console.window.customer_panel.record().id == cid  # popped once the caller was known
    assert console.booking.call_for[cid][0] == "call2"
    console.calls.on_calls([{**call, "state": "Held"}])  # an update: the match stays on screen meanwhile
    assert not console.calls.cards["call2"].matching and bubble.caller_label.full == "Rosa Diaz"
    wait_for_workers(qtbot, console.window)


def test_the_servers_match_shows_at_once_and_this_caches_answer_settles_it(qtbot, loop, desks):
    """The server matched one customer to the number (call_info's customer_id / customer_name): the bubble
    shows that name at its first paint, a click pops at once; the match worker's answer from this cache
    settles it — here the cache knows the customer under a newer name, and the bubble takes it."""
    console = desks("server-match")
    cid = console.writer.execute(
        "create_customer", customer_args(name="Rosa Diaz-Lopez", phone="(214) 555-0189")
    ).applied.entity_id
    console.calls.me = "dana"
    call = {
        "id": "call4",
        "state": "Talking",
        "direction": "Inbound",
        "from_number": "+12145550189",
        "to_number": TRACKING,
        "customer_id": cid,
        "customer_name": "Rosa Diaz",
        "started_at": "2026-11-27T15:00:00+00:00",
        "agent_id": "dana",
        "agent_name": "Dana Reyes",
    }
    console.calls.on_calls([call])
    bubble = console.window.bubble_strip.call_bubble("call4")
    assert not console.calls.cards["call4"].matching
    assert bubble.caller_label.full == "Rosa Diaz"  # the server's, before any read here
    console.calls.screen_pop("call4")  # no wait for the match worker
    qtbot.waitUntil(lambda: console.window.customer_panel.record() is not None)
    assert console.window.customer_panel.record().id == cid
    qtbot.waitUntil(lambda: bubble.caller_label.full == "Rosa Diaz-Lopez")  # this cache's answer
    wait_for_workers(qtbot, console.window)


def test_the_calls_bench_stamps_the_bubble_painted_with_its_match(qtbot, loop, desks, tmp_path):
    """bench/console_process.py BubblePaints: the "painted" line comes once the caller's match is on
    screen (after the match worker answered), never at the "Looking up…" paint, and counts the match."""
    import json
    import time

    from bench.console_process import BubblePaints
    from tests.gui.helpers import show_active

    console = desks("bench")
    console.writer.execute("create_customer", customer_args(name="Rosa Diaz", phone="(214) 555-0188"))
    show_active(qtbot, console.window)
    trace = tmp_path / "trace.jsonl"
    bubbles = BubblePaints(console, trace)
    console.sync.callsArrived.connect(bubbles.watch)  # after the console's own handler, as the bench does
    matched: list[float] = []
    real = console.calls._matched

    def stamped(call_id: str, facts) -> None:
        real(call_id, facts)
        matched.append(time.time())

    console.calls._matched = stamped
    call = {
        "id": "call3",
        "provider_call_id": "CA3",
        "state": "Ringing",
        "direction": "Inbound",
        "from_number": "+12145550188",
        "to_number": TRACKING,
        "started_at": "2026-11-27T15:00:00+00:00",
    }
    console.sync.callsArrived.emit([call], "", False)
    assert console.calls.cards["call3"].matching

    def lines() -> list[dict]:
        return [json.loads(line) for line in trace.read_text().splitlines()] if trace.exists() else []

    qtbot.waitUntil(lambda: any(d["kind"] == "painted" for d in lines()), timeout=5000)
    painted = next(d for d in lines() if d["kind"] == "painted")
    assert painted["provider_call_id"] == "CA3" and painted["matches"] == 1
    assert matched and painted["t"] >= matched[0]  # on screen with its match, not before
    bubbles.out.close()


SPRING = "+19725550109"  # a tracking number of a campaign retired since
RENTAL_PHONE = "+12145550166"  # the phone of the caller's second location


async def _book_on_the_form(console) -> str | None:
    """Business unit, job type, the first free arrival window, Book Job (the keys are tested elsewhere)."""
    form, setup = console.booking.form, console.booking.setup
    unit = next(b for b in setup.business_units if b.name == "HVAC Service")
    job_type = next(j for j in setup.job_types if j.name == "AC Not Cooling")
    form.restore(
        {
            **form.state(),
            "business_unit_id": unit.id,
            "job_type_id": job_type.id,
            "summary_text": "AC blowing warm air",
        }
    )
    console.booking.show_availability()
    await settled(console.booking)
    form._pick_row(form.availability.first_fitting_row())
    return await booked(console.booking)


def test_book_job_on_a_call_keeps_its_bubble_booked_with_the_campaign_it_came_in_on(
    qtbot, loop, server, desks
):
    """The caller rings a retired campaign's tracking number from their rental's phone: the form takes
    that campaign (with a warning) and the rental; after Book Job the bubble says "Booked — job N" and
    its timer runs on until the call ends; the server accepts the booking and the call is Booked."""
    url, webhooks, sessions, _customer_id, _campaign_id = server
    with sessions.begin() as s:
        spring = Campaign(id=new_id(), name="Spring home show", active=False)
        s.add_all([spring, TrackingNumber(id=new_id(), number=SPRING, campaign=spring, label="Booth banner")])
        spring_id = spring.id
    made = (
        LocalWriter(sessions)
        .execute(
            "create_customer",
            {
                "customer": {
                    "name": "Ben Ortiz",
                    "street": "12 Elm St",
                    "city": "Dallas",
                    "state": "TX",
                    "zip": "75201",
                },
                "contacts": [{"kind": "MobilePhone", "value": "(214) 555-0100"}],
                "locations": [
                    {"street": "12 Elm St", "city": "Dallas", "state": "TX", "zip": "75201"},
                    {
                        "name": "Rental",
                        "street": "40 Oak Ave",
                        "city": "Dallas",
                        "state": "TX",
                        "zip": "75202",
                        "contacts": [{"kind": "Phone", "value": "(214) 555-0166"}],
                    },
                ],
            },
        )
        .applied
    )
    with sessions() as s:
        from models.customers import Location

        rental = s.scalar(
            select(Location.id).where(Location.customer_id == made.entity_id, Location.street == "40 Oak Ave")
        )
    sid = "CA" + "7" * 32
    leg = {
        "CallSid": sid,
        "AccountSid": "AC" + "0" * 32,
        "From": RENTAL_PHONE,
        "To": SPRING,
        "Direction": "inbound",
        "ApiVersion": "2010-04-01",
    }

    async def scenario() -> None:
        a = desks("a")
        a.window.show()
        await a.sync.sign_in_with(url, "dana", PASSWORD)
        await until(lambda: a.window.sync_status.state == "online", 20)
        strip, form = a.window.bubble_strip, a.booking.form
        async with aiohttp.ClientSession() as http:
            await post(http, webhooks, "/telephony/twilio/voice", {**leg, "CallStatus": "ringing"})
            await until(lambda: strip.call_ids())
            call_id = strip.call_ids()[0]
            assert a.calls.cards[call_id].campaign == "Spring home show"
            qtbot.mouseClick(strip.call_bubble(call_id), Qt.MouseButton.LeftButton)
            await until(lambda: a.booking.call_for.get(made.entity_id, ("",))[0] == call_id)
            values = form.values()
            assert values["campaign_id"] == spring_id and values["location_id"] == rental
            assert form.campaign.currentText() == "Spring home show (no longer active)"
            assert form.campaign_warning.isVisible() and "no longer active" in form.campaign_warning.text()

            number = await _book_on_the_form(a)
            assert number, form.errors_label.text()
            bubble = strip.call_bubble(call_id)
            assert bubble is not None and not bubble.card.ended  # the caller is still on the line
            assert bubble.status_label.full == f"Booked — job {number}"
            assert strip._timer.isActive()
            shown = bubble._shown
            strip.tick(bubble.card.started_at + timedelta(seconds=shown + 5))
            assert bubble._shown == shown + 5  # it runs on
            assert not form.campaign_warning.isVisible()  # the next booking is not the call's

            a.sync.sync_now()

            def booked_on_server() -> bool:
                with sessions() as s:
                    call = s.scalar(select(Call).where(Call.provider_call_id == sid))
                    return call is not None and call.job_id is not None

            await until(booked_on_server, 20)
            with sessions() as s:
                call = s.scalar(select(Call).where(Call.provider_call_id == sid))
                assert s.get(Job, call.job_id).campaign_id == spring_id  # the server took it too
            # Another update of the still-running call: the bubble stays, still Booked.
            await post(
                http,
                webhooks,
                "/telephony/twilio/status",
                {**leg, "CallStatus": "ringing", "SequenceNumber": "2"},
            )
            await until(lambda: a.calls.calls[call_id].get("closed"))
            assert strip.call_bubble(call_id).status_label.full == f"Booked — job {number}"
            ended = format_datetime(utcnow().replace(microsecond=0), usegmt=True)
            await post(
                http,
                webhooks,
                "/telephony/twilio/status",
                {**leg, "CallStatus": "completed", "Timestamp": ended, "SequenceNumber": "3"},
            )
            await until(lambda: call_id not in strip.call_ids())  # booked: nothing to classify
        with sessions() as s:
            call = s.scalar(select(Call).where(Call.provider_call_id == sid))
            assert call.classification is CallClass.BOOKED

    loop.run_until_complete(scenario())


def test_a_phone_that_answered_is_not_a_claim(qtbot, loop, server, desks):
    """Dana's softphone picks the call up but nobody clicks the bubble: both consoles say who answered
    and that nobody claimed it, and it can still be claimed."""
    url, webhooks, _sessions, _customer_id, _campaign_id = server
    sid = "CA" + "8" * 32
    leg = {
        "CallSid": sid,
        "AccountSid": "AC" + "0" * 32,
        "From": CALLER,
        "To": TRACKING,
        "Direction": "inbound",
        "ApiVersion": "2010-04-01",
    }

    async def scenario() -> None:
        a, b = desks("a"), desks("b")
        for console, user in ((a, "dana"), (b, "lee")):
            await console.sync.sign_in_with(url, user, PASSWORD)
            await until(lambda c=console: c.window.sync_status.state == "online", 20)
        async with aiohttp.ClientSession() as http:
            await post(http, webhooks, "/telephony/twilio/voice", {**leg, "CallStatus": "ringing"})
            await until(lambda: a.window.bubble_strip.call_ids() and b.window.bubble_strip.call_ids())
            call_id = a.window.bubble_strip.call_ids()[0]
            await post(
                http,
                webhooks,
                "/telephony/twilio/status",
                {
                    "CallSid": "CA" + "9" * 32,
                    "ParentCallSid": sid,
                    "AccountSid": "AC" + "0" * 32,
                    "From": CALLER,
                    "To": "client:dana",
                    "Direction": "outbound-dial",
                    "CallStatus": "in-progress",
                    "SequenceNumber": "1",
                    "ApiVersion": "2010-04-01",
                },
            )
            mine, theirs = (
                a.window.bubble_strip.call_bubble(call_id),
                b.window.bubble_strip.call_bubble(call_id),
            )
            await until(lambda: theirs.status_label.full.startswith("Answered"))
            await until(lambda: mine.status_label.full.startswith("Answered"))
            assert theirs.status_label.full == "Answered by Dana Reyes — not claimed"
            assert mine.status_label.full == "Answered by you — not claimed"
            assert "(you)" not in mine.status_label.full and mine.property("callState") == "ringing"
            qtbot.mouseClick(mine, Qt.MouseButton.LeftButton)
            await until(lambda: theirs.status_label.full == "Claimed by Dana Reyes — click to take over")
            assert mine.status_label.full == "✓ Claimed by Dana Reyes (you)"

    loop.run_until_complete(scenario())


def test_ended_calls_are_reached_with_ctrl_pgdown_and_closed_with_ctrl_w(qtbot, loop, desks):
    """Ctrl+PgDown walks from a manual bubble to an ended call of mine (skipping a ringing one);
    Ctrl+W on it opens the close-and-classify dialog; on a call still going it says why not."""
    console = desks("keys")
    w = console.window
    show_active(qtbot, w)
    console.calls.me = "dana"
    w.bubble_strip.set_me("dana")
    base = {
        "direction": "Inbound",
        "from_number": "+12145550177",
        "to_number": TRACKING,
        "campaign_id": None,
        "campaign": "Radio spots",
        "unknown_campaign": False,
        "customer_id": None,
        "started_at": "2026-11-27T15:00:00+00:00",
        "answered_at": None,
        "ended_at": None,
        "agent_id": None,
        "agent_name": "",
        "classification": "",
        "closed": False,
    }
    caller = console.writer.execute(
        "create_customer", customer_args(phone="(214) 555-0177")
    ).applied.entity_id
    console.drafts.new_bubble()
    console.calls.on_calls(
        [
            {**base, "id": "ringing", "state": "Ringing"},
            {
                **base,
                "id": "ended",
                "state": "Ended",
                "agent_id": "dana",
                "agent_name": "Dana Reyes",
                "answered_at": "2026-11-27T15:00:05+00:00",
                "ended_at": "2026-11-27T15:02:00+00:00",
            },
            {
                **base,
                "id": "talking",
                "state": "Talking",
                "agent_id": "dana",
                "agent_name": "Dana Reyes",
                "answered_at": "2026-11-27T15:00:05+00:00",
            },
        ]
    )
    ctrl = Qt.KeyboardModifier.ControlModifier
    qtbot.keyClick(w, Qt.Key.Key_PageDown, ctrl)
    assert console.drafts.active == "ended" and w.bubble_strip.active_id == "ended"
    assert QApplication.focusWidget() is w.bubble_strip.call_bubble("ended")  # Delete / Ctrl+W act on it
    qtbot.keyClick(QApplication.focusWidget(), Qt.Key.Key_W, ctrl)
    qtbot.waitUntil(lambda: console.calls.dialog is not None)  # the reasons are read on the worker
    dialog = console.calls.dialog
    assert dialog is not None and dialog.objectName() == "classifyDialog" and dialog.isVisible()
    dialog.reject()
    qtbot.waitUntil(w.isActiveWindow)  # the window's shortcuts are back once the dialog has gone
    qtbot.keyClick(w, Qt.Key.Key_PageDown, ctrl)
    wait_for_workers(qtbot, w)
    assert console.drafts.active == "talking" and w.customer_panel.customer_id() == caller  # popped
    qtbot.keyClick(QApplication.focusWidget(), Qt.Key.Key_W, ctrl)  # from the booking form
    assert w.bubble_strip.notice.text() == "This call is still going — its bubble closes once the call ends."
    assert "talking" in w.bubble_strip.call_ids() and console.calls.dialog is None
    qtbot.keyClick(w, Qt.Key.Key_PageDown, ctrl)
    assert console.drafts.active in w.bubble_strip.ids()  # round to the manual bubble
