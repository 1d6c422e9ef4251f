"""Call review (widgets/call_review.py, console/review_controller.py): the calls shown oldest first,
every action by keyboard emitting plain data, Listen only with a recording, accessible names and
mnemonics, and end to end through the real controller, writer and cache; the tab only for
supervisors and up."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, replace
from typing import Any

import pytest
from PySide6.QtCore import QDate, Qt
from PySide6.QtGui import QFont
from PySide6.QtWidgets import QApplication, QComboBox, QLabel, QToolButton, QVBoxLayout, QWidget
from sqlalchemy import select

from console.main_window import MainWindow
from console.review_controller import NO_SERVER, ReviewController, install
from console.settings import open_settings
from models.call_review import review_calls, review_choices
from models.db import Cache
from models.journal import OutboxEntry
from models.writer import LocalWriter
from tests.gui.helpers import show_active, wait_for_workers
from tests.gui.test_mnemonics import mnemonic, visible_mnemonics
from tests.unit.booking_setup import NOW
from tests.unit.review_setup import RECORDING, THURSDAY, TODAY, TZ, ReviewSetup, build_review_setup
from widgets.call_review import CallReview
from widgets.call_review_dialogs import AttachAgentDialog, ExcuseDialog, ReasonDialog, TagsDialog

Ctrl = Qt.KeyboardModifier.ControlModifier
Shift = Qt.KeyboardModifier.ShiftModifier
Alt = Qt.KeyboardModifier.AltModifier


@dataclass
class Desk:
    window: QWidget
    review: CallReview
    controller: ReviewController
    cache: Cache
    setup: ReviewSetup
    opened: list[str]
    qtbot: Any

    def settle(self) -> None:
        """The review's reads run on its worker: wait for the answer, as the manager waits to see it."""
        wait_for_workers(self.qtbot, self.window)

    def column(self, column: int) -> list[str]:
        model = self.review.model
        return [model.index(r, column).data() for r in range(model.rowCount())]

    def outbox(self) -> list[OutboxEntry]:
        with self.cache.sessions() as s:
            return list(s.scalars(select(OutboxEntry).order_by(OutboxEntry.seq)))

    def history(self) -> list[str]:
        return [self.review.history.item(i).text() for i in range(self.review.history.count())]


@pytest.fixture
def desk(qtbot: Any, cache: Cache) -> Iterator[Desk]:
    with cache.sessions.begin() as s:
        setup = build_review_setup(s)
    writer = LocalWriter(cache.sessions, actor="Pat Morgan", clock=lambda: NOW)
    window = QWidget()
    window.resize(1200, 700)
    review = CallReview(window, today=TODAY)
    QVBoxLayout(window).addWidget(review)
    opened: list[str] = []  # the calls whose recording was asked for (the server sends it)
    controller = ReviewController(
        window, cache, writer, lambda: TODAY, lambda: TZ, widget=review, play=opened.append
    )
    qtbot.addWidget(window)
    show_active(qtbot, window)
    review.set_period("yesterday")  # Thursday: the refresh follows the filter
    desk = Desk(window, review, controller, cache, setup, opened, qtbot)
    desk.settle()
    yield desk


def active(qtbot: Any, dialog: QWidget | None) -> Any:
    assert dialog is not None and dialog.isVisible()
    qtbot.waitUntil(dialog.isActiveWindow, timeout=1000)
    return dialog


def press(qtbot: Any, key: Qt.Key, modifier: Qt.KeyboardModifier = Qt.KeyboardModifier.NoModifier) -> None:
    qtbot.keyClick(QApplication.focusWidget(), key, modifier)


def type_text(qtbot: Any, text: str) -> None:
    qtbot.keyClicks(QApplication.focusWidget(), text)


def rows_of(cache: Cache, first=THURSDAY, last=THURSDAY) -> list:
    with cache.sessions() as s:
        return review_calls(s, first=first, last=last, tz=TZ)


