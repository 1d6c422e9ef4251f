"""Wiring of the admins' *Users* window (widgets/users_window.py): the users as this console's cache knows
them (read on a database worker of its own), and each change sent to the server as a ``manage_user``
request over the signed-in session (sync/requests.py). The server decides — admins only, never the last
active admin, audited — and answers with the user as changed, shown at once; its row also reaches every
console through the change log. Offline, the window says the change needs the server.

Phone seats are kept on the server only (never synced to consoles): the seat column is asked of the
server (``list_phone_seats``) each time the list is read, and a seat set or cleared here reaches the
user's console at once (sync/server.py ``_seat_changed``), whose softphone signs in there.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from PySide6.QtCore import Signal
from sqlalchemy import select

from models.db import Cache
from models.setup import User
from sync.requests import RequestFailed
from widgets.seat_form import seat_text
from widgets.users_window import UserRow, UsersWindow

from .failures import describe_failure
from .manager_window import ADMIN_ROLES, ManagerWindowController, install_for_role

log = logging.getLogger(__name__)

SHORTCUT = "Ctrl+Alt+U"
DONE = {
    "add": "{name} was added. They choose their own password at their first sign-in.",
    "deactivate": "{name} can no longer sign in.",
    "reactivate": "{name} can sign in again.",
    "reset_password": "{name}'s password was reset: they choose a new one at their next sign-in.",
    "set_role": "{name} is now {role}. Their console signs in again with the new role.",
    "set_seat": "{name}'s phone seat is {seat}. Their softphone signs in there (asking for the SIP password).",
    "clear_seat": "{name} has no phone seat now: calls ring them as a Client again.",
}
SEATS_UNKNOWN = "Phone seats are kept on the server: they show once this console is online."


def _row(user: Any) -> UserRow:
    if isinstance(user, dict):
        return UserRow(
            str(user["id"]),
            str(user["username"]),
            str(user.get("display_name") or ""),
            str(user.get("role") or ""),
            bool(user.get("active")),
            bool(user.get("must_change_password")),
        )
    role = user.role.value if hasattr(user.role, "value") else str(user.role)
    return UserRow(
        user.id, user.username, user.display_name, role, bool(user.active), bool(user.must_change_password)
    )


def load_users(cache: Cache) -> list[UserRow]:
    with cache.sessions() as session:
        return [_row(u) for u in session.scalars(select(User).order_by(User.username))]


class UsersController(ManagerWindowController):
    loaded = Signal(int)
    changed = Signal(str)  # the action the server made (tests wait on it)
    seatsLoaded = Signal(int)  # how many users have a seat (-1: not known, offline)

    def __init__(self, window: Any, cache: Cache, sync: Any) -> None:
        super().__init__(window, cache, worker_name="csr-users")
        self._sync = sync  # console/sync_controller.SyncController: its client is the signed-in session
        self.dialog: UsersWindow | None = None
        self._tasks: set[asyncio.Future] = set()

    def add_action(self) -> None:
        self._add_shortcut("Users", "usersAction", SHORTCUT, self.open)

    def open(self) -> UsersWindow:
        if self.dialog is None:
            self.dialog = UsersWindow(None)
            self.dialog.actionRequested.connect(self.send)
            self.dialog.reloadRequested.connect(self.reload)
        self._present(self.dialog, self.dialog.list)
        self.reload()
        return self.dialog

    def reload(self) -> None:
        self._worker.submit(load_users, self._cache, done=self._loaded, failed=self._read_failed, key="load")
        client = getattr(self._sync, "client", None)
        if client is None:
            self._seats_loaded(None)
            return
        task = asyncio.ensure_future(self._load_seats(client))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _load_seats(self, client: Any) -> None:
        try:
            seats = await client.phone_seats()
        except RequestFailed as exc:
            self._seats_loaded(None, "" if exc.code == "offline" else str(exc))
            return
        except Exception as exc:  # noqa: BLE001 - told, never silent
            log.exception("list_phone_seats failed")
            self._seats_loaded(None, f"The phone seats couldn't be read ({exc.__class__.__name__}).")
            return
        self._seats_loaded(seats)

    def _seats_loaded(self, seats: dict[str, dict] | None, problem: str = "") -> None:
        if self.dialog is not None:
            self.dialog.users.set_seats(seats)
            if seats is None:
                self.dialog.show_message(problem or SEATS_UNKNOWN, "error" if problem else "info")
        self.seatsLoaded.emit(-1 if seats is None else len(seats))

    def _loaded(self, rows: list[UserRow]) -> None:
        if self.dialog is not None:
            self.dialog.users.set_rows(rows)
            if rows and not self.dialog.list.currentIndex().isValid():
                self.dialog.list.selectRow(0)
        self.loaded.emit(len(rows))

    def send(self, fields: dict) -> None:
        client = getattr(self._sync, "client", None)
        if client is None:
            self._error("Users change on the server — sign in first.")
            return
        task = asyncio.ensure_future(self._send(client, dict(fields)))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _send(self, client: Any, fields: dict) -> None:
        try:
            user = await client.manage_user(fields)
        except RequestFailed as exc:
            self._error(str(exc) or "The server refused the change.")
            return
        except Exception as exc:  # noqa: BLE001 - told, never silent
            log.exception("manage_user failed")
            self._error(f"The change couldn't be sent ({exc.__class__.__name__}) — try again.")
            return
        row, action = _row(user), fields["action"]
        if self.dialog is not None:
            if "phone_seat" in user:  # set_seat / clear_seat: the seat as stored
                self.dialog.users.set_seat(row.id, user["phone_seat"])
            self.dialog.changed(row, action)
            seat = seat_text(user.get("phone_seat"))
            self.dialog.show_message(DONE[action].format(name=row.display_name, role=row.role, seat=seat))
        self.changed.emit(action)

    def _read_failed(self, exc: BaseException) -> None:
        self._error(describe_failure(self._cache.path, exc, what="users"))

    def shutdown(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        super().shutdown()


def install(window: Any, cache: Cache, sync: Any, *, role: str) -> UsersController | None:
    """The Users window (Ctrl+Alt+U) for an admin; for any other role none (one left by the previous
    user is removed)."""
    return install_for_role(
        window,
        UsersController,
        role,
        lambda: UsersController(window, cache, sync),
        roles=ADMIN_ROLES,
        denied=(SHORTCUT, "Users"),
    )
