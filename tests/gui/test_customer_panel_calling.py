"""CustomerPanel's calling actions: Call on a phone contact (customer and location contacts, Ctrl+D on
the highlighted row) asks for the number; Play recording on the Calls tab (Enter / Ctrl+P) is enabled
only for a call with a recording and hands its URL over."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt

from models.records import CallRecord
from tests.gui.test_customer_panel import WHEN, panel, record  # noqa: F401 - the fixture
from widgets.customer_panel import CustomerPanel

RECORDING = "https://api.twilio.com/2010-04-01/Accounts/AC1/Recordings/RE1"


def test_call_a_phone_contact_by_button_and_keyboard(panel: CustomerPanel, qtbot: Any) -> None:  # noqa: F811
    panel.set_record(record())
    action = panel.call_contact_action
    assert action.objectName() == "callContactAction" and not action.isEnabled()  # nothing highlighted
    panel.contacts_view.setCurrentIndex(panel.contacts_model.index(1, 0))  # the email
    assert not action.isEnabled()
    panel.contacts_view.setCurrentIndex(panel.contacts_model.index(0, 0))
    assert action.isEnabled() and panel.call_contact_button.isEnabled()
    with qtbot.waitSignal(panel.callContactRequested) as sig:
        qtbot.mouseClick(panel.call_contact_button, Qt.MouseButton.LeftButton)
    assert sig.args == ["+12145550134", "c1"]
    panel.contacts_view.setFocus()
    with qtbot.waitSignal(panel.callContactRequested) as sig:
        qtbot.keyClick(panel.contacts_view, Qt.Key.Key_D, Qt.KeyboardModifier.ControlModifier)
    assert sig.args == ["+12145550134", "c1"]
    # A location's contact: the same key on its own list.
    panel.location_contacts_view.setCurrentIndex(panel.location_contacts_model.index(0, 0))
    panel.location_contacts_view.setFocus()
    with qtbot.waitSignal(panel.callContactRequested) as sig:
        qtbot.keyClick(panel.location_contacts_view, Qt.Key.Key_D, Qt.KeyboardModifier.ControlModifier)
    assert sig.args == ["+12145550199", "c1"]
    panel.set_record(None)
    assert not action.isEnabled() and not panel.call_location_contact_action.isEnabled()


def test_play_recording_only_with_a_recording(panel: CustomerPanel, qtbot: Any) -> None:  # noqa: F811
    recorded = CallRecord(
        "x1",
        WHEN,
        "Inbound",
        "Booked",
        95,
        "(214) 555-0134",
        "Dana Reyes",
        recording_url=RECORDING,
        recording_seconds=93,
    )
    silent = CallRecord("x2", WHEN, "Inbound", "Abandoned", 0, "(214) 555-0134", "")
    panel.set_record(record(calls=(recorded, silent)))
    panel.history_tabs.setCurrentIndex(1)
    action = panel.play_recording_action
    assert action.objectName() == "playRecordingAction"
    assert action.isEnabled() and panel.play_recording_button.isVisible()  # the latest call, selected
    with qtbot.waitSignal(panel.playRecordingRequested) as sig:
        qtbot.mouseClick(panel.play_recording_button, Qt.MouseButton.LeftButton)
    assert sig.args == ["x1"]  # the call's id: the server sends its recording
    panel.calls_view.setFocus()
    with qtbot.waitSignal(panel.playRecordingRequested) as sig:
        qtbot.keyClick(panel.calls_view, Qt.Key.Key_P, Qt.KeyboardModifier.ControlModifier)
    assert sig.args == ["x1"]  # the call's id: the server sends its recording
    with qtbot.waitSignal(panel.playRecordingRequested) as sig:
        qtbot.keyClick(panel.calls_view, Qt.Key.Key_Return)
    assert sig.args == ["x1"]  # the call's id: the server sends its recording
    panel.calls_view.setCurrentIndex(panel.calls_model.index(1, 0))
    assert not action.isEnabled()
    with qtbot.assertNotEmitted(panel.playRecordingRequested):
        qtbot.keyClick(panel.calls_view, Qt.Key.Key_Return)
    panel.set_record(record())
    assert not action.isEnabled()
