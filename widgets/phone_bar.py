"""The softphone's controls beside the bubble strip: status, Answer, Hold, Mute, Transfer, Keypad, Hang up,
and Sound… (this PC's sound devices, Ctrl+Alt+D: console/sound_devices.py).

Plain widget: it shows what console/phone_controller.py tells it and emits what the CSR asks for. Every
control takes the keyboard focus (Tab reaches them; Space/Enter presses), has an accessible name and a
stable objectName. Transfer and Keypad open a small line edit in the bar (Enter sends, Escape closes).
Function keys press the buttons from anywhere in the window (PHONE_KEYS: F3 hold, F4 mute, F6 transfer,
F7 consult, F8 keypad, F9 hang up, F10 complete the transfer, F11 return to the caller).
"""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QKeyEvent, QKeySequence, QShortcut
from PySide6.QtWidgets import QHBoxLayout, QLabel, QLineEdit, QPushButton, QWidget

OFFLINE = "Phone offline"


class _Entry(QLineEdit):
    """A one-line entry that closes on Escape."""

    escaped = Signal()

    def keyPressEvent(self, event: QKeyEvent) -> None:  # noqa: N802 (Qt's name)
        if event.key() == Qt.Key.Key_Escape:
            self.escaped.emit()
            return
        super().keyPressEvent(event)


# The bar's function keys (F1 help, F2 claim/answer and F5 sync are the window's own).
PHONE_KEYS = (("F3", "hold"), ("F4", "mute"), ("F6", "transfer"), ("F7", "consult"), ("F8", "keypad"),
              ("F9", "hangup"), ("F10", "complete"), ("F11", "back"))  # fmt: skip


