"""The sign-in dialog (`loginDialog`): server address, user name and password, or Work offline.

Sign in does not close the dialog: it checks the fields, turns busy and emits
``signInRequested(server, user, password)``. The owner verifies asynchronously and then calls
``accept()`` (signed in) or ``show_error(text)`` (refused), so a refused sign-in keeps the server
and user name. Open it with ``open()``; nothing here needs ``exec()``.

The password lives only in its line edit: no attribute holds it, and it is cleared when the dialog
closes, so nothing can remember it by accident.
"""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

SERVER_EXAMPLE = "ws://127.0.0.1:8765"


class LoginDialog(QDialog):
    """Asks who the CSR is and which server to sync with."""

    signInRequested = Signal(str, str, str)  # server, user name, password

    def __init__(self, server: str, user: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("loginDialog")
        self.setWindowTitle("Sign in")
        self.setAccessibleName("Sign in")
        self.setMinimumWidth(400)

        self.server_edit = self._edit("loginServer", "Server address", server)
        self.server_edit.setPlaceholderText(SERVER_EXAMPLE)
        self.user_edit = self._edit("loginUser", "User name", user)
        self.password_edit = self._edit("loginPassword", "Password", "")
        self.password_edit.setEchoMode(QLineEdit.EchoMode.Password)
        # Shown only after an admin reset the password: the user chooses their own (issue 19).
        self.new_password_edit = self._edit("loginNewPassword", "New password", "")
        self.new_password_edit.setEchoMode(QLineEdit.EchoMode.Password)
        self.repeat_edit = self._edit("loginNewPasswordAgain", "New password again", "")
        self.repeat_edit.setEchoMode(QLineEdit.EchoMode.Password)

        form = QFormLayout()
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.ExpandingFieldsGrow)
        for text, edit in (
            ("Ser&ver", self.server_edit),
            ("&User name", self.user_edit),
            ("&Password", self.password_edit),
            ("&New password", self.new_password_edit),
            ("New password &again", self.repeat_edit),
        ):
            label = QLabel(text, self)
            label.setBuddy(edit)
            form.addRow(label, edit)
        self._new_rows = [(form.labelForField(e), e) for e in (self.new_password_edit, self.repeat_edit)]

        self.note_label = self._label(
            "loginNote", "The server and user name are remembered on this PC. The password never is."
        )
        self.error_label = self._label("loginError")
        self.error_label.setAccessibleName("Sign-in problem")
        self.status_label = self._label("loginStatus")
        self.status_label.setAccessibleName("Sign-in progress")

        self.buttons = QDialogButtonBox(self)
        self.sign_in_button = self._button("loginButton", "&Sign in")
        self.offline_button = self._button("loginOffline", "Work &offline")
        self.offline_button.setToolTip("Keep working without the server; changes are sent after you sign in.")
        self.buttons.addButton(self.sign_in_button, QDialogButtonBox.ButtonRole.AcceptRole)
        self.buttons.addButton(self.offline_button, QDialogButtonBox.ButtonRole.RejectRole)
        self.sign_in_button.setDefault(True)
        # Enter pressed twice while busy must not mean "Work offline".
        self.offline_button.setAutoDefault(False)
        self.buttons.accepted.connect(self._submit)
        self.buttons.rejected.connect(self.reject)

        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.note_label)
        layout.addWidget(self.error_label)
        layout.addWidget(self.status_label)
        layout.addWidget(self.buttons)
        self.error_label.hide()
        self.status_label.hide()
        self._set_new_password_shown(False)

    # -- building -------------------------------------------------------------------------------------
    def _edit(self, name: str, accessible: str, text: str) -> QLineEdit:
        edit = QLineEdit(text, self)
        edit.setObjectName(name)
        edit.setAccessibleName(accessible)
        edit.textEdited.connect(self._clear_error)
        return edit

    def _label(self, name: str, text: str = "") -> QLabel:
        label = QLabel(text, self)
        label.setObjectName(name)
        label.setWordWrap(True)
        label.setTextFormat(Qt.TextFormat.PlainText)
        return label

    def _button(self, name: str, text: str) -> QPushButton:
        button = QPushButton(text, self)
        button.setObjectName(name)
        button.setAccessibleName(text.replace("&", ""))
        return button

    # -- API ------------------------------------------------------------------------------------------
    def credentials(self) -> tuple[str, str, str]:
        """(server, user name, password) as entered; server and user name without outer spaces."""
        return self.server_edit.text().strip(), self.user_edit.text().strip(), self.password_edit.text()

    def set_busy(self, busy: bool) -> None:
        """While signing in the fields and Sign in are disabled; Work offline stays available."""
        for w in (
            self.server_edit,
            self.user_edit,
            self.password_edit,
            self.new_password_edit,
            self.repeat_edit,
            self.sign_in_button,
        ):
            w.setEnabled(not busy)
        self.status_label.setText("Signing in…" if busy else "")
        self.status_label.setVisible(busy)
        if busy:
            self._clear_error()

    def new_password(self) -> str:
        """The new password typed after a reset ("" when not asked)."""
        return self.new_password_edit.text() if self.new_password_edit.isVisibleTo(self) else ""

    def ask_new_password(self, text: str) -> None:
        """The server says the password was reset: keep the temporary one, ask for a new one twice."""
        self.set_busy(False)
        self._set_new_password_shown(True)
        self.new_password_edit.clear()
        self.repeat_edit.clear()
        self._show_problem(text, self.new_password_edit)

    def _set_new_password_shown(self, shown: bool) -> None:
        for label, edit in self._new_rows:
            label.setVisible(shown)
            edit.setVisible(shown)

    def is_busy(self) -> bool:
        return not self.sign_in_button.isEnabled()

    def show_error(self, text: str) -> None:
        """The sign-in was refused: say why, keep server and user name, ask for the password again."""
        self.set_busy(False)
        self._show_problem(text, self.password_edit)
        self.password_edit.clear()
        if self.new_password_edit.isVisibleTo(self):  # typed again with the next attempt
            self.new_password_edit.clear()
            self.repeat_edit.clear()

    # -- internals ------------------------------------------------------------------------------------
    def _show_problem(self, text: str, field: QLineEdit) -> None:
        self.error_label.setText(text)
        self.error_label.show()
        field.setFocus(Qt.FocusReason.OtherFocusReason)

    def _clear_error(self) -> None:
        self.error_label.clear()
        self.error_label.hide()

    def _problem(self) -> tuple[str, QLineEdit] | None:
        server, user, password = self.credentials()
        if not server:
            return f"Enter the server address, for example {SERVER_EXAMPLE}.", self.server_edit
        if not server.lower().startswith(("ws://", "wss://")) or len(server.split("://", 1)[1]) == 0:
            return (
                f"The server address starts with ws:// or wss://, for example {SERVER_EXAMPLE}.",
                self.server_edit,
            )
        if not user:
            return "Enter your user name.", self.user_edit
        if not password:
            return "Enter your password.", self.password_edit
        if self.new_password_edit.isVisibleTo(self):
            if not self.new_password_edit.text():
                return "Choose a new password.", self.new_password_edit
            if self.repeat_edit.text() != self.new_password_edit.text():
                return "The two new passwords differ — type it again.", self.repeat_edit
        return None

    def _submit(self) -> None:
        if self.is_busy():
            return
        problem = self._problem()
        if problem is not None:
            self._show_problem(*problem)
            return
        server, user, password = self.credentials()
        self.set_busy(True)
        self.signInRequested.emit(server, user, password)

    def done(self, result: int) -> None:  # noqa: D102 - Qt override
        for edit in (self.password_edit, self.new_password_edit, self.repeat_edit):
            edit.clear()  # never kept past the dialog
        self.set_busy(False)
        super().done(result)

    def showEvent(self, event) -> None:  # noqa: ANN001, N802 - Qt override
        """The cursor starts in the first empty field, so a returning CSR types only the password."""
        super().showEvent(event)
        if not event.spontaneous():  # not when the window is merely restored
            edits = (self.server_edit, self.user_edit, self.password_edit)
            target = next((e for e in edits if not e.text().strip()), self.password_edit)
            target.setFocus(Qt.FocusReason.OtherFocusReason)
