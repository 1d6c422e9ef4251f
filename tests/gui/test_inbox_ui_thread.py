"""The Bookings inbox never waits on the disk: driven by real key events into the assembled console —
Ctrl+Shift+I opens it, Space claims a request, Enter accepts it (the booking form opens prefilled), Delete
dismisses another with a reason — and a pulled change to one request re-read alone, it runs no SQL
statement on the GUI thread (the guard of tests/gui/ui_thread_guard.py).

A claim this console refuses (another CSR's claim already pulled) reaches the CSR durably: it is listed
in Sync problems and kept in the cache until acknowledged, not only said on the message line."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication
from sqlalchemy import select

from console.composition import Console
from console.settings import open_settings
from models.db import open_cache
from models.jobs import OnlineBooking
from models.journal import OutboxEntry
from models.setup import User
from models.sync_tables import SyncProblem
from models.web_booking import save_web_settings
from models.writer import LocalWriter
from sync.puller import ChangedTables
from tests.gui.helpers import show_active, wait_for_workers
from tests.gui.test_bookings_inbox import _request
from tests.gui.ui_thread_guard import UiThreadSql
from tests.unit.booking_setup import NOW, build_setup
from tests.unit.conftest import customer_args
from tests.web_setup import web_settings

CtrlShift = Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier


def _key(qtbot: Any, window: Any, key: Any, modifier: Any = Qt.KeyboardModifier.NoModifier) -> None:
    """One key to whatever has the focus, as a keyboard sends it; then the CSR looks at the answer."""
    qtbot.keyClick(QApplication.focusWidget() or window, key, modifier)
    wait_for_workers(qtbot, window)


@pytest.fixture
def console(qtbot: Any, tmp_path: Any) -> Iterator[Console]:
    path = tmp_path / "cache.sqlite3"
    cache = open_cache(path)
    with cache.sessions.begin() as s:
        ids = build_setup(s)
        save_web_settings(s, web_settings(ids))
        s.add(User(id="u-dana", username="dana", display_name="Dana Reyes"))
        s.add(User(id="u-omar", username="omar", display_name="Omar Haddad"))
    cid = LocalWriter(cache.sessions).execute("create_customer", customer_args()).applied.entity_id
    with cache.sessions.begin() as s:
        known = _request(s, ids, name="Maria Lopez", phone="+12145550134", customer_id=cid, match="existing")
        spam = _request(s, ids, name="Bot Bot", phone="+12145550199")
        taken = _request(s, ids, name="Lee Park", phone="+12145550177")
        s.get(OnlineBooking, taken).claimed_by_id = "u-omar"  # another CSR works it (pulled earlier)
        s.get(OnlineBooking, taken).claimed_at = NOW
    cache.close()
    console = Console.build(path, open_settings(tmp_path), now_fn=lambda: NOW)
    console.ids, console.cid = ids, cid  # type: ignore[attr-defined]
    console.known, console.spam, console.taken = known, spam, taken  # type: ignore[attr-defined]
    console.sync.user = {"id": "u-dana", "username": "dana"}
    qtbot.addWidget(console.window)
    show_active(qtbot, console.window)
    qtbot.wait(50)  # start-up's second half (a 0 ms timer)
    wait_for_workers(qtbot, console.window)
    yield console
    console.shutdown()


def _open_inbox(qtbot: Any, console: Console) -> Any:
    w = console.window
    _key(qtbot, w, Qt.Key.Key_I, CtrlShift)
    view = w.bookings_inbox.findChild(object, "bookingsInboxView")
    qtbot.waitUntil(lambda: w.work_tabs.currentWidget() is w.bookings_inbox and view.hasFocus())
    return view


def _select(qtbot: Any, console: Console, view: Any, request_id: str) -> None:
    qtbot.waitUntil(lambda: console.window.bookings_inbox.model.row_of(f"web:{request_id}") >= 0)
    view.selectRow(console.window.bookings_inbox.model.row_of(f"web:{request_id}"))


def test_the_inbox_by_keyboard_runs_no_sql_on_the_ui_thread(qtbot: Any, console: Console) -> None:
    w = console.window
    inbox = w.bookings_inbox
    guard = UiThreadSql(console.cache)
    with guard.watching():
        view = _open_inbox(qtbot, console)
        assert inbox.model.rowCount() == 3
        # Space: claim (a write on the worker); the row says so once the worker has answered.
        _select(qtbot, console, view, console.known)
        _key(qtbot, w, Qt.Key.Key_Space)
        row = inbox.model.row_of(f"web:{console.known}")
        assert "claimed by you" in inbox.model.index(row, 6).data()
        # Enter: accept — the customer opens, the prefill is read, the booking form is filled.
        _key(qtbot, w, Qt.Key.Key_Return)
        qtbot.waitUntil(lambda: w.work_tabs.currentIndex() == 0, timeout=5000)
        wait_for_workers(qtbot, w)
        assert w.booking_form.customer_id() == console.cid
        assert w.booking_form.job_type.currentData() == console.ids.ac_repair
        assert w.booking_form.campaign.currentData() == console.ids.google
        # Back to the inbox; Delete: dismiss the spam with its reason (Enter in the dialog).
        view = _open_inbox(qtbot, console)
        _select(qtbot, console, view, console.spam)
        _key(qtbot, w, Qt.Key.Key_Delete)
        dialog = console.inbox.dialog
        assert dialog is not None
        qtbot.waitUntil(dialog.isActiveWindow, timeout=2000)
        _key(qtbot, w, Qt.Key.Key_Return)
        qtbot.waitUntil(lambda: console.inbox.dialog is None)
        row = inbox.model.row_of(f"web:{console.spam}")
        assert inbox.model.index(row, 6).data() == "Dismissed"
        # Another CSR's change pulled: only that request is re-read (and still not on this thread).
        released = threading.Thread(target=_omar_lets_go, args=(console,))  # the puller's own thread
        released.start()
        released.join()
        changed = ChangedTables()
        changed.add_row("online_bookings", console.taken)
        console.sync._on_changes(changed)
        wait_for_workers(qtbot, w)
        row = inbox.model.row_of(f"web:{console.taken}")
        assert inbox.model.index(row, 6).data() == "New"  # Omar's claim is gone from the list
    assert guard.hits == [], "SQL on the GUI thread:\n\n" + "\n\n".join(guard.hits)
    with console.cache.sessions() as s:
        names = [o.name for o in s.scalars(select(OutboxEntry).order_by(OutboxEntry.seq))]
        assert s.get(OnlineBooking, console.spam).status == "Dismissed"
        assert s.get(OnlineBooking, console.known).claimed_by_id == "u-dana"
    assert names[-2:] == ["claim_online_booking", "dismiss_online_booking"]


def _omar_lets_go(console: Console) -> None:
    with console.cache.sessions.begin() as s:
        row = s.get(OnlineBooking, console.taken)
        row.claimed_by_id, row.claimed_at = None, None


def test_the_guard_sees_an_inbox_read_on_the_ui_thread(qtbot: Any, console: Console) -> None:
    """The guard can fail: the inbox's old way (its read on the GUI thread) is caught."""
    guard = UiThreadSql(console.cache)
    with guard.watching():
        console.inbox._read(NOW)
    assert guard.hits


