"""The sync widgets as pure views: the status-bar indicator, sign-in, clashing edits and the sync
problems list. Plain values go in, signals come out; driven by keyboard where a CSR would."""

from __future__ import annotations

from typing import Any

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication, QLabel, QLineEdit, QPushButton, QVBoxLayout, QWidget

from tests.gui.helpers import show_active
from widgets.conflicts import ConflictsPanel
from widgets.login_dialog import LoginDialog
from widgets.sync_problems import SyncProblemsDialog, notification_text
from widgets.sync_status import SyncStatus, age_text


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


# -- sync status --------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (0, "just now"),
        (3.9, "just now"),
        (-20, "just now"),
        (45, "45 s"),
        (59.9, "59 s"),
        (60, "1 min"),
        (4 * 60 + 30, "4 min"),
        (3600, "1 h"),
        (2 * 3600 + 5 * 60, "2 h 5 min"),
        (86400, "1 day"),
        (3 * 86400 + 7200, "3 days"),
    ],
)
def test_age_text(seconds: float, text: str) -> None:
    assert age_text(seconds) == text


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def status(qtbot: Any, clock: FakeClock) -> SyncStatus:
    s = SyncStatus(clock=clock)
    qtbot.addWidget(s)
    return s


def labels(s: SyncStatus) -> tuple[str, str, str]:
    return tuple(
        s.findChild(QLabel, name).text()  # type: ignore[return-value]
        for name in ("syncStateLabel", "syncPendingLabel", "syncAgeLabel")
    )


@pytest.mark.parametrize(
    ("state", "word"),
    [
        ("offline", "Offline"),
        ("connecting", "Connecting…"),
        ("syncing", "Syncing…"),
        ("online", "Online"),
        ("upgrade_required", "Update needed"),
        ("signed_out", "Not signed in"),
    ],
)
def test_status_shows_each_state_with_its_property(status: SyncStatus, state: str, word: str) -> None:
    status.show_status(state, 0, None, 12)
    assert status.objectName() == "syncStatus"
    assert labels(status)[0] == word
    assert status.property("state") == state
    assert status.findChild(QLabel, "syncStateLabel").property("state") == state
    assert status.sync_now_button.isEnabled() == (state != "upgrade_required")


def test_status_pending_count_and_ages(status: SyncStatus, clock: FakeClock) -> None:
    status.show_status("offline", 3, 240, None)
    assert labels(status) == ("Offline", "3 changes waiting", "oldest 4 min ago, never synced")
    assert status.pending == 3 and status.text() == "Offline — 3 changes waiting"
    status.show_status("online", 1, 3, 12, "Connected as dana")
    assert labels(status) == ("Online", "1 change waiting", "oldest just now, synced 12 s ago")
    assert "Connected as dana" in status.toolTip()
    status.show_status("online", 0, None, 2 * 3600 + 300)
    assert labels(status) == ("Online", "all changes sent", "synced 2 h 5 min ago")
    status.show_status("syncing", 1234, 3 * 86400, 0)
    assert labels(status)[1:] == ("1234 changes waiting", "oldest 3 days ago, synced just now")


def test_status_ages_move_on_with_the_clock(qtbot: Any, status: SyncStatus, clock: FakeClock) -> None:
    status.show_status("offline", 2, 50, 30)
    assert labels(status)[2] == "oldest 50 s ago, synced 30 s ago"
    assert status._timer.isActive()
    clock.now += 200
    status._timer.timeout.emit()
    assert labels(status)[2] == "oldest 4 min ago, synced 3 min ago"
    status.show_status("online", 0, None, None)
    assert labels(status)[2] == "never synced" and not status._timer.isActive()


def test_status_compatibility_set_state(status: SyncStatus) -> None:
    assert (
        status.text() == "Offline — nothing waiting" and not status.findChild(QLabel, "syncAgeLabel").text()
    )
    status.set_state(False, 1)
    assert status.text() == "Offline — 1 change waiting" and status.pending == 1 and not status.online
    assert status.findChild(QLabel, "syncPendingLabel").property("pending") is True
    status.set_state(True, 0)
    assert (
        status.text() == "Online — all changes sent"
        and status.online
        and status.property("state") == "online"
    )
    # A count from set_state keeps the ages the sync client reported.
    status.show_status("offline", 2, 60, 120)
    status.set_state(False, 3)
    assert labels(status) == ("Offline", "3 changes waiting", "oldest 1 min ago, synced 2 min ago")


