"""A lead converted through the Leads tab is booked by the booking form and leaves the open list."""

from __future__ import annotations

from PySide6.QtCore import Qt
from sqlalchemy import select

from console.composition import Console
from console.settings import open_settings
from models.db import open_cache
from models.jobs import Job, Lead, LeadStatus
from models.writer import LocalWriter
from tests.gui.helpers import show_active, wait_for_workers
from tests.unit.booking_setup import NOW, build_setup
from tests.unit.conftest import customer_args


def test_convert_lead_prefills_the_form_and_booking_converts_it(qtbot, tmp_path):
    path = tmp_path / "cache.sqlite3"
    cache = open_cache(path)
    with cache.sessions.begin() as s:
        ids = build_setup(s)
    writer = LocalWriter(cache.sessions)
    cid = writer.execute("create_customer", customer_args()).applied.entity_id
    lead_id = writer.execute(
        "create_lead",
        {
            "lead": {
                "customer_id": cid,
                "summary": "Wants the AC looked at",
                "follow_up_on": "2026-11-30",
                "campaign_id": ids.yard,
                "business_unit_id": ids.hvac,
                "job_type_id": ids.ac_repair,
            }
        },
    ).applied.entity_id
    cache.close()
    console = Console.build(path, open_settings(tmp_path), now_fn=lambda: NOW)
    qtbot.addWidget(console.window)
    show_active(qtbot, console.window)
    try:
        w = console.window
        w.work_tabs.setCurrentWidget(w.leads_list)
        wait_for_workers(qtbot, w)  # the list is queried on its worker as the tab shows
        view = w.leads_list.findChild(object, "leadsView")
        assert view.model().rowCount() == 1
        view.setFocus()
        view.selectRow(0)
        qtbot.keyClick(view, Qt.Key.Key_Return)  # Enter converts
        wait_for_workers(qtbot, w)  # the lead's customer opens (read on its worker), then the form
        form = w.booking_form
        assert w.work_tabs.currentIndex() == 0 and form.customer_id() == cid
        assert form.business_unit.currentData() == ids.hvac and form.job_type.currentData() == ids.ac_repair
        assert form.campaign.currentData() == ids.yard and "Wants the AC" in form.summary.toPlainText()
        qtbot.keyClick(form.business_unit, Qt.Key.Key_G, Qt.KeyboardModifier.ControlModifier)
        wait_for_workers(qtbot, w)
        qtbot.keyClick(form.availability_view, Qt.Key.Key_Return)
        qtbot.keyClick(form.book_button, Qt.Key.Key_Return, Qt.KeyboardModifier.ControlModifier)
        wait_for_workers(qtbot, w)
        wait_for_workers(qtbot, w)  # the booking's answer asks for the leads list again
        with console.cache.sessions() as s:
            lead = s.get(Lead, lead_id)
            job = s.scalar(select(Job).where(Job.customer_id == cid))
        assert job is not None and lead.status == LeadStatus.CONVERTED and lead.converted_job_id == job.id
        assert view.model().rowCount() == 0  # gone from the open leads
    finally:
        console.shutdown()
