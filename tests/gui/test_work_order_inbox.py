"""A ServiceChannel work order through the Bookings inbox itself, end to end on the qasync loop: the
stand-in (`csr-scsim`'s application, not ServiceChannel) delivers it by signed webhook to a real server
with the ServiceChannel adapter; the assembled console pulls it and lists it in the inbox; Ctrl+Shift+I,
the work order's row, Enter opens its panel in a window of its own; Alt+A books the job (campaign
ServiceChannel, the mapped job type) and accepts; the console pushes the accept, the server's outbound
worker sends it, and the stand-in carries out ``PUT /workorders/{id}/accept`` exactly once."""

from __future__ import annotations

import pytest
from aiohttp import web
from PySide6.QtCore import QCoreApplication, QEvent, Qt
from PySide6.QtWidgets import QApplication
from sqlalchemy import select
from sqlalchemy.orm import sessionmaker

from console.composition import Console
from console.settings import open_settings
from models.base import new_id
from models.db import open_server_db
from models.jobs import Job
from models.setup import Campaign
from models.work_order_ingest import ScMapping
from models.work_orders import WorkOrder
from sync.apply import Applier
from sync.auth import Accounts, token_secret
from sync.sc_adapter import ServiceChannelAdapter
from sync.sc_config import ScConfig
from sync.scsim import ScSim
from sync.server import SyncServer
from sync.server_auth import AccountsAuthenticator
from sync.servicechannel import ScCredentials
from tests.gui.helpers import show_active, until
from tests.unit.booking_setup import build_setup

pytest_plugins = ["tests.gui.conftest_sync"]
pytestmark = pytest.mark.timeout(120)
PASSWORD = "correct horse battery"


def _server(loop, tmp_path):
    """Stand-in, server and adapter on the test's loop: (ws url, server sessions, stand-in). A generator."""
    sim = ScSim(retry_seconds=0.5, rate_limit=1000, rate_window=1.0)
    runner = web.AppRunner(sim.app(), access_log=None)
    loop.run_until_complete(runner.setup())
    loop.run_until_complete(web.TCPSite(runner, "127.0.0.1", 0).start())
    sim_url = f"http://127.0.0.1:{runner.addresses[0][1]}"
    engine = open_server_db(str(tmp_path / "server.sqlite3"))
    sessions = sessionmaker(engine, expire_on_commit=False)
    with sessions.begin() as s:
        build_setup(s)
        s.add(Campaign(id=new_id(), name="ServiceChannel"))
    accounts = Accounts(sessions)
    accounts.add_user("dana", "Dana Reyes", "csr", PASSWORD)
    srv = SyncServer(Applier(sessions), AccountsAuthenticator(accounts, token_secret(sessions)))
    config = ScConfig(
        credentials=ScCredentials(
            sim_url, sim_url, sim.client_id, sim.client_secret, sim.username, sim.password
        ),
        mapping=ScMapping(job_types={("HVAC", "*"): "AC Not Cooling"}),
        webhook_port=0,
        public_url="auto",
        poll_seconds=60,
        rate_limit=1000,
        rate_window=1.0,
        outbound_poll_seconds=0.2,
    )
    adapter = ServiceChannelAdapter(sessions, config, on_committed=srv.poke_all)
    srv.on_commit = lambda _version: adapter.worker.wake.set()  # as csr-server wires it
    loop.run_until_complete(adapter.start())
    endpoint = loop.run_until_complete(srv.serve("127.0.0.1", 0))
    yield f"ws://127.0.0.1:{endpoint.sockets[0].getsockname()[1]}", sessions, sim
    loop.run_until_complete(adapter.stop())
    endpoint.close()
    loop.run_until_complete(endpoint.wait_closed())
    loop.run_until_complete(srv.aclose())
    loop.run_until_complete(sim.close())
    loop.run_until_complete(runner.cleanup())
    engine.dispose()


@pytest.fixture
def server(loop, tmp_path):
    yield from _server(loop, tmp_path)