def test_sync_now_by_click_and_keyboard(qtbot: Any, status: SyncStatus) -> None:
    show_active(qtbot, status)
    button = status.findChild(QWidget, "syncNowButton")
    assert button.accessibleName() == "Sync now"
    with qtbot.waitSignal(status.syncNowRequested, timeout=1000):
        qtbot.mouseClick(button, Qt.MouseButton.LeftButton)
    button.setFocus()
    assert button.hasFocus()
    with qtbot.waitSignal(status.syncNowRequested, timeout=1000):
        qtbot.keyClick(button, Qt.Key.Key_Space)


def test_unknown_state_is_refused(status: SyncStatus) -> None:
    with pytest.raises(ValueError):
        status.show_status("asleep", 0, None, None)


# -- sign in ------------------------------------------------------------------------------------------
def opened(qtbot: Any, dialog: QWidget) -> QWidget:
    qtbot.addWidget(dialog)
    with qtbot.waitExposed(dialog):
        dialog.open()
    dialog.activateWindow()
    qtbot.waitUntil(dialog.isActiveWindow)
    return dialog


def field(dialog: QWidget, name: str) -> QLineEdit:
    return dialog.findChild(QLineEdit, name)


def test_login_starts_in_the_first_empty_field(qtbot: Any) -> None:
    d = opened(qtbot, LoginDialog("ws://127.0.0.1:8765", "dana"))
    assert d.objectName() == "loginDialog"
    assert QApplication.focusWidget() is field(d, "loginPassword")
    assert field(d, "loginPassword").echoMode() == QLineEdit.EchoMode.Password
    d2 = opened(qtbot, LoginDialog("ws://127.0.0.1:8765", ""))
    assert QApplication.focusWidget() is field(d2, "loginUser")
    d3 = opened(qtbot, LoginDialog("", ""))
    assert QApplication.focusWidget() is field(d3, "loginServer")


def test_login_sign_in_emits_the_credentials_and_turns_busy(qtbot: Any) -> None:
    d = opened(qtbot, LoginDialog("ws://127.0.0.1:8765", "dana"))
    password = field(d, "loginPassword")
    qtbot.keyClicks(password, "s3cret pass")
    with qtbot.waitSignal(d.signInRequested, timeout=1000) as sig:
        qtbot.keyClick(password, Qt.Key.Key_Return)
    assert sig.args == ["ws://127.0.0.1:8765", "dana", "s3cret pass"]
    assert d.isVisible() and d.result() == 0  # Sign in does not accept by itself
    status = d.findChild(QLabel, "loginStatus")
    assert status.isVisible() and status.text() == "Signing in…"
    assert not password.isEnabled() and not d.findChild(QPushButton, "loginButton").isEnabled()
    assert d.findChild(QPushButton, "loginOffline").isEnabled()
    with qtbot.assertNotEmitted(d.signInRequested):
        qtbot.keyClick(d, Qt.Key.Key_Return)  # a second Enter while busy does nothing
    assert d.isVisible()
    d.set_busy(False)
    assert password.isEnabled() and not status.isVisible()
    with qtbot.waitSignal(d.accepted, timeout=1000):
        d.accept()
    assert d.credentials() == ("ws://127.0.0.1:8765", "dana", "")  # the password is not kept


