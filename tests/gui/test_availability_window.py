"""The Availability window (widgets/availability_window.py, console/availability_controller.py): the model
passes qtmodeltester; by keyboard alone a manager opens it (Ctrl+Alt+A), gives a technician a day off
(Ctrl+S), sees the jobs that change left over capacity in *To reschedule*, withdraws the entry (Delete);
bad input is told next to nothing changing; only managers and admins get the window."""

from __future__ import annotations

from typing import Any

import pytest
from PySide6.QtCore import QDate, Qt
from PySide6.QtWidgets import QApplication, QWidget
from sqlalchemy import select

from console.availability_controller import install
from models.availability import AvailabilityEntry
from models.customers import Location
from models.journal import OutboxEntry
from tests.gui.helpers import show_active
from tests.unit.booking_setup import TUESDAY, build_setup
from tests.unit.conftest import customer_args
from tests.unit.test_booking import booking
from widgets.availability_window import EntriesModel, EntryRow

pytest_plugins = ["tests.gui.conftest_sync"]
Ctrl = Qt.KeyboardModifier.ControlModifier
Shift = Qt.KeyboardModifier.ShiftModifier


def test_entries_model_passes_qtmodeltester(qtmodeltester: Any) -> None:
    model = EntriesModel()
    qtmodeltester.check(model)
    model.set_rows(
        [
            EntryRow("a", "Tue Dec 1", "Time off · Ann (whole day)", "Dentist", "Dana", ("ABC-1001",)),
            EntryRow("b", "Thu Dec 24", "Holiday · Christmas Eve", "Christmas Eve", "Dana"),
        ]
    )
    qtmodeltester.check(model)
    assert model.index(0, 4).data() == "ABC-1001"


@pytest.fixture
def desk(qtbot: Any, cache, writer):
    with cache.sessions.begin() as s:
        ids = build_setup(s)
    cid = writer.execute("create_customer", customer_args()).applied.entity_id
    with cache.sessions() as s:
        loc = s.scalar(select(Location.id))
    numbers = []
    for _ in range(3):  # 360 of the HVAC group's 720 minutes on Tuesday 8–12
        numbers.append(writer.execute("book_job", booking(ids, cid, loc)).args["job"]["number"])
    window = QWidget()
    window.setObjectName("testDesk")
    qtbot.addWidget(window)
    controller = install(window, cache, writer, role="manager")
    yield window, controller, ids, numbers
    controller.shutdown()
    QApplication.processEvents()


def _key(qtbot, widget, key, modifier=Qt.KeyboardModifier.NoModifier) -> None:
    qtbot.keyClick(widget, key, modifier)


def _type(qtbot, widget, text: str) -> None:
    widget.setFocus()
    qtbot.keyClicks(widget, text)


def test_time_off_by_keyboard_lists_the_jobs_to_reschedule(qtbot: Any, desk, cache) -> None:
    window, controller, ids, numbers = desk
    show_active(qtbot, window)
    with qtbot.waitSignal(controller.loaded, timeout=10_000):
        _key(qtbot, window, Qt.Key.Key_A, Ctrl | Qt.KeyboardModifier.AltModifier)
    d = controller.dialog
    assert d.objectName() == "availabilityWindow"
    show_active(qtbot, d)
    qtbot.waitUntil(lambda: d.kind.hasFocus())
    assert d.technician.isVisible() and not d.minutes.isVisible()  # Time off first
    d.day.setDate(QDate(TUESDAY.year, TUESDAY.month, TUESDAY.day))
    for tech in (ids.tech_ann, ids.tech_bob):
        d.technician.setFocus()
        d.technician.setCurrentIndex(d.technician.findData(tech))
        _type(qtbot, d.note, "Training")
        with qtbot.waitSignal(controller.loaded, timeout=10_000):
            _key(qtbot, d.note, Qt.Key.Key_S, Ctrl)
    # Ann and Bob off: Pat's 240 minutes < the 360 booked — the three jobs are listed, nothing moved.
    assert d.entries.rowCount() == 2 and d.note.text() == ""
    listed = [d.reschedule.item(i).text() for i in range(d.reschedule.count())]
    assert sorted(t.split(" · ")[0] for t in listed) == sorted(numbers)
    assert "over capacity" in d.message.text() and "reschedule" in d.message.text()
    with cache.sessions() as s:
        names = [e.name for e in s.scalars(select(OutboxEntry).order_by(OutboxEntry.seq))]
        assert names[-2:] == ["add_time_off", "add_time_off"]
    # Delete in the list withdraws the highlighted entry.
    d.list.setFocus()
    d.list.selectRow(1)
    with qtbot.waitSignal(controller.loaded, timeout=10_000):
        _key(qtbot, d.list, Qt.Key.Key_Delete)
    assert d.entries.rowCount() == 1 and d.reschedule.count() == 0
    with cache.sessions() as s:
        assert len(s.scalars(select(AvailabilityEntry).where(AvailabilityEntry.active)).all()) == 1
    _key(qtbot, d.list, Qt.Key.Key_Escape)
    qtbot.waitUntil(lambda: not d.isVisible())


