"""The console's softphone on the supervisors' floor board (docs/phone.md): this console tells the server
whether its phone is signed in at the registrar ("registered"), down ("offline", with the sentence the CSR
sees: crashed and restarting, a refused password, a registrar not answering) or absent ("none": no seat).

It says so when the state changes and again after every reconnect (the server forgets a console's phone
when the console leaves). A report that can't be sent is retried by the next change or reconnect; it is
logged, never shown to the CSR (their own phone bar already says what is wrong).
"""

from __future__ import annotations

import logging
from typing import Any

from PySide6.QtCore import QObject

from sync.requests import RequestFailed

from .tasks import Tasks

log = logging.getLogger(__name__)


def phone_state(has_seat: bool, link_state: str, registered: bool, message: str) -> tuple[str, str]:
    """What the floor board is told: (state, message)."""
    if not has_seat:
        return "none", ""
    if registered and link_state == "online":
        return "registered", ""
    return "offline", message or "Phone offline"


class PhonePresence(QObject):
    """Watches the PhoneController and reports its state through the sync controller."""

    def __init__(self, parent: QObject, phone: Any, sync: Any) -> None:
        super().__init__(parent)
        self.phone = phone
        self.sync = sync
        self.link_state = ""
        self.message = ""
        self.sent: tuple[str, str] | None = None  # what the server last acknowledged
        self._tasks = Tasks()
        phone.stateChanged.connect(self._on_link)
        phone.registrationChanged.connect(self._on_registration)
        sync.onlineChanged.connect(self._on_online)
        sync.signedIn.connect(lambda _user: self._report())  # the seat may have come or gone
        sync.seatChanged.connect(lambda _seat: self._report())  # an admin set or cleared it

    def current(self) -> tuple[str, str]:
        has_seat = bool(self.phone.server_seat) or bool(self.phone.seat)
        return phone_state(has_seat, self.link_state, bool(self.phone.registered), self.message)

    def _on_link(self, state: str, message: str) -> None:
        self.link_state = state
        if state != "online":
            self.message = message or ("Phone offline — starting…" if state == "starting" else "")
        self._report()

    def _on_registration(self, registered: bool, message: str) -> None:
        self.message = "" if registered else message
        self._report()

    def _on_online(self, online: bool) -> None:
        if online:
            self.sent = None  # a new connection: the server forgot this console's phone
            self._report()

    def _report(self) -> None:
        now = self.current()
        if now == self.sent or not getattr(self.sync, "online", False):
            return
        self._tasks.spawn(self._send(now))

    async def _send(self, state: tuple[str, str]) -> None:
        try:
            await self.sync.report_phone(*state)
        except RequestFailed as exc:
            log.info("event=phone_state_not_sent state=%s code=%s", state[0], exc.code)
            return
        self.sent = state
        if state != self.current():  # it changed while the report was on its way
            self._report()

    async def aclose(self) -> None:
        await self._tasks.cancel_all()
