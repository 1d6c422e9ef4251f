"""The UI thread never waits on the disk: a CSR's session, driven by real key events into the assembled
console — find a customer by phone, open them, book a job, add a note, their Texts tab, a new lead for them,
the leads tab and a lead's edit form, the callbacks tab, a call ringing with the customer's number (matched),
claimed, popped, ended and its classify dialog, a setup change and a customer change pulled, a bubble
switched, and a name search scrolled past its first screenful — runs no SQL statement on the GUI thread
(tests/gui/ui_thread_guard.py: an engine event listener, and a trace on every sqlite3 connection, check
``threading.current_thread() is threading.main_thread()``). And an answer that comes after a newer request
of the same kind is dropped, never shown over the newer one."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import pytest
from PySide6.QtCore import QObject, Qt
from PySide6.QtWidgets import QApplication
from sqlalchemy import select

from console.composition import Console
from console.customer_controller import CustomerController
from console.db_worker import DbWorker
from console.review_controller import ReviewController
from console.settings import open_settings
from models.db import Cache, open_cache
from models.jobs import Job
from models.writer import LocalWriter
from tests.gui.helpers import show_active, wait_for_workers
from tests.gui.ui_thread_guard import UiThreadSql
from tests.unit.booking_setup import NOW, build_setup
from tests.unit.conftest import customer_args
from tests.unit.review_setup import TODAY, TZ, build_review_setup

Ctrl = Qt.KeyboardModifier.ControlModifier
Alt = Qt.KeyboardModifier.AltModifier
CtrlShift = Ctrl | Qt.KeyboardModifier.ShiftModifier
CtrlAlt = Ctrl | Alt
PHONE = "2145550134"  # customer_args()'s
NAMESAKES = 90  # "Scroll Tester …": more results than the first screenful the search sends with its ids


def _keys(qtbot: Any, window: Any, *presses: Any) -> None:
    """Each key to whatever has focus, as a keyboard sends it; then the CSR looks at the answer."""
    for press in presses:
        key, modifier = press if isinstance(press, tuple) else (press, Qt.KeyboardModifier.NoModifier)
        qtbot.keyClick(QApplication.focusWidget() or window, key, modifier)
        wait_for_workers(qtbot, window)


@pytest.fixture
def console(qtbot: Any, tmp_path: Any) -> Iterator[Console]:
    path = tmp_path / "cache.sqlite3"
    cache = open_cache(path)
    with cache.sessions.begin() as s:
        ids = build_setup(s)
    writer = LocalWriter(cache.sessions)
    cid = writer.execute("create_customer", customer_args()).applied.entity_id
    writer.execute("create_lead", {"lead": {"name": "Ana Lopez", "phone": "(214) 555-0100"}})
    for k in range(NAMESAKES):
        writer.execute(
            "create_customer", customer_args(name=f"Scroll Tester {k:03d}", phone=f"(469) 555-{1000 + k:04d}")
        )
    cache.close()
    console = Console.build(path, open_settings(tmp_path), now_fn=lambda: NOW)
    console.ids, console.cid = ids, cid  # type: ignore[attr-defined]
    qtbot.addWidget(console.window)
    show_active(qtbot, console.window)
    qtbot.wait(50)  # start-up's second half (a 0 ms timer): drafts, leads, the postal list
    wait_for_workers(qtbot, console.window)
    yield console
    console.shutdown()


def _call(state: str, **extra: Any) -> dict[str, Any]:
    """A call as the server's pull hands it to the console (sync.callsArrived)."""
    return {
        "id": "call-1",
        "provider_call_id": "CA1",
        "state": state,
        "direction": "Inbound",
        "from_number": "+1" + PHONE,
        "to_number": "+12145550999",
        "campaign": "Radio spots",
        "started_at": NOW.isoformat(),
        **extra,
    }


