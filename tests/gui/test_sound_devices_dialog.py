"""*Sound devices…* (Ctrl+Alt+D, widgets/sound_devices_dialog.py, console/sound_devices.py): a CSR picks
their own PC's microphone, headset and ring device from the lists their phone reads, for their own seat.

In the assembled console against a real server, with a stand-in phone process (tests/gui/fake_sound_phone.py)
that speaks the channel's ``devices`` / ``list_devices`` / ``set_devices``: the lists come from the
phone, a saved name this PC lacks is kept and marked, Refresh re-reads, Save switches the phone at once
(no new sign-in) and the server keeps it with the seat, the CSR's other console switches too, and a
refusal is shown in the dialog and the status bar. Without PortAudio the dialog says the phone's sentence
with the combos disabled; without a seat the menu item says so."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication, QComboBox, QPushButton

from console.sound_devices import NO_SEAT
from sync.phone_seats import seat_for_user, set_seat
from tests.gui.helpers import show_active, until
from tests.gui.test_calls_console import PASSWORD, running_server
from widgets.sound_devices_dialog import SoundDevicesDialog

pytest_plugins = ["tests.gui.conftest_sync"]

CTRL_ALT = Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.AltModifier
CTRL = Qt.KeyboardModifier.ControlModifier
FAKE_PHONE = Path(__file__).with_name("fake_sound_phone.py")
HERE = {"available": True, "inputs": ["Built-in Mic", "USB Headset Mic"],
        "outputs": ["Built-in Speakers", "USB Headset"], "message": ""}  # fmt: skip
NO_PORTAUDIO = {"available": False, "inputs": [], "outputs": [],
                "message": "PortAudio is not installed on this PC: the phone has no sound (install libportaudio2)."}  # fmt: skip
DANA = {"sip_address": "sip:dana@127.0.0.1:5062", "registrar": "", "user": "dana", "transport": "udp",
        "input_device": "Old mic", "output_device": "USB Headset", "ring_device": ""}  # fmt: skip


@pytest.fixture
def server(loop, tmp_path):
    yield from running_server(loop, tmp_path)


class FakePhone:
    """The stand-in phone's files: what it lists (rewritable) and what it was told."""

    def __init__(self, folder: Path, name: str, devices: dict) -> None:
        self.state, self.log = folder / f"{name}-devices.json", folder / f"{name}-commands.jsonl"
        self.set(devices)

    def set(self, devices: dict) -> None:
        self.state.write_text(json.dumps(devices))

    @property
    def command(self) -> list[str]:
        return [sys.executable, str(FAKE_PHONE), str(self.state), str(self.log)]

    def told(self, cmd: str) -> list[dict]:
        if not self.log.exists():
            return []
        lines = [json.loads(line) for line in self.log.read_text().splitlines() if line.strip()]
        return [c for c in lines if c.get("cmd") == cmd]


def _items(combo: QComboBox) -> list[tuple[str, str]]:
    return [(combo.itemText(i), combo.itemData(i)) for i in range(combo.count())]


def _dialog(console: Any) -> SoundDevicesDialog | None:
    return console.window.findChild(SoundDevicesDialog, "soundDevicesDialog")


