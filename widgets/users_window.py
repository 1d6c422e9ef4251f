"""The admins' *Users* window (`usersWindow`, Ctrl+Alt+U): every user with their phone seat, and a form to
add one, deactivate or reactivate, reset a password (the user chooses a new one at the next sign-in),
change a role, or assign / clear the highlighted user's SIP phone seat (widgets/seat_form.py). Each is a
request the server decides (sync/user_admin.py); console/users_controller.py sends it.

Keyboard-first: the list has type-ahead; the form is in tab order (user name, display name, role,
password, then the seat's fields); Ctrl+S adds, Ctrl+P resets the highlighted user's password to the one
typed, Ctrl+O changes their role to the one picked, Ctrl+Delete deactivates, Ctrl+Insert reactivates,
Ctrl+Alt+S assigns the seat typed, Ctrl+Alt+X clears their seat; Ctrl+R reloads; Esc closes. (The
console's window-wide keys — Ctrl+N, Ctrl+D, Ctrl+E, F5… — reach every window, so none is used here.)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QPersistentModelIndex, Qt, Signal
from PySide6.QtGui import QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QFormLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPushButton,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from .seat_form import SeatForm, seat_text

Index = QModelIndex | QPersistentModelIndex
ROLES = ("csr", "supervisor", "manager", "admin")


@dataclass(frozen=True, slots=True)
class UserRow:
    id: str
    username: str
    display_name: str
    role: str
    active: bool
    must_change_password: bool = False


class UsersModel(QAbstractTableModel):
    HEADERS = ("User name", "Name", "Role", "Status", "Phone seat")
    SEAT_COLUMN = 4

    def __init__(self, parent: Any = None) -> None:
        super().__init__(parent)
        self.rows: list[UserRow] = []
        self.seats: dict[str, dict[str, Any]] | None = None  # user id → seat; None: not known (offline)

    def rowCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008, N802
        return 0 if parent.isValid() else len(self.rows)

    def columnCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008, N802
        return 0 if parent.isValid() else len(self.HEADERS)

    def headerData(  # noqa: N802
        self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole
    ) -> Any:
        if role == Qt.ItemDataRole.DisplayRole and orientation == Qt.Orientation.Horizontal:
            return self.HEADERS[section] if 0 <= section < len(self.HEADERS) else None
        return None

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or not (0 <= index.row() < len(self.rows)):
            return None
        if role in (Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.AccessibleTextRole):
            r = self.rows[index.row()]
            status = "Active" if r.active else "Deactivated"
            if r.active and r.must_change_password:
                status = "Active — must choose a new password"
            seat = "Not known offline" if self.seats is None else seat_text(self.seats.get(r.id))
            return (r.username, r.display_name, r.role, status, seat)[index.column()]
        return None

    def seat(self, user_id: str) -> dict[str, Any] | None:
        return None if self.seats is None else self.seats.get(user_id)

    def set_seats(self, seats: dict[str, dict[str, Any]] | None) -> None:
        """Every user's seat as the server listed them (None: not known)."""
        self.seats = None if seats is None else dict(seats)
        if self.rows:
            last = len(self.rows) - 1
            self.dataChanged.emit(self.index(0, self.SEAT_COLUMN), self.index(last, self.SEAT_COLUMN))

    def set_seat(self, user_id: str, seat: dict[str, Any] | None) -> None:
        """One user's seat changed (set or cleared)."""
        seats = dict(self.seats or {})
        if seat:
            seats[user_id] = dict(seat)
        else:
            seats.pop(user_id, None)
        self.seats = seats
        for n, r in enumerate(self.rows):
            if r.id == user_id:
                cell = self.index(n, self.SEAT_COLUMN)
                self.dataChanged.emit(cell, cell)

    def set_rows(self, rows: list[UserRow]) -> None:
        self.beginResetModel()
        self.rows = sorted(rows, key=lambda r: r.username)
        self.endResetModel()

    def upsert(self, row: UserRow) -> int:
        for n, r in enumerate(self.rows):
            if r.id == row.id:
                self.rows[n] = row
                self.dataChanged.emit(self.index(n, 0), self.index(n, len(self.HEADERS) - 1))
                return n
        at = sum(1 for r in self.rows if r.username < row.username)
        self.beginInsertRows(QModelIndex(), at, at)
        self.rows.insert(at, row)
        self.endInsertRows()
        return at

    def row(self, n: int) -> UserRow | None:
        return self.rows[n] if 0 <= n < len(self.rows) else None


