"""The booking form in the real window: keyboard-only booking in ≤ 12 key presses, errors named,
Do Not Service, a window that filled while typing, technicians who can take the job, job-type defaults
that follow the job type, setup imports picked up while running."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication
from sqlalchemy import select

from console.composition import Console
from console.settings import open_settings
from models.base import new_id
from models.db import open_cache
from models.jobs import Appointment, Job, JobStatus
from models.journal import OutboxEntry
from models.setup import BusinessUnit, JobType
from models.setup_data import bump_setup_version
from models.timeutil import as_utc
from models.writer import LocalWriter
from tests.gui.helpers import book_now, open_now, settle, show_active, wait_for_workers
from tests.unit.booking_setup import NOW, build_setup
from tests.unit.conftest import customer_args


@pytest.fixture
def desk(qtbot, tmp_path):
    path = tmp_path / "cache.sqlite3"
    cache = open_cache(path)
    with cache.sessions.begin() as s:
        ids = build_setup(s)
    cid = LocalWriter(cache.sessions).execute("create_customer", customer_args()).applied.entity_id
    cache.close()
    console = Console.build(path, open_settings(tmp_path), now_fn=lambda: NOW)
    qtbot.addWidget(console.window)
    show_active(qtbot, console.window)
    assert open_now(qtbot, console.customers, cid)
    yield console, ids, cid
    console.shutdown()


class Keyboard:
    """Sends keys to whatever has focus, as a CSR's keyboard does, and counts them."""

    def __init__(self, qtbot, window) -> None:
        self.qtbot, self.window, self.count = qtbot, window, 0

    def press(self, key, modifier=Qt.KeyboardModifier.NoModifier) -> None:
        target = QApplication.focusWidget() or self.window
        self.qtbot.keyClick(target, key, modifier)
        self.count += 1
        wait_for_workers(self.qtbot, self.window)  # the CSR looks at the answer before the next key

    def type(self, text: str) -> None:
        for ch in text:
            target = QApplication.focusWidget() or self.window
            self.qtbot.keyClicks(target, ch)
            self.count += 1


def test_returning_customer_booked_in_at_most_12_keys(qtbot, desk):
    console, ids, cid = desk
    form = console.window.booking_form
    kb = Keyboard(qtbot, console.window)
    ctrl = Qt.KeyboardModifier.ControlModifier
    kb.press(Qt.Key.Key_J, ctrl)  # new job, focus on Business unit
    assert QApplication.focusWidget() is form.business_unit
    kb.type("h")  # type-ahead: HVAC Install …
    kb.press(Qt.Key.Key_Down)  # … → HVAC Service
    kb.press(Qt.Key.Key_Tab)
    kb.type("a")  # AC Not Cooling: priority, summary, tags, services
    kb.press(Qt.Key.Key_Tab)
    kb.type("g")  # Google Local Services
    kb.press(Qt.Key.Key_G, ctrl)  # availability; the first free window is highlighted
    kb.press(Qt.Key.Key_Return)  # choose it
    kb.press(Qt.Key.Key_Return, ctrl)  # Book Job
    assert kb.count <= 12, kb.count
    with console.cache.sessions() as s:
        job = s.scalar(select(Job).where(Job.customer_id == cid))
        assert job is not None, form.errors_label.text()
        appt = s.scalar(select(Appointment).where(Appointment.job_id == job.id))
        queued = s.scalars(select(OutboxEntry).order_by(OutboxEntry.seq.desc())).first()
    assert (
        job.business_unit_id == ids.hvac
        and job.job_type_id == ids.ac_repair
        and job.campaign_id == ids.google
    )
    assert (
        job.priority == "High"
        and job.summary.startswith("AC not cooling")
        and job.status == JobStatus.SCHEDULED
    )
    assert job.line_items[0]["code"] == "DIAG"
    # The first window still open on Monday 08:00 is Monday 8–10 (8–12 has started too, but comes first).
    assert appt is not None and as_utc(appt.arrival_window_start) == NOW
    assert queued.name == "book_job" and queued.args["job"]["number"] == job.number
    wait_for_workers(qtbot, console.window)  # the status bar's count is read on its worker
    assert console.window.sync_status.pending == console.writer.pending_count()
    assert job.number in console.window.statusBar().currentMessage()
    # The customer panel's history shows the new job at once.
    assert any(j.number == job.number for j in console.window.customer_panel.record().jobs)