def test_holiday_and_adjustment_by_keyboard_and_bad_input_is_told(qtbot: Any, desk, cache) -> None:
    window, controller, ids, _numbers = desk
    with qtbot.waitSignal(controller.loaded, timeout=10_000):
        d = controller.open()
    show_active(qtbot, d)
    d.day.setDate(QDate(TUESDAY.year, TUESDAY.month, TUESDAY.day))
    # A holiday without a name is refused with the sentence; nothing is written.
    d.kind.setFocus()
    d.kind.setCurrentIndex(d.kind.findData("holiday"))
    assert not d.technician.isVisible() and not d.minutes.isVisible()
    _key(qtbot, d.kind, Qt.Key.Key_S, Ctrl)
    qtbot.waitUntil(lambda: "Name the holiday" in d.message.text(), timeout=10_000)
    assert d.entries.rowCount() == 0
    # An adjustment: +120 technician-minutes for a group's window.
    d.kind.setCurrentIndex(d.kind.findData("adjustment"))
    assert d.minutes.isVisible() and d.group.count() == 2 and d.window_pick.count() == 4
    d.minutes.setFocus()
    d.minutes.selectAll()
    qtbot.keyClicks(d.minutes, "120")
    assert d.minutes.value() == 120
    with qtbot.waitSignal(controller.loaded, timeout=10_000):
        _key(qtbot, d.minutes, Qt.Key.Key_S, Ctrl)
    assert d.entries.rowCount() == 1 and "Capacity +120 min" in d.entries.index(0, 1).data()
    assert d.focusWidget() is not None  # focus stays in the window
    d.close()


def test_only_managers_and_admins_get_the_window(qtbot: Any, cache, writer) -> None:
    window = QWidget()
    qtbot.addWidget(window)
    for role in ("csr", "supervisor"):
        assert install(window, cache, writer, role=role) is None
        assert not [a for a in window.actions() if a.objectName() == "availabilityAction"]
    controller = install(window, cache, writer, role="admin")
    assert controller is not None and [a for a in window.actions() if a.objectName() == "availabilityAction"]
    assert install(window, cache, writer, role="csr") is None  # the next user is a CSR: taken away
    assert not [a for a in window.actions() if a.objectName() == "availabilityAction"]


def test_another_consoles_change_appears_in_the_open_window(qtbot, loop, tmp_path, desks):
    """Two consoles signed in to a real server: a holiday added on one appears in the other's open
    Availability window without a reload."""
    from sqlalchemy.orm import sessionmaker

    from models.db import open_server_db
    from sync.apply import Applier
    from sync.auth import Accounts, token_secret
    from sync.server import SyncServer
    from sync.server_auth import AccountsAuthenticator
    from tests.gui.helpers import until
    from tests.unit.booking_setup import NOW

    engine = open_server_db(str(tmp_path / "server.sqlite3"))
    sessions = sessionmaker(engine, expire_on_commit=False)
    with sessions.begin() as s:
        build_setup(s)
    accounts = Accounts(sessions)
    password = "correct horse battery"
    accounts.add_user("dana", "Dana Reyes", "manager", password)
    accounts.add_user("lee", "Lee Park", "manager", password)
    srv = SyncServer(
        Applier(sessions, clock=lambda: NOW),
        AccountsAuthenticator(accounts, token_secret(sessions), clock=lambda: NOW),
    )
    endpoint = loop.run_until_complete(srv.serve("127.0.0.1", 0))
    url = f"ws://127.0.0.1:{endpoint.sockets[0].getsockname()[1]}"

    async def scenario() -> None:
        a, b = desks("a"), desks("b")
        for console, user in ((a, "dana"), (b, "lee")):
            await console.sync.sign_in_with(url, user, password)
            await until(lambda c=console: c.window.sync_status.state == "online", timeout=30)
        d = a.availability.open()
        await until(lambda: d.entries.rowCount() == 0 and a.availability._worker.pending == 0)
        b.writer.execute("add_holiday", {"day": TUESDAY.isoformat(), "note": "Founders' day"})
        b.sync.local_write()
        await until(lambda: d.entries.rowCount() == 1, timeout=20)
        assert "Founders' day" in d.entries.index(0, 1).data()

    try:
        loop.run_until_complete(scenario())
    finally:
        endpoint.close()
        loop.run_until_complete(endpoint.wait_closed())
        loop.run_until_complete(srv.aclose())
        engine.dispose()
