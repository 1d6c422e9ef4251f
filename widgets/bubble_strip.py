"""The bubble strip (`callBubbleStrip`) at the top of the window: one bubble per call or booking in progress.

Two kinds of bubble share the strip, in the order they arrived:

* manual bubbles (`manualBubble`): bookings without a call (Ctrl+N); each keeps its own draft.
* call bubbles (`callBubble`, widgets/call_bubble.py): one per live call, from the ``CallCard`` (and
  ``CallExtras``: the job booked on it, whose phone answered it) the console hands over (``show_call``
  adds or updates, ``remove_call`` drops it). Green while it rings, green with my name once I claimed
  it, blue with the other CSR's name when someone else has it, gray once the call ended (its X, Delete
  on it, or ``close_call`` — the window's Ctrl+W — then asks for ``classifyRequested``).

Ctrl+PgDown / Ctrl+PgUp (``neighbour`` + ``activate``) walk the bubbles the CSR can work in: manual
bubbles and the calls that are theirs or have ended, left to right; ringing calls and other CSRs'
calls are skipped (landing on one must not claim or take it over).

The strip never talks to the server. A click asks: ``claimRequested`` (a ringing call), ``takeoverRequested``
(someone else's, after the `takeoverConfirm` question), ``callActivated`` (mine: switch the booking form
to its draft; also emitted once a claim or takeover asked from here comes back as mine). F2 is
``claim_action`` (`claimCallAction`, for the window's menu): the oldest ringing call nobody has claimed;
it is enabled only while there is one, so the views' own F2 keeps working between calls. Until the
server's card answers, the bubble says "Claiming…" (``claim_refused`` ends that with a reason; after
10 s it ends by itself). ``set_online(False)``: nothing is asked; the CSR is told that claiming needs
the server.

Telling the CSR: ``tell(message)`` shows a short non-modal notice (`callNotice`) at the right end of the
strip for a few seconds, announces it to screen readers and emits ``noticeShown`` (the console may echo it
in the status bar). The strip uses it itself for "Claiming needs the server — you're offline." and, when
a card shows that someone took over a call that was mine, for "Lee Chen took over your call from Maria
Lopez" (plus ``callTakenOver(call_id, name)``); the console need not tell that one again.

One 1-second timer per strip moves every call timer on; it runs only while a call is live.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from PySide6.QtCore import QEvent, QObject, Qt, QTimer, Signal
from PySide6.QtGui import QAction, QKeyEvent, QKeySequence
from PySide6.QtWidgets import (
    QAbstractButton,
    QApplication,
    QFrame,
    QHBoxLayout,
    QLabel,
    QMessageBox,
    QScrollArea,
    QSizePolicy,
    QWidget,
)

from models.base import utcnow
from models.calls import CallCard, CallDirection, CallState

from .call_bubble import OFFLINE_CLAIM, CallBubble, CallExtras, CallNotice, caller_text, look
from .manual_bubble import ManualBubble

__all__ = ["BubbleStrip", "CallBubble", "CallExtras", "ManualBubble", "OFFLINE_CLAIM"]

NO_CALL_TO_CLAIM = "No call is waiting to be claimed."
STILL_ON_THE_LINE = "This call is still going — its bubble closes once the call ends."
# A claim the server never answered stops showing "Claiming…" after this; the CSR can click again.
CLAIM_PATIENCE = timedelta(seconds=10)
NOTICE_MS = 10_000
_PROBE_CARD = CallCard(
    "probe",
    CallState.RINGING,
    CallDirection.INBOUND,
    "",
    "Unknown caller",
    "",
    (),
    "Unknown campaign",
    datetime(2026, 1, 1, tzinfo=UTC),
)


class BubbleStrip(QWidget):
    """Manual and call bubbles side by side; plain data in (``show_call``), requests out (signals)."""

    bubbleActivated = Signal(str)
    bubbleCloseRequested = Signal(str)
    claimRequested = Signal(str)
    takeoverRequested = Signal(str)
    callActivated = Signal(str)
    classifyRequested = Signal(str)
    callTakenOver = Signal(str, str)  # call id, the CSR who took it from me
    noticeShown = Signal(str)

    def __init__(self, parent: Any = None, *, clock: Callable[[], datetime] = utcnow) -> None:
        super().__init__(parent)
        self.setObjectName("callBubbleStrip")
        self.setAccessibleName("Calls and bookings in progress")
        self._clock = clock
        self._bubbles: dict[str, ManualBubble] = {}
        self._calls: dict[str, CallBubble] = {}
        self._pending: dict[str, datetime] = {}  # call id → when this console asked to claim it
        self.me = ""
        self.online = True
        self.active_id = ""
        self.confirm: QMessageBox | None = None
        self._bubble_height = 0

        row = QWidget(self)
        row.setObjectName("bubbleRow")
        self._layout = QHBoxLayout(row)
        self._layout.setContentsMargins(0, 0, 0, 0)
        self._layout.setSpacing(6)
        self.empty = QLabel("No calls ringing — Ctrl+N starts a booking without a call", row)
        self.empty.setObjectName("bubbleStripEmpty")
        self.empty.setEnabled(False)
        self._layout.addWidget(self.empty)
        self._layout.addStretch(1)
        # Many bubbles scroll sideways rather than widen the window.
        self.scroll = QScrollArea(self)
        self.scroll.setObjectName("bubbleScroll")
        self.scroll.setFrameShape(QFrame.Shape.NoFrame)
        self.scroll.setWidgetResizable(True)
        self.scroll.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.scroll.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.scroll.setWidget(row)
        self.scroll.viewport().setAutoFillBackground(False)
        row.setAutoFillBackground(False)
        self.scroll.horizontalScrollBar().rangeChanged.connect(lambda _lo, _hi: self._fit_height())
        self.notice = CallNotice(self)
        outer = QHBoxLayout(self)
        outer.setContentsMargins(8, 4, 8, 4)
        outer.setSpacing(8)
        outer.addWidget(self.scroll, 1)
        outer.addWidget(self.notice)
        self.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Fixed)
        self._fit_height()

        self.claim_action = QAction("C&laim the ringing call", self)
        self.claim_action.setObjectName("claimCallAction")
        self.claim_action.setEnabled(False)  # until a call can be claimed
        self.claim_action.setShortcut(QKeySequence("F2"))
        self.claim_action.setShortcutContext(Qt.ShortcutContext.WindowShortcut)
        self.claim_action.setToolTip("Claim the call that has rung longest (F2)")
        self.claim_action.triggered.connect(self.claim_oldest)
        self.addAction(self.claim_action)

        self._timer = QTimer(self)
        self._timer.setInterval(1000)
        self._timer.timeout.connect(lambda: self.tick())

    # -- manual bubbles ---------------------------------------------------------------------------------------
    def add_bubble(self, bubble_id: str, title: str) -> ManualBubble:
        bubble = ManualBubble(bubble_id, title, self)
        bubble.activated.connect(self.bubbleActivated)
        bubble.closeRequested.connect(self.bubbleCloseRequested)
        bubble.button.installEventFilter(self)  # ← / → walk the strip
        self._bubbles[bubble_id] = bubble
        self._insert(bubble)
        return bubble

    def remove_bubble(self, bubble_id: str) -> None:
        bubble = self._bubbles.pop(bubble_id, None)
        if bubble is not None:
            bubble.hide()
            bubble.deleteLater()
        if self.active_id == bubble_id:
            self.active_id = ""
        self._update_empty()

    def set_title(self, bubble_id: str, title: str) -> None:
        if bubble_id in self._bubbles:
            self._bubbles[bubble_id].set_title(title)

    def set_active(self, bubble_id: str) -> None:
        """Highlight one bubble, manual or call ("" for none)."""
        self.active_id = bubble_id
        for bid, bubble in self._bubbles.items():
            bubble.set_active(bid == bubble_id)
        for cid, call in self._calls.items():
            call.set_active(cid == bubble_id)

    def ids(self) -> list[str]:
        """The manual bubbles (the drafts controller's), in arrival order."""
        return list(self._bubbles)

    def bubble(self, bubble_id: str) -> ManualBubble | None:
        return self._bubbles.get(bubble_id)

    def neighbour(self, bubble_id: str, step: int) -> str:
        """The bubble ``step`` places away (wrapping), for Ctrl+PgDown / Ctrl+PgUp: manual bubbles and
        the calls that are mine or have ended, in strip order."""
        ids = [w.bubble_id for w in self._in_order() if isinstance(w, ManualBubble) or self._reachable(w)]
        if not ids:
            return ""
        if bubble_id not in ids:
            return ids[0]
        return ids[(ids.index(bubble_id) + step) % len(ids)]

    def activate(self, bubble_id: str) -> None:
        """Switch to a bubble as a click on mine would (Ctrl+PgDown / Ctrl+PgUp)."""
        call = self._calls.get(bubble_id)
        if bubble_id in self._bubbles:
            self.bubbleActivated.emit(bubble_id)
        elif call is not None and self._reachable(call):
            self.callActivated.emit(bubble_id)
            self.scroll.ensureWidgetVisible(call)

    def focused_bubble(self) -> str:
        """The bubble the keyboard focus is on ("" when it is elsewhere): Ctrl+W closes that one."""
        focus = QApplication.focusWidget()
        for widget in self._in_order():
            if focus is not None and (focus is widget or widget.isAncestorOf(focus)):
                return widget.bubble_id
        return ""

    def close_call(self, call_id: str) -> None:
        """Ctrl+W or Delete on a call: an ended one is closed and classified (``classifyRequested``);
        a call still going can't be closed, and the CSR is told so."""
        bubble = self._calls.get(call_id)
        if bubble is None:
            return
        if bubble.close_button.isEnabled():
            self.classifyRequested.emit(call_id)
        elif not bubble.card.ended:
            self.tell(STILL_ON_THE_LINE)

    def _reachable(self, bubble: CallBubble) -> bool:
        return bubble.card.ended or look(bubble.card, self.me) == "mine"

    # -- call bubbles -------------------------------------------------------------------------------------
    def set_me(self, user_id: str) -> None:
        """The signed-in CSR: their claimed calls show as "mine"."""
        self.me = user_id or ""
        self._refresh_all()
        self._sync()

    def set_online(self, online: bool) -> None:
        """Offline, a click or F2 explains that claiming needs the server instead of asking for it."""
        self.online = online
        if not online:
            self._pending.clear()
        self._refresh_all()
        self._sync()

    def call_bubble(self, call_id: str) -> CallBubble | None:
        """The bubble of a call shown here, if any."""
        return self._calls.get(call_id)

    def show_call(self, card: CallCard, extras: CallExtras | None = None) -> CallBubble:
        """Add a call's bubble (at the end) or update it in place (``extras`` kept when not given)."""
        bubble = self._calls.get(card.call_id)
        before = bubble.card if bubble is not None else None
        if bubble is None:
            bubble = CallBubble(card, self)
            bubble.clicked.connect(lambda _checked=False, cid=card.call_id: self._clicked(cid))
            bubble.closeRequested.connect(self.classifyRequested)
            bubble.closeKeyPressed.connect(self.close_call)
            bubble.stepFocus.connect(lambda step, b=bubble: self._step_focus(b, step))
            self._calls[card.call_id] = bubble
            self._insert(bubble)
        asked = card.call_id in self._pending
        if card.claimed_by_id or card.ended:
            self._pending.pop(card.call_id, None)  # the server answered the claim, one way or another
        bubble.show_card(card, self.me, self.online, card.call_id in self._pending, self._clock(), extras)
        bubble.set_active(card.call_id == self.active_id)
        if (
            before is not None
            and self.me
            and before.claimed_by_id == self.me
            and card.claimed_by_id not in (None, self.me)
            and not card.ended
        ):
            name = card.claimed_by_name or "Another CSR"
            self.tell(f"{name} took over your call from {caller_text(card)}.")
            self.callTakenOver.emit(card.call_id, name)
        elif asked and self.me and card.claimed_by_id == self.me and not card.ended:
            self.callActivated.emit(card.call_id)  # the claim went through: book on it now
        self._sync()
        return bubble

    def remove_call(self, call_id: str) -> None:
        bubble = self._calls.pop(call_id, None)
        self._pending.pop(call_id, None)
        if bubble is not None:
            bubble.hide()
            bubble.deleteLater()
        if self.active_id == call_id:
            self.active_id = ""
        if self.confirm is not None and self.confirm.property("callId") == call_id:
            self.confirm.reject()
        self._update_empty()
        self._sync()

    def claim_refused(self, call_id: str, message: str) -> None:
        """The server said no to a claim or takeover from here: stop "Claiming…" and say why."""
        self._pending.pop(call_id, None)
        self._refresh(call_id)
        self.tell(message)
        self._sync()

    def call_ids(self) -> list[str]:
        """The call bubbles, in arrival order."""
        return list(self._calls)

    def all_ids(self) -> list[str]:
        """Every bubble, manual and call, left to right."""
        return [w.bubble_id for w in self._in_order()]

    def claim_oldest(self) -> None:
        """F2: claim the call that has rung longest and nobody has claimed."""
        waiting = self._claimable()
        if not waiting:
            if not self._pending:
                self.tell(NO_CALL_TO_CLAIM)
            return
        self._claim(min(waiting, key=lambda c: c.started_at).call_id)

    def tick(self, now: datetime | None = None) -> None:
        """Move every call timer on (the strip's timer calls this each second; tests pass ``now``)."""
        now = now or self._clock()
        for call_id, asked in list(self._pending.items()):
            if now - asked > CLAIM_PATIENCE:
                del self._pending[call_id]
                self._refresh(call_id)
        for bubble in self._calls.values():
            bubble.tick(now, self.me)
        self._sync()

    def tell(self, message: str, msec: int = NOTICE_MS) -> None:
        """Show the CSR a short non-modal notice in the strip (and announce it)."""
        self.notice.show_message(message, msec)
        self.noticeShown.emit(message)

    # -- internals ----------------------------------------------------------------------------------------
    def _clicked(self, call_id: str) -> None:
        bubble = self._calls.get(call_id)
        if bubble is None:
            return
        card, kind = bubble.card, look(bubble.card, self.me)
        if kind == "mine" or (card.ended and card.claimed_by_id == self.me and self.me):
            self.callActivated.emit(call_id)
        elif kind == "ringing":
            self._claim(call_id)
        elif kind == "other":
            if not self.online:
                self.tell(OFFLINE_CLAIM)
            elif call_id not in self._pending:
                self._ask_takeover(card)

    def _claim(self, call_id: str) -> None:
        if not self.online:
            self.tell(OFFLINE_CLAIM)
            return
        if call_id in self._pending:
            return
        self._pending[call_id] = self._clock()
        self._refresh(call_id)
        self._sync()
        self.claimRequested.emit(call_id)

    def _ask_takeover(self, card: CallCard) -> None:
        if self.confirm is not None:
            self.confirm.reject()
        name = card.claimed_by_name or "another CSR"
        box = QMessageBox(
            QMessageBox.Icon.Question,
            "Take over this call?",
            f"Take this call over from {name}?",
            QMessageBox.StandardButton.NoButton,
            self,
        )
        box.setObjectName("takeoverConfirm")
        box.setProperty("callId", card.call_id)
        about = f"{caller_text(card)}, {card.campaign}" if card.campaign else caller_text(card)
        box.setInformativeText(f"{about}. {name} is told that you took it.")
        take = box.addButton("&Take over", QMessageBox.ButtonRole.AcceptRole)
        take.setObjectName("takeoverConfirmButton")
        box.addButton(QMessageBox.StandardButton.Cancel)
        box.setDefaultButton(take)
        box.setEscapeButton(QMessageBox.StandardButton.Cancel)
        box.finished.connect(lambda _r: self._takeover_answered(box, box.clickedButton() is take))
        self.confirm = box
        box.open()  # never exec(): the qasync loop keeps running

    def _takeover_answered(self, box: QMessageBox, yes: bool) -> None:
        if self.confirm is box:
            self.confirm = None
        box.deleteLater()
        bubble = self._calls.get(str(box.property("callId")))
        if not yes or bubble is None:
            return
        # Things moved while the question was open: act on the call as it is now.
        kind = look(bubble.card, self.me)
        if kind == "ringing":
            self._claim(bubble.call_id)
        elif kind == "other":
            if not self.online:
                self.tell(OFFLINE_CLAIM)
                return
            self._pending[bubble.call_id] = self._clock()
            self._refresh(bubble.call_id)
            self._sync()
            self.takeoverRequested.emit(bubble.call_id)

    def _claimable(self) -> list[CallCard]:
        return [
            b.card
            for b in self._calls.values()
            if look(b.card, self.me) == "ringing" and b.call_id not in self._pending
        ]

    def _insert(self, bubble: QWidget) -> None:
        self._layout.insertWidget(self._layout.count() - 1, bubble, 0, Qt.AlignmentFlag.AlignVCenter)
        bubble.show()  # at once, not at the next turn of the event loop
        self._update_empty()

    def _update_empty(self) -> None:
        self.empty.setVisible(not self._bubbles and not self._calls)

    def _refresh(self, call_id: str) -> None:
        bubble = self._calls.get(call_id)
        if bubble is not None:
            bubble.show_card(bubble.card, self.me, self.online, call_id in self._pending, self._clock())

    def _refresh_all(self) -> None:
        for call_id in self._calls:
            self._refresh(call_id)

    def _sync(self) -> None:
        # F2 stays free for the views' own F2 (edit) while nothing can be claimed: a disabled action
        # takes no part in Qt's shortcut matching.
        self.claim_action.setEnabled(bool(self._claimable()))
        live = self._pending or any(not b.card.ended for b in self._calls.values())
        if live and not self._timer.isActive():
            self._timer.start()
        elif not live:
            self._timer.stop()

    def _fit_height(self) -> None:
        # Always as tall as a call bubble, so the window doesn't jump when the phone rings.
        if not self._bubble_height:
            # Measured on a bubble styled like the real ones (the theme may set their fonts).
            probe = CallBubble(_PROBE_CARD, self)
            probe.hide()
            probe.show_card(_PROBE_CARD, "", True, False, _PROBE_CARD.started_at)
            probe.ensurePolished()
            self._bubble_height = probe.sizeHint().height()
            probe.deleteLater()
        height = self._bubble_height
        bar = self.scroll.horizontalScrollBar()
        if bar.maximum() > 0:
            height += bar.sizeHint().height()
        self.scroll.setFixedHeight(height)

    def changeEvent(self, event: QEvent) -> None:  # noqa: N802 - Qt override
        super().changeEvent(event)
        if event.type() in (QEvent.Type.StyleChange, QEvent.Type.FontChange):
            self._bubble_height = 0
            self._fit_height()

    def _in_order(self) -> list[ManualBubble | CallBubble]:
        # indexOf, not itemAt: a Python wrapper of a layout item outlives the item when Qt deletes it
        # (QLayoutItem is no QObject), and a button later made at the same address then comes back
        # from QDialogButtonBox.button() as that stale QWidgetItem (seen in CI).
        live = [w for w in (*self._bubbles.values(), *self._calls.values()) if self._layout.indexOf(w) >= 0]
        return sorted(live, key=self._layout.indexOf)

    def _step_focus(self, current: QWidget, step: int) -> None:
        targets = [w.button if isinstance(w, ManualBubble) else w for w in self._in_order()]
        if current in targets:
            target = targets[(targets.index(current) + step) % len(targets)]
            target.setFocus(Qt.FocusReason.TabFocusReason)
            self.scroll.ensureWidgetVisible(target)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802 - Qt override
        if (
            event.type() == QEvent.Type.KeyPress
            and isinstance(watched, QAbstractButton)
            and isinstance(event, QKeyEvent)
            and event.key() in (Qt.Key.Key_Left, Qt.Key.Key_Right)
            and event.modifiers() == Qt.KeyboardModifier.NoModifier
        ):
            self._step_focus(watched, -1 if event.key() == Qt.Key.Key_Left else 1)
            return True
        return super().eventFilter(watched, event)
