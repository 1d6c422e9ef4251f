"""Wiring of *Sound devices…* (widgets/sound_devices_dialog.py; Phone menu, the phone bar's Sound… button,
Ctrl+Alt+D): the CSR picks their own PC's microphone, headset and ring device for their phone seat.

- The lists are the softphone's (console/phone_controller.py keeps its last ``devices`` event); Refresh
  asks it again (``list_devices``).
- Save tells the phone at once (``set_devices``: it switches now, and the sign-in replayed after a
  restart carries them) and sends ``set_my_devices`` to the server on the qasync loop — the UI thread
  never waits. The server keeps them with the seat and tells the CSR's other consoles. A refusal or a
  failure is shown in the dialog and the status bar until the next action, never silently dropped.
- A CSR without a seat: the menu item says so, and the key says it in the status bar.
"""

from __future__ import annotations

import logging
from typing import Any

from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtGui import QAction, QKeySequence

from sync.requests import RequestFailed
from widgets.sound_devices_dialog import DEFAULT, RING_DEFAULT, SoundDevicesDialog

from .tasks import Tasks

log = logging.getLogger(__name__)

SHORTCUT = "Ctrl+Alt+D"
TITLE = "Sound &devices…"
NO_SEAT = "You have no phone seat, so there are no sound devices to choose: ask an admin to give you one."
SIGNED_OUT = "Sign in first (Ctrl+Shift+L): your sound devices are kept with your phone seat on the server."


def chosen_text(devices: dict[str, str]) -> str:
    """The three choices in a sentence: "Microphone: …; headset: …; rings on …"."""
    mic = devices.get("input_device") or DEFAULT.lower()
    headset = devices.get("output_device") or DEFAULT.lower()
    ring = devices.get("ring_device") or RING_DEFAULT.lower()
    return f"microphone: {mic}; headset: {headset}; it rings on {ring}"