def test_a_csr_picks_this_pcs_devices_the_phone_switches_and_the_server_keeps_them(
    qtbot, loop, server, desks, tmp_path
):
    url, _webhooks, sessions, _customer_id, _campaign = server
    set_seat(sessions, "dana", DANA)
    phone_a, phone_b = FakePhone(tmp_path, "a", HERE), FakePhone(tmp_path, "b", HERE)

    async def scenario() -> None:
        a, b = desks("a"), desks("b")  # Dana at two consoles
        a.phone.command, b.phone.command = phone_a.command, phone_b.command
        show_active(qtbot, a.window)
        await a.sync.sign_in_with(url, "dana", PASSWORD)
        await b.sync.sign_in_with(url, "dana", PASSWORD)
        await until(lambda: a.phone.devices is not None and b.phone.devices is not None, 15)
        await until(lambda: a.phone.registered and b.phone.registered, 15)
        action = a.sound_devices.action
        assert action.text() == "Sound &devices…" and action in a.window.phone_menu.actions()

        # Ctrl+Alt+D from the search box: the dialog, the keyboard on the microphone.
        a.window.activateWindow()
        qtbot.keyClick(a.window.lookup.search, Qt.Key.Key_D, CTRL_ALT)
        dialog = _dialog(a)
        assert dialog is not None and dialog.isVisible() and not dialog.isModal()
        mic, headset, ring = (dialog.findChild(QComboBox, n) for n in ("soundMicrophone", "soundHeadset",
                                                                       "soundRingDevice"))  # fmt: skip
        await until(lambda: QApplication.focusWidget() is mic)
        assert _items(mic) == [("The system's default", ""), ("Built-in Mic", "Built-in Mic"),
                               ("USB Headset Mic", "USB Headset Mic"), ("Old mic (not on this PC)", "Old mic")]  # fmt: skip
        assert mic.currentText() == "Old mic (not on this PC)"  # the saved name, kept and marked
        assert headset.currentText() == "USB Headset" and ring.currentText() == "The headset"
        assert _items(ring)[0] == ("The headset", "")
        for widget in (mic, headset, ring, *dialog.findChildren(QPushButton)):
            assert widget.accessibleName() and widget.objectName() and widget.isEnabled()
        assert "2 microphones and 2 outputs" in dialog.note.text()

        # A headset plugged in: Refresh (Ctrl+R) asks the phone again; the choice made so far stays.
        mic.setCurrentIndex(mic.findData("USB Headset Mic"))
        phone_a.set({**HERE, "outputs": [*HERE["outputs"], "Jabra Evolve 40"]})
        qtbot.keyClick(mic, Qt.Key.Key_R, CTRL)
        await until(lambda: ring.findData("Jabra Evolve 40") > 0, 10)
        assert phone_a.told("list_devices") and mic.currentData() == "USB Headset Mic"
        assert QApplication.focusWidget() is mic  # the keyboard stayed where it was

        # Choose with the keyboard, Ctrl+S: the phone switches at once, the server keeps them.
        ring.setFocus()
        while ring.currentData() != "Jabra Evolve 40":
            qtbot.keyClick(ring, Qt.Key.Key_Down)
        saved: list[dict] = []
        a.sound_devices.saved.connect(saved.append)
        qtbot.keyClick(ring, Qt.Key.Key_S, CTRL)
        await until(lambda: saved, 10)
        chosen = {
            "input_device": "USB Headset Mic",
            "output_device": "USB Headset",
            "ring_device": "Jabra Evolve 40",
        }
        assert phone_a.told("set_devices")[0] == {
            "cmd": "set_devices",
            **chosen,
            "ref": phone_a.told("set_devices")[0]["ref"],
        }
        stored = seat_for_user(sessions, a.sync.user["id"])
        assert {k: stored[k] for k in chosen} == chosen and stored["sip_address"] == DANA["sip_address"]
        assert saved == [stored]
        assert "Saved with your phone seat" in dialog.message.text()
        assert "Jabra Evolve 40" in a.window.statusBar().currentMessage()
        assert QApplication.focusWidget() is ring and mic.currentText() == "USB Headset Mic"
        assert "Old mic (not on this PC)" not in [t for t, _ in _items(mic)]
        # A restart replays the sign-in with them; no new sign-in was made for a device change.
        assert {k: a.phone.link.registration.get(k) for k in chosen} == chosen
        # Dana's other console switches its phone too, without signing in again.
        await until(lambda: phone_b.told("set_devices"), 10)
        assert {k: phone_b.told("set_devices")[-1][k] for k in chosen} == chosen
        await until(lambda: a.phone.server_seat == stored and b.phone.server_seat == stored)
        assert len(phone_a.told("listen")) == 1 and len(phone_b.told("listen")) == 1

        # The server refuses (her seat was taken away meanwhile, with the CLI: no message came): said
        # in the dialog and in the status bar, until the next action.
        from sync.phone_seats import clear_seat

        clear_seat(sessions, "dana")
        save = dialog.findChild(QPushButton, "soundDevicesSave")
        save.setFocus()
        qtbot.keyClick(save, Qt.Key.Key_Space)
        await until(lambda: "Not saved with your seat" in dialog.message.text(), 10)
        assert "You have no phone seat" in dialog.message.text()
        assert dialog.message.property("kind") == "error"
        assert "Not saved with your seat" in a.window.statusBar().currentMessage()
        assert QApplication.focusWidget() is save and dialog.isVisible()

        qtbot.keyClick(save, Qt.Key.Key_Escape)  # Esc closes; the keyboard goes back to the window
        await until(lambda: not dialog.isVisible())

    async def traced() -> None:
        try:
            await scenario()
        except BaseException:
            import traceback

            traceback.print_exc()
            raise

    loop.run_until_complete(traced())