# -- the widget alone ------------------------------------------------------------------------------------------
@pytest.fixture
def lone(qtbot: Any, cache: Cache) -> Iterator[tuple[CallReview, ReviewSetup, Cache]]:
    with cache.sessions.begin() as s:
        setup = build_review_setup(s)
    with cache.sessions() as s:
        choices = review_choices(s)
    review = CallReview(today=TODAY)
    review.resize(1200, 600)
    review.set_users(choices.users)
    review.set_reasons(choices.reasons)
    review.show_rows(rows_of(cache))
    qtbot.addWidget(review)
    show_active(qtbot, review)
    review.focus_list()
    yield review, setup, cache


def test_rows_are_shown_oldest_first_and_the_model_is_sound(qtbot: Any, lone, qtmodeltester: Any) -> None:
    review, setup, _cache = lone
    model = review.model
    assert review.objectName() == "callReview" and review.view.objectName() == "callReviewTable"
    assert [model.index(r, 0).data() for r in range(model.rowCount())] == [
        "Thu Nov 26, 8:00 AM",
        "Thu Nov 26, 9:00 AM",
        "Thu Nov 26, 12:00 PM",
        "Thu Nov 26, 11:30 PM",
    ]
    assert [model.index(r, 1).data() for r in range(4)] == [
        "(214) 555-0101",
        "Unknown caller",
        "(214) 555-0101",
        "(214) 555-0101",
    ]
    first = [model.index(0, c).data() for c in range(model.columnCount())]
    assert first == [
        "Thu Nov 26, 8:00 AM",
        "(214) 555-0101",
        "Maria Garcia",
        "Google Local Services",
        "Dana Reyes",
        "3:00",
        "Unbooked",
        "",
        "",
        "",  # claimed by a CSR: no callback
    ]
    # An Abandoned call shows its callback's state; the unknown caller has none (nobody to call back).
    assert [(model.index(r, 6).data(), model.index(r, 9).data()) for r in range(4)] == [
        ("Unbooked", ""),
        ("Abandoned", ""),
        ("Abandoned", "Callback open"),
        ("Abandoned", "Callback open"),
    ]
    assert model.index(1, 4).data() == "Nobody" and model.index(1, 5).data() == "Not answered"
    assert model.index(1, 5).data(Qt.ItemDataRole.ToolTipRole) == "Rang 0:40, not answered"
    assert review.current_call_id() == setup.calls["unbooked"]
    assert "Maria Garcia · (214) 555-0101" in review.details.text()
    assert "CSR: Dana Reyes" in review.details.text() and "Recording: none" in review.details.text()
    qtmodeltester.check(model)


