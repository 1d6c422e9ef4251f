"""Jobs on the customer panel, end to end through the real window, controller, writer and cache:
reschedule by keyboard (and a window that filled meanwhile), cancel and hold with a required
reason, release a hold, buttons per status, and the jobs model's upcoming/past order."""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QApplication, QWidget
from sqlalchemy import select

from console.composition import Console
from console.jobs_controller import JobsController
from console.settings import open_settings
from models.customers import Location
from models.db import open_cache
from models.jobs import Appointment, Job, JobStatus
from models.journal import OutboxEntry
from models.records import JobRecord
from models.timeutil import as_utc
from models.validation import ValidationFailed
from models.writer import LocalWriter
from tests.gui.helpers import open_now, show_active, wait_for_workers
from tests.unit.booking_setup import NOW, TUESDAY, build_setup
from tests.unit.conftest import customer_args
from widgets.customer_models import JobsModel
from widgets.customer_panel import CustomerPanel
from widgets.job_dialogs import JobReasonDialog, RescheduleDialog

MONDAY = NOW.date()
CTRL = Qt.KeyboardModifier.ControlModifier
CTRL_SHIFT = Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier


def booking(ids: Any, cid: str, loc: str, day: Any = TUESDAY, window: str = "") -> dict[str, Any]:
    job = {
        "customer_id": cid,
        "location_id": loc,
        "business_unit_id": ids.hvac,
        "job_type_id": ids.ac_repair,
        "campaign_id": ids.google,
        "priority": "High",
        "summary": "AC blowing warm air",
        "tags": ["Emergency"],
        "line_items": [{"code": "DIAG", "quantity": 1}],
    }
    return {
        "job": job,
        "appointment": {"day": day.isoformat(), "arrival_window_id": window or ids.w8_12},
        "booked_at": NOW.isoformat(),
    }


@dataclass
class Desk:
    console: Console
    jobs: JobsController
    ids: Any
    cid: str
    loc: str
    job_id: str

    @property
    def panel(self) -> CustomerPanel:
        return self.console.window.customer_panel

    def outbox(self) -> list[OutboxEntry]:
        with self.console.cache.sessions() as s:
            return list(s.scalars(select(OutboxEntry).order_by(OutboxEntry.seq)))

    def job(self) -> tuple[Job, Appointment]:
        with self.console.cache.sessions() as s:
            job = s.get(Job, self.job_id)
            appt = s.scalar(select(Appointment).where(Appointment.job_id == self.job_id))
            s.expunge_all()
            return job, appt


@pytest.fixture
def desk(qtbot: Any, tmp_path: Any) -> Any:
    path = tmp_path / "cache.sqlite3"
    cache = open_cache(path)
    with cache.sessions.begin() as s:
        ids = build_setup(s)
    writer = LocalWriter(cache.sessions, clock=lambda: NOW)
    cid = writer.execute("create_customer", customer_args()).applied.entity_id
    with cache.sessions() as s:
        loc = s.scalar(select(Location.id).where(Location.customer_id == cid))
    job_id = writer.execute("book_job", booking(ids, cid, loc)).applied.entity_id
    cache.close()
    console = Console.build(path, open_settings(tmp_path), now_fn=lambda: NOW)
    qtbot.addWidget(console.window)
    jobs = getattr(console, "jobs", None)
    if jobs is None:
        # Until the composition root builds it: wired the way console/composition.py will.
        jobs = JobsController(
            console.window,
            console.cache,
            console.writer,
            console.window.customer_panel,
            console.booking,
            now_fn=lambda: NOW,
        )
        jobs.jobChanged.connect(console.customers.open_customer)
        jobs.outboxChanged.connect(console.refresh_outbox)
    show_active(qtbot, console.window)
    assert open_now(qtbot, console.customers, cid)
    yield Desk(console, jobs, ids, cid, loc, job_id)
    console.shutdown()


def focus_jobs(qtbot: Any, desk: Desk) -> None:
    # Back on the main window once a dialog has closed (the offscreen platform has no window manager).
    desk.console.window.activateWindow()
    qtbot.waitUntil(desk.console.window.isActiveWindow, timeout=1000)
    desk.panel.history_tabs.setCurrentIndex(0)
    desk.panel.jobs_view.setFocus(Qt.FocusReason.ShortcutFocusReason)
    qtbot.waitUntil(desk.panel.jobs_view.hasFocus, timeout=1000)


def active(qtbot: Any, dialog: QWidget | None) -> Any:
    """Wait until the opened dialog is the active window: keys only reach it then."""
    assert dialog is not None and dialog.isVisible()
    qtbot.waitUntil(dialog.isActiveWindow, timeout=1000)
    return dialog


