"""The close-and-classify dialog as a pure view: a CallCard and the call reasons in, ``classified``
out. A reason is required; a lead reason asks for what the lead needs, even without a customer."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from PySide6.QtCore import QDate, Qt
from PySide6.QtWidgets import QApplication, QDialog, QLabel, QWidget

from models.calls import CallCard, CallDirection, CallState
from tests.gui.test_mnemonics import mnemonic
from widgets.classify_dialog import (
    NAME_REQUIRED,
    REASON_REQUIRED,
    CallReasonChoice,
    ClassifyDialog,
    next_business_day,
)

TODAY = date(2026, 3, 13)  # a Friday: the next business day is Monday the 16th
T0 = datetime(2026, 3, 13, 15, 0, 0, tzinfo=UTC)
REASONS = [
    ("r-estimate", "Estimate request", True),
    ("r-wrong", "Wrong number", False),
    CallReasonChoice("r-service", "Service question", True),
]


def ended_call(
    number: str = "+12145550177", display: str = "(214) 555-0177", name: str = "", answered: bool = True
) -> CallCard:
    return CallCard(
        "call-1",
        CallState.ENDED,
        CallDirection.INBOUND,
        number,
        display,
        name,
        (),
        "Google Ads",
        T0,
        answered_at=T0 + timedelta(seconds=10) if answered else None,
        ended_at=T0 + timedelta(seconds=195),
        claimed_by_id="u-me",
        claimed_by_name="Sam Reed",
    )


@pytest.fixture
def opened(qtbot):
    def make(card: CallCard | None = None, reasons=REASONS, customer_name: str = "") -> ClassifyDialog:
        dialog = ClassifyDialog(card or ended_call(), reasons, today=TODAY, customer_name=customer_name)
        qtbot.addWidget(dialog)
        with qtbot.waitExposed(dialog):
            dialog.open()
        dialog.activateWindow()
        qtbot.waitUntil(dialog.isActiveWindow)
        return dialog

    return make


def choose(dialog: ClassifyDialog, reason_id: str) -> None:
    dialog.reason.setCurrentIndex(dialog.reason.findData(reason_id))


def shown(dialog: ClassifyDialog, name: str) -> bool:
    widget = dialog.findChild(QWidget, name)
    return widget is not None and widget.isVisibleTo(dialog)


def test_next_business_day():
    assert next_business_day(date(2026, 3, 10)) == date(2026, 3, 11)  # Tuesday → Wednesday
    assert next_business_day(TODAY) == date(2026, 3, 16)  # Friday → Monday
    assert next_business_day(date(2026, 3, 14)) == date(2026, 3, 16)  # Saturday → Monday


def test_close_call_is_disabled_until_a_reason_is_chosen(qtbot, opened):
    dialog = opened()
    assert dialog.objectName() == "classifyDialog"
    assert QApplication.focusWidget() is dialog.reason
    ok = dialog.findChild(QWidget, "classifyOk")
    assert not ok.isEnabled()
    assert dialog.hint.isVisible() and dialog.hint.text() == REASON_REQUIRED
    with qtbot.assertNotEmitted(dialog.classified):
        qtbot.keyClick(dialog.reason, Qt.Key.Key_Return)
    assert dialog.isVisible()
    choose(dialog, "r-wrong")
    assert ok.isEnabled() and not dialog.hint.isVisible()


def test_the_call_is_named_at_the_top(opened):
    dialog = opened(ended_call(name="Maria Lopez"), customer_name="Maria Lopez")
    assert dialog.findChild(QLabel, "classifyCall").text() == "Maria Lopez · (214) 555-0177 · Google Ads"
    assert dialog.findChild(QLabel, "classifyCallLength").text() == "Talked 3:05"
    missed = opened(ended_call(answered=False))
    assert missed.findChild(QLabel, "classifyCallLength").text() == "Rang 3:15, not answered"


def test_a_lead_reason_shows_the_follow_up_and_the_lead_fields(qtbot, opened):
    dialog = opened()
    for name in ("classifyFollowUp", "classifySummary", "classifyLeadName", "classifyLeadPhone"):
        assert not shown(dialog, name)
    choose(dialog, "r-estimate")
    for name in (
        "classifyFollowUp",
        "classifySummary",
        "classifyLeadName",
        "classifyLeadPhone",
        "classifyHasFollowUp",
        "classifyLeadNote",
    ):
        assert shown(dialog, name), name
    follow_up = dialog.findChild(QWidget, "classifyFollowUp")
    assert follow_up.date() == QDate(2026, 3, 16)
    assert follow_up.minimumDate() == QDate(2026, 3, 13)  # never in the past
    assert dialog.lead_phone.text() == "(214) 555-0177"  # prefilled from the call
    assert dialog.hint.text() == NAME_REQUIRED and not dialog.ok_button.isEnabled()
    assert dialog.lead_note.text() == "This call becomes a lead — no customer record needed."


def test_a_lead_without_a_customer_emits_name_phone_and_follow_up(qtbot, opened):
    dialog = opened()
    choose(dialog, "r-estimate")
    qtbot.keyClicks(dialog.lead_name, "Maria Lopez")
    qtbot.keyClicks(dialog.summary, "Wants a quote for a water heater, call after 5")
    dialog.follow_up.setDate(QDate(2026, 3, 18))
    with qtbot.waitSignal(dialog.classified) as sig:
        qtbot.mouseClick(dialog.ok_button, Qt.MouseButton.LeftButton)
    assert sig.args == [
        {
            "call_id": "call-1",
            "call_reason_id": "r-estimate",
            "is_lead": True,
            "follow_up": date(2026, 3, 18),
            "summary": "Wants a quote for a water heater, call after 5",
            "lead_name": "Maria Lopez",
            "lead_phone": "+12145550177",
        }
    ]
    assert dialog.result() == QDialog.DialogCode.Accepted and not dialog.isVisible()


def test_a_lead_for_a_matched_customer_asks_no_name_or_phone(qtbot, opened):
    dialog = opened(ended_call(name="Maria Lopez"), customer_name="Maria Lopez")
    choose(dialog, "r-service")
    assert dialog.lead_name is None and not shown(dialog, "classifyLeadName")
    assert dialog.lead_note.text() == "This call becomes a lead for Maria Lopez."
    assert dialog.ok_button.isEnabled()
    dialog.has_follow_up.setChecked(False)  # a lead may have no follow-up date
    assert not dialog.follow_up.isEnabled()
    with qtbot.waitSignal(dialog.classified) as sig:
        qtbot.keyClick(dialog.reason, Qt.Key.Key_Return)  # Enter closes the call
    assert sig.args[0] == {
        "call_id": "call-1",
        "call_reason_id": "r-service",
        "is_lead": True,
        "follow_up": None,
        "summary": "",
        "lead_name": "",
        "lead_phone": "",
    }


def test_a_not_lead_reason_hides_the_lead_fields_and_emits_no_lead(qtbot, opened):
    dialog = opened()
    choose(dialog, "r-estimate")
    qtbot.keyClicks(dialog.summary, "typed, then changed my mind")
    choose(dialog, "r-wrong")
    for name in ("classifyFollowUp", "classifySummary", "classifyLeadName", "classifyLeadPhone"):
        assert not shown(dialog, name), name
    with qtbot.waitSignal(dialog.classified) as sig:
        dialog.ok_button.click()
    assert sig.args[0] == {
        "call_id": "call-1",
        "call_reason_id": "r-wrong",
        "is_lead": False,
        "follow_up": None,
        "summary": "",
        "lead_name": "",
        "lead_phone": "",
    }


def test_an_anonymous_caller_needs_a_phone_typed_for_the_lead(qtbot, opened):
    dialog = opened(ended_call(number="", display="Unknown caller"))
    choose(dialog, "r-estimate")
    assert dialog.lead_phone.text() == ""
    qtbot.keyClicks(dialog.lead_name, "Maria Lopez")
    assert not dialog.ok_button.isEnabled() and dialog.hint.text()  # the phone is missing
    qtbot.keyClicks(dialog.lead_phone, "214 555 0177")
    assert dialog.ok_button.isEnabled()
    assert dialog.values()["lead_phone"] == "+12145550177"


def test_escape_cancels(qtbot, opened):
    dialog = opened()
    choose(dialog, "r-wrong")
    with qtbot.assertNotEmitted(dialog.classified):
        qtbot.keyClick(dialog.reason, Qt.Key.Key_Escape)
    assert dialog.result() == QDialog.DialogCode.Rejected and not dialog.isVisible()


def test_without_call_reasons_set_up_the_call_closes_without_one(qtbot, opened):
    dialog = opened(reasons=[])
    assert dialog.ok_button.isEnabled() and not shown(dialog, "classifyReason")
    assert "No call reasons are set up" in dialog.hint.text()
    with qtbot.waitSignal(dialog.classified) as sig:
        dialog.ok_button.click()
    assert sig.args[0]["call_reason_id"] is None and sig.args[0]["is_lead"] is False


def test_every_control_has_an_accessible_name_and_its_own_mnemonic(opened):
    dialog = opened()
    choose(dialog, "r-estimate")
    letters: dict[str, str] = {}
    for label in dialog.findChildren(QLabel):
        if label.buddy() is not None and label.isVisibleTo(dialog):
            letter = mnemonic(label.text())
            assert letter, label.text()
            assert letter not in letters, (label.text(), letters.get(letter))
            letters[letter] = label.text()
            assert label.buddy().accessibleName(), label.text()
    for name in ("classifyHasFollowUp", "classifyOk"):
        widget = dialog.findChild(QWidget, name)
        letter = mnemonic(widget.text())
        assert letter and letter not in letters, widget.text()
        letters[letter] = widget.text()
        assert widget.accessibleName()
    assert {"r", "d", "u", "n", "p"} <= set(letters)