class SoundDevicesController(QObject):
    saved = Signal(dict)  # the seat as the server stored it (tests wait on it)
    failed = Signal(str)  # a refusal or failure, as shown
    errorOccurred = Signal(str)

    def __init__(self, window: Any, phone: Any, sync: Any) -> None:
        super().__init__(window)
        self.window = window
        self.phone = phone  # console/phone_controller.PhoneController
        self.sync = sync  # console/sync_controller.SyncController: its client is the signed-in session
        self.dialog: SoundDevicesDialog | None = None
        self.seat_known = False  # signed in: the server said whether there is a seat
        self._tasks = Tasks()
        self.action = QAction(TITLE, window)
        self.action.setObjectName("soundDevicesAction")
        self.action.setShortcut(QKeySequence(SHORTCUT))
        self.action.setShortcutContext(Qt.ShortcutContext.ApplicationShortcut)
        window.phone_menu.addAction(self.action)
        self._connect_signals()
        self._seat_known(None, known=False)

    def _connect_signals(self) -> None:
        self.action.triggered.connect(lambda _checked=False: self.open())
        self.phone.bar.devicesRequested.connect(self.open)
        self.phone.seatKnown.connect(self._seat_known)
        self.phone.devicesChanged.connect(self._devices_changed)
        self.phone.deviceNotice.connect(self._notice)
        self.errorOccurred.connect(lambda text: self.window.statusBar().showMessage(text))  # until replaced

    # -- the menu item says whether there is anything to choose ----------------------------------------------
    def _seat_known(self, seat: dict[str, Any] | None, known: bool = True) -> None:
        self.seat_known = self.seat_known or known
        why = "" if seat else (NO_SEAT if self.seat_known else SIGNED_OUT)
        self.action.setText(
            TITLE if seat else TITLE + (" (no phone seat)" if self.seat_known else " (sign in first)")
        )
        self.action.setStatusTip(why or "Choose this PC's microphone, headset and ring device for your phone")
        self.action.setToolTip(f"{self.action.statusTip()} ({SHORTCUT})")
        if self.dialog is not None:
            self.dialog.set_seat(seat)
            if not seat:
                self.dialog.show_message(why, "error")

    # -- the dialog ------------------------------------------------------------------------------------------
    def open(self) -> SoundDevicesDialog | None:
        """Ctrl+Alt+D: the dialog (made once) in front, the keyboard on the microphone; with no seat, why
        not (status bar)."""
        seat = self.phone.server_seat
        if not seat:
            self.window.statusBar().showMessage(NO_SEAT if self.seat_known else SIGNED_OUT, 10_000)
            return None
        if self.dialog is None:
            self.dialog = SoundDevicesDialog(self.window)
            self.dialog.refreshRequested.connect(self.refresh)
            self.dialog.saveRequested.connect(self.save)
            self.dialog.set_seat(seat)
            self.dialog.show_devices(self.phone.devices)
        self.dialog.show()
        self.dialog.raise_()
        self.dialog.activateWindow()
        self.dialog.first_focus().setFocus(Qt.FocusReason.OtherFocusReason)
        if self.phone.devices is None and self.phone.online:  # nothing listed yet: ask now
            self.refresh()
        return self.dialog

    def _devices_changed(self, devices: dict[str, Any] | None) -> None:
        if self.dialog is not None:
            self.dialog.show_devices(devices)

    def _notice(self, text: str) -> None:
        if self.dialog is not None and self.dialog.isVisible() and text:
            self.dialog.show_message(text, "error")

    def refresh(self) -> None:
        if self.dialog is not None:
            self.dialog.set_busy(True)
            self.dialog.show_message("Asking the phone for this PC's sound devices…")
        self._tasks.spawn(self._refresh())

    async def _refresh(self) -> None:
        try:
            devices = await self.phone.list_devices()
        except RuntimeError as exc:
            self._failed(str(exc) or "The phone could not list the sound devices.")
            return
        except Exception as exc:  # noqa: BLE001 - told, never silent
            log.exception("list_devices failed")
            self._failed(f"The phone could not list the sound devices ({exc.__class__.__name__}).")
            return
        finally:
            if self.dialog is not None:
                self.dialog.set_busy(False)
        if self.dialog is not None:
            if devices.get("available"):
                self.dialog.show_message("The list is this PC's now.")
            else:
                self.dialog.show_message(devices.get("message") or "The phone can't list the sound devices.")

    def save(self, devices: dict[str, str]) -> None:
        """The phone switches at once; the server keeps them with the seat (on the loop, never waited on)."""
        told = self.phone.apply_devices(devices)
        client = getattr(self.sync, "client", None)
        if client is None:
            self._failed(
                "You're signed out: the phone uses them on this PC, but they were not saved with your seat."
            )
            return
        if self.dialog is not None:
            self.dialog.set_busy(True)
            self.dialog.show_message(
                "Saving with your phone seat…"
                if told
                else "Saving with your phone seat (the phone is offline: it uses them when it is back)…"
            )
        self._tasks.spawn(self._save(client, dict(devices)))

    async def _save(self, client: Any, devices: dict[str, str]) -> None:
        try:
            seat = await client.set_my_devices(devices)
        except RequestFailed as exc:
            self._failed(
                f"Not saved with your seat: {exc} The phone uses them on this PC until you sign out."
            )
            return
        except Exception as exc:  # noqa: BLE001 - told, never silent
            log.exception("set_my_devices failed")
            self._failed(f"Not saved with your seat ({exc.__class__.__name__}) — try again.")
            return
        finally:
            if self.dialog is not None:
                self.dialog.set_busy(False)
        # The server's own phone_seat message then changes nothing here: this is the seat it has.
        self.phone.server_seat = dict(seat)
        text = f"Saved with your phone seat — {chosen_text(seat)}."
        if self.dialog is not None:
            self.dialog.set_seat(seat)
            self.dialog.show_message(text)
        self.window.statusBar().showMessage(text, 10_000)
        self.saved.emit(seat)

    def _failed(self, text: str) -> None:
        if self.dialog is not None:
            self.dialog.show_message(text, "error")
        self.failed.emit(text)
        self.errorOccurred.emit(text)

    async def aclose(self) -> None:
        await self._tasks.cancel_all()
        if self.dialog is not None:
            self.dialog.close()
            self.dialog.deleteLater()
            self.dialog = None