def closed(dialog: Any) -> bool:
    """Closed, or already deleted (a closed dialog is deleted while the reopen is awaited)."""
    from shiboken6 import isValid

    return not isValid(dialog) or not dialog.isVisible()


def press(qtbot: Any, key: Qt.Key, modifier: Qt.KeyboardModifier = Qt.KeyboardModifier.NoModifier) -> None:
    """A key, then the CSR looks at the answer (the customer reopened on its worker)."""
    target = QApplication.focusWidget()
    qtbot.keyClick(target, key, modifier)
    wait_for_workers(qtbot, (target.window().parentWidget() or target).window())


def test_reschedule_by_keyboard_moves_the_appointment(qtbot: Any, desk: Desk) -> None:
    model = desk.panel.jobs_model
    # Shown in the company's time zone (Dallas), by the window's name from the setup.
    assert [model.index(0, c).data() for c in (1, 4, 5)] == [
        "Scheduled · Saved on this PC",
        "Tue Dec 1, 2026",
        "8–12",
    ]
    before = len(desk.outbox())
    focus_jobs(qtbot, desk)
    press(qtbot, Qt.Key.Key_R, CTRL)  # Reschedule…
    dialog = active(qtbot, desk.jobs.dialog)
    assert isinstance(dialog, RescheduleDialog) and dialog.objectName() == "rescheduleDialog"
    assert dialog.view.objectName() == "rescheduleAvailability" and dialog.view.hasFocus()
    # The first window that fits is highlighted: Monday 8–10 (the job's own Tuesday 8–12 is marked).
    slot = dialog.chosen_slot()
    assert (slot.day, slot.window.id) == (MONDAY, desk.ids.w8_10)
    own = dialog.availability.row_of(TUESDAY, desk.ids.w8_12)
    assert dialog.availability.index(own, 4).data().startswith("Current appointment")
    press(qtbot, Qt.Key.Key_Down)  # Monday 8–12
    press(qtbot, Qt.Key.Key_Return)
    assert closed(dialog)
    job, appt = desk.job()
    assert appt.arrival_window_id == desk.ids.w8_12 and as_utc(appt.arrival_window_start) == NOW
    assert as_utc(appt.arrival_window_end) == NOW + timedelta(hours=4)
    queued = desk.outbox()[before:]
    assert [q.name for q in queued] == ["reschedule_job"]
    assert queued[0].args == {
        "job_id": desk.job_id,
        "booked_at": NOW.isoformat(),
        "appointment": {"day": MONDAY.isoformat(), "arrival_window_id": desk.ids.w8_12},
    }
    # The panel shows the new window at once, and says it was saved.
    assert [model.index(0, c).data() for c in (4, 5)] == ["Mon Nov 30, 2026", "8–12"]
    assert "rescheduled to Mon Nov 30 · 8–12" in desk.panel.message_label.text()
    qtbot.waitUntil(lambda: desk.console.window.sync_status.pending == desk.console.writer.pending_count())


def test_reschedule_into_a_window_that_filled_is_refused(qtbot: Any, desk: Desk) -> None:
    desk.jobs.run(desk.job_id, "reschedule")
    wait_for_workers(qtbot, desk.console.window)  # the job, then its windows, come from the booking worker
    wait_for_workers(qtbot, desk.console.window)
    dialog = active(qtbot, desk.jobs.dialog)
    slot = dialog.chosen_slot()
    assert (slot.day, slot.window.id) == (MONDAY, desk.ids.w8_10) and slot.fits
    # Meanwhile other bookings fill Monday 8–10 (straight into the cache, as another CSR's would).
    other = LocalWriter(desk.console.cache.sessions, clock=lambda: NOW)
    with pytest.raises(ValidationFailed):
        for _ in range(10):
            other.execute("book_job", booking(desk.ids, desk.cid, desk.loc, MONDAY, desk.ids.w8_10))
    before, (_job, appt_before) = desk.outbox(), desk.job()
    press(qtbot, Qt.Key.Key_Return)
    assert dialog.isVisible() and dialog.error_text() == "This window is now full — pick another."
    # The list was refreshed: the same window is still highlighted, now marked full.
    refreshed = dialog.chosen_slot()
    assert (refreshed.day, refreshed.window.id) == (MONDAY, desk.ids.w8_10) and not refreshed.fits
    assert dialog.availability.index(dialog.view.currentIndex().row(), 2).data() == "Full"
    assert [q.mutation_id for q in desk.outbox()] == [q.mutation_id for q in before]
    _job, appt = desk.job()
    assert (appt.arrival_window_id, appt.arrival_window_start) == (
        appt_before.arrival_window_id,
        appt_before.arrival_window_start,
    )
    press(qtbot, Qt.Key.Key_Return)  # a full window is refused at once, without a write
    assert dialog.error_text() == "This window is full — pick another." and len(desk.outbox()) == len(before)
    press(qtbot, Qt.Key.Key_Escape)
    assert closed(dialog)