def test_missing_fields_are_named_and_the_first_focused(qtbot, desk):
    console, ids, cid = desk
    form = console.window.booking_form
    qtbot.keyClick(console.window, Qt.Key.Key_J, Qt.KeyboardModifier.ControlModifier)
    form.summary.clear()
    qtbot.keyClick(form.business_unit, Qt.Key.Key_Return, Qt.KeyboardModifier.ControlModifier)
    wait_for_workers(qtbot, console.window)
    text = form.errors_label.text()
    for phrase in ("business unit", "job type", "campaign", "summary", "arrival window"):
        assert phrase in text.lower(), text
    assert QApplication.focusWidget() is form.business_unit
    assert console.writer.pending_count() == 1  # only the customer creation


def test_do_not_service_customer_cannot_be_booked(qtbot, desk):
    console, ids, cid = desk
    console.writer.execute(
        "update_customer",
        {
            "customer_id": cid,
            "changes": {"do_not_service": [False, True], "do_not_service_reason": ["", "Threatened a tech"]},
        },
    )
    open_now(qtbot, console.customers, cid)
    console.new_job()
    form = console.window.booking_form
    assert "Do Not Service" in form.heading.text() and "Threatened a tech" in form.heading.text()
    assert not form.book_button.isEnabled() and not form.get_availability.isEnabled()


def test_window_filled_while_typing_is_refused_and_availability_refreshed(qtbot, desk):
    console, ids, cid = desk
    form = console.window.booking_form
    console.new_job()
    form.business_unit.setCurrentIndex(form.business_unit.findData(ids.hvac))
    form.job_type.setCurrentIndex(form.job_type.findData(ids.ac_repair))
    form.campaign.setCurrentIndex(form.campaign.findData(ids.google))
    qtbot.keyClick(form.business_unit, Qt.Key.Key_G, Qt.KeyboardModifier.ControlModifier)
    settle(qtbot, console.booking)
    row = form.availability_view.currentIndex().row()
    slot = form.availability.slot(row)
    qtbot.keyClick(form.availability_view, Qt.Key.Key_Return)
    assert form.chosen_slot() is slot
    # Meanwhile another CSR's bookings fill that window (straight into the cache).
    other = LocalWriter(console.cache.sessions, clock=lambda: NOW)
    args = {
        "job": {**form.values()},
        "appointment": {"day": slot.day.isoformat(), "arrival_window_id": slot.window.id},
        "booked_at": NOW.isoformat(),
    }
    while True:
        try:
            other.execute("book_job", {**args, "job": dict(args["job"])})
        except Exception:  # noqa: BLE001 - stops when the window is full
            break
    pending = console.writer.pending_count()
    qtbot.keyClick(form.availability_view, Qt.Key.Key_Return, Qt.KeyboardModifier.ControlModifier)
    settle(qtbot, console.booking)
    assert "This window is now full — pick another." in form.errors_label.text()
    assert console.writer.pending_count() == pending
    refreshed = form.availability.slot(form.availability.row_of(slot.day, slot.window.id))
    assert refreshed is not None and not refreshed.fits


def test_availability_marks_full_windows_and_passes_modeltester(qtbot, qtmodeltester, desk):
    console, ids, cid = desk
    form = console.window.booking_form
    console.new_job()
    form.business_unit.setCurrentIndex(form.business_unit.findData(ids.hvac_install))
    form.job_type.setCurrentIndex(form.job_type.findData(ids.install_estimate))
    form.show_errors({})
    console.booking.show_availability()
    settle(qtbot, console.booking)
    model = form.availability
    assert model.rowCount() > 10
    qtmodeltester.check(model)
    no_tech = [model.slot(r) for r in range(model.rowCount()) if not model.slot(r).technicians]
    assert no_tech and all(not s.fits for s in no_tech)
    qtmodeltester.check(form.line_items)


