"""*Sound devices* (`soundDevicesDialog`, Ctrl+Alt+D): the CSR picks the microphone, headset and ring
device of their own PC for their phone seat, from the lists the softphone reads off this PC (PortAudio).
An admin can't know those names; the CSR sees them here.

Plain widget: console/sound_devices.py fills it and acts on what it emits. Each combo's first item is
the default ("The system's default"; for the ring device "The headset"), stored as ""; a saved name this
PC doesn't have is kept and shown as "<name> (not on this PC)". When the phone can't list devices
(PortAudio missing, null audio) the combos are disabled and the phone's sentence says why.

Keyboard: the combos and buttons are in tab order with mnemonics (Alt+M, Alt+H, Alt+I, Alt+R, Alt+S);
Ctrl+R refreshes, Ctrl+S saves, Esc closes. (The console's window-wide keys reach this window too, so
none of them is used here.)
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

DEFAULT = "The system's default"
RING_DEFAULT = "The headset"
NOT_HERE = " (not on this PC)"
NOT_LISTED = "The phone hasn't listed this PC's sound devices yet: Refresh (Ctrl+R) asks it."
# seat key → (label with its mnemonic, objectName, accessible name, the first item, the list it picks from)
COMBOS = (
    ("&Microphone", "soundMicrophone", "Microphone", DEFAULT, "inputs", "input_device"),
    ("&Headset", "soundHeadset", "Headset (where calls play)", DEFAULT, "outputs", "output_device"),
    ("R&ing device", "soundRingDevice", "Ring device (where calls ring)", RING_DEFAULT, "outputs", "ring_device"),
)  # fmt: skip


class SoundDevicesDialog(QDialog):
    refreshRequested = Signal()
    saveRequested = Signal(dict)  # {"input_device", "output_device", "ring_device"}: names, "" = default

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("soundDevicesDialog")
        self.setWindowTitle("Sound devices")
        self.setAccessibleName("Sound devices for your phone seat")
        self.setModal(False)
        self.devices: dict[str, Any] | None = None  # the phone's lists (available, inputs, outputs, message)
        self.seat: dict[str, Any] = {}  # the names saved on the server

        self.intro = QLabel(objectName="soundDevicesIntro", wordWrap=True)
        self.note = QLabel(objectName="soundDevicesNote", wordWrap=True)
        self.note.setAccessibleName("What the phone says about this PC's sound devices")
        self.combos: dict[str, QComboBox] = {}
        form = QFormLayout()
        for text, name, accessible, _first, _source, key in COMBOS:
            combo = QComboBox(objectName=name)
            combo.setAccessibleName(accessible)
            combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)
            combo.setMinimumContentsLength(28)
            combo.currentIndexChanged.connect(
                lambda _i, c=combo, a=accessible: c.setAccessibleDescription(f"{a}: {c.currentText()}")
            )
            label = QLabel(text)
            label.setBuddy(combo)
            form.addRow(label, combo)
            self.combos[key] = combo

        self.refresh = self._button("soundDevicesRefresh", "&Refresh (Ctrl+R)", "Refresh")
        self.refresh.setToolTip("Ask the phone for this PC's sound devices again (a headset just plugged in)")
        self.save = self._button("soundDevicesSave", "&Save (Ctrl+S)", "Save")
        self.save.setToolTip(
            "Keep these with your phone seat on the server; the phone switches to them at once"
        )
        self.close_button = self._button("soundDevicesClose", "Close", "Close")
        self.refresh.clicked.connect(self._refresh)
        self.save.clicked.connect(self._save)
        self.close_button.clicked.connect(self.reject)
        for keys, slot in (("Ctrl+R", self._refresh), ("Ctrl+S", self._save)):
            shortcut = QShortcut(QKeySequence(keys), self)
            shortcut.setContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
            shortcut.activated.connect(slot)

        self.message = QLabel(objectName="soundDevicesMessage", wordWrap=True)
        self.message.setAccessibleName("Sound devices: what happened")
        self.message.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        buttons = QHBoxLayout()
        buttons.addWidget(self.refresh)
        buttons.addStretch(1)
        buttons.addWidget(self.save)
        buttons.addWidget(self.close_button)
        layout = QVBoxLayout(self)
        layout.addWidget(self.intro)
        layout.addWidget(self.note)
        layout.addLayout(form)
        layout.addWidget(self.message)
        layout.addLayout(buttons)
        self.save.setDefault(True)
        self.show_devices(None)

    def _button(self, name: str, text: str, accessible: str) -> QPushButton:
        button = QPushButton(text, objectName=name)
        button.setAccessibleName(accessible)
        button.setAutoDefault(False)
        button.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        return button

    # -- what the controller shows --------------------------------------------------------------------------
    def set_seat(self, seat: dict[str, Any] | None) -> None:
        """The seat as the server has it: its saved names are chosen in the combos."""
        self.seat = dict(seat or {})
        where = self.seat.get("sip_address") or self.seat.get("user") or ""
        self.intro.setText(
            "Choose where your phone listens and plays on this PC"
            + (f" (seat {where})" if where else "")
            + ". They are kept with your seat on the server, and the phone switches to them at once."
        )
        self._fill(keep_choice=False)

    def show_devices(self, devices: dict[str, Any] | None) -> None:
        """The phone's lists (``available``, ``inputs``, ``outputs``, ``message``), or None: not listed yet.
        What the CSR has chosen and not saved stays chosen."""
        self.devices = dict(devices) if devices is not None else None
        self._fill(keep_choice=True)

    def show_message(self, text: str, kind: str = "info") -> None:
        """What happened (saved, refused, the phone offline): it stays until the next action."""
        self.message.setProperty("kind", kind)
        self.message.setText(text)
        self.message.setStyleSheet("color: #b00020;" if kind == "error" else "")
        self.message.setAccessibleDescription(text)
        self._fit()

    def _fit(self) -> None:
        """Grow to fit a longer sentence (the combos are never squeezed under it)."""
        self.layout().activate()
        self.resize(self.size().expandedTo(self.sizeHint()))

    def set_busy(self, busy: bool) -> None:
        """A request is on its way: a second Save or Refresh meanwhile is ignored. Nothing is disabled for
        it, so the keyboard stays where it is."""
        self.busy = busy

    def choice(self) -> dict[str, str]:
        """The names chosen, "" for the default."""
        return {key: str(combo.currentData() or "") for key, combo in self.combos.items()}

    def usable(self) -> bool:
        """The phone listed devices: the combos can be chosen from."""
        return bool(self.devices and self.devices.get("available"))

    # -- inside --------------------------------------------------------------------------------------------
    busy = False

    def _enable(self) -> None:
        focus = self.focusWidget()
        usable = self.usable()
        for combo in self.combos.values():
            combo.setEnabled(usable)
        self.save.setEnabled(usable and bool(self.seat))
        if focus is not None and not focus.isEnabled():  # the keyboard never drops out of the dialog
            self.refresh.setFocus(Qt.FocusReason.OtherFocusReason)  # Refresh is never disabled

    def _fill(self, keep_choice: bool) -> None:
        chosen = self.choice() if keep_choice else {}
        devices = self.devices or {}
        for _text, _name, accessible, first, source, key in COMBOS:
            combo = self.combos[key]
            names = [str(n) for n in devices.get(source) or [] if str(n)]
            want = (
                chosen.get(key, str(self.seat.get(key) or ""))
                if keep_choice
                else str(self.seat.get(key) or "")
            )
            had_focus = combo.hasFocus()
            combo.blockSignals(True)
            combo.clear()
            combo.addItem(first, "")
            for name in names:
                combo.addItem(name, name)
            if want and want not in names:
                combo.addItem(want + NOT_HERE, want)
            combo.setCurrentIndex(max(0, combo.findData(want)))
            combo.blockSignals(False)
            combo.setAccessibleDescription(f"{accessible}: {combo.currentText()}")  # signals were blocked
            if had_focus and not combo.hasFocus():
                combo.setFocus(Qt.FocusReason.OtherFocusReason)
        if self.devices is None:
            self.note.setText(NOT_LISTED)
        elif not self.devices.get("available"):
            self.note.setText(
                str(self.devices.get("message") or "The phone can't list this PC's sound devices.")
            )
        else:
            count = len(devices.get("inputs") or []), len(devices.get("outputs") or [])
            self.note.setText(
                f"This PC has {count[0]} microphone{'s' * (count[0] != 1)} and "
                f"{count[1]} output{'s' * (count[1] != 1)} (headsets, speakers)."
            )
        self.note.setAccessibleDescription(self.note.text())
        self._fit()
        self._enable()

    def _refresh(self) -> None:
        if not self.busy:
            self.refreshRequested.emit()

    def _save(self) -> None:
        if self.save.isEnabled() and not self.busy:
            self.saveRequested.emit(self.choice())

    def first_focus(self) -> QWidget:
        """Where the keyboard goes when the dialog opens: the first combo, else Refresh."""
        combo = self.combos["input_device"]
        return combo if combo.isEnabled() else self.refresh