def test_cancel_requires_a_reason_then_cancels_with_it(qtbot: Any, desk: Desk) -> None:
    before = len(desk.outbox())
    number = desk.panel.jobs_model.row_at(0).number
    focus_jobs(qtbot, desk)
    press(qtbot, Qt.Key.Key_C, CTRL_SHIFT)  # Cancel job…
    dialog = active(qtbot, desk.jobs.dialog)
    assert isinstance(dialog, JobReasonDialog) and dialog.objectName() == "jobReasonDialog"
    assert dialog.windowTitle() == f"Cancel job {number}" and dialog.fields["reason"].hasFocus()
    press(qtbot, Qt.Key.Key_Return)
    assert dialog.isVisible() and dialog.error_text("reason") == "Give a reason for the cancellation."
    assert len(desk.outbox()) == before
    qtbot.keyClicks(QApplication.focusWidget(), "Found another company")
    assert dialog.error_text("reason") == ""  # typing answers the error
    press(qtbot, Qt.Key.Key_Return)
    assert closed(dialog)
    job, _appt = desk.job()
    assert (job.status, job.status_reason) == (JobStatus.CANCELED, "Found another company")
    queued = desk.outbox()[before:]
    assert [(q.name, q.args) for q in queued] == [
        ("cancel_job", {"job_id": desk.job_id, "reason": "Found another company"})
    ]
    assert desk.panel.jobs_model.index(0, 1).data() == "Canceled — Found another company · Saved on this PC"
    # Never deleted: it stays listed, with nothing left to do to it.
    assert not any(a.isEnabled() for a in desk.panel.jobs_tab.actions.values())


def test_hold_then_release(qtbot: Any, desk: Desk) -> None:
    before = len(desk.outbox())
    tab = desk.panel.jobs_tab
    focus_jobs(qtbot, desk)
    press(qtbot, Qt.Key.Key_H, CTRL)  # Hold…
    dialog = active(qtbot, desk.jobs.dialog)
    assert isinstance(dialog, JobReasonDialog) and "on hold" in dialog.windowTitle()
    qtbot.keyClicks(QApplication.focusWidget(), "Waiting for parts")
    press(qtbot, Qt.Key.Key_Return)
    assert closed(dialog)
    job, _appt = desk.job()
    assert (job.status, job.status_reason) == (JobStatus.HOLD, "Waiting for parts")
    assert desk.panel.jobs_model.index(0, 1).data() == "Hold — Waiting for parts · Saved on this PC"
    assert tab.actions["release"].isEnabled() and not tab.actions["hold"].isEnabled()
    focus_jobs(qtbot, desk)
    press(qtbot, Qt.Key.Key_H, CTRL_SHIFT)  # Release hold: no dialog
    job, appt = desk.job()
    assert (job.status, job.status_reason) == (JobStatus.SCHEDULED, "")
    assert as_utc(appt.arrival_window_start).date() == TUESDAY  # the appointment was kept
    assert [q.name for q in desk.outbox()[before:]] == ["hold_job", "release_hold"]
    assert desk.panel.jobs_model.index(0, 1).data() == "Scheduled · Saved on this PC"
    assert "released from hold" in desk.panel.message_label.text()


def test_a_failed_write_becomes_a_sentence(qtbot: Any, desk: Desk, monkeypatch: Any) -> None:
    desk.console.writer.execute("hold_job", {"job_id": desk.job_id, "reason": "Parts"})

    def broken(name: str, args: dict[str, Any]) -> None:
        raise sqlite3.OperationalError("database is locked")

    monkeypatch.setattr(desk.console.writer, "execute", broken)
    said: list[str] = []
    desk.jobs.errorOccurred.connect(said.append)
    desk.jobs.run(desk.job_id, "release")
    wait_for_workers(qtbot, desk.console.window)  # the write runs on the booking worker
    assert len(said) == 1, said  # one sentence, said once
    assert said[0].startswith("The job was not changed. The customer cache is in use by another program.")
    assert desk.panel.message_label.text() == said[0]
    # In a dialog, the sentence shows above its buttons and the dialog stays open with the reason typed.
    monkeypatch.undo()
    desk.console.writer.execute("release_hold", {"job_id": desk.job_id})
    monkeypatch.setattr(desk.console.writer, "execute", broken)
    desk.jobs.run(desk.job_id, "cancel")
    wait_for_workers(qtbot, desk.console.window)  # the job is read on the booking worker
    dialog = active(qtbot, desk.jobs.dialog)
    qtbot.keyClicks(dialog.fields["reason"], "Duplicate")
    qtbot.keyClick(dialog.fields["reason"], Qt.Key.Key_Return)
    wait_for_workers(qtbot, desk.console.window)
    assert dialog.isVisible() and "in use by another program" in dialog.form_error.text()
    assert dialog.fields["reason"].text() == "Duplicate" and len(said) == 2
    dialog.reject()