def test_a_csr_session_runs_no_sql_on_the_ui_thread(qtbot: Any, console: Console, ui_thread_sql: Any) -> None:
    w = console.window
    with ui_thread_sql(console.cache):
        # Find the caller by phone and open them (Enter on the top result).
        _keys(qtbot, w, (Qt.Key.Key_F, Ctrl))
        qtbot.keyClicks(w.lookup.search, PHONE)
        qtbot.waitUntil(lambda: w.lookup.model.customer_id(0) == console.cid, timeout=5000)
        _keys(qtbot, w, Qt.Key.Key_Return)
        assert w.customer_panel.customer_id() == console.cid
        # Book a job: Ctrl+J, HVAC Service, AC Not Cooling, Google, Ctrl+G, Enter, Ctrl+Enter.
        _keys(qtbot, w, (Qt.Key.Key_J, Ctrl))
        for press in ("h", Qt.Key.Key_Down, Qt.Key.Key_Tab, "a", Qt.Key.Key_Tab, "g"):
            if isinstance(press, str):
                qtbot.keyClicks(QApplication.focusWidget(), press)
            else:
                _keys(qtbot, w, press)
        _keys(qtbot, w, (Qt.Key.Key_G, Ctrl), Qt.Key.Key_Return, (Qt.Key.Key_Return, Ctrl))
        qtbot.waitUntil(lambda: any(j.status for j in w.customer_panel.record().jobs), timeout=5000)
        # A note on the customer (a write, then the customer reopened and its result row re-read).
        _keys(qtbot, w, (Qt.Key.Key_N, Alt))
        qtbot.keyClicks(w.customer_panel.note_edit, "Gate code 4321")
        _keys(qtbot, w, (Qt.Key.Key_Return, Ctrl))
        assert [n.text for n in w.customer_panel.record().notes] == ["Gate code 4321"]
        # The customer's Texts tab (Alt+X), then a new lead for them (Ctrl+Shift+E), closed with Escape.
        _keys(qtbot, w, (Qt.Key.Key_X, Alt))
        assert console.messages is not None and console.messages.tab.isVisible()
        _keys(qtbot, w, (Qt.Key.Key_E, CtrlShift))
        qtbot.waitUntil(lambda: console.leads.dialog is not None and console.leads.dialog.isActiveWindow())
        assert console.leads.dialog.objectName() == "leadDialog"
        _keys(qtbot, w, Qt.Key.Key_Escape)
        qtbot.waitUntil(lambda: console.leads.dialog is None and w.isActiveWindow())
        # The leads tab (its list is queried as it is shown) and a lead's edit form (F2 on the list).
        _keys(qtbot, w, (Qt.Key.Key_E, Alt))
        assert w.work_tabs.currentWidget() is w.leads_list and w.leads_list.model.rowCount() == 1
        w.leads_list.view.setFocus()
        _keys(qtbot, w, Qt.Key.Key_F2)
        qtbot.waitUntil(lambda: console.leads.dialog is not None and console.leads.dialog.isActiveWindow())
        _keys(qtbot, w, Qt.Key.Key_Escape)
        qtbot.waitUntil(lambda: console.leads.dialog is None and w.isActiveWindow())
        # The callbacks tab (Ctrl+Alt+C).
        _keys(qtbot, w, (Qt.Key.Key_C, CtrlAlt))
        assert w.work_tabs.currentWidget() is console.callbacks.widget  # type: ignore[attr-defined]
        # A call rings from the customer's number: its bubble names them once the match worker answers.
        console.calls.me, console.calls.username = "me", "me"
        w.bubble_strip.set_me("me")
        console.sync.callsArrived.emit([_call("Ringing")], "", False)
        qtbot.waitUntil(lambda: not console.calls.cards["call-1"].matching, timeout=5000)
        assert w.bubble_strip.call_bubble("call-1").caller_label.full == "Maria Garcia"
        # Claimed by this CSR (the server's answer): Ctrl+PgDown to its bubble pops the customer.
        talking = {"agent_id": "me", "agent_name": "Me", "answered_at": NOW.isoformat()}
        console.sync.callsArrived.emit([_call("Talking", **talking)], "", False)
        wait_for_workers(qtbot, w)
        _keys(qtbot, w, (Qt.Key.Key_PageDown, Ctrl))
        qtbot.waitUntil(lambda: console.drafts.active == "call-1")
        assert w.customer_panel.customer_id() == console.cid
        # The caller hangs up: Ctrl+W on the gray bubble opens the classify dialog; Escape.
        console.sync.callsArrived.emit([_call("Ended", ended_at=NOW.isoformat(), **talking)], "", False)
        wait_for_workers(qtbot, w)
        w.bubble_strip.call_bubble("call-1").setFocus()
        _keys(qtbot, w, (Qt.Key.Key_W, Ctrl))
        qtbot.waitUntil(lambda: console.calls.dialog is not None and console.calls.dialog.isActiveWindow())
        _keys(qtbot, w, Qt.Key.Key_Escape)
        qtbot.waitUntil(lambda: console.calls.dialog is None and w.isActiveWindow())
        # A setup change and a customer change pulled, a second bubble and back.
        console.sync.setupChanged.emit()
        console.sync.customersChanged.emit([console.cid])
        _keys(qtbot, w, (Qt.Key.Key_N, Ctrl), (Qt.Key.Key_PageUp, Ctrl))
        qtbot.wait(500)  # the draft's autosave (400 ms after the last change)
        wait_for_workers(qtbot, w)
        # A name search with more results than its first screenful, scrolled to the end (Ctrl+End).
        _keys(qtbot, w, (Qt.Key.Key_F, Ctrl))
        w.lookup.search.selectAll()
        qtbot.keyClicks(w.lookup.search, "Scroll Tester")
        model = w.lookup.model
        qtbot.waitUntil(
            lambda: model.query == "Scroll Tester" and model.rowCount() == NAMESAKES, timeout=5000
        )
        assert not model.loaded(NAMESAKES - 1)  # past the first screenful: not read with the ids
        _keys(qtbot, w, Qt.Key.Key_Down, (Qt.Key.Key_End, Ctrl))
        assert w.lookup.results.currentIndex().row() == NAMESAKES - 1
        # The view painted the placeholders, asked the search worker, and the rows came in place.
        qtbot.waitUntil(lambda: model.loaded(NAMESAKES - 1), timeout=5000)
        assert model.index(NAMESAKES - 1, 0).data() == f"Scroll Tester {NAMESAKES - 1:03d}"
        _keys(qtbot, w, Qt.Key.Key_PageUp, Qt.Key.Key_PageUp)
        qtbot.waitUntil(lambda: not any(model.loading(r) for r in range(NAMESAKES)), timeout=5000)
    with console.cache.sessions() as s:
        assert s.scalar(select(Job.number).where(Job.customer_id == console.cid)) is not None


