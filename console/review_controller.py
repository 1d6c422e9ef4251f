"""Wiring of call review to the local cache: reads the period's calls and the chosen call's history,
runs the manager's edits as intents through the LocalWriter (cache + outbox + audit in one
transaction; the server re-applies them) and shows what each did, or why it was refused.

Only supervisors, managers and admins get the review: :func:`install` adds its tab for those roles
(the server refuses a CSR's review intents anyway, sync/server_auth.py). The reads (the period's calls,
a call's history) and the edits run on a worker thread (console/db_worker.py), in order, and come back by
signal; a newer read of the same kind makes an older one's answer stale, and it is dropped.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import date, tzinfo
from typing import Any

from PySide6.QtCore import QObject, Signal
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QTabWidget
from sqlalchemy import select

from models.call_review import REVIEW_ROLES, call_history, review_calls, review_choices, review_row
from models.calls import Call, CallClass
from models.db import Cache
from models.validation import ValidationFailed
from models.writer import LocalWriter
from widgets.call_review import CallReview
from widgets.call_review_model import CLASS_NAMES, class_text

from .db_worker import DbWorker
from .failures import describe_failure

log = logging.getLogger(__name__)

TAB_TITLE = "Call review"
TAB_SHORTCUT = "Ctrl+Shift+R"
READ_FAILED = (
    "The calls could not be read. Try again; if it keeps happening, call support (details are in the log)."
)
NO_SERVER = "Listening to a recording needs the server — sign in first."
SAVED = "Saved on this PC."


class ReviewController(QObject):
    """Fills the review and runs its edits; ``refresh()`` re-reads (after a sync brings calls)."""

    outboxChanged = Signal()
    callChanged = Signal(str)  # call id, after a manager's edit of it
    errorOccurred = Signal(str)  # a sentence for the status bar; the review shows it too

    def __init__(
        self,
        window: Any,
        cache: Cache,
        writer: LocalWriter,
        today_fn: Callable[[], date],
        tz_fn: Callable[[], tzinfo],
        *,
        widget: CallReview | None = None,
        play: Callable[[str], Any] | None = None,
    ) -> None:
        super().__init__(window)
        self.window = window
        self._cache = cache
        self._writer = writer
        self._today = today_fn
        self._tz = tz_fn
        self.widget = widget if widget is not None else CallReview(window, today=today_fn())
        # Listening goes through the server (console/recordings.py): set by the composition root.
        self.play = play
        self._tabs: QTabWidget | None = None
        self._tab_action: QAction | None = None
        self.worker = DbWorker(self, "csr-review")
        self._connect_signals()

    def _connect_signals(self) -> None:
        w = self.widget
        w.filterChanged.connect(lambda: self.refresh())
        w.currentCallChanged.connect(self.load_history)
        w.listenRequested.connect(self.listen)
        w.attachRequested.connect(
            lambda cid, uid: self.execute("attach_agent", {"call_id": cid, "agent_id": uid})
        )
        w.reclassifyRequested.connect(
            lambda cid, rid: self.execute("reclassify_call", {"call_id": cid, "call_reason_id": rid})
        )
        w.excuseRequested.connect(
            lambda cid, memo: self.execute("excuse_call", {"call_id": cid, "memo": memo})
        )
        w.unexcuseRequested.connect(lambda cid: self.execute("unexcuse_call", {"call_id": cid}))
        w.tagsRequested.connect(
            lambda cid, tags: self.execute("tag_call", {"call_id": cid, "tags": list(tags)})
        )

    # -- reading ------------------------------------------------------------------------------------------
    def refresh(self) -> None:
        """Run the review's query again (period from the company's today, kinds) and the pane's history;
        the list is shown when the worker answers."""
        w = self.widget
        w.set_today(self._today())
        first, last = w.date_range()
        self.worker.submit(
            _read_period,
            self._cache,
            w.kinds(),
            first,
            last,
            self._tz(),
            done=self._show_period,
            failed=lambda exc: self._error(self._describe(exc, READ_FAILED)),
            key="period",
        )

    def _show_period(self, answer: tuple[Any, list]) -> None:
        choices, rows = answer
        w = self.widget
        w.set_users(choices.users)
        w.set_reasons(choices.reasons)
        w.show_message("")  # a new list: the last change's note is about the old one
        before = w.current_call_id()
        w.show_rows(rows)
        if w.current_call_id() == before:
            self.load_history(before)  # same call: its history may have grown (another edit here)

    def load_history(self, call_id: str) -> None:
        if not call_id:
            self.worker.forget("history")  # a history still on its way is about a call no longer chosen
            self.widget.show_history([])
            return
        self.worker.submit(
            _read_history,
            self._cache,
            call_id,
            self._tz(),
            done=self._show_history,
            failed=lambda exc: self._error(self._describe(exc, READ_FAILED)),
            key="history",
        )

    def _show_history(self, answer: tuple[str, list]) -> None:
        call_id, entries = answer
        if call_id == self.widget.current_call_id():
            self.widget.show_history(entries)

    def listen(self, call_id: str) -> None:
        """The call's recording (or voicemail), fetched through the server and opened in the PC's player."""
        if self.play is None:
            self._error(NO_SERVER)
            return
        self.play(call_id)

    # -- writing ------------------------------------------------------------------------------------------
    def execute(self, name: str, args: dict[str, Any]) -> None:
        """Run one review intent on the worker; the review shows the call's new class, or the refusal."""
        call_id = str(args.get("call_id") or "")

        def failed(exc: BaseException) -> None:
            if isinstance(exc, ValidationFailed):
                self._error(" ".join(exc.errors.values()) or "The change was refused.")
            else:  # the manager gets a sentence; the log gets the traceback
                self._error(self._describe(exc))

        def done(_result: Any) -> None:
            self.outboxChanged.emit()
            self.callChanged.emit(call_id)
            self._reload(call_id)

        self.worker.submit(self._writer.execute, name, args, done=done, failed=failed)

    def _reload(self, call_id: str) -> None:
        """The edited call's row again: updated in place, or taken out when it left the list."""
        self.worker.submit(
            _read_row,
            self._cache,
            call_id,
            self.widget.kinds(),
            self._tz(),
            done=lambda answer: self._show_row(call_id, *answer),
            failed=lambda exc: self._error(self._describe(exc, READ_FAILED)),
            key=f"row:{call_id}",
        )

    def _show_row(self, call_id: str, row: Any, now: str | None) -> None:
        w = self.widget
        before = w.current_call_id()
        if row is not None:
            w.update_row(row)
            w.show_message(f"{SAVED} The call is {class_text(row)}.")
        else:
            w.remove_row(call_id)
            name = CallClass(now).value if now else "not classified"
            w.show_message(f"{SAVED} The call is now {CLASS_NAMES.get(name, name)} — it left this list.")
        if w.current_call_id() == before:
            self.load_history(before)

    def _describe(self, exc: BaseException, unexpected: str | None = None) -> str:
        if unexpected is None:
            return describe_failure(self._cache.path, exc, what="call review change")
        return describe_failure(self._cache.path, exc, what="call review read", unexpected=unexpected)

    def _error(self, text: str) -> None:
        self.widget.show_message(text, "error")
        self.errorOccurred.emit(text)

    # -- the tab ------------------------------------------------------------------------------------------
    def add_tab(self, tabs: QTabWidget) -> None:
        """Put the review in the work tabs; Ctrl+Shift+R opens it (every letter of its name is taken as a
        mnemonic on the main window), and it re-reads each time it is shown."""
        self._tabs = tabs
        index = tabs.addTab(self.widget, TAB_TITLE)
        tabs.setTabToolTip(index, f"Abandoned and unbooked calls to review ({TAB_SHORTCUT})")
        tabs.currentChanged.connect(self._tab_changed)
        self._tab_action = QAction(TAB_TITLE, self.window)
        self._tab_action.setObjectName("callReviewTabAction")
        self._tab_action.setShortcut(QKeySequence(TAB_SHORTCUT))
        self._tab_action.triggered.connect(self.show_tab)
        self.window.addAction(self._tab_action)

    def show_tab(self) -> None:
        if self._tabs is not None:
            if self._tabs.currentWidget() is self.widget:
                self.refresh()
            else:
                self._tabs.setCurrentWidget(self.widget)  # refreshes (currentChanged)
            self.widget.focus_list()

    def _tab_changed(self, index: int) -> None:
        if self._tabs is not None and self._tabs.widget(index) is self.widget:
            self.refresh()

    def uninstall(self) -> None:
        """Take the review away (a CSR signed in on this console after a manager)."""
        if self._tabs is not None:
            self._tabs.currentChanged.disconnect(self._tab_changed)
            index = self._tabs.indexOf(self.widget)
            if index >= 0:
                self._tabs.removeTab(index)
            self._tabs = None
        if self._tab_action is not None:
            self.window.removeAction(self._tab_action)
            self._tab_action.deleteLater()
            self._tab_action = None
        self.widget.deleteLater()
        self.worker.shutdown()
        self.setParent(None)
        self.deleteLater()