def test_job_type_fills_defaults_and_list_is_filtered(qtbot, desk):
    console, ids, cid = desk
    form = console.window.booking_form
    console.new_job()
    form.business_unit.setCurrentIndex(form.business_unit.findData(ids.plumbing))
    names = [form.job_type.itemText(i) for i in range(1, form.job_type.count())]
    assert names == ["Drain Clog"]
    form.business_unit.setCurrentIndex(form.business_unit.findData(ids.hvac))
    form.job_type.setCurrentIndex(form.job_type.findData(ids.ac_repair))
    assert form.priority.currentText() == "High"
    assert form.summary.toPlainText() == "AC not cooling. Unit age: "
    assert "Emergency" in form.tags.text()
    assert form.line_items.items()[0]["code"] == "DIAG"


def test_booked_job_shows_saved_on_this_pc_until_confirmed(qtbot, desk):
    """The server issue adds the confirmation; until then the job is marked as saved locally."""
    from sqlalchemy import delete

    from models.journal import OutboxEntry

    console, ids, cid = desk
    form = console.window.booking_form
    console.new_job()
    form.business_unit.setCurrentIndex(form.business_unit.findData(ids.hvac))
    form.job_type.setCurrentIndex(form.job_type.findData(ids.ac_repair))
    form.campaign.setCurrentIndex(form.campaign.findData(ids.google))
    console.booking.show_availability()
    settle(qtbot, console.booking)
    qtbot.keyClick(form.availability_view, Qt.Key.Key_Return)
    number = book_now(qtbot, console.booking)
    wait_for_workers(qtbot, console.window)  # the customer reopens (read on its worker) with the new job
    jobs = console.window.customer_panel.jobs_model
    row = next(r for r in range(jobs.rowCount()) if jobs.index(r, 0).data() == number)
    assert jobs.index(row, 1).data() == "Scheduled · Saved on this PC"
    with console.cache.sessions.begin() as s:  # what a server confirmation will do
        s.execute(delete(OutboxEntry).where(OutboxEntry.name == "book_job"))
    open_now(qtbot, console.customers, cid)
    assert jobs.index(row, 1).data() == "Scheduled"


# -- technicians who can take the job ---------------------------------------------------------------------
def _choose(combo, value) -> None:
    index = combo.findData(value)
    assert index >= 0, (combo.objectName(), value)
    combo.setCurrentIndex(index)


def _offered(combo) -> list[str]:
    return [combo.itemText(i) for i in range(combo.count())]


def test_technicians_are_those_of_the_capacity_group_with_the_skills(qtbot, desk):
    console, ids, cid = desk
    form = console.window.booking_form
    console.new_job()
    assert _offered(form.technician) == ["Any technician", "Ann", "Bob", "Cy", "Dee", "Pat"]
    # HVAC Service and HVAC Install share the HVAC group: Pat (HVAC Install) can take HVAC Service jobs.
    _choose(form.business_unit, ids.hvac)
    assert _offered(form.technician) == ["Any technician", "Ann", "Bob", "Pat"]
    _choose(form.job_type, ids.ac_repair)  # needs HVAC: all three have it
    assert _offered(form.technician) == ["Any technician", "Ann", "Bob", "Pat"]
    _choose(form.technician, ids.tech_pat)
    # AC Not Cooling isn't an HVAC Install job type: it is reset, Pat is still in the group and kept.
    _choose(form.business_unit, ids.hvac_install)
    assert form.job_type.currentData() is None
    assert _offered(form.technician) == ["Any technician", "Ann", "Bob", "Pat"]
    assert form.technician.currentData() == ids.tech_pat
    _choose(form.job_type, ids.install_estimate)  # needs Sales: only Pat
    assert _offered(form.technician) == ["Any technician", "Pat"]
    assert form.values()["technician_ids"] == [ids.tech_pat]
    _choose(form.business_unit, ids.plumbing)  # another group: Pat can't be kept
    assert _offered(form.technician) == ["Any technician", "Cy", "Dee"]
    assert form.technician.currentIndex() == 0 and form.values()["technician_ids"] == []