def test_a_claim_lost_to_another_csr_is_kept_in_sync_problems(qtbot: Any, console: Console) -> None:
    w = console.window
    view = _open_inbox(qtbot, console)
    _select(qtbot, console, view, console.taken)
    _key(qtbot, w, Qt.Key.Key_Space)
    problems = console.sync.problems
    qtbot.waitUntil(lambda: problems.list.count() == 1, timeout=5000)
    text = problems.list.item(0).text()
    assert "Claim of a web request not saved" in text and "Omar Haddad is working on this request." in text
    assert problems.isVisible()  # told at once, like a refusal from the server
    assert "Omar Haddad" in w.bookings_inbox.findChild(object, "bookingsInboxMessage").text()
    with console.cache.sessions() as s:
        kept = s.scalars(select(SyncProblem)).all()
        outbox = s.scalars(select(OutboxEntry).where(OutboxEntry.name == "claim_online_booking")).all()
        assert s.get(OnlineBooking, console.taken).claimed_by_id == "u-omar"  # nothing changed
    assert [(p.kind, p.name, p.acknowledged_at) for p in kept] == [("rejected", "claim_online_booking", None)]
    assert outbox == []
    # Dismissed in Sync problems: acknowledged for good (not listed again after a restart).
    problems.list.setCurrentRow(0)
    problems.dismiss_current()
    qtbot.waitUntil(lambda: _acknowledged(console), timeout=5000)


def _acknowledged(console: Console) -> bool:
    with console.cache.sessions() as s:
        return all(p.acknowledged_at is not None for p in s.scalars(select(SyncProblem)))