def test_a_stale_status_is_refreshed_not_acted_on(qtbot: Any, desk: Desk) -> None:
    # Another console canceled the job after the panel loaded it.
    desk.console.writer.execute("cancel_job", {"job_id": desk.job_id, "reason": "Duplicate"})
    before = len(desk.outbox())
    desk.jobs.run(desk.job_id, "hold")
    wait_for_workers(qtbot, desk.console.window)  # the job read; the customer reopened, as it is now
    wait_for_workers(qtbot, desk.console.window)
    assert desk.jobs.dialog is None
    assert "is canceled now — it can't be put on hold" in desk.panel.message_label.text()
    assert desk.panel.jobs_model.index(0, 1).data() == "Canceled — Duplicate · Saved on this PC"
    assert len(desk.outbox()) == before


# -- the panel alone ----------------------------------------------------------------------------------------
WHEN = datetime(2026, 12, 1, 14, 0, tzinfo=UTC)


def job(
    jid: str, status: str = "Scheduled", when: datetime | None = WHEN, reason: str = "", number: str = ""
) -> JobRecord:
    return JobRecord(
        jid,
        number or jid.upper(),
        status,
        "AC Not Cooling",
        "HVAC Service",
        "Warm air",
        when,
        datetime(2026, 11, 1, tzinfo=UTC),
        "l1",
        status_reason=reason,
        customer_id="c1",
        window_start=when,
        window_end=when + timedelta(hours=4) if when else None,
        window_name="8–12" if when else "",
    )


@pytest.fixture
def panel(qtbot: Any) -> CustomerPanel:
    from tests.gui.test_customer_panel import record

    p = CustomerPanel()
    p.set_clock(lambda: NOW)
    p.resize(900, 900)
    qtbot.addWidget(p)
    p.show()
    qtbot.waitActive(p)
    p.set_record(
        record(
            jobs=tuple(
                job(f"j{i}", s)
                for i, s in enumerate(("Scheduled", "Dispatched", "Working", "Hold", "Completed", "Canceled"))
            )
        )
    )
    return p


ENABLED = {
    "Scheduled": {"reschedule", "cancel", "hold", "on_the_way"},
    "Dispatched": {"reschedule", "cancel", "hold", "on_the_way"},
    "Working": set(),
    "Hold": {"reschedule", "cancel", "release"},
    "Completed": set(),
    "Canceled": set(),
}


@pytest.mark.parametrize("status", list(ENABLED))
def test_buttons_enabled_per_status(qtbot: Any, panel: CustomerPanel, status: str) -> None:
    tab = panel.jobs_tab
    row = next(r for r in range(panel.jobs_model.rowCount()) if panel.jobs_model.row_at(r).status == status)
    panel.jobs_view.setCurrentIndex(panel.jobs_model.index(row, 0))
    assert {k for k, b in tab.buttons.items() if b.isEnabled()} == ENABLED[status]
    for key, button in tab.buttons.items():
        if button.isEnabled():
            with qtbot.waitSignal(panel.jobActionRequested) as sig:
                qtbot.mouseClick(button, Qt.MouseButton.LeftButton)
            assert sig.args == [panel.jobs_model.row_at(row).id, key]