def test_a_technician_who_lacks_the_skills_is_dropped_and_a_draft_keeps_a_valid_one(qtbot, desk):
    console, ids, cid = desk
    form = console.window.booking_form
    console.new_job()
    _choose(form.business_unit, ids.hvac_install)
    _choose(form.technician, ids.tech_ann)
    _choose(form.job_type, ids.install_estimate)
    assert form.technician.currentIndex() == 0  # Ann has no Sales skill
    _choose(form.technician, ids.tech_pat)
    state = form.state()
    form.reset()
    assert _offered(form.technician) == ["Any technician", "Ann", "Bob", "Cy", "Dee", "Pat"]
    form.restore(state)
    assert _offered(form.technician) == ["Any technician", "Pat"]
    assert form.technician.currentData() == ids.tech_pat


# -- job-type defaults ---------------------------------------------------------------------------------------
def _add_tune_up(qtbot, console, ids) -> str:
    """A second HVAC Service job type with other defaults, imported while the console runs."""
    jt_id = new_id()
    with console.cache.sessions.begin() as s:
        s.add(
            JobType(
                id=jt_id,
                name="Tune-Up",
                priority="Low",
                duration_minutes=60,
                skills=["HVAC"],
                default_tags=["Maintenance"],
                summary_template="Seasonal tune-up. ",
                default_services=[{"code": "TUNE", "quantity": 1}],
                business_units=[s.get(BusinessUnit, ids.hvac)],
            )
        )
        bump_setup_version(s)
    console.new_job()
    wait_for_workers(qtbot, console.window)  # the new setup, read on the worker
    return jt_id


def test_switching_job_type_replaces_its_defaults_and_keeps_what_the_csr_typed(qtbot, desk):
    console, ids, cid = desk
    form = console.window.booking_form
    tune_up = _add_tune_up(qtbot, console, ids)
    _choose(form.business_unit, ids.hvac)
    _choose(form.job_type, ids.ac_repair)
    assert form.tags.text() == "Emergency"
    form.tags.setText("Emergency, VIP")  # the CSR adds a tag of their own
    _choose(form.job_type, tune_up)
    assert form.tags.text() == "VIP, Maintenance"
    assert [i["code"] for i in form.line_items.items()] == ["TUNE"]
    assert form.summary.toPlainText() == "Seasonal tune-up. "
    assert form.priority.currentText() == "Low"
    _choose(form.job_type, ids.ac_repair)
    assert form.tags.text() == "VIP, Emergency"
    assert [i["code"] for i in form.line_items.items()] == ["DIAG"]
    assert form.values()["tags"] == ["VIP", "Emergency"]


def test_a_default_tag_the_csr_typed_first_stays_theirs(qtbot, desk):
    console, ids, cid = desk
    form = console.window.booking_form
    tune_up = _add_tune_up(qtbot, console, ids)
    form.tags.setText("emergency")
    _choose(form.business_unit, ids.hvac)
    _choose(form.job_type, ids.ac_repair)
    assert form.tags.text() == "emergency"  # not twice: tag names ignore case
    _choose(form.job_type, tune_up)
    assert form.tags.text() == "emergency, Maintenance"


def test_edited_services_are_kept_when_the_job_type_changes(qtbot, desk):
    console, ids, cid = desk
    form = console.window.booking_form
    tune_up = _add_tune_up(qtbot, console, ids)
    _choose(form.business_unit, ids.hvac)
    _choose(form.job_type, ids.ac_repair)
    assert form.line_items.setData(form.line_items.index(0, 1), 2)
    _choose(form.job_type, tune_up)
    items = form.line_items.items()
    assert [(i["code"], i["quantity"]) for i in items] == [("DIAG", 2)]
    assert form.tags.text() == "Maintenance"  # the tags still follow the job type
    _choose(form.job_type, ids.ac_repair)
    assert form.line_items.items() == items