def test_the_guard_sees_a_statement_on_the_ui_thread(console: Console) -> None:
    """The guard itself can fail: a read on the GUI thread is caught (through the engine, or a plain
    sqlite3 connection opened meanwhile), one on a worker is not."""
    guard = UiThreadSql(console.cache)
    with guard.watching():
        with console.cache.sessions() as s:
            s.scalar(select(Job.id).limit(1))
        raw = console.cache.raw_connection()
        raw.execute("SELECT 1").fetchall()
        raw.close()

        def read_on_a_worker() -> None:
            with console.cache.sessions() as s:
                s.scalar(select(Job.id).limit(1))

        worker = threading.Thread(target=read_on_a_worker)
        worker.start()
        worker.join()
    firsts = [hit.split("\n", 1)[0] for hit in guard.hits]
    assert sum("FROM jobs" in f for f in firsts) == 1 and "SELECT 1" in firsts  # the worker's read: not
    from tests.gui.ui_thread_guard import no_sql_on_ui_thread

    with pytest.raises(AssertionError, match="SQL statements on the UI thread"):
        with no_sql_on_ui_thread(console.cache):
            with console.cache.sessions() as s:
                s.scalar(select(Job.id).limit(1))


# -- stale answers are dropped -----------------------------------------------------------------------------------
class _Gate(QObject):
    """A worker function that waits for the test to open the gate: a slow read, answered late."""

    def __init__(self) -> None:
        super().__init__()
        self.open = threading.Event()

    def slow(self, value: str) -> str:
        self.open.wait(10)
        return value