def test_job_buttons_are_named_and_keys_work_only_on_the_table(qtbot: Any, panel: CustomerPanel) -> None:
    tab = panel.jobs_tab
    assert {b.accessibleName() for b in tab.buttons.values()} == {
        "Reschedule job",
        "Cancel job",
        "Put job on hold",
        "Release hold",
        "Tell the customer the technician is on the way",
    }
    assert [b.text() for b in tab.buttons.values()] == [
        "Reschedule…",
        "Cancel job…",
        "Hold…",
        "Release hold",
        "On the way",
    ]
    for action in tab.actions.values():
        assert action.shortcutContext() == Qt.ShortcutContext.WidgetShortcut
        assert action in panel.jobs_view.actions()
    taken = {
        QKeySequence(k)
        for k in (
            "Ctrl+E",
            "Ctrl+L",
            "Ctrl+Shift+P",
            "Ctrl+J",
            "Ctrl+G",
            "Ctrl+N",
            "Ctrl+W",
            "Ctrl+Shift+E",
            "F1",
            "Ctrl+F",
        )
    }
    assert not taken & {a.shortcut() for a in tab.actions.values()}
    panel.jobs_view.setCurrentIndex(panel.jobs_model.index(0, 0))
    panel.note_edit.setFocus()
    qtbot.waitUntil(panel.note_edit.hasFocus, timeout=1000)
    with qtbot.assertNotEmitted(panel.jobActionRequested):
        qtbot.keyClick(panel.note_edit, Qt.Key.Key_R, CTRL)
    panel.jobs_view.setFocus()
    qtbot.waitUntil(panel.jobs_view.hasFocus, timeout=1000)
    with qtbot.waitSignal(panel.jobActionRequested) as sig:
        qtbot.keyClick(panel.jobs_view, Qt.Key.Key_R, CTRL)
    assert sig.args == [panel.jobs_model.row_at(0).id, "reschedule"]


def test_window_shortcuts_do_not_clash_with_the_job_keys(desk: Desk) -> None:
    window_wide = {
        a.shortcut()
        for a in desk.console.window.findChildren(QAction)
        if not a.shortcut().isEmpty() and a.shortcutContext() != Qt.ShortcutContext.WidgetShortcut
    }
    assert not window_wide & {a.shortcut() for a in desk.panel.jobs_tab.actions.values()}


def test_jobs_model_upcoming_first_then_past(qtmodeltester: Any) -> None:
    rows = (
        job("done", "Completed", NOW - timedelta(days=3)),
        job("later", "Scheduled", NOW + timedelta(days=5)),
        job("gone", "Canceled", NOW + timedelta(days=1), reason="Duplicate"),  # won't happen: past
        job("missed", "Scheduled", NOW - timedelta(days=1)),  # its window ended: past
        job("loose", "Hold", None, reason="Parts"),  # no window: upcoming, last
        job("now", "Dispatched", NOW - timedelta(hours=1)),  # window still open
        job("soon", "Scheduled", NOW + timedelta(days=1)),
    )
    now = NOW
    model = JobsModel(now_fn=lambda: now)
    model.set_rows(rows)
    assert [j.id for j in model.rows()] == ["now", "soon", "later", "loose", "gone", "missed", "done"]
    assert [model.is_upcoming(r) for r in range(7)] == [True] * 4 + [False] * 3
    assert model.index(4, 1).data() == "Canceled — Duplicate" and model.index(3, 4).data() == "Not scheduled"
    assert model.index(4, 0).data(Qt.ItemDataRole.FontRole).italic()
    assert model.index(0, 0).data(Qt.ItemDataRole.FontRole) is None
    assert model.index(0, 0).data(Qt.ItemDataRole.AccessibleTextRole) == "NOW, upcoming job"
    qtmodeltester.check(model)
    # The Python tester stays connected: it checks every change below as it is signalled.
    qtmodeltester.check(model, force_py=True)
    # A status change keeps the rows: only the changed one is announced.
    changed = tuple(replace(j, status_reason="Parts came") if j.id == "loose" else j for j in rows)
    model.set_rows(changed)
    assert model.index(3, 1).data() == "Hold — Parts came"
    # Time moves on: "now"'s window ends and it joins the past.
    now = NOW + timedelta(hours=4)
    model.set_rows(changed)
    assert [j.id for j in model.rows()][:3] == ["soon", "later", "loose"] and not model.is_upcoming(3)


def test_a_job_the_server_flagged_shows_it_needs_rescheduling(qtbot, desk):
    """An offline booking the server kept although its window filled (accept and flag) reaches this
    console through sync; the jobs tab makes it impossible to miss, with the nearest free windows."""
    with desk.console.cache.sessions.begin() as s:
        job = s.get(Job, desk.job_id)
        job.needs_reschedule = True
        job.suggested_windows = [{"day": "2026-12-02", "arrival_window_id": "w", "label": "Wed Dec 2 · 8–12"}]
    open_now(qtbot, desk.console.customers, desk.cid)
    model = desk.panel.jobs_model
    assert "NEEDS RESCHEDULING" in model.index(0, 1).data()
    assert "Wed Dec 2 · 8–12" in model.index(0, 1).data(Qt.ItemDataRole.ToolTipRole)
    assert model.index(0, 1).data(Qt.ItemDataRole.ForegroundRole) is not None