class PhoneBar(QWidget):
    answerRequested = Signal()
    holdRequested = Signal(bool)  # True: hold, False: resume
    muteRequested = Signal(bool)
    transferRequested = Signal(str)
    consultRequested = Signal(str)  # warm transfer: hold the caller, call this seat or number
    completeRequested = Signal()  # join the caller to the consulted party
    returnRequested = Signal()  # hang up the consultation, back to the caller
    dtmfRequested = Signal(str)
    hangupRequested = Signal()
    devicesRequested = Signal()  # Sound devices… (console/sound_devices.py)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("phoneBar")
        self.setAccessibleName("Softphone")
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        self.status = QLabel(OFFLINE, self)
        self.status.setObjectName("phoneStatus")
        self.status.setAccessibleName("Softphone status")
        layout.addWidget(self.status, 1)
        self.answer = self._button("phoneAnswer", "Answer", "Answer the ringing call on the softphone")
        self.hold = self._button("phoneHold", "Hold", "Put the call on hold (press again to resume)", True)
        self.mute = self._button("phoneMute", "Mute", "Mute your microphone (press again to unmute)", True)
        self.transfer = self._button(
            "phoneTransfer", "Transfer…", "Transfer the call to another seat or number"
        )
        self.consult = self._button(
            "phoneConsult", "Consult…", "Warm transfer: hold the caller and call a colleague"
        )
        self.complete = self._button("phoneComplete", "Complete transfer", "Join the caller to the colleague")
        self.back = self._button(
            "phoneReturn", "Return to caller", "Hang up the consultation, resume the caller"
        )
        self.keypad = self._button("phoneKeypad", "Keypad…", "Send keypad tones (DTMF) to the call")
        self.hangup = self._button("phoneHangup", "Hang up", "Hang up the call")
        self.devices = self._button(
            "phoneDevices", "Sound…", "Choose this PC's microphone, headset and ring device (Ctrl+Alt+D)"
        )
        self.devices.setAccessibleName("Sound devices")
        self.devices.setAccessibleDescription("Shortcut: Ctrl+Alt+D")
        self.entry = _Entry(self)
        self.entry.setObjectName("phoneEntry")
        self.entry.setAccessibleName("Transfer to or keypad digits")
        self.entry.hide()
        layout.addWidget(self.entry)
        for w in (self.answer, self.hold, self.mute, self.transfer, self.consult, self.complete, self.back,
                  self.keypad, self.hangup, self.devices):  # fmt: skip
            layout.addWidget(w)
        self._entry_mode = ""
        self.answer.clicked.connect(self.answerRequested)
        self.hold.clicked.connect(lambda: self.holdRequested.emit(self.hold.isChecked()))
        self.mute.clicked.connect(lambda: self.muteRequested.emit(self.mute.isChecked()))
        self.hangup.clicked.connect(self.hangupRequested)
        self.transfer.clicked.connect(lambda: self._open_entry("transfer"))
        self.consult.clicked.connect(lambda: self._open_entry("consult"))
        self.complete.clicked.connect(self.completeRequested)
        self.back.clicked.connect(self.returnRequested)
        self.keypad.clicked.connect(lambda: self._open_entry("dtmf"))
        self.devices.clicked.connect(self.devicesRequested)
        self.entry.returnPressed.connect(self._entry_done)
        self.entry.textEdited.connect(self._keypad_typed)
        self.entry.escaped.connect(self._close_entry)
        self._shortcuts = self._keys()
        self.show_call(None)

    def _keys(self) -> list[QShortcut]:
        """Function keys for the buttons, window-wide (F2 answers through the bubble strip's claim; the
        F-keys below are free everywhere else in the window, docs/phone.md). A key does what a click
        does, and only while that button is enabled (a call in the right state) and the bar is shown
        (a CSR with a seat)."""
        shortcuts = []
        for key, name in PHONE_KEYS:
            button: QPushButton = getattr(self, name)
            shortcut = QShortcut(QKeySequence(key), self)
            shortcut.setContext(Qt.ShortcutContext.WindowShortcut)
            shortcut.activated.connect(lambda b=button: b.isEnabled() and b.isVisible() and b.click())
            # The key in the tooltip and the accessible description, not the text: the bar stays narrow.
            button.setToolTip(f"{button.toolTip()} ({key})")
            button.setAccessibleDescription(f"Shortcut: {key}")
            shortcuts.append(shortcut)
        return shortcuts

    def _button(self, name: str, text: str, tip: str, checkable: bool = False) -> QPushButton:
        button = QPushButton(text, self)
        button.setObjectName(name)
        button.setAccessibleName(text.rstrip("…"))
        button.setToolTip(tip)
        button.setCheckable(checkable)
        button.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        return button

    # -- what the controller shows ------------------------------------------------------------------------
    def show_status(self, text: str) -> None:
        self.status.setText(text)
        self.status.setAccessibleDescription(text)

    def show_call(self, call: dict | None, consulting: bool = False) -> None:
        """``call``: the softphone's current call (state, hold, muted) or None between calls;
        ``consulting``: a warm transfer's consultation is under way."""
        state = (call or {}).get("state", "")
        ringing = state in ("incoming", "early") and (call or {}).get("incoming", False)
        talking = state in ("confirmed", "connecting", "calling", "early") and not ringing
        self.answer.setEnabled(ringing)
        for w in (self.hold, self.mute, self.transfer, self.keypad):
            w.setEnabled(state == "confirmed")
        self.consult.setEnabled(state == "confirmed" and not consulting)
        self.complete.setEnabled(consulting and state == "confirmed")
        self.back.setEnabled(consulting)
        self.hangup.setEnabled(ringing or talking)
        self.hold.setChecked(bool(call and call.get("hold") == "local"))
        self.mute.setChecked(bool(call and call.get("muted")))
        if not call:
            self._close_entry()

    # -- entry for transfer target and keypad --------------------------------------------------------------
    def _open_entry(self, mode: str) -> None:
        self._entry_mode = mode
        self.entry.clear()
        if mode in ("transfer", "consult"):
            verb = "Transfer to" if mode == "transfer" else "Consult"
            self.entry.setPlaceholderText(f"{verb}: sip:1002@pbx or a seat — Enter sends, Esc closes")
            self.entry.setAccessibleName(verb)
        else:
            self.entry.setPlaceholderText("Keypad: type digits, * or # — Esc closes")
            self.entry.setAccessibleName("Keypad digits")
        self.entry.show()
        self.entry.setFocus(Qt.FocusReason.OtherFocusReason)

    def _close_entry(self) -> None:
        if self.entry.isVisible():
            had_focus = self.entry.hasFocus()
            self.entry.hide()
            if had_focus:
                self.hangup.setFocus(Qt.FocusReason.OtherFocusReason)
        self._entry_mode = ""

    def _keypad_typed(self, text: str) -> None:
        # Keypad tones go out as they are typed (an IVR waits for each digit).
        if self._entry_mode == "dtmf" and text:
            digit = text[-1]
            if digit in "0123456789*#":
                self.dtmfRequested.emit(digit)

    def _entry_done(self) -> None:
        text = self.entry.text().strip()
        if self._entry_mode == "transfer" and text:
            self.transferRequested.emit(text)
        elif self._entry_mode == "consult" and text:
            self.consultRequested.emit(text)
        self._close_entry()
