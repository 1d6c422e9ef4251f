"""The Jobs tab of the customer panel: upcoming and past jobs, and the buttons that reschedule,
cancel, hold or release the highlighted one.

Keyboard (only while the jobs table has focus, so nothing clashes with the window's shortcuts):
Ctrl+R reschedule, Ctrl+Shift+C cancel, Ctrl+H hold, Ctrl+Shift+H release hold, Ctrl+Shift+W text the
customer that the technician is on the way.
"""

from __future__ import annotations

from collections.abc import Sequence

from PySide6.QtCore import QModelIndex, Qt, Signal
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QStackedWidget,
    QTableView,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from models.records import JobRecord

from .customer_models import JobsModel

# (action, object name, button text, accessible name, shortcut)
JOB_BUTTONS = (
    ("reschedule", "rescheduleJob", "Reschedule…", "Reschedule job", "Ctrl+R"),
    ("cancel", "cancelJob", "Cancel job…", "Cancel job", "Ctrl+Shift+C"),
    ("hold", "holdJob", "Hold…", "Put job on hold", "Ctrl+H"),
    ("release", "releaseHold", "Release hold", "Release hold", "Ctrl+Shift+H"),
    (
        "on_the_way",
        "onTheWay",
        "On the way",
        "Tell the customer the technician is on the way",
        "Ctrl+Shift+W",
    ),
)


class JobsTab(QWidget):
    """The jobs table (or a line saying there are none) with its action buttons underneath."""

    actionRequested = Signal(str, str)  # job id, "reschedule" / "cancel" / "hold" / "release"

    def __init__(self, model: JobsModel, view: QTableView, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("jobsTab")
        self.model, self.view = model, view
        self.empty_label = QLabel("No jobs for this customer yet.", self)
        self.empty_label.setObjectName("jobsEmpty")
        self.empty_label.setAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop)
        self._stack = QStackedWidget(self)
        self._stack.addWidget(self.empty_label)
        self._stack.addWidget(view)
        self.actions: dict[str, QAction] = {}
        self.buttons: dict[str, QToolButton] = {}
        row = QHBoxLayout()
        for key, name, text, accessible, shortcut in JOB_BUTTONS:
            row.addWidget(self._add_action(key, name, text, accessible, shortcut))
        row.addStretch(1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self._stack, 1)
        layout.addLayout(row)
        chain = [view, *self.buttons.values()]
        for first, second in zip(chain, chain[1:], strict=False):
            self.setTabOrder(first, second)
        self._connect_signals()
        self.update_actions()

    def _add_action(self, key: str, name: str, text: str, accessible: str, shortcut: str) -> QToolButton:
        action = QAction(text, self)
        action.setObjectName(f"{name}Action")
        action.setIconText(text)  # a tool button drops the "…" that says a dialog comes next
        action.setShortcut(QKeySequence(shortcut))
        # On the table only: the window already owns Ctrl+E, Ctrl+J, Ctrl+N … for other work.
        action.setShortcutContext(Qt.ShortcutContext.WidgetShortcut)
        native = QKeySequence(shortcut).toString(QKeySequence.SequenceFormat.NativeText)
        action.setToolTip(f"{accessible} ({native})")
        self.view.addAction(action)
        button = QToolButton(self)
        button.setObjectName(f"{name}Button")
        button.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextOnly)
        button.setDefaultAction(action)
        button.setAccessibleName(accessible)
        self.actions[key], self.buttons[key] = action, button
        return button

    def _connect_signals(self) -> None:
        for key, action in self.actions.items():
            action.triggered.connect(lambda _checked=False, k=key: self._request(k))
        self.view.selectionModel().currentRowChanged.connect(self._on_current_changed)
        self.model.modelReset.connect(self.update_actions)
        self.model.dataChanged.connect(self.update_actions)

    # -- showing ---------------------------------------------------------------------------------------
    def set_jobs(self, jobs: Sequence[JobRecord]) -> None:
        """Show these jobs, keeping the highlighted one when it is still listed (the soonest otherwise)."""
        previous = self.current_job()
        self.model.set_rows(jobs)
        self._stack.setCurrentIndex(1 if jobs else 0)
        row = self.model.row_of(previous.id) if previous else -1
        if row < 0 and self.model.rowCount():
            row = 0
        if row >= 0 and row != self.view.currentIndex().row():
            self.view.setCurrentIndex(self.model.index(row, 0))
        self.update_actions()

    def current_job(self) -> JobRecord | None:
        return self.model.row_at(self.view.currentIndex().row())

    def select_job(self, job_id: str) -> None:
        row = self.model.row_of(job_id)
        if row >= 0:
            self.view.setCurrentIndex(self.model.index(row, 0))

    def update_actions(self, *_args: object) -> None:
        """Each button is enabled only when the highlighted job's status allows it."""
        job = self.current_job()
        for key, action in self.actions.items():
            action.setEnabled(job is not None and job.allows(key))

    def _on_current_changed(self, _current: QModelIndex, _previous: QModelIndex) -> None:
        self.update_actions()

    def _request(self, action: str) -> None:
        job = self.current_job()
        if job is not None and job.allows(action):
            self.actionRequested.emit(job.id, action)
