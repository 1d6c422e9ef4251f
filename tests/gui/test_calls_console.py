"""Calls in the assembled console, against a real server with its webhook ingress, on the qasync loop:
a signed webhook rings a bubble on both CSRs' consoles with the caller matched from each cache, a click
claims it (the other console shows who has it), the claimed call pops its customer and binds the
booking form with the call's campaign, the call ends (gray), and its X closes and classifies it."""

from __future__ import annotations

from email.utils import format_datetime

import aiohttp
import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QComboBox, QDialogButtonBox, QPushButton
from sqlalchemy import select
from sqlalchemy.orm import sessionmaker
from twilio.request_validator import RequestValidator

from models.base import new_id, utcnow
from models.calls import Call, CallClass
from models.db import open_server_db
from models.setup import CallReason, Campaign, TrackingNumber
from models.writer import LocalWriter
from sync.apply import Applier
from sync.auth import Accounts, token_secret
from sync.call_desk import CallDesk
from sync.ingress import make_app, start_ingress
from sync.server import SyncServer
from sync.server_auth import AccountsAuthenticator
from tests.gui.helpers import until
from tests.unit.booking_setup import NOW, build_setup
from tests.unit.conftest import customer_args

pytest_plugins = ["tests.gui.conftest_sync"]
PASSWORD = "correct horse battery"
TOKEN = "gui-test-auth-token"
TRACKING = "+12145550199"
CALLER = "+12145550134"          # customer_args' phone


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
    srv = SyncServer(Applier(sessions, clock=lambda: NOW),
                     AccountsAuthenticator(accounts, token_secret(sessions), clock=lambda: NOW), **server_options)
    srv.attach_calls(CallDesk(sessions, agents=srv.signed_in_agents))
    endpoint = loop.run_until_complete(srv.serve("127.0.0.1", 0))
    url = f"ws://127.0.0.1:{endpoint.sockets[0].getsockname()[1]}"
    runner, port = loop.run_until_complete(start_ingress(make_app(srv.calls, TOKEN, "http://127.0.0.1"),
                                                         "127.0.0.1", 0))
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
    leg = {"CallSid": sid, "AccountSid": "AC" + "0" * 32, "From": CALLER, "To": TRACKING, "Direction": "inbound",
           "ApiVersion": "2010-04-01"}

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
            card = a.calls.cards[call_id]
            assert card.caller_name == "Maria Garcia" and card.campaign == "Radio spots"
            assert b.calls.cards[call_id].match_ids == (customer_id,)      # matched from b's own cache

            bubble = a.window.bubble_strip.call_bubble(call_id)
            qtbot.mouseClick(bubble, Qt.MouseButton.LeftButton)
            await until(lambda: b.calls.cards.get(call_id) and b.calls.cards[call_id].claimed_by_name == "Dana Reyes")
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
            await post(http, webhooks, "/telephony/twilio/status",
                       {**leg, "CallStatus": "completed", "CallDuration": "12", "Timestamp": ended,
                        "SequenceNumber": "3", "CallbackSource": "call-progress-events"})
            await until(lambda: a.calls.cards.get(call_id) and a.calls.cards[call_id].ended)
            await until(lambda: call_id not in b.window.bubble_strip.call_ids())   # nobody's but Dana's now

        # Dana closes it: the X opens the close-and-classify dialog; a not-lead reason.
        dialog = a.calls.classify(call_id)
        assert dialog is not None and dialog.objectName() == "classifyDialog"
        reason = dialog.findChild(QComboBox, "classifyReason")
        reason.setCurrentIndex(reason.findText("Wrong number"))
        ok = dialog.findChild(QPushButton, "classifyOk") or dialog.findChild(QDialogButtonBox).button(
            QDialogButtonBox.StandardButton.Ok)
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
        assert "Call review" not in [csr.window.work_tabs.tabText(i) for i in range(csr.window.work_tabs.count())]

    loop.run_until_complete(scenario())


@pytest.mark.parametrize("matches", [0, 1, 3])
def test_screen_pop_for_no_one_and_several_matches(qtbot, loop, desks, matches):
    """The claimed call's number in this PC's cache: none → New customer with the number filled in;
    one → that customer opens; several → they are listed and the one the CSR opens is the caller."""
    console = desks("pop")
    writer = console.writer
    ids = [writer.execute("create_customer", customer_args(name=f"Customer {i}", phone="(214) 555-0177",
                                                           street=f"{i + 1} Elm St")).applied.entity_id
           for i in range(matches)]
    console.calls.me = "dana"
    call = {"id": "call1", "state": "Talking", "direction": "Inbound", "from_number": "+12145550177",
            "to_number": TRACKING, "campaign_id": None, "campaign": "Radio spots", "unknown_campaign": False,
            "customer_id": None, "started_at": "2026-11-27T15:00:00+00:00", "answered_at": None, "ended_at": None,
            "agent_id": "dana", "agent_name": "Dana Reyes", "classification": "", "closed": False}
    console.calls.on_calls([call])
    card = console.calls.cards["call1"]
    assert set(card.match_ids) == set(ids)
    assert card.caller_name == {0: "", 1: "Customer 0", 3: "3 customers"}[matches]
    opened: list = []
    console.customers.new_customer = lambda **kw: opened.append(kw)     # the dialog itself is tested elsewhere
    console.calls.screen_pop("call1")
    panel = console.window.customer_panel
    if matches == 0:
        assert opened == [{"prefill_phone": "+12145550177"}]
        assert panel.record() is None
    elif matches == 1:
        assert panel.record().id == ids[0]
        assert console.booking.call_for[ids[0]][0] == "call1"
    else:
        assert panel.record() is None
        assert console.window.lookup.search.text() == "(214) 555-0177"      # the customers on this number
        console.customers.open_customer(ids[1])
        assert console.booking.call_for[ids[1]][0] == "call1"