def test_login_validation_inline(qtbot: Any) -> None:
    d = opened(qtbot, LoginDialog("", ""))
    error = d.findChild(QLabel, "loginError")
    sign_in = d.findChild(QPushButton, "loginButton")
    with qtbot.assertNotEmitted(d.signInRequested):
        qtbot.mouseClick(sign_in, Qt.MouseButton.LeftButton)
    assert error.isVisible() and "server address" in error.text()
    assert QApplication.focusWidget() is field(d, "loginServer")
    qtbot.keyClicks(field(d, "loginServer"), "http://sync.example.com")
    assert not error.isVisible()  # typing clears the old message
    with qtbot.assertNotEmitted(d.signInRequested):
        qtbot.keyClick(field(d, "loginServer"), Qt.Key.Key_Return)
    assert "ws:// or wss://" in error.text()
    field(d, "loginServer").setText("wss://sync.example.com")
    with qtbot.assertNotEmitted(d.signInRequested):
        qtbot.mouseClick(sign_in, Qt.MouseButton.LeftButton)
    assert error.text() == "Enter your user name." and QApplication.focusWidget() is field(d, "loginUser")
    qtbot.keyClicks(field(d, "loginUser"), "  dana ")
    with qtbot.assertNotEmitted(d.signInRequested):
        qtbot.mouseClick(sign_in, Qt.MouseButton.LeftButton)
    assert error.text() == "Enter your password." and QApplication.focusWidget() is field(d, "loginPassword")
    qtbot.keyClicks(field(d, "loginPassword"), "pw")
    with qtbot.waitSignal(d.signInRequested, timeout=1000) as sig:
        qtbot.mouseClick(sign_in, Qt.MouseButton.LeftButton)
    assert sig.args == ["wss://sync.example.com", "dana", "pw"]


def test_login_error_keeps_server_and_user_and_asks_for_the_password_again(qtbot: Any) -> None:
    d = opened(qtbot, LoginDialog("ws://127.0.0.1:8765", "dana"))
    qtbot.keyClicks(field(d, "loginPassword"), "wrong")
    with qtbot.waitSignal(d.signInRequested, timeout=1000):
        qtbot.keyClick(field(d, "loginPassword"), Qt.Key.Key_Return)
    d.show_error("That user name and password don't match. Try again.")
    error = d.findChild(QLabel, "loginError")
    assert error.isVisible() and error.text() == "That user name and password don't match. Try again."
    assert field(d, "loginServer").text() == "ws://127.0.0.1:8765" and field(d, "loginUser").text() == "dana"
    assert field(d, "loginPassword").text() == "" and field(d, "loginPassword").isEnabled()
    assert QApplication.focusWidget() is field(d, "loginPassword")
    assert not d.findChild(QLabel, "loginStatus").isVisible() and d.isVisible()
    qtbot.keyClicks(field(d, "loginPassword"), "right")
    with qtbot.waitSignal(d.signInRequested, timeout=1000) as sig:
        qtbot.keyClick(field(d, "loginPassword"), Qt.Key.Key_Return)
    assert sig.args == ["ws://127.0.0.1:8765", "dana", "right"]


def test_work_offline_rejects_without_signing_in(qtbot: Any) -> None:
    d = opened(qtbot, LoginDialog("ws://127.0.0.1:8765", "dana"))
    qtbot.keyClicks(field(d, "loginPassword"), "pw")
    offline = d.findChild(QPushButton, "loginOffline")
    assert offline.accessibleName() == "Work offline"
    with qtbot.assertNotEmitted(d.signInRequested), qtbot.waitSignal(d.rejected, timeout=1000):
        offline.setFocus()
        qtbot.keyClick(offline, Qt.Key.Key_Space)
    assert not d.isVisible() and d.credentials()[2] == ""


def test_login_controls_are_named(qtbot: Any) -> None:
    d = LoginDialog("ws://127.0.0.1:8765", "dana")
    qtbot.addWidget(d)
    for name in ("loginServer", "loginUser", "loginPassword", "loginButton", "loginOffline"):
        w = d.findChild(QWidget, name)
        assert w is not None and w.accessibleName(), name
    assert d.findChild(QPushButton, "loginButton").isDefault()
    assert "never" in d.findChild(QLabel, "loginNote").text()


# -- conflicts ----------------------------------------------------------------------------------------
def conflict(cid: str, field_label: str = "Street", **kw: Any) -> dict[str, Any]:
    base = dict(
        id=cid,
        entity="locations",
        entity_label="Location: 12 Oak St",
        field="street",
        field_label=field_label,
        mine="12 Oak St",
        theirs="12 Oak Street",
        theirs_by="Dana",
        theirs_at="today 10:42",
    )
    return base | kw


@pytest.fixture
def conflicts(qtbot: Any) -> tuple[QWidget, ConflictsPanel, QLineEdit, QLineEdit]:
    host = QWidget()
    layout = QVBoxLayout(host)
    before = QLineEdit(host)  # the Tab chain follows creation order: before, panel, after
    panel = ConflictsPanel(host)
    after = QLineEdit(host)
    for w in (before, panel, after):
        layout.addWidget(w)
    qtbot.addWidget(host)
    show_active(qtbot, host)
    return host, panel, before, after