def test_listen_is_disabled_without_a_recording(qtbot: Any, lone) -> None:
    review, _setup, cache = lone
    assert not review.listen_action.isEnabled() and not review.buttons["callReviewListen"].isEnabled()
    with qtbot.assertNotEmitted(review.listenRequested):
        press(qtbot, Qt.Key.Key_P, Ctrl)
    review.show_rows(rows_of(cache, TODAY, TODAY))
    assert review.current_call().recording_url == RECORDING
    assert review.listen_action.isEnabled()
    review.focus_list()
    with qtbot.waitSignal(review.listenRequested) as got:
        press(qtbot, Qt.Key.Key_P, Ctrl)
    assert got.args == [review.current_call().id]
    rect = review.view.visualRect(review.model.index(0, 1))
    qtbot.mouseClick(review.view.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    with qtbot.waitSignal(review.listenRequested):
        qtbot.mouseDClick(review.view.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())


def test_attach_by_keyboard_emits_the_call_and_the_user(qtbot: Any, lone) -> None:
    review, setup, _cache = lone
    review.select_row(3)  # the late call nobody clicked
    press(qtbot, Qt.Key.Key_A, Ctrl | Shift)
    dialog = active(qtbot, review.dialog)
    assert isinstance(dialog, AttachAgentDialog) and dialog.agent.hasFocus()
    assert dialog.agent.currentData() == ""  # nobody is preselected: the call had no CSR
    press(qtbot, Qt.Key.Key_Return)
    assert dialog.isVisible() and dialog.error_text("agent_id") == "Pick the CSR who took the call."
    type_text(qtbot, "Lee")
    with qtbot.waitSignal(review.attachRequested) as got:
        press(qtbot, Qt.Key.Key_Return)
    assert got.args == [setup.calls["late"], "lee"]
    qtbot.waitUntil(lambda: review.dialog is None)
    items = _combo_texts(AttachAgentDialog(review.current_call(), review.users))
    assert "Pat Morgan (manager)" in items and "Dana Reyes" in items and "Gone Person" not in items


def _combo_texts(dialog: AttachAgentDialog) -> list[str]:
    combo = dialog.agent
    texts = [combo.itemText(i) for i in range(combo.count())]
    dialog.deleteLater()
    return texts


def test_reclassify_by_keyboard_emits_the_reason(qtbot: Any, lone) -> None:
    review, setup, _cache = lone
    press(qtbot, Qt.Key.Key_R, Ctrl)
    dialog = active(qtbot, review.dialog)
    assert isinstance(dialog, ReasonDialog)
    assert [dialog.reason.itemText(i) for i in range(dialog.reason.count())] == [
        "Choose a call reason…",
        "Wants a quote (lead)",
        "Wrong number",
    ]
    type_text(qtbot, "Wr")
    with qtbot.waitSignal(review.reclassifyRequested) as got:
        press(qtbot, Qt.Key.Key_Return)
    assert got.args == [setup.calls["unbooked"], "wrong"]


def test_excuse_needs_a_memo_and_emits_it(qtbot: Any, lone) -> None:
    review, setup, _cache = lone
    assert not review.unexcuse_action.isEnabled()
    press(qtbot, Qt.Key.Key_X, Ctrl | Shift)
    dialog = active(qtbot, review.dialog)
    assert isinstance(dialog, ExcuseDialog) and dialog.memo.hasFocus() and dialog.memo.maxLength() == 500
    with qtbot.assertNotEmitted(review.excuseRequested):
        press(qtbot, Qt.Key.Key_Return)
    assert dialog.error_text("memo") == "Write why the call is excused." and dialog.isVisible()
    type_text(qtbot, "Asked for the gas company")
    with qtbot.waitSignal(review.excuseRequested) as got:
        press(qtbot, Qt.Key.Key_Return)
    assert got.args == [setup.calls["unbooked"], "Asked for the gas company"]


def test_escape_cancels_and_emits_nothing(qtbot: Any, lone) -> None:
    review, _setup, _cache = lone
    press(qtbot, Qt.Key.Key_T, Ctrl)
    dialog = active(qtbot, review.dialog)
    assert isinstance(dialog, TagsDialog)
    type_text(qtbot, "Call back")
    with qtbot.assertNotEmitted(review.tagsRequested):
        press(qtbot, Qt.Key.Key_Escape)
    qtbot.waitUntil(lambda: review.dialog is None)


def test_tags_by_keyboard_emit_the_names(qtbot: Any, lone) -> None:
    review, setup, _cache = lone
    review.select_row(1)
    press(qtbot, Qt.Key.Key_T, Ctrl)
    active(qtbot, review.dialog)
    type_text(qtbot, "Call back, after hours, , call back")
    with qtbot.waitSignal(review.tagsRequested) as got:
        press(qtbot, Qt.Key.Key_Return)
    assert got.args == [setup.calls["abandoned"], ["Call back", "after hours"]]


def test_unexcuse_is_for_an_excused_call(qtbot: Any, lone) -> None:
    review, setup, _cache = lone
    with qtbot.assertNotEmitted(review.unexcuseRequested):
        press(qtbot, Qt.Key.Key_U, Ctrl | Shift)
    excused = [
        replace(r, excused=True, classification="Excused", excuse_memo="Line test") if i == 0 else r
        for i, r in enumerate(review.model.rows())
    ]
    review.show_rows(excused)
    assert review.unexcuse_action.isEnabled()
    assert review.model.index(0, 6).data() == "Excused (was Unbooked)"
    assert review.model.index(0, 6).data(Qt.ItemDataRole.ToolTipRole) == "Excused: Line test"
    assert isinstance(review.model.index(0, 0).data(Qt.ItemDataRole.FontRole), QFont)
    assert "Excused: Line test" in review.details.text()
    with qtbot.waitSignal(review.unexcuseRequested) as got:
        press(qtbot, Qt.Key.Key_U, Ctrl | Shift)
    assert got.args == [setup.calls["unbooked"]]


def test_keyboard_reach_accessible_names_and_unique_mnemonics(qtbot: Any, lone) -> None:
    review, _setup, _cache = lone
    names = {b.objectName(): b.accessibleName() for b in review.findChildren(QToolButton)}
    assert names == {
        "callReviewListen": "Listen",
        "callReviewAttach": "Attach CSR",
        "callReviewReclassify": "Reclassify",
        "callReviewExcuse": "Excuse",
        "callReviewUnexcuse": "Un-excuse",
        "callReviewTags": "Tags",
    }
    for widget in (
        review.period_combo,
        review.from_edit,
        review.to_edit,
        review.kind_combo,
        review.view,
        review.history,
        review.details,
    ):
        assert widget.accessibleName(), widget.objectName()
    shortcuts = [
        a.shortcut().toString()
        for a in (
            review.listen_action,
            review.attach_action,
            review.reclassify_action,
            review.excuse_action,
            review.unexcuse_action,
            review.tags_action,
        )
    ]
    assert shortcuts == ["Ctrl+P", "Ctrl+Shift+A", "Ctrl+R", "Ctrl+Shift+X", "Ctrl+Shift+U", "Ctrl+T"]
    letters = [mnemonic(label.text()) for label in review.findChildren(QLabel) if label.buddy() is not None]
    assert sorted(letters) == ["f", "l", "p", "s", "t", "y"]
    for key, target in (
        (Qt.Key.Key_P, review.period_combo),
        (Qt.Key.Key_S, review.kind_combo),
        (Qt.Key.Key_Y, review.history),
        (Qt.Key.Key_L, review.view),
    ):
        press(qtbot, key, Alt)
        assert QApplication.focusWidget() is target, key
    # Tab walks the filters, the list, the actions, then the history.
    review.period_combo.setFocus()
    seen = []
    for _ in range(12):
        seen.append(QApplication.focusWidget().objectName())
        press(qtbot, Qt.Key.Key_Tab)
    assert seen[:2] == ["callReviewPeriod", "callReviewKind"]  # the dates are off for a preset period
    assert seen[2] == "callReviewTable" and "callReviewHistory" in seen


def test_periods_and_kinds(qtbot: Any, lone) -> None:
    review, _setup, _cache = lone
    assert review.period() == "today" and review.date_range() == (TODAY, TODAY)
    assert not review.from_edit.isEnabled()
    with qtbot.waitSignal(review.filterChanged):
        review.period_combo.setCurrentIndex(review.period_combo.findData("week"))
    assert review.date_range() == (TODAY.replace(day=23), TODAY)
    assert review.from_edit.date() == QDate(2026, 11, 23)  # the dates show what the preset means
    with qtbot.waitSignal(review.filterChanged):
        review.period_combo.setCurrentIndex(review.period_combo.findData("custom"))
    assert review.from_edit.isEnabled() and review.to_edit.isEnabled()
    with qtbot.waitSignal(review.filterChanged):
        review.from_edit.setDate(QDate(2026, 11, 30))
    assert review.date_range() == (TODAY, TODAY.replace(day=30))  # backwards: turned round
    with qtbot.waitSignal(review.filterChanged):
        review.kind_combo.setCurrentIndex(1)
    assert review.kinds() == ("Abandoned",)
    review.set_kinds(("Unbooked",))
    assert review.kinds() == ("Unbooked",) and isinstance(review.kind_combo, QComboBox)
    review.show_rows([])
    assert review.empty_label.isVisible() and review.empty_label.text() == "No unbooked calls in these dates."
    assert (
        not review.excuse_action.isEnabled() and review.details.text() == "Choose a call to see its details."
    )


# -- through the controller --------------------------------------------------------------------------------
def test_the_controller_lists_yesterdays_calls_and_attaches_the_csr(qtbot: Any, desk: Desk) -> None:
    c = desk.setup.calls
    assert desk.column(1) == ["(214) 555-0101", "Unknown caller", "(214) 555-0101", "(214) 555-0101"]
    assert desk.history() == ["No changes yet."]
    desk.review.select_call(c["late"])
    desk.settle()
    desk.review.attachRequested.emit(c["late"], "lee")
    desk.settle()
    (row,) = desk.outbox()
    assert row.name == "attach_agent" and row.args == {"call_id": c["late"], "agent_id": "lee"}
    assert desk.review.current_call_id() == c["late"]
    assert desk.review.current_call().agent_name == "Lee Chen" and desk.column(6)[3] == "Unbooked"
    assert desk.review.message_label.text() == "Saved on this PC. The call is Unbooked."
    (entry,) = desk.history()
    assert entry.endswith("— Pat Morgan: Attached Lee Chen (saved on this PC)")


def test_a_call_that_leaves_the_list_is_taken_out(qtbot: Any, desk: Desk) -> None:
    c = desk.setup.calls
    desk.review.select_call(c["booked"])
    desk.settle()
    with qtbot.waitSignal(desk.controller.outboxChanged):
        desk.review.attachRequested.emit(c["booked"], "dana")
    desk.settle()
    assert c["booked"] not in [r.id for r in desk.review.model.rows()]
    assert desk.review.message_label.text() == "Saved on this PC. The call is now Booked — it left this list."
    assert desk.review.current_call_id() == c["late"]  # the next call takes its place
    desk.review.reclassifyRequested.emit(c["unbooked"], "wrong")
    desk.settle()
    assert "now Not a lead" in desk.review.message_label.text()


def test_excuse_and_unexcuse_through_the_controller(qtbot: Any, desk: Desk) -> None:
    c = desk.setup.calls
    desk.review.excuseRequested.emit(c["unbooked"], "Gas company")
    desk.settle()
    row = desk.review.model.rows()[0]
    assert row.excused and row.classification == "Excused" and desk.column(6)[0] == "Excused (was Unbooked)"
    assert desk.review.unexcuse_action.isEnabled()
    assert desk.review.message_label.text() == "Saved on this PC. The call is Excused (was Unbooked)."
    desk.review.unexcuseRequested.emit(c["unbooked"])
    desk.settle()
    assert desk.column(6)[0] == "Unbooked" and not desk.review.unexcuse_action.isEnabled()
    assert [h.split(": ", 1)[1] for h in desk.history()] == [
        "Excuse withdrawn (saved on this PC)",
        "Excused: Gas company (saved on this PC)",
    ]
    desk.review.tagsRequested.emit(c["unbooked"], ["Call back"])
    desk.settle()
    assert desk.column(8)[0] == "Call back"
    assert [o.name for o in desk.outbox()] == ["excuse_call", "unexcuse_call", "tag_call"]


def test_a_refusal_is_shown_in_the_review_and_nothing_is_queued(qtbot: Any, desk: Desk) -> None:
    with qtbot.waitSignal(desk.controller.errorOccurred) as got:
        desk.review.excuseRequested.emit(desk.setup.calls["unbooked"], "   ")
        desk.settle()
    assert got.args == ["Write why the call is excused."]
    assert desk.review.message_label.text() == "Write why the call is excused."
    assert desk.review.message_label.accessibleName() == "Error" and desk.outbox() == []
    desk.review.attachRequested.emit(desk.setup.calls["late"], "gone")
    desk.settle()
    assert "not an active user" in desk.review.message_label.text()


def test_listen_opens_the_recording_or_says_why_not(qtbot: Any, desk: Desk) -> None:
    desk.review.set_period("today")
    desk.settle()
    assert desk.column(1) == ["(214) 555-0101"] and desk.review.listen_action.isEnabled()
    desk.review.focus_list()
    press(qtbot, Qt.Key.Key_P, Ctrl)
    assert desk.opened == [desk.review.current_call().id] and not desk.review.message_label.isVisible()
    desk.controller.play = None  # not signed in to a server: told, nothing opened
    desk.controller.listen(desk.review.current_call().id)
    assert desk.review.message_label.text() == NO_SERVER


def test_refresh_reads_the_period_from_the_companys_today(qtbot: Any, desk: Desk) -> None:
    desk.review.set_period("week")
    desk.settle()
    assert len(desk.column(0)) == 5  # Thursday's four and Friday's one
    desk.review.set_period("custom", THURSDAY, THURSDAY)
    desk.settle()
    assert len(desk.column(0)) == 4
    desk.review.set_kinds(("Unbooked",))
    desk.settle()
    assert desk.column(6) == ["Unbooked"]


# -- the tab ------------------------------------------------------------------------------------------------
@pytest.fixture
def main_window(qtbot: Any, tmp_path: Any) -> Iterator[MainWindow]:
    window = MainWindow(open_settings(tmp_path))
    qtbot.addWidget(window)
    show_active(qtbot, window)
    yield window


def test_the_tab_is_for_supervisors_and_up(qtbot: Any, main_window: MainWindow, cache: Cache) -> None:
    with cache.sessions.begin() as s:
        build_review_setup(s)
    writer = LocalWriter(cache.sessions, actor="Pat Morgan")
    tabs = main_window.work_tabs
    count = tabs.count()
    kwargs = {"today_fn": lambda: TODAY, "tz_fn": lambda: TZ}
    assert install(main_window, cache, writer, role="csr", **kwargs) is None and tabs.count() == count
    controller = install(main_window, cache, writer, role="manager", **kwargs)
    assert controller is not None and tabs.count() == count + 1
    assert tabs.tabText(count) == "Call review" and tabs.widget(count).objectName() == "callReview"
    assert install(main_window, cache, writer, role="supervisor", **kwargs) is controller
    # Ctrl+Shift+R opens it anywhere in the window, and it reads the calls as it opens.
    main_window.lookup.search.setFocus()
    press(qtbot, Qt.Key.Key_R, Ctrl | Shift)
    wait_for_workers(qtbot, main_window)
    assert tabs.currentWidget() is controller.widget and controller.widget.model.rowCount() == 1  # today's
    assert QApplication.focusWidget() is controller.widget.view
    # On the screen with the review open, each Alt+letter does one thing.
    found = visible_mnemonics(main_window)
    clashes = {letter: who for letter, who in found.items() if len(who) > 1}
    assert not clashes and {"p", "s", "l", "y"} <= set(found)
    # A CSR signing in on this console after the manager: the review goes.
    assert install(main_window, cache, writer, role="csr", **kwargs) is None
    qtbot.waitUntil(lambda: tabs.count() == count)
    assert main_window.findChild(ReviewController) is None
    assert (
        install(main_window, cache, writer, role="admin", **kwargs) is not None and tabs.count() == count + 1
    )


def test_the_pane_says_voicemail_with_its_length_not_unanswered(lone) -> None:
    import dataclasses

    from widgets.call_review_pane import details_text

    review, _setup, cache = lone
    base = next(r for r in rows_of(cache) if not r.answered)
    vm = dataclasses.replace(
        base, routed_to="voicemail", recording_url="https://rec/vm", recording_seconds=14
    )
    text = details_text(vm)
    assert "left a voicemail (0:14)" in text, text
    assert "Voicemail: ready — Listen (Ctrl+P)" in text and "not answered" not in text
    asked = details_text(dataclasses.replace(base, routed_to="callback", recording_url=""))
    assert "asked to be called back" in asked
    silent = details_text(dataclasses.replace(base, routed_to="voicemail", recording_url=""))
    assert "reached voicemail, left no message" in silent