def test_switching_business_unit_drops_the_job_types_defaults(qtbot, desk):
    console, ids, cid = desk
    form = console.window.booking_form
    console.new_job()
    _choose(form.business_unit, ids.hvac)
    _choose(form.job_type, ids.ac_repair)
    form.tags.setText(form.tags.text() + ", VIP")
    assert form.priority.currentText() == "High" and form.line_items.rowCount() == 1
    _choose(form.business_unit, ids.plumbing)
    assert form.job_type.currentData() is None
    assert form.tags.text() == "VIP"
    assert form.line_items.items() == []
    assert form.summary.toPlainText() == ""
    assert form.priority.currentText() == "Normal"
    # A summary the CSR wrote stays when the job type goes.
    _choose(form.business_unit, ids.hvac)
    _choose(form.job_type, ids.ac_repair)
    form.summary.setPlainText("AC not cooling. Unit age: 12 years")
    _choose(form.business_unit, ids.hvac_install)
    assert form.summary.toPlainText() == "AC not cooling. Unit age: 12 years"
    assert form.tags.text() == "VIP"


def test_defaults_are_still_replaced_after_a_draft_is_restored(qtbot, desk):
    console, ids, cid = desk
    form = console.window.booking_form
    tune_up = _add_tune_up(qtbot, console, ids)
    _choose(form.business_unit, ids.hvac)
    _choose(form.job_type, ids.ac_repair)
    state = form.state()
    form.reset()
    form.restore(state)
    assert form.tags.text() == "Emergency" and form.line_items.items()[0]["code"] == "DIAG"
    _choose(form.job_type, tune_up)
    assert form.tags.text() == "Maintenance"
    assert [i["code"] for i in form.line_items.items()] == ["TUNE"]
    assert form.summary.toPlainText() == "Seasonal tune-up. "


# -- setup imported while the console runs -------------------------------------------------------------------
def _rename_job_type(console, jt_id: str, name: str, *, bump: bool) -> None:
    with console.cache.sessions.begin() as s:
        s.get(JobType, jt_id).name = name
        if bump:
            bump_setup_version(s)


def test_setup_import_is_picked_up_without_restarting(qtbot, desk):
    console, ids, cid = desk
    form = console.window.booking_form
    kb = Keyboard(qtbot, console.window)
    # A cache without a setup version never changes version: a hand edit isn't picked up.
    _rename_job_type(console, ids.ac_repair, "AC Warm Air", bump=False)
    kb.press(Qt.Key.Key_J, Qt.KeyboardModifier.ControlModifier)
    _choose(form.business_unit, ids.hvac)
    assert _offered(form.job_type) == ["Choose a job type…", "AC Not Cooling"]
    # An import bumps the version: the next Ctrl+J offers the new name, the choices made are kept.
    _rename_job_type(console, ids.ac_repair, "AC Blowing Warm Air", bump=True)
    kb.press(Qt.Key.Key_J, Qt.KeyboardModifier.ControlModifier)
    assert _offered(form.job_type) == ["Choose a job type…", "AC Blowing Warm Air"]
    assert form.business_unit.currentData() == ids.hvac
    _choose(form.job_type, ids.ac_repair)
    _choose(form.campaign, ids.google)
    # Get availability checks too.
    _rename_job_type(console, ids.ac_repair, "AC Not Cooling (warm air)", bump=True)
    kb.press(Qt.Key.Key_G, Qt.KeyboardModifier.ControlModifier)
    assert form.job_type.currentText() == "AC Not Cooling (warm air)"
    assert form.availability.rowCount() > 0
    kb.press(Qt.Key.Key_Return)
    chosen = form.chosen_slot()
    assert chosen is not None
    # So does Book Job: the window offered under the old setup is shown again to confirm, not booked blind.
    _rename_job_type(console, ids.ac_repair, "AC Repair", bump=True)
    pending = console.writer.pending_count()
    kb.press(Qt.Key.Key_Return, Qt.KeyboardModifier.ControlModifier)
    assert console.writer.pending_count() == pending
    assert "setup was just updated" in form.errors_label.text()
    assert form.job_type.currentText() == "AC Repair"
    current = form.availability.slot(form.availability_view.currentIndex().row())
    assert (current.day, current.window.id) == (chosen.day, chosen.window.id)
    kb.press(Qt.Key.Key_Return)
    kb.press(Qt.Key.Key_Return, Qt.KeyboardModifier.ControlModifier)
    assert console.writer.pending_count() == pending + 1, form.errors_label.text()
    with console.cache.sessions() as s:
        job = s.scalar(select(Job).where(Job.customer_id == cid))
    assert job is not None and job.job_type_id == ids.ac_repair


