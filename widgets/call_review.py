"""Call review (`callReview`), for supervisors and managers: the Abandoned and Unbooked calls of a
period, oldest first, with the chosen call's details and its history beside them. Shows plain
``ReviewRow``s and ``HistoryEntry``s and emits requests with plain data; it never touches the cache.

Keyboard: Alt+P period, Alt+F / Alt+T custom dates, Alt+S which calls, Alt+L the list, Alt+Y the
history; anywhere in the review Ctrl+P listens to the recording (or a double-click), Ctrl+Shift+A
attaches the CSR, Ctrl+R reclassifies, Ctrl+Shift+X excuses, Ctrl+Shift+U withdraws the excuse and
Ctrl+T tags.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QAction, QKeySequence, QResizeEvent
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QHBoxLayout,
    QLabel,
    QSplitter,
    QStackedWidget,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from models.call_review import REVIEW_KINDS, HistoryEntry, ReasonChoice, ReviewRow, UserChoice

from .call_review_dialogs import AttachAgentDialog, ExcuseDialog, ReasonDialog, TagsDialog
from .call_review_model import CallReviewModel
from .call_review_pane import CallReviewPane
from .row_list import PeriodMixin, RowListMixin, labelled, period_picker

__all__ = ["CallReview", "CallReviewModel"]

PERIODS = (
    ("Today", "today"),
    ("Yesterday", "yesterday"),
    ("This week", "week"),
    ("This month", "month"),
    ("Custom range", "custom"),
)
KINDS = (
    ("Abandoned and unbooked", ",".join(REVIEW_KINDS)),
    ("Abandoned", "Abandoned"),
    ("Unbooked", "Unbooked"),
)
SIDE_BY_SIDE_WIDTH = 900  # narrower than this, the details go under the list


class CallReview(RowListMixin, PeriodMixin, QWidget):
    """Filters, the calls, the chosen call's details and history, and the review actions."""

    current_call = RowListMixin.current_row
    current_call_id = RowListMixin.current_row_id
    select_call = RowListMixin.select_id

    filterChanged = Signal()  # period, dates or kinds changed: run the query again
    currentCallChanged = Signal(str)  # call id ("" when none): show its history
    listenRequested = Signal(str)  # the call's id (the server sends its recording, by role)
    attachRequested = Signal(str, str)  # call id, user id
    reclassifyRequested = Signal(str, str)  # call id, call reason id
    excuseRequested = Signal(str, str)  # call id, memo
    unexcuseRequested = Signal(str)  # call id
    tagsRequested = Signal(str, list)  # call id, tag names

    def __init__(self, parent: QWidget | None = None, *, today: date | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("callReview")
        self.setAccessibleName("Call review")
        self.model = CallReviewModel(self)
        self.users: tuple[UserChoice, ...] = ()
        self.reasons: tuple[ReasonChoice, ...] = ()
        self.dialog: QDialog | None = None  # the form open now, if any
        self._today = today or date.today()
        self._shown_call = ""
        self._quiet = False  # a new answer is being shown: one update at the end
        self._build()
        self._build_actions()
        self._connect_signals()
        self.set_today(self._today)
        self._show_current()

    # -- building ----------------------------------------------------------------------------------------
    def _build(self) -> None:
        self.period_combo, self.from_edit, self.to_edit = period_picker(self, "callReview", PERIODS)
        self.kind_combo = QComboBox(self)
        self.kind_combo.setObjectName("callReviewKind")
        self.kind_combo.setAccessibleName("Which calls")
        for text, kinds in KINDS:
            self.kind_combo.addItem(text, kinds)
        filters = QHBoxLayout()
        labelled(self, "&Period:", self.period_combo, filters)
        labelled(self, "&From:", self.from_edit, filters)
        labelled(self, "&To:", self.to_edit, filters)
        filters.addSpacing(12)
        labelled(self, "&Show:", self.kind_combo, filters)
        filters.addStretch(1)

        self.buttons: dict[str, QToolButton] = {}
        actions_row = QHBoxLayout()
        for name in (
            "callReviewListen",
            "callReviewAttach",
            "callReviewReclassify",
            "callReviewExcuse",
            "callReviewUnexcuse",
            "callReviewTags",
        ):
            button = QToolButton(self)
            button.setObjectName(name)
            button.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextOnly)
            self.buttons[name] = button
            actions_row.addWidget(button)
        actions_row.addStretch(1)

        self._build_list("callReviewTable", "Calls to review, oldest first", "callReviewMessage")
        self.view.horizontalHeader().setStretchLastSection(True)
        self.empty_label = QLabel(self)
        self.empty_label.setObjectName("callReviewEmpty")
        self.empty_label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.empty_label.setWordWrap(True)
        self._stack = QStackedWidget(self)
        self._stack.addWidget(self.empty_label)
        self._stack.addWidget(self.view)
        list_box = QWidget(self)
        list_layout = QVBoxLayout(list_box)
        list_layout.setContentsMargins(0, 0, 0, 0)
        calls_label = QLabel("Ca&lls:", list_box)
        calls_label.setBuddy(self.view)
        list_layout.addWidget(calls_label)
        list_layout.addWidget(self._stack, 1)

        self.pane = CallReviewPane(self)
        self.details, self.history = self.pane.details, self.pane.history

        self.splitter = QSplitter(Qt.Orientation.Horizontal, self)
        self.splitter.setObjectName("callReviewSplitter")
        self.splitter.addWidget(list_box)
        self.splitter.addWidget(self.pane)
        self.splitter.setStretchFactor(0, 3)
        self.splitter.setStretchFactor(1, 2)
        self.splitter.setChildrenCollapsible(False)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(filters)
        layout.addLayout(actions_row)
        layout.addWidget(self.message_label)
        layout.addWidget(self.splitter, 1)
        # A deliberate order: the filters, the list, the actions on its call, then that call's history.
        chain = [
            self.period_combo,
            self.from_edit,
            self.to_edit,
            self.kind_combo,
            self.view,
            *self.buttons.values(),
            self.history,
        ]
        for first, second in zip(chain, chain[1:], strict=False):
            self.setTabOrder(first, second)

    def _action(self, name: str, text: str, button: str, shortcut: str) -> QAction:
        action = QAction(text, self)
        action.setObjectName(f"{name}Action")
        action.setShortcut(QKeySequence(shortcut))
        action.setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
        key = QKeySequence(shortcut).toString(QKeySequence.SequenceFormat.NativeText)
        action.setToolTip(f"{text.rstrip('…')} ({key})")
        self.addAction(action)
        self.buttons[button].setDefaultAction(action)
        self.buttons[button].setAccessibleName(text.rstrip("…"))
        return action

    def _build_actions(self) -> None:
        self.listen_action = self._action("callReviewListen", "Listen", "callReviewListen", "Ctrl+P")
        self.attach_action = self._action(
            "callReviewAttach", "Attach CSR…", "callReviewAttach", "Ctrl+Shift+A"
        )
        self.reclassify_action = self._action(
            "callReviewReclassify", "Reclassify…", "callReviewReclassify", "Ctrl+R"
        )
        self.excuse_action = self._action("callReviewExcuse", "Excuse…", "callReviewExcuse", "Ctrl+Shift+X")
        self.unexcuse_action = self._action(
            "callReviewUnexcuse", "Un-excuse", "callReviewUnexcuse", "Ctrl+Shift+U"
        )
        self.tags_action = self._action("callReviewTags", "Tags…", "callReviewTags", "Ctrl+T")

    def _connect_signals(self) -> None:
        self.period_combo.currentIndexChanged.connect(lambda _i: self._period_changed(emit=True))
        self.from_edit.dateChanged.connect(lambda _d: self._dates_changed())
        self.to_edit.dateChanged.connect(lambda _d: self._dates_changed())
        self.kind_combo.currentIndexChanged.connect(lambda _i: self.filterChanged.emit())
        self.listen_action.triggered.connect(self._listen)
        self.attach_action.triggered.connect(self._attach)
        self.reclassify_action.triggered.connect(self._reclassify)
        self.excuse_action.triggered.connect(self._excuse)
        self.unexcuse_action.triggered.connect(self._unexcuse)
        self.tags_action.triggered.connect(self._tags)
        self.view.doubleClicked.connect(lambda _i: self._listen())
        self.view.selectionModel().currentRowChanged.connect(lambda *_a: self._show_current())
        for sig in (self.model.modelReset, self.model.rowsRemoved, self.model.dataChanged):
            sig.connect(lambda *_a: self._show_current())

    # -- filters ------------------------------------------------------------------------------------------
    def _period_chosen(self) -> None:
        self.filterChanged.emit()

    def kinds(self) -> tuple[str, ...]:
        """The classifications listed: ("Abandoned", "Unbooked"), ("Abandoned",) or ("Unbooked",)."""
        return tuple(str(self.kind_combo.currentData()).split(","))

    def set_kinds(self, kinds: Sequence[str]) -> None:
        self.kind_combo.setCurrentIndex(max(self.kind_combo.findData(",".join(kinds)), 0))

    # -- rows and the pane --------------------------------------------------------------------------------
    def show_rows(self, rows: Sequence[ReviewRow]) -> None:
        """Show a new query's answer, keeping the highlighted call when it is still listed."""
        keep = self.current_call_id()
        self._quiet = True
        try:
            self.model.set_rows(rows)
            self.select_call(keep)
        finally:
            self._quiet = False
        self._show_empty_state()
        self._show_current()

    def update_row(self, row: ReviewRow) -> None:
        """One listed call changed (a manager's edit): its row and the pane show it."""
        self.model.update_row(row)

    def remove_row(self, call_id: str) -> None:
        """A call left the list (now Booked, NotLead, …): the next one takes its place."""
        index = self.model.row_of(call_id)
        if self.model.remove_row(call_id):
            self.select_row(min(index, self.model.rowCount() - 1))
        self._show_empty_state()

    def show_history(self, entries: Sequence[HistoryEntry]) -> None:
        """The chosen call's audited changes, newest first."""
        self.pane.show_history(entries)

    def set_users(self, users: Sequence[UserChoice | tuple[str, str, str]]) -> None:
        """Who a call can be attached to: active users (id, name, role)."""
        self.users = tuple(u if isinstance(u, UserChoice) else UserChoice(*u) for u in users)
        self._update_actions()

    def set_reasons(self, reasons: Sequence[ReasonChoice | tuple[str, str, bool]]) -> None:
        """The call reasons a call can be given (id, name, is lead)."""
        self.reasons = tuple(r if isinstance(r, ReasonChoice) else ReasonChoice(*r) for r in reasons)
        self._update_actions()

    def _show_empty_state(self) -> None:
        empty = self.model.rowCount() == 0
        if empty:
            which = self.kind_combo.currentText().lower()
            period = (
                self.period_combo.currentText().lower() if self.period() != "custom" else "in these dates"
            )
            self.empty_label.setText(f"No {which} calls {period}.")
        self._stack.setCurrentIndex(0 if empty else 1)

    def _show_current(self) -> None:
        if self._quiet:
            return
        row = self.current_call()
        self.pane.show_call(row)
        self._update_actions()
        call_id = row.id if row else ""
        if call_id != self._shown_call:
            self._shown_call = call_id
            self.pane.clear_history()
            self.currentCallChanged.emit(call_id)

    def _update_actions(self) -> None:
        row = self.current_call()
        self.listen_action.setEnabled(bool(row and row.recording_url))
        self.listen_action.setToolTip(
            "Listen (Ctrl+P)" if row is None or row.recording_url else "This call has no recording."
        )
        self.attach_action.setEnabled(row is not None and bool(self.users))
        self.reclassify_action.setEnabled(row is not None and bool(self.reasons))
        self.excuse_action.setEnabled(row is not None)
        self.unexcuse_action.setEnabled(bool(row and row.excused))
        self.tags_action.setEnabled(row is not None)

    def resizeEvent(self, event: QResizeEvent) -> None:  # noqa: N802 - Qt override
        # In the narrow work-tab column the details go under the list; on a wide screen beside it.
        wide = event.size().width() >= SIDE_BY_SIDE_WIDTH
        self.splitter.setOrientation(Qt.Orientation.Horizontal if wide else Qt.Orientation.Vertical)
        super().resizeEvent(event)

    # -- requests -------------------------------------------------------------------------------------------
    def _listen(self) -> None:
        row = self.current_call()
        if row is not None and row.recording_url:
            self.listenRequested.emit(row.id)

    def _open(self, dialog: QDialog, on_accept: Any) -> None:
        self.dialog = dialog
        dialog.accepted.connect(on_accept)
        dialog.finished.connect(lambda _r: self._forget(dialog))
        dialog.finished.connect(dialog.deleteLater)
        dialog.open()  # never exec(): the event loop (and qasync) keeps running

    def _forget(self, dialog: QDialog) -> None:
        if self.dialog is dialog:
            self.dialog = None

    def _attach(self) -> None:
        row = self.current_call()
        if row is not None and self.users:
            dialog = AttachAgentDialog(row, self.users, self)
            self._open(dialog, lambda: self.attachRequested.emit(row.id, dialog.values()["agent_id"]))

    def _reclassify(self) -> None:
        row = self.current_call()
        if row is not None and self.reasons:
            dialog = ReasonDialog(row, self.reasons, self)
            self._open(
                dialog, lambda: self.reclassifyRequested.emit(row.id, dialog.values()["call_reason_id"])
            )

    def _excuse(self) -> None:
        row = self.current_call()
        if row is not None:
            dialog = ExcuseDialog(row, self)
            self._open(dialog, lambda: self.excuseRequested.emit(row.id, dialog.values()["memo"]))

    def _unexcuse(self) -> None:
        row = self.current_call()
        if row is not None and row.excused:
            self.unexcuseRequested.emit(row.id)

    def _tags(self) -> None:
        row = self.current_call()
        if row is not None:
            dialog = TagsDialog(row, self)
            self._open(dialog, lambda: self.tagsRequested.emit(row.id, dialog.values()["tags"]))
