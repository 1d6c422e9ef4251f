"""The Bookings inbox tab on the assembled console: a pulled Web Scheduler request is listed with its
match; Space claims it, Enter opens the booking form prefilled (campaign from the page's UTM campaign,
the requested window highlighted) and booking it accepts the request; Delete dismisses with a reason."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication
from sqlalchemy import select

from console.composition import Console
from console.settings import open_settings
from models.db import open_cache
from models.jobs import Job, OnlineBooking
from models.journal import OutboxEntry
from models.setup import User
from models.writer import LocalWriter
from tests.gui.helpers import show_active, wait_for_workers
from tests.unit.booking_setup import NOW, build_setup
from tests.unit.conftest import customer_args
from tests.web_setup import WEDNESDAY, web_settings


def _request(session, ids, *, name: str, phone: str, customer_id=None, match="new") -> str:
    row = OnlineBooking(
        name=name,
        phone=phone,
        email="",
        address={"street": "100 Elm St", "unit": "", "city": "Dallas", "state": "TX", "zip": "75201"},
        requested_window={
            "day": WEDNESDAY.isoformat(),
            "arrival_window_id": ids.w8_12,
            "start": "2026-12-02T14:00:00+00:00",
            "end": "2026-12-02T18:00:00+00:00",
        },
        summary="Blows warm air",
        customer_id=customer_id,
        job_type_id=ids.ac_repair,
        business_unit_id=ids.hvac,
        utm_campaign="Google Local Services",
        customer_match=match,
        created_at=NOW,
    )
    session.add(row)
    session.flush()
    return row.id


def test_inbox_claim_accept_and_dismiss_by_keyboard(qtbot, tmp_path):
    from models.web_booking import save_web_settings

    path = tmp_path / "cache.sqlite3"
    cache = open_cache(path)
    with cache.sessions.begin() as s:
        ids = build_setup(s)
        save_web_settings(s, web_settings(ids))
        s.add(User(id="u-dana", username="dana", display_name="Dana Reyes"))
    cid = LocalWriter(cache.sessions).execute("create_customer", customer_args()).applied.entity_id
    with cache.sessions.begin() as s:
        known = _request(s, ids, name="Maria Lopez", phone="+12145550134", customer_id=cid, match="existing")
        spam = _request(s, ids, name="Bot Bot", phone="+12145550199")
    cache.close()
    console = Console.build(path, open_settings(tmp_path), now_fn=lambda: NOW)
    qtbot.addWidget(console.window)
    show_active(qtbot, console.window)
    try:
        w = console.window
        console.sync.user = {"id": "u-dana", "username": "dana"}
        inbox = w.findChild(object, "bookingsInbox")
        assert inbox is not None and inbox.accessibleName() == "Bookings inbox"
        qtbot.keyClick(
            QApplication.focusWidget() or w,
            Qt.Key.Key_I,
            Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier,
        )  # the tab's shortcut
        qtbot.waitUntil(lambda: w.work_tabs.currentWidget() is inbox)
        view = inbox.findChild(object, "bookingsInboxView")
        wait_for_workers(qtbot, w)  # the inbox is read on its worker
        qtbot.waitUntil(view.hasFocus)
        assert view.model().rowCount() == 2
        texts = [[view.model().index(r, c).data() for c in range(8)] for r in range(2)]
        assert {t[5] for t in texts} == {"Existing customer", "New"}
        assert all(
            t[1] == "Web Scheduler" and t[2] == "AC Not Cooling" and "Wed Dec 2" in t[3] for t in texts
        )
        row = next(r for r in range(2) if texts[r][5] == "Existing customer")
        view.selectRow(row)
        # The highlighted request spelled out whole under the table (the pane is narrow at 1366 px).
        details = inbox.findChild(object, "bookingsInboxDetails")
        qtbot.waitUntil(lambda: "Customer: Existing customer" in details.text())
        assert details.isVisible() and "Source: Web Scheduler" in details.text()
        assert "Service: AC Not Cooling" in details.text() and "Wed Dec 2" in details.text()
        qtbot.keyClick(view, Qt.Key.Key_Space)  # claim
        wait_for_workers(qtbot, w)
        assert "claimed by you" in view.model().index(view.currentIndex().row(), 6).data()
        qtbot.waitUntil(lambda: "claimed by you" in details.text())  # follows the row as it changes
        qtbot.keyClick(view, Qt.Key.Key_Return)  # accept: the booking form, prefilled
        form = w.booking_form
        qtbot.waitUntil(lambda: w.work_tabs.currentIndex() == 0)  # once the customer worker has read it
        assert form.customer_id() == cid
        assert form.job_type.currentData() == ids.ac_repair and form.campaign.currentData() == ids.google
        wait_for_workers(qtbot, w)
        slot = form.availability.slot(form.availability_view.currentIndex().row())
        assert (slot.day, slot.window.id) == (WEDNESDAY, ids.w8_12)  # the requested window, still free
        qtbot.keyClick(form.availability_view, Qt.Key.Key_Return)
        qtbot.keyClick(form.book_button, Qt.Key.Key_Return, Qt.KeyboardModifier.ControlModifier)
        wait_for_workers(qtbot, w)
        with console.cache.sessions() as s:
            req = s.get(OnlineBooking, known)
            job = s.scalar(select(Job).where(Job.customer_id == cid))
            pushed = [o.args for o in s.scalars(select(OutboxEntry).where(OutboxEntry.name == "book_job"))]
        assert job is not None and req.status == "Accepted" and req.job_id == job.id
        assert job.booked_from.value == "OnlineBooking" and pushed[0]["online_booking_id"] == known
        # Delete dismisses the other one, with a reason.
        qtbot.keyClick(
            QApplication.focusWidget() or w,
            Qt.Key.Key_I,
            Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier,
        )
        qtbot.waitUntil(lambda: w.work_tabs.currentWidget() is inbox)
        wait_for_workers(qtbot, w)
        view.selectRow(inbox.model.row_of(f"web:{spam}"))
        qtbot.keyClick(view, Qt.Key.Key_Delete)
        dialog = console.inbox.dialog
        assert dialog is not None and dialog.objectName() == "dismissBookingDialog"
        qtbot.waitUntil(dialog.isActiveWindow, timeout=2000)
        assert QApplication.focusWidget() is dialog.reason and dialog.reason.currentText() == "Spam"
        qtbot.keyClick(QApplication.focusWidget(), Qt.Key.Key_Return)
        qtbot.waitUntil(lambda: console.inbox.dialog is None)
        with console.cache.sessions() as s:
            assert (s.get(OnlineBooking, spam).status, s.get(OnlineBooking, spam).dismiss_reason) == (
                "Dismissed",
                "Spam",
            )
        assert "Dismissed" in inbox.findChild(object, "bookingsInboxMessage").text()
    finally:
        console.shutdown()


def test_accept_a_new_caller_creates_the_customer_and_books(qtbot, tmp_path):
    """A web request from a caller not in the cache: Enter → the new-customer form filled from the request
    → Enter saves it → the booking form opens on that customer with the request's choices → booked, and
    the request is accepted with the job."""
    from models.customers import ContactMethod, Customer, Location
    from models.web_booking import save_web_settings

    path = tmp_path / "cache.sqlite3"
    cache = open_cache(path)
    with cache.sessions.begin() as s:
        ids = build_setup(s)
        save_web_settings(s, web_settings(ids))
        s.add(User(id="u-dana", username="dana", display_name="Dana Reyes"))
        request_id = _request(s, ids, name="jamie rivera", phone="+12145550188")
        s.get(OnlineBooking, request_id).email = "jamie@example.com"
        assert s.scalar(select(Customer.id)) is None  # nobody in the cache yet
    cache.close()
    console = Console.build(path, open_settings(tmp_path), now_fn=lambda: NOW)
    qtbot.addWidget(console.window)
    show_active(qtbot, console.window)
    try:
        w = console.window
        console.sync.user = {"id": "u-dana", "username": "dana"}
        inbox = w.bookings_inbox
        qtbot.keyClick(
            QApplication.focusWidget() or w,
            Qt.Key.Key_I,
            Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier,
        )
        view = inbox.findChild(object, "bookingsInboxView")
        qtbot.waitUntil(lambda: w.work_tabs.currentWidget() is inbox and view.hasFocus())
        wait_for_workers(qtbot, w)
        assert view.model().index(0, 5).data() == "New"
        qtbot.keyClick(view, Qt.Key.Key_Return)  # accept: claimed on the worker, then the customer form
        wait_for_workers(qtbot, w)
        qtbot.waitUntil(lambda: (QApplication.activeWindow() or w) is not w, timeout=3000)
        dialog = QApplication.activeWindow()
        assert dialog.objectName() == "customerDialog"
        fields = dialog.fields
        assert fields["name"].text() == "Jamie Rivera" and fields["phone"].text() == "(214) 555-0188"
        assert (fields["street"].text(), fields["city"].text(), fields["zip"].text()) == (
            "100 Elm St",
            "Dallas",
            "75201",
        )
        assert fields["email"].text() == "jamie@example.com"
        with qtbot.waitSignal(console.customers.customerSaved, timeout=5000) as saved:
            qtbot.keyClick(dialog.focusWidget() or dialog, Qt.Key.Key_Return)
        new_id = saved.args[0]
        form = w.booking_form
        qtbot.waitUntil(
            lambda: w.work_tabs.currentIndex() == 0 and form.customer_id() == new_id, timeout=5000
        )
        wait_for_workers(qtbot, w)
        assert form.job_type.currentData() == ids.ac_repair and form.campaign.currentData() == ids.google
        slot = form.availability.slot(form.availability_view.currentIndex().row())
        assert (slot.day, slot.window.id) == (WEDNESDAY, ids.w8_12)  # the requested window, still free
        qtbot.keyClick(form.availability_view, Qt.Key.Key_Return)
        qtbot.keyClick(form.book_button, Qt.Key.Key_Return, Qt.KeyboardModifier.ControlModifier)
        wait_for_workers(qtbot, w)
        with console.cache.sessions() as s:
            customer = s.get(Customer, new_id)
            job = s.scalar(select(Job).where(Job.customer_id == new_id))
            req = s.get(OnlineBooking, request_id)
            location = s.get(Location, job.location_id)
            phones = [
                c.value for c in s.scalars(select(ContactMethod).where(ContactMethod.customer_id == new_id))
            ]
        assert customer.name == "Jamie Rivera" and "+12145550188" in phones and "jamie@example.com" in phones
        assert (location.street, location.zip) == ("100 Elm St", "75201")
        assert req.status == "Accepted" and req.job_id == job.id and req.customer_id == new_id
        assert job.booked_from.value == "OnlineBooking"
    finally:
        console.shutdown()