def test_the_phone_bar_button_opens_it_and_without_portaudio_it_says_why(qtbot, loop, desks, tmp_path):
    """Driven through the controller's event handler (no server): PortAudio missing on this PC."""
    phone = FakePhone(tmp_path, "c", NO_PORTAUDIO)

    async def scenario() -> None:
        c = desks("c")
        c.phone.command = phone.command
        show_active(qtbot, c.window)
        c.phone.on_signed_in({"phone_seat": DANA})
        await until(lambda: c.phone.devices is not None, 15)
        assert c.phone.bar.isVisible()
        button = c.phone.bar.findChild(QPushButton, "phoneDevices")
        assert button.accessibleName() == "Sound devices" and "Ctrl+Alt+D" in button.toolTip()
        qtbot.mouseClick(button, Qt.MouseButton.LeftButton)
        dialog = _dialog(c)
        assert dialog is not None and dialog.isVisible()
        assert dialog.note.text() == NO_PORTAUDIO["message"]
        assert not any(combo.isEnabled() for combo in dialog.combos.values())
        assert not dialog.save.isEnabled() and dialog.refresh.isEnabled()
        await until(lambda: QApplication.focusWidget() is dialog.refresh)  # somewhere the keys can act
        # Still the saved names, shown as they are.
        assert dialog.combos["input_device"].currentText() == "Old mic (not on this PC)"

        # The phone gets PortAudio back (a new list): the combos can be used; the focus stays.
        c.phone._on_event({"event": "devices", **HERE})
        assert all(combo.isEnabled() for combo in dialog.combos.values()) and dialog.save.isEnabled()
        assert QApplication.focusWidget() is dialog.refresh
        # And loses it: the combo that had the keyboard is disabled, the keyboard moves to Refresh.
        dialog.combos["output_device"].setFocus()
        await until(lambda: QApplication.focusWidget() is dialog.combos["output_device"])
        c.phone._on_event({"event": "devices", **NO_PORTAUDIO})
        assert QApplication.focusWidget() is dialog.refresh
        # A seat's device the phone didn't find: the dialog says it too.
        c.phone._on_event({"event": "device", "kind": "headset", "found": False,
                           "message": "The headset “X” is not on this PC; the phone uses the default."})  # fmt: skip
        assert "“X” is not on this PC" in dialog.message.text()

    loop.run_until_complete(scenario())


def test_without_a_seat_the_menu_item_says_so(qtbot, loop, desks, tmp_path):
    phone = FakePhone(tmp_path, "d", HERE)

    async def scenario() -> None:
        d = desks("d")
        d.phone.command = phone.command
        show_active(qtbot, d.window)
        action = d.sound_devices.action
        assert action.text() == "Sound &devices… (sign in first)"
        d.phone.on_signed_in({"phone_seat": None})
        assert action.text() == "Sound &devices… (no phone seat)" and action.statusTip() == NO_SEAT
        qtbot.keyClick(d.window.lookup.search, Qt.Key.Key_D, CTRL_ALT)
        assert _dialog(d) is None
        assert d.window.statusBar().currentMessage() == NO_SEAT
        d.phone.seat_changed(DANA)  # an admin gives her one: the item is usable
        assert action.text() == "Sound &devices…"
        await until(lambda: d.phone.registered, 15)
        qtbot.keyClick(d.window.lookup.search, Qt.Key.Key_D, CTRL_ALT)
        assert _dialog(d) is not None and _dialog(d).isVisible()

    loop.run_until_complete(scenario())


def test_the_dialog_alone_keeps_an_unsaved_choice_and_marks_names_not_here(qtbot):
    dialog = SoundDevicesDialog()
    qtbot.addWidget(dialog)
    asked: list[dict] = []
    dialog.saveRequested.connect(asked.append)
    dialog.set_seat({**DANA, "ring_device": "Desk bell"})
    assert not dialog.save.isEnabled()  # nothing listed yet: nothing to choose from
    assert "Refresh (Ctrl+R)" in dialog.note.text()
    dialog.show_devices(HERE)
    ring = dialog.combos["ring_device"]
    assert ring.currentText() == "Desk bell (not on this PC)" and ring.currentData() == "Desk bell"
    ring.setCurrentIndex(0)  # the headset
    dialog.show_devices({**HERE, "inputs": ["USB Headset Mic"]})  # a new list: the choice stays
    assert (
        ring.currentData() == "" and dialog.combos["input_device"].currentText() == "Old mic (not on this PC)"
    )
    # The tab order: the three combos, then Refresh, Save, Close.
    order, widget = [], dialog.combos["input_device"]
    for _ in range(6):
        order.append(widget.objectName())
        widget = widget.nextInFocusChain()
        while not (widget.focusPolicy() & Qt.FocusPolicy.TabFocus) or not widget.isEnabled():
            widget = widget.nextInFocusChain()
    assert order == ["soundMicrophone", "soundHeadset", "soundRingDevice", "soundDevicesRefresh",
                     "soundDevicesSave", "soundDevicesClose"]  # fmt: skip
    dialog.set_busy(True)
    dialog.save.click()
    assert asked == []  # one request at a time
    dialog.set_busy(False)
    dialog.save.click()
    assert asked == [{"input_device": "Old mic", "output_device": "USB Headset", "ring_device": ""}]
    # A long sentence under the combos grows the dialog: nothing is squeezed (seen at 1366×768).
    dialog.show()
    qtbot.waitExposed(dialog)
    dialog.show_message("Saved with your phone seat — microphone: the system's default; headset: the "
                        "system's default; it rings on a device with a long name of its own.")  # fmt: skip
    for combo in dialog.combos.values():
        assert combo.height() >= combo.sizeHint().height(), combo.objectName()
