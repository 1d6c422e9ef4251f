"""Wiring of the callback queue (widgets/callbacks_list.py) to the cache: the list is read on a worker
thread (console/db_worker.py; a newer read drops an older one's answer), taking an item and recording its
outcome are intents written through the LocalWriter on the worker too, and Ctrl+D calls the caller by the
existing click-to-call path (console/calls_controller.py ``dial``). The server arbitrates the claim: a
CSR who lost the race gets the refusal as a sync problem and the list shows who has the item."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from PySide6.QtCore import QObject, Signal
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QTabWidget, QWidget

from models.base import utcnow
from models.callbacks import OUTCOME_LABELS, CallbackOutcome, open_queue
from models.calls import Call
from models.customers import Customer
from models.db import Cache
from models.setup import User
from models.validation import ValidationFailed
from models.writer import LocalWriter
from widgets.callbacks_list import CallbackRow, CallbacksList

from .db_worker import DbWorker
from .failures import describe_failure

log = logging.getLogger(__name__)

TAB_TITLE = "Callbacks"
TAB_SHORTCUT = "Ctrl+Alt+C"


def waiting_text(seconds: int) -> str:
    minutes = max(0, seconds) // 60
    if minutes < 60:
        return f"{minutes} min"
    return f"{minutes // 60} h {minutes % 60} min"


def read_callbacks(cache: Cache, now: datetime) -> list[CallbackRow]:
    """The queue in its order (models/callbacks.py), with the customer's and the claimer's names."""
    with cache.sessions() as s:
        rows = []
        for item in open_queue(s):
            since = (
                item.waiting_since if item.waiting_since.tzinfo else item.waiting_since.replace(tzinfo=UTC)
            )
            customer = s.get(Customer, item.customer_id) if item.customer_id else None
            call = s.get(Call, item.call_id)
            user = s.get(User, item.claimed_by) if item.claimed_by else None
            rows.append(
                CallbackRow(
                    item.id,
                    item.phone,
                    customer.name if customer is not None else "",
                    bool(item.voicemail),
                    waiting_text(int((now - since).total_seconds())),
                    item.claimed_by or "",
                    (user.display_name or user.username) if user is not None else "",
                    bool(item.requested),
                    bool(call is not None and call.recording_url),
                )
            )
        return rows


class CallbacksController(QObject):
    outboxChanged = Signal()
    errorOccurred = Signal(str)

    def __init__(
        self,
        window: QWidget,
        cache: Cache,
        writer: LocalWriter,
        *,
        me: Callable[[], str],
        dial: Callable[[str, str], Any] | None = None,
        now_fn: Callable[[], datetime] = utcnow,
        play: Callable[[str], Any] | None = None,
    ) -> None:
        super().__init__(window)
        self._play = play
        self.window = window
        self._cache = cache
        self._writer = writer
        self._me = me
        self._dial = dial
        self._now = now_fn
        self.widget = CallbacksList(window)
        self.worker = DbWorker(self, "csr-callbacks")
        self._tabs: QTabWidget | None = None
        self.tab_action: QAction | None = None
        self._dialing: set[asyncio.Future] = set()  # strong references until each call attempt ends
        self.widget.takeRequested.connect(self.take)
        self.widget.callRequested.connect(self.call)
        self.widget.outcomeRequested.connect(self.record)
        self.widget.listenRequested.connect(self.listen)
        self.widget.releaseRequested.connect(self.release)

    # -- reading --------------------------------------------------------------------------------------------
    def refresh(self) -> None:
        self.widget.me = self._me()
        self.worker.submit(
            read_callbacks,
            self._cache,
            self._now(),
            done=self.widget.set_rows,
            failed=lambda exc: self._error(
                describe_failure(self._cache.path, exc, what="callback queue read")
            ),
            key="list",
        )

    # -- actions --------------------------------------------------------------------------------------------
    def take(self, callback_id: str) -> None:
        me = self._me()
        if not me:
            self._error("Sign in to take a callback.")
            return
        self._write(
            "claim_callback",
            {"callback_id": callback_id, "user_id": me},
            "Taken — Ctrl+D calls them. If someone else took it first, the server says so.",
        )

    def record(self, callback_id: str, outcome: str) -> None:
        label = OUTCOME_LABELS[CallbackOutcome(outcome)]
        self._write(
            "record_callback_outcome",
            {"callback_id": callback_id, "outcome": outcome, "user_id": self._me()},
            f"Recorded: {label}. The caller left the queue.",
        )

    def release(self, callback_id: str) -> None:
        """Put a taken item back for anyone to take (a supervisor any claim; a CSR their own)."""
        me = self._me()
        if not me:
            self._error("Sign in to put a callback back.")
            return
        self._write(
            "release_callback",
            {"callback_id": callback_id, "user_id": me},
            "Put back in the queue: anyone can take it now.",
        )

    def listen(self, callback_id: str) -> None:
        """The caller's voicemail (the item's id is its call's), fetched through the server: it plays
        for the CSR who took the callback and for supervisors; anyone else is told why not."""
        if self._play is None:
            self._error("Listening needs the server: sign in first.")
            return
        self._play(callback_id)

    def call(self, callback_id: str) -> None:
        row = next((r for r in self.widget.rows() if r.id == callback_id), None)
        if row is None or self._dial is None:
            self._error("Calling needs the phone: sign in to the server first.")
            return
        if row.claimed_by != self._me():
            self._error("Take this callback first (Enter), then call.")
            return
        future = self._dial(row.phone, "")
        if isinstance(future, asyncio.Future):
            self._dialing.add(future)
            future.add_done_callback(self._dialing.discard)
        self.widget.show_message(f"Calling {row.phone} — your softphone rings first.")

    def _write(self, name: str, args: dict[str, Any], saved: str) -> None:
        self.worker.submit(
            self._writer.execute,
            name,
            args,
            done=lambda _r: self._saved(saved),
            failed=self._refused,
        )

    def _refused(self, exc: BaseException) -> None:
        """Refused here (someone else's claim already pulled, an unknown outcome): the sentence, and the list
        re-read so it shows who has the item; nothing was saved."""
        if isinstance(exc, ValidationFailed):
            self._error(" ".join(str(v) for v in exc.errors.values()))
            self.refresh()
        else:
            self._error(describe_failure(self._cache.path, exc, what="callback change"))

    def _saved(self, text: str) -> None:
        self.widget.show_message(text)
        self.outboxChanged.emit()
        self.refresh()

    def _error(self, text: str) -> None:
        self.widget.show_message(text, "error")
        self.errorOccurred.emit(text)

    # -- the tab --------------------------------------------------------------------------------------------
    def add_tab(self, tabs: QTabWidget) -> None:
        """Beside Leads in the work tabs; Ctrl+Alt+C opens it and it re-reads each time it is shown."""
        self._tabs = tabs
        index = tabs.addTab(self.widget, TAB_TITLE)
        tabs.setTabToolTip(index, f"Callers to call back, longest waiting first ({TAB_SHORTCUT})")
        tabs.currentChanged.connect(self._tab_changed)
        self.tab_action = QAction(TAB_TITLE, self.window)
        self.tab_action.setObjectName("callbacksTabAction")
        self.tab_action.setShortcut(QKeySequence(TAB_SHORTCUT))
        self.tab_action.triggered.connect(self.show_tab)
        self.window.addAction(self.tab_action)

    def show_tab(self) -> None:
        if self._tabs is None:
            return
        if self._tabs.currentWidget() is self.widget:
            self.refresh()
        else:
            self._tabs.setCurrentWidget(self.widget)
        self.widget.focus_list()

    def _tab_changed(self, index: int) -> None:
        if self._tabs is not None and self._tabs.widget(index) is self.widget:
            self.refresh()

    def shutdown(self) -> None:
        self.worker.shutdown()