def test_conflicts_hidden_when_empty(conflicts: Any) -> None:
    _, panel, _, _ = conflicts
    assert panel.objectName() == "conflictsPanel" and not panel.isVisible()
    panel.set_conflicts([conflict("x1")])
    assert panel.isVisible()
    panel.set_conflicts([])
    assert not panel.isVisible() and panel.count() == 0


def test_conflict_rows_show_both_sides(conflicts: Any) -> None:
    _, panel, _, _ = conflicts
    panel.set_conflicts(
        [
            conflict("x1"),
            conflict(
                "x2",
                "Name",
                entity="customers",
                entity_label="Customer",
                mine="<b>Ana</b> & co",
                theirs="",
                theirs_by="Sam",
                theirs_at="",
            ),
        ]
    )
    header = panel.findChild(QLabel, "conflictsHeader")
    assert header.text() == "2 changes clash with another CSR's edits"
    rows = [r for r in panel.rows if r.isVisible()]
    assert len(rows) == 2
    texts = [
        [row.findChild(QLabel, n).text() for n in ("conflictTitle", "conflictMine", "conflictTheirs")]
        for row in rows
    ]
    assert texts[0] == [
        "Location: 12 Oak St — Street",
        "Yours: 12 Oak St",
        "Theirs (Dana, today 10:42): 12 Oak Street",
    ]
    assert texts[1] == ["Customer — Name", "Yours: <b>Ana</b> & co", "Theirs (Sam): (empty)"]
    assert rows[1].findChild(QLabel, "conflictMine").textFormat() == Qt.TextFormat.PlainText
    mine = rows[0].findChild(QPushButton, "keepMineButton")
    theirs = rows[0].findChild(QPushButton, "keepTheirsButton")
    assert (mine.text(), theirs.text()) == ("Keep mine", "Keep theirs")
    assert "Street" in mine.accessibleName() and "Street" in theirs.accessibleName()
    assert "&" not in mine.text() + theirs.text()
    panel.set_conflicts([conflict("x2")])
    assert panel.findChild(QLabel, "conflictsHeader").text() == "1 change clashes with another CSR's edit"
    assert panel.conflict_ids() == ["x2"]


def test_conflict_buttons_emit_id_and_choice_by_click_and_keyboard(qtbot: Any, conflicts: Any) -> None:
    _, panel, before, after = conflicts
    panel.set_conflicts([conflict("x1"), conflict("x2", "City")])
    rows = panel.rows
    with qtbot.waitSignal(panel.resolveRequested, timeout=1000) as sig:
        qtbot.mouseClick(rows[1].findChild(QPushButton, "keepTheirsButton"), Qt.MouseButton.LeftButton)
    assert sig.args == ["x2", "theirs"]
    # Tab from the field before the panel walks the buttons in row order, then leaves the panel.
    before.setFocus()
    order = []
    for _ in range(5):
        qtbot.keyClick(QApplication.focusWidget(), Qt.Key.Key_Tab)
        order.append(QApplication.focusWidget())
    assert order == [
        rows[0].findChild(QPushButton, "keepMineButton"),
        rows[0].findChild(QPushButton, "keepTheirsButton"),
        rows[1].findChild(QPushButton, "keepMineButton"),
        rows[1].findChild(QPushButton, "keepTheirsButton"),
        after,
    ]
    rows[0].findChild(QPushButton, "keepMineButton").setFocus()
    with qtbot.waitSignal(panel.resolveRequested, timeout=1000) as sig:
        qtbot.keyClick(QApplication.focusWidget(), Qt.Key.Key_Space)
    assert sig.args == ["x1", "mine"]
    # The owner resolves x1 and shows what is left: the keyboard stays in the panel.
    panel.set_conflicts([conflict("x2", "City")])
    assert QApplication.focusWidget() is panel.rows[0].findChild(QPushButton, "keepMineButton")


# -- sync problems -------------------------------------------------------------------------------------
@pytest.fixture
def problems(qtbot: Any) -> SyncProblemsDialog:
    d = SyncProblemsDialog()
    qtbot.addWidget(d)
    return d


