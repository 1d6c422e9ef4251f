"""Customer notifications in the assembled console, over a real cache: the customer's Texts tab (delivery
state and why one failed, Resend by keyboard), a job confirmed by text, the template preview, and the
inbox of customers' texts (Ctrl+Shift+M) where a CSR answers — each action an intent in the outbox."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication
from sqlalchemy import select

from console.composition import Console
from console.settings import open_settings
from models.customers import Location
from models.db import open_cache
from models.jobs import Appointment
from models.journal import OutboxEntry
from models.notifications import Channel, InboundKind, InboundMessage, NoticeKind, NoticeStatus, Notification
from models.setup import CompanySetting
from models.writer import LocalWriter
from tests.gui.helpers import open_now, show_active
from tests.unit.booking_setup import NOW, build_setup
from tests.unit.conftest import customer_args
from tests.unit.notify_setup import NOTIFY

CTRL = Qt.KeyboardModifier.ControlModifier
CTRL_SHIFT = CTRL | Qt.KeyboardModifier.ShiftModifier
CUSTOMER = "+12145550134"


@pytest.fixture
def desk(qtbot: Any, tmp_path: Any) -> Any:
    path = tmp_path / "cache.sqlite3"
    cache = open_cache(path)
    with cache.sessions.begin() as s:
        ids = build_setup(s)
        s.add(CompanySetting(key="notifications", value=NOTIFY))
    writer = LocalWriter(cache.sessions, clock=lambda: NOW)
    cid = writer.execute("create_customer", customer_args()).applied.entity_id
    with cache.sessions() as s:
        loc = s.scalar(select(Location.id).where(Location.customer_id == cid))
    args = {
        "job": {
            "customer_id": cid,
            "location_id": loc,
            "business_unit_id": ids.hvac,
            "job_type_id": ids.ac_repair,
            "campaign_id": ids.google,
            "summary": "AC blowing warm air",
        },
        "appointment": {"day": "2026-12-01", "arrival_window_id": ids.w8_12},
    }
    job_id = writer.execute("book_job", args).applied.entity_id
    # What the server's sender and webhooks wrote, as a pull brings it into the cache.
    with cache.sessions.begin() as s:
        s.add_all(
            [
                Notification(
                    key="a:confirmation:1|sms:" + CUSTOMER,
                    kind=NoticeKind.CONFIRMATION,
                    channel=Channel.SMS,
                    status=NoticeStatus.DELIVERED,
                    customer_id=cid,
                    job_id=job_id,
                    to_address=CUSTOMER,
                    body="Hi Maria Garcia: Tue Dec 1 between 8 AM and 12 PM.",
                    due_at=NOW,
                    sent_at=NOW,
                    provider_id="SM1",
                ),
                Notification(
                    key="a:reminder:1|sms:" + CUSTOMER,
                    kind=NoticeKind.REMINDER,
                    channel=Channel.SMS,
                    status=NoticeStatus.UNDELIVERED,
                    customer_id=cid,
                    job_id=job_id,
                    to_address=CUSTOMER,
                    body="Reminder: we'll see you Tue Dec 1.",
                    due_at=NOW + timedelta(hours=9),
                    error_code="30003",
                    error="The phone was unreachable (off or out of coverage).",
                ),
                InboundMessage(
                    provider_id="SMin1",
                    from_number=CUSTOMER,
                    body="Can the tech call when close?",
                    kind=InboundKind.MESSAGE,
                    customer_id=cid,
                    created_at=NOW + timedelta(hours=1),
                ),
            ]
        )
        s.scalar(select(Appointment).where(Appointment.job_id == job_id)).confirmed_at = NOW
    cache.close()
    console = Console.build(path, open_settings(tmp_path), now_fn=lambda: NOW)
    qtbot.addWidget(console.window)
    show_active(qtbot, console.window)
    assert open_now(qtbot, console.customers, cid)
    yield console, cid
    console.shutdown()


def _outbox(console: Console) -> list[OutboxEntry]:
    with console.cache.sessions() as s:
        return list(s.scalars(select(OutboxEntry).order_by(OutboxEntry.seq)))


def test_texts_tab_shows_states_and_why_and_resends_by_keyboard(qtbot: Any, desk: Any) -> None:
    console, _cid = desk
    messages = console.messages
    tab = messages.tab
    qtbot.waitUntil(lambda: tab.model.rowCount() == 3, timeout=5000)
    rows = tab.model.rows()
    by_state = {r.state: r for r in rows}
    assert (
        by_state["Not delivered"].why == "The phone was unreachable (off or out of coverage). (error 30003)"
    )
    assert by_state["Delivered"].why == "" and by_state["Unread"].inbound
    panel = console.window.customer_panel
    panel.history_tabs.setCurrentWidget(tab)
    tab.view.setFocus(Qt.FocusReason.ShortcutFocusReason)
    qtbot.waitUntil(tab.view.hasFocus, timeout=1000)
    tab.view.setCurrentIndex(tab.model.index(tab.model.row_of(by_state["Not delivered"].id), 0))
    assert "Why: The phone was unreachable" in tab.detail.toPlainText()
    qtbot.keyClick(QApplication.focusWidget(), Qt.Key.Key_S, CTRL_SHIFT)
    qtbot.waitUntil(lambda: any(e.name == "resend_notification" for e in _outbox(console)), timeout=5000)
    entry = next(e for e in _outbox(console) if e.name == "resend_notification")
    assert entry.args["notification_id"] == by_state["Not delivered"].id
    # The resend shows at once as waiting to send (the server sends it).
    qtbot.waitUntil(lambda: any(r.state == "Waiting to send" for r in tab.model.rows()), timeout=5000)


def test_a_job_confirmed_by_text_says_so_and_the_preview_renders_templates(qtbot: Any, desk: Any) -> None:
    console, _cid = desk
    panel = console.window.customer_panel
    status = panel.jobs_model.index(0, 1).data()
    assert "Confirmed by customer" in status
    tab = console.messages.tab
    panel.history_tabs.setCurrentWidget(tab)
    tab.preview_button.click()
    qtbot.waitUntil(
        lambda: console.messages.preview is not None and console.messages.preview.isVisible(), timeout=5000
    )
    text = console.messages.preview.text.toPlainText()
    assert "Confirmation:\nHi Maria Garcia: Tue Dec 1 between 8 AM and 12 PM, job " in text
    console.messages.preview.reject()


def test_inbox_counts_unread_texts_and_a_csr_answers_from_it(qtbot: Any, desk: Any) -> None:
    console, _cid = desk
    messages = console.messages
    qtbot.waitUntil(lambda: messages.unread == 1, timeout=5000)
    assert messages.button.text() == "Texts: 1 unread"
    qtbot.keyClick(console.window, Qt.Key.Key_M, CTRL_SHIFT)
    inbox = messages.inbox
    qtbot.waitUntil(lambda: inbox.isVisible() and inbox.list.count() == 1, timeout=5000)
    assert inbox.list.objectName() == "messagesInbox"
    assert "Can the tech call when close?" in inbox.list.item(0).text()
    qtbot.waitUntil(inbox.isActiveWindow, timeout=2000)
    inbox.reply.setFocus()
    qtbot.keyClicks(inbox.reply, "Yes, he will call 15 minutes out.")
    qtbot.keyClick(inbox.reply, Qt.Key.Key_Return, CTRL)
    qtbot.waitUntil(lambda: messages.unread == 0 and inbox.list.count() == 0, timeout=5000)
    entry = next(e for e in _outbox(console) if e.name == "reply_to_inbound")
    assert entry.args["body"] == "Yes, he will call 15 minutes out."
    with console.cache.sessions() as s:
        reply = s.scalar(select(Notification).where(Notification.kind == NoticeKind.REPLY))
        assert reply.to_address == CUSTOMER and reply.status is NoticeStatus.PENDING
    assert messages.button.text() == "Texts"
    inbox.reject()


def test_an_answer_to_an_opted_out_number_is_refused_with_a_sentence(qtbot: Any, desk: Any) -> None:
    console, _cid = desk
    from models.customers import ContactMethod

    with console.cache.sessions.begin() as s:
        s.scalar(select(ContactMethod).where(ContactMethod.value == CUSTOMER)).do_not_text = True
    messages = console.messages
    messages.open_inbox()
    inbox = messages.inbox
    qtbot.waitUntil(lambda: inbox.list.count() == 1, timeout=5000)
    inbox.reply.setText("Hello?")
    inbox.send_button.click()
    qtbot.waitUntil(lambda: "opted out of texts" in inbox.status.text(), timeout=5000)
    assert not any(e.name == "reply_to_inbound" for e in _outbox(console))
    inbox.reject()


def test_on_the_way_is_a_keyboard_job_action(qtbot: Any, desk: Any) -> None:
    console, _cid = desk
    panel = console.window.customer_panel
    panel.history_tabs.setCurrentIndex(0)
    panel.jobs_view.setFocus(Qt.FocusReason.ShortcutFocusReason)
    qtbot.waitUntil(panel.jobs_view.hasFocus, timeout=1000)
    panel.jobs_view.setCurrentIndex(panel.jobs_model.index(0, 0))
    qtbot.keyClick(QApplication.focusWidget(), Qt.Key.Key_W, CTRL_SHIFT)
    qtbot.waitUntil(lambda: any(e.name == "notify_on_the_way" for e in _outbox(console)), timeout=5000)
    qtbot.waitUntil(lambda: "Dispatched" in panel.jobs_model.index(0, 1).data(), timeout=5000)