# -- the reads, on the worker thread (plain data back) ------------------------------------------------------
def _read_period(cache: Cache, kinds: Any, first: date, last: date, tz: tzinfo) -> tuple[Any, list]:
    with cache.sessions() as session:
        return review_choices(session), review_calls(session, kinds=kinds, first=first, last=last, tz=tz)


def _read_history(cache: Cache, call_id: str, tz: tzinfo) -> tuple[str, list]:
    with cache.sessions() as session:
        return call_id, call_history(session, call_id, tz=tz)


def _read_row(cache: Cache, call_id: str, kinds: Any, tz: tzinfo) -> tuple[Any, str | None]:
    with cache.sessions() as session:
        row = review_row(session, call_id, kinds=kinds, tz=tz)
        return row, session.scalar(select(Call.classification).where(Call.id == call_id))


def install(
    window: Any,
    cache: Cache,
    writer: LocalWriter,
    *,
    today_fn: Callable[[], date],
    tz_fn: Callable[[], tzinfo],
    role: str,
) -> ReviewController | None:
    """The "Call review" tab in ``window.work_tabs`` for a supervisor, manager or admin (the one already
    there is kept); for any other role none, and a review left by the previous user is removed."""
    existing = window.findChild(ReviewController)
    if str(getattr(role, "value", role) or "") not in REVIEW_ROLES:
        if existing is not None:
            existing.uninstall()
        return None
    if existing is not None:
        return existing
    controller = ReviewController(window, cache, writer, today_fn, tz_fn)
    controller.add_tab(window.work_tabs)
    return controller