def test_without_setup_the_form_says_so(qtbot, tmp_path):
    from models.db import open_cache as _open

    path = tmp_path / "empty.sqlite3"
    cache = _open(path)
    cid = LocalWriter(cache.sessions).execute("create_customer", customer_args()).applied.entity_id
    cache.close()
    console = Console.build(path, open_settings(tmp_path), now_fn=lambda: NOW)
    qtbot.addWidget(console.window)
    try:
        open_now(qtbot, console.customers, cid)
        console.new_job()
        form = console.window.booking_form
        assert "No business units are set up" in form.heading.text()
        assert not form.book_button.isEnabled() and not form.get_availability.isEnabled()
    finally:
        console.shutdown()


# -- booking on a call ----------------------------------------------------------------------------------------
def test_a_call_books_at_the_callers_location_with_its_retired_campaign(qtbot, desk):
    """The caller's number is the rental's phone: the form picks the rental, not the first location, and
    keeps it when the customer is opened again. The call's tracking number belongs to a retired campaign:
    the form offers it (marked, with a warning), books with it, and offers it no longer afterwards."""
    from models.setup import Campaign

    console, ids, _cid = desk
    form = console.window.booking_form
    with console.cache.sessions.begin() as s:
        s.add(Campaign(id="spring", name="Spring home show", active=False))
    made = console.writer.execute(
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
    ).applied
    assert open_now(qtbot, console.customers, made.entity_id)
    console.new_job()
    first = form.location.currentData()
    console.booking.bind_call(made.entity_id, "call-1", "spring", "+12145550166")
    wait_for_workers(qtbot, console.window)  # the retired campaign's name
    rental = form.location.currentData()
    assert rental != first and form.location.currentText().startswith("Rental — 40 Oak Ave")
    assert form.values()["campaign_id"] == "spring"
    assert form.campaign.currentText() == "Spring home show (no longer active)"
    assert form.campaign_warning.isVisible() and "Spring home show" in form.campaign_warning.text()
    assert form.campaign_warning.accessibleName() == "Campaign warning"
    assert "no longer active" in form.campaign.accessibleDescription()
    open_now(qtbot, console.customers, made.entity_id)  # fresh flags: the form is bound again
    assert form.location.currentData() == rental
    _choose(form.business_unit, ids.hvac)
    _choose(form.job_type, ids.ac_repair)
    console.booking.show_availability()
    settle(qtbot, console.booking)
    qtbot.keyClick(form.availability_view, Qt.Key.Key_Return)
    number = book_now(qtbot, console.booking)  # the call isn't in this cache yet: the server checks
    assert number, form.errors_label.text()
    with console.cache.sessions() as s:
        job = s.scalar(select(Job).where(Job.number == number))
        assert job.campaign_id == "spring" and job.location_id == rental
    assert not form.campaign_warning.isVisible()
    assert "Spring home show (no longer active)" not in _offered(form.campaign)
    # Another call, on an active campaign: the retired one is not offered.
    console.booking.bind_call(made.entity_id, "call-2", ids.google, "+19995550000")
    assert "Spring home show (no longer active)" not in _offered(form.campaign)
