"""The status-bar label (`syncStatus`): connection state and the number of changes waiting."""

from __future__ import annotations

from typing import Any

from PySide6.QtWidgets import QLabel


def status_text(online: bool, pending: int) -> str:
    state = "Online" if online else "Offline"
    if pending == 0:
        return f"{state} — all changes sent" if online else f"{state} — nothing waiting"
    return f"{state} — {pending} change{'s' if pending != 1 else ''} waiting"


class SyncStatus(QLabel):
    def __init__(self, parent: Any = None) -> None:
        super().__init__(parent)
        self.setObjectName("syncStatus")
        self.setAccessibleName("Sync status")
        self.online = False
        self.pending = 0
        self.set_state(False, 0)

    def set_state(self, online: bool, pending: int) -> None:
        self.online, self.pending = online, pending
        self.setText(status_text(online, pending))
        self.setToolTip("Changes are saved on this PC and sent to the server when it is reachable."
                        if pending else "")
        self.setProperty("pending", pending > 0)
        self.style().unpolish(self)
        self.style().polish(self)