def test_an_older_answer_of_the_same_kind_is_dropped(qtbot: Any) -> None:
    worker = DbWorker(name="csr-test")
    gate = _Gate()
    shown: list[str] = []
    try:
        worker.submit(gate.slow, "old", done=shown.append, failed=pytest.fail, key="open")
        worker.submit(gate.slow, "new", done=shown.append, failed=pytest.fail, key="open")
        worker.submit(gate.slow, "other", done=shown.append, failed=pytest.fail, key="")
        gate.open.set()
        qtbot.waitUntil(lambda: worker.pending == 0)
        assert shown == ["new", "other"]
        worker.submit(gate.slow, "forgotten", done=shown.append, failed=pytest.fail, key="history")
        worker.forget("history")
        qtbot.waitUntil(lambda: worker.pending == 0)
        assert shown == ["new", "other"]
    finally:
        worker.shutdown()
        worker.deleteLater()


def test_a_customer_opened_after_another_wins(qtbot: Any, cache: Cache, writer: LocalWriter) -> None:
    """Two Enters in quick succession: the panel ends on the second customer, even though the first
    one's read answers last (it is held until the second has been shown)."""
    from PySide6.QtWidgets import QWidget

    from widgets.customer_panel import CustomerPanel

    first = writer.execute("create_customer", customer_args(name="Ana Lopez")).applied.entity_id
    second = writer.execute(
        "create_customer", customer_args(name="Ben Ortiz", phone="(214) 555-0177")
    ).applied.entity_id
    window = QWidget()
    qtbot.addWidget(window)
    panel = CustomerPanel(window)
    controller = CustomerController(window, cache, writer, panel)
    gate = threading.Event()
    opened: list[str] = []
    controller.customerOpened.connect(opened.append)
    import console.customer_controller as cc

    real = cc._read_record

    def held(c: Cache, customer_id: str) -> Any:
        if customer_id == first:
            gate.wait(10)
        return real(c, customer_id)

    cc._read_record = held
    try:
        controller.open_customer(first)
        # The first read is held on the worker; the second is queued behind it, then both answer.
        controller.open_customer(second)
        gate.set()
        qtbot.waitUntil(lambda: controller.worker.pending == 0)
    finally:
        cc._read_record = real
        controller.worker.shutdown()
    assert opened == [second] and panel.customer_id() == second


def test_a_review_period_read_superseded_is_not_shown(qtbot: Any, cache: Cache) -> None:
    """The manager changes the period twice before the first answer: only the last period's calls show."""
    from PySide6.QtWidgets import QWidget

    with cache.sessions.begin() as s:
        build_review_setup(s)
    window = QWidget()
    qtbot.addWidget(window)
    controller = ReviewController(window, cache, LocalWriter(cache.sessions), lambda: TODAY, lambda: TZ)
    shown: list[int] = []
    real = controller._show_period
    controller._show_period = lambda answer: (shown.append(len(answer[1])), real(answer))  # type: ignore[method-assign]
    try:
        controller.widget.set_period("yesterday")  # Thursday's four calls…
        controller.widget.set_period("today")  # …then today's one, asked before the first answer
        qtbot.waitUntil(lambda: controller.worker.pending == 0)
    finally:
        controller.worker.shutdown()
    assert shown == [1] and controller.widget.model.rowCount() == 1