def test_a_work_order_is_accepted_from_the_inbox_and_the_accept_reaches_the_platform(
    qtbot, loop, server, tmp_path
):
    url, sessions, sim = server
    folder = tmp_path / "desk"
    folder.mkdir()
    console = Console.build(folder / "cache.sqlite3", open_settings(folder))
    w = console.window

    async def scenario() -> None:
        show_active(qtbot, w)
        await console.sync.sign_in_with(url, "dana", PASSWORD)
        await until(lambda: w.sync_status.state == "online", 20)
        await until(lambda: bool(sim.webhooks), 10)  # the server subscribed its receiver
        made = sim.add_work_order(Trade="HVAC", Category="REPAIR")
        inbox = w.findChild(object, "bookingsInbox")
        # Pulled and listed while the CSR is elsewhere: the inbox refreshes on the pull by itself.
        await until(lambda: inbox.model.row_of(_row_id(sessions, made["Id"])) >= 0, 20)
        qtbot.keyClick(
            QApplication.focusWidget() or w,
            Qt.Key.Key_I,
            Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier,
        )
        await until(lambda: w.work_tabs.currentWidget() is inbox)
        view = inbox.findChild(object, "bookingsInboxView")
        await until(view.hasFocus)
        row = inbox.model.row_of(_row_id(sessions, made["Id"]))
        item = inbox.model.row_at(row)
        assert item.kind == "servicechannel" and item.source.startswith("ServiceChannel — ")
        view.selectRow(row)
        qtbot.keyClick(view, Qt.Key.Key_Return)  # the work order's panel, in a window of its own
        dialog = w.findChild(object, "workOrderWindow")
        panel = dialog.findChild(object, "workOrderPanel")
        await until(lambda: dialog.isVisible() and panel.view is not None)
        assert panel.view.number == made["Number"]
        await until(dialog.isActiveWindow, 5)
        qtbot.keyClick(QApplication.focusWidget() or panel, Qt.Key.Key_A, Qt.KeyboardModifier.AltModifier)
        # Booked on this PC, then the accept goes through the server to the platform.
        await until(lambda: any(x["action"] == "accept" for x in sim.writes), 30)
        await until(lambda: _state(sessions, made["Id"]) == "Accepted", 10)
        with sessions() as s:
            wo = s.scalar(select(WorkOrder).where(WorkOrder.sc_id == made["Id"]))
            job = s.get(Job, wo.job_id)
            campaign = s.get(Campaign, job.campaign_id)
        assert campaign.name == "ServiceChannel" and job.customer_id == wo.customer_id
        assert sim.work_orders[made["Id"]]["Status"]["Extended"] == "Dispatch Confirmed"
        assert [x["work_order"] for x in sim.writes if x["action"] == "accept"] == [made["Id"]]
        dialog.close()

    try:
        loop.run_until_complete(scenario())
    finally:
        loop.run_until_complete(console.aclose())
        console.shutdown()
        w.close()
        w.deleteLater()
        QCoreApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete)
        QCoreApplication.processEvents()


def _row_id(sessions, sc_id: int) -> str:
    with sessions() as s:
        wo_id = s.scalar(select(WorkOrder.id).where(WorkOrder.sc_id == sc_id))
    return f"servicechannel:{wo_id}"


def _state(sessions, sc_id: int) -> str:
    with sessions() as s:
        return str(s.scalar(select(WorkOrder.state).where(WorkOrder.sc_id == sc_id)) or "")


def test_a_window_that_spans_days_names_both_days() -> None:
    """A work order's schedule → expiry (P3, 24 hours) read "Sun Dec 6 22:45–22:45": the end's day was
    dropped. A window within one day keeps the short form."""
    from datetime import UTC, datetime

    from models.inbox import InboxItem
    from widgets.bookings_inbox import InboxModel

    model = InboxModel()
    model.time_zone = "America/Chicago"

    def item(start: datetime, end: datetime) -> InboxItem:
        return InboxItem("servicechannel", "1", "ServiceChannel", start, "PLUMBING", start, end,
                         "", "", "", "", "new", "New")  # fmt: skip

    two_days = item(datetime(2026, 12, 7, 4, 45, tzinfo=UTC), datetime(2026, 12, 8, 4, 45, tzinfo=UTC))
    assert model.window_text(two_days) == "Sun Dec 6 22:45 – Mon Dec 7 22:45"
    one_day = item(datetime(2026, 12, 2, 14, 0, tzinfo=UTC), datetime(2026, 12, 2, 18, 0, tzinfo=UTC))
    assert model.window_text(one_day) == "Wed Dec 2 08:00–12:00"