class UsersWindow(QWidget):
    # the manage_user fields: action, username, display_name, role, password, or the seat's fields
    actionRequested = Signal(dict)
    reloadRequested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent, Qt.WindowType.Window)
        self.setObjectName("usersWindow")
        self.setWindowTitle("Users")
        self.resize(860, 760)
        self.users = UsersModel(self)
        self.list = QTableView(objectName="usersList")
        self.list.setAccessibleName("Users")
        self.list.setModel(self.users)
        self.list.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.list.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.list.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.list.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Stretch)

        self.username = QLineEdit(objectName="userName", maxLength=60)
        self.username.setAccessibleName("User name (new user)")
        self.display_name = QLineEdit(objectName="userDisplayName", maxLength=80)
        self.display_name.setAccessibleName("Display name (new user)")
        self.role = QComboBox(objectName="userRole")
        self.role.setAccessibleName("Role")
        self.role.addItems(ROLES)
        self.password = QLineEdit(objectName="userPassword", maxLength=200)
        self.password.setEchoMode(QLineEdit.EchoMode.Password)
        self.password.setAccessibleName("Password: the first one, or the temporary one for a reset")
        form = QFormLayout()
        for text, widget in (
            ("User &name", self.username),
            ("Displa&y name", self.display_name),
            ("R&ole", self.role),
            ("&Password", self.password),
        ):
            label = QLabel(text)
            label.setBuddy(widget)
            form.addRow(label, widget)

        self.buttons: dict[str, QPushButton] = {}
        row = QHBoxLayout()
        for action, text, keys in (
            ("add", "&Add user (Ctrl+S)", "Ctrl+S"),
            ("reset_password", "Reset pass&word (Ctrl+P)", "Ctrl+P"),
            ("set_role", "&Change role (Ctrl+O)", "Ctrl+O"),
            ("deactivate", "&Deactivate (Ctrl+Del)", "Ctrl+Del"),
            ("reactivate", "Reac&tivate (Ctrl+Ins)", "Ctrl+Ins"),
            ("set_seat", "Assign s&eat (Ctrl+Alt+S)", "Ctrl+Alt+S"),
            ("clear_seat", "C&lear seat (Ctrl+Alt+X)", "Ctrl+Alt+X"),
        ):
            button = QPushButton(text, objectName=f"user_{action}")
            button.setAccessibleName(text.replace("&", "").split(" (")[0])
            button.clicked.connect(lambda _c=False, a=action: self.request(a))
            row.addWidget(button)
            self.buttons[action] = button
            shortcut = QShortcut(QKeySequence(keys), self)
            shortcut.setContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
            shortcut.activated.connect(lambda a=action: self.request(a))
        for keys, slot in (
            (QKeySequence("Ctrl+R"), self.reloadRequested.emit),
            (QKeySequence(Qt.Key.Key_Escape), self.close),
        ):
            shortcut = QShortcut(keys, self)
            shortcut.setContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
            shortcut.activated.connect(slot)

        self.message = QLabel("", objectName="usersMessage")
        self.message.setWordWrap(True)
        layout = QVBoxLayout(self)
        layout.addWidget(self.list, 1)
        layout.addLayout(form)
        self.seat = SeatForm()  # parentless until added: its fields come after the password in tab order
        layout.addWidget(self.seat)
        layout.addLayout(row)
        layout.addWidget(self.message)
        self.list.selectionModel().currentRowChanged.connect(lambda current, _previous: self._show_seat())
        self.users.dataChanged.connect(lambda *_a: self._show_seat(only_empty=True))

    def _show_seat(self, only_empty: bool = False) -> None:
        """The highlighted user's seat in the seat form (when seats arrive: only if nothing is typed)."""
        if only_empty and any(edit.text() for edit in self.seat.edits.values()):
            return
        user = self.current()
        self.seat.show_seat(self.users.seat(user.id) if user is not None else None)

    def current(self) -> UserRow | None:
        return self.users.row(self.list.currentIndex().row())

    def request(self, action: str) -> None:
        """The fields of one request: a new user from the form; any other action on the highlighted user."""
        if action == "add":
            if not self.username.text().strip():
                self.show_message("Type the new user's user name.", "error")
                self.username.setFocus()
                return
            fields = {
                "action": "add",
                "username": self.username.text().strip(),
                "display_name": self.display_name.text().strip(),
                "role": self.role.currentText(),
                "password": self.password.text(),
            }
        else:
            user = self.current()
            if user is None:
                self.show_message("Highlight a user in the list first.", "error")
                self.list.setFocus()
                return
            fields = {"action": action, "username": user.username}
            if action == "set_seat":
                missing = self.seat.first_missing()
                if missing is not None:
                    edit, what = missing
                    self.show_message(f"Type the {what} of {user.display_name}'s phone seat.", "error")
                    edit.setFocus()
                    return
                fields.update(self.seat.fields())
            if action == "set_role":
                fields["role"] = self.role.currentText()
            if action == "reset_password":
                if not self.password.text():
                    self.show_message("Type a temporary password for the reset.", "error")
                    self.password.setFocus()
                    return
                fields["password"] = self.password.text()
        self.show_message("Sending to the server…")
        self.actionRequested.emit(fields)

    def show_message(self, text: str, kind: str = "info") -> None:
        self.message.setProperty("kind", kind)
        self.message.setText(text)

    def changed(self, row: UserRow, action: str) -> None:
        """The server made the change: show it, clear the password field, keep the focus in the list."""
        n = self.users.upsert(row)
        self.list.selectRow(n)
        self.password.clear()
        if action == "add":
            self.username.clear()
            self.display_name.clear()
        if action in ("set_seat", "clear_seat"):
            self._show_seat()  # the seat as the server stored it (or an empty form)
        self.list.setFocus()