def test_problems_add_update_and_open(qtbot: Any, problems: SyncProblemsDialog) -> None:
    assert problems.objectName() == "syncProblems" and problems.count() == 0 and not problems.isModal()
    problems.add(
        "rejected",
        "New customer Ana Lopez",
        "The server refused it: the ZIP code is not valid.",
        None,
        "outbox:7",
    )
    problems.add(
        "flagged",
        "Job 1042 for Ana Lopez",
        "Its time slot filled up while you were offline.",
        "Reschedule",
        "job:1042",
    )
    assert problems.count() == 2 and problems.keys() == ["outbox:7", "job:1042"]
    problems.add("flagged", "Job 1042 for Ana Lopez", "Still needs a new time.", "Reschedule", "job:1042")
    assert problems.count() == 2
    lst = problems.findChild(QWidget, "syncProblemsList")
    assert lst.item(1).text() == "Job 1042 for Ana Lopez\nStill needs a new time."
    show_active(qtbot, problems)
    open_button = problems.findChild(QPushButton, "syncProblemsOpen")
    assert open_button.text() == "Reschedule"
    lst.setFocus()
    with qtbot.waitSignal(problems.openRequested, timeout=1000) as sig:
        qtbot.keyClick(lst, Qt.Key.Key_Return)
    assert sig.args == ["job:1042"] and problems.isVisible()  # Enter opens, it does not close
    lst.setCurrentRow(0)
    assert open_button.text() == "Open"
    with qtbot.waitSignal(problems.openRequested, timeout=1000) as sig:
        qtbot.mouseClick(open_button, Qt.MouseButton.LeftButton)
    assert sig.args == ["outbox:7"]


def test_problems_dismiss(qtbot: Any, problems: SyncProblemsDialog) -> None:
    problems.add("rejected", "Note for Ana Lopez", "The customer was deleted.", None, "a")
    problems.add("rejected", "Tag change for Ana Lopez", "", None, "b")
    show_active(qtbot, problems)
    lst = problems.findChild(QWidget, "syncProblemsList")
    lst.setCurrentRow(0)
    dismiss = problems.findChild(QPushButton, "syncProblemsDismiss")
    with qtbot.waitSignal(problems.dismissed, timeout=1000) as sig:
        qtbot.mouseClick(dismiss, Qt.MouseButton.LeftButton)
    assert sig.args == ["a"] and problems.keys() == ["b"]
    lst.setFocus()
    lst.setCurrentRow(0)
    with qtbot.waitSignal(problems.dismissed, timeout=1000) as sig:
        qtbot.keyClick(lst, Qt.Key.Key_Delete)
    assert sig.args == ["b"] and problems.count() == 0 and not dismiss.isEnabled()
    assert problems.remove("missing") is False


def test_problems_notification_text() -> None:
    assert (
        notification_text("rejected", "New customer Ana Lopez", "the ZIP code is not valid")
        == "Not saved on the server: New customer Ana Lopez — the ZIP code is not valid. See Sync problems."
    )
    assert notification_text("flagged", "Job 1042") == "Needs your attention: Job 1042. See Sync problems."


def test_a_status_bar_message_gets_the_room_the_sync_ages_reserve(qtbot: Any) -> None:
    """At 1366 px the ages' reserved width left a message ~280 px ("A second call reached your phone
    while you were…" cut off): while a message shows, the ages step aside; they come back after."""
    from PySide6.QtWidgets import QMainWindow

    window = QMainWindow()
    window.resize(1366, 400)
    status = SyncStatus(window)
    window.statusBar().addPermanentWidget(status)
    window.statusBar().messageChanged.connect(lambda text: status.make_room(bool(text)))
    qtbot.addWidget(window)
    show_active(qtbot, window)
    status.show_status("online", 0, None, 4.0)
    reserved = status.age_label.minimumWidth()
    assert status.age_label.isVisible() and reserved > 150
    before = status.width()

    window.statusBar().showMessage(
        "Busy: sip:+15550100@example reached your phone while another call was ringing"
    )
    qtbot.waitUntil(lambda: status.width() <= before - reserved + 20)
    assert not status.age_label.isVisible()
    assert "synced" in status.accessibleDescription()  # still told to a screen reader and the tooltip

    window.statusBar().clearMessage()
    qtbot.waitUntil(lambda: status.age_label.isVisible())
    assert status.age_label.minimumWidth() == reserved
    assert status.age_label.text().startswith("synced")
