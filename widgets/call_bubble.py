"""One incoming-call bubble (`callBubble`) of the bubble strip, the words it shows, and the strip's
short notice to the CSR (`callNotice`).

The bubble is a view of a ``CallCard`` (plain data) and its ``CallExtras`` (the job booked on it, whose
phone answered it) as seen by one CSR: the strip tells it who "me" is, whether the console is online and
whether a claim is on its way, and it picks its look from that (the ``callState`` property: ringing,
mine, other, ended — see resources/themes/console.qss). It is a button, so a screen reader calls it one
and Space / Enter / a click all mean the same thing; what the click does is the strip's business.

Its timer is the call's own: from the server's ``started_at`` (frozen at ``ended_at``), one clock for
the whole call that never runs backwards — answering doesn't restart it (the tooltip says how long it
rang), and a late or skewed update never takes it back.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from PySide6.QtCore import QSize, Qt, QTimer, Signal
from PySide6.QtGui import (
    QAccessible,
    QAccessibleAnnouncementEvent,
    QKeyEvent,
    QPainter,
    QPaintEvent,
    QResizeEvent,
)
from PySide6.QtWidgets import (
    QAbstractButton,
    QGridLayout,
    QLabel,
    QSizePolicy,
    QStyle,
    QStyleOption,
    QToolButton,
    QWidget,
)

from models.calls import CallCard, CallDirection, CallState

UNKNOWN_CALLER = "Unknown caller"
LOOKING_UP = "Looking up…"  # the caller's match is on its way from the cache (a few milliseconds)
NO_CALLER_ID = "No caller ID"
OFFLINE_CLAIM = "Claiming needs the server — you're offline."
# Words for the state a call is in, read after the caller ("…, ringing 0:12").
PHASE = {
    CallState.RINGING: "ringing",
    CallState.QUEUED: "waiting",
    CallState.TALKING: "talking",
    CallState.HELD: "on hold",
    CallState.ENDED: "ended after",
}


@dataclass(frozen=True, slots=True)
class CallExtras:
    """What the console knows of a call beyond its card."""

    booked: bool = False  # a job was booked on it (the call goes on; no classifying needed)
    job_number: str = ""  # that job's number, when known here
    answered_by: str = ""  # the CSR whose phone answered it (display name), if the phone system said
    answered_by_me: bool = False


NO_EXTRAS = CallExtras()


def duration_text(seconds: float) -> str:
    """ "0:07", "12:34", "1:02:03" — a ticking clock, never negative (the server's clock may run ahead)."""
    s = max(0, int(seconds))
    hours, rest = divmod(s, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def caller_text(card: CallCard) -> str:
    """The bubble's first line: the matched customer ("3 customers" for several), else "Unknown caller"."""
    if card.matching:
        return LOOKING_UP
    return card.caller_name or UNKNOWN_CALLER


def number_text(card: CallCard) -> str:
    return card.from_display if card.from_number else NO_CALLER_ID


def detail_text(card: CallCard) -> str:
    """The second line: the number and, for a call to a tracking number, its campaign."""
    return f"{number_text(card)} · {card.campaign}" if card.campaign else number_text(card)


def look(card: CallCard, me: str) -> str:
    """The bubble's look: "ended" (gray), "mine" / "other" (claimed), or "ringing" (green, claimable)."""
    if card.ended:
        return "ended"
    if card.claimed_by_id:
        return "mine" if card.claimed_by_id == me else "other"
    return "ringing"


def call_seconds(card: CallCard, now: datetime, ended_seen: datetime | None = None) -> float:
    """The bubble's timer: the call's time from its first ring (the server's ``started_at``); frozen once
    it has ended."""
    end = (card.ended_at or ended_seen or now) if card.ended else now
    return (end - card.started_at).total_seconds()


def elapsed_seconds(card: CallCard, now: datetime, ended_seen: datetime | None = None) -> float:
    """Ring (or wait) time until answered, then talk time; frozen once the call has ended (the classify
    dialog's "Talked 3:05" / "Rang 0:40")."""
    if card.state in (CallState.RINGING, CallState.QUEUED):
        return (now - card.started_at).total_seconds()
    start = card.answered_at or card.started_at
    if card.ended:
        end = card.ended_at or ended_seen or now
        return (end - start).total_seconds()
    return (now - start).total_seconds()


def rang_seconds(card: CallCard) -> float | None:
    """How long it rang before someone answered (None while nobody has)."""
    return None if card.answered_at is None else (card.answered_at - card.started_at).total_seconds()


def answered_text(extras: CallExtras) -> str:
    """ "Answered by Lee Park — not claimed": a phone picked up, but nobody clicked the bubble."""
    if not extras.answered_by and not extras.answered_by_me:
        return ""
    return f"Answered by {'you' if extras.answered_by_me else extras.answered_by} — not claimed"


def status_text(card: CallCard, me: str, online: bool, pending: bool, extras: CallExtras = NO_EXTRAS) -> str:
    """The bubble's last line: a booking on the call, who claimed it (or only answered it), or what a
    click does."""
    kind = look(card, me)
    name = card.claimed_by_name
    outbound = card.direction is CallDirection.OUTBOUND
    if kind == "ended":
        if extras.booked:
            return booked_text(extras)
        if card.claimed_by_id == me:
            return "Ended — ✕ to classify"
        return f"Ended — claimed by {name}" if name else "Ended — nobody claimed it"
    if pending:
        return "Claiming…"
    held = " · on hold" if card.state is CallState.HELD else ""
    if extras.booked:
        return booked_text(extras) + held
    if kind == "mine":
        return ("✓ Your outgoing call" if outbound else f"✓ Claimed by {name or 'you'} (you)") + held
    if kind == "other":
        if outbound:
            return f"{name or 'Another CSR'}'s outgoing call"
        return (
            f"Claimed by {name or 'another CSR'} — click to take over"
            if online
            else f"Claimed by {name or 'another CSR'}"
        )
    if not online:
        return "Offline — claiming needs the server"
    return answered_text(extras) or "Click or F2 to claim"


def booked_text(extras: CallExtras) -> str:
    return f"Booked — job {extras.job_number}" if extras.job_number else "Booked"


def accessible_text(card: CallCard, me: str, seconds: float, extras: CallExtras = NO_EXTRAS) -> str:
    """e.g. "Incoming call from Maria Lopez, +1 (555) 201-0101, Google Ads, ringing 0:12"."""
    inbound = card.direction is CallDirection.INBOUND
    who = card.caller_name or ("an unknown caller" if inbound else "an unknown number")
    if card.matching:
        who = "a caller being looked up" if inbound else "a number being looked up"
    parts = [f"{'Incoming call from' if inbound else 'Outgoing call to'} {who}"]
    if card.from_number:
        parts.append(card.from_display)
    if card.campaign:
        parts.append(card.campaign)
    parts.append(f"{PHASE[card.state]} {duration_text(seconds)}")
    if card.claimed_by_id:
        parts.append("claimed by you" if card.claimed_by_id == me else f"claimed by {card.claimed_by_name}")
    elif answered_text(extras):
        parts.append(answered_text(extras).replace(" — ", ", ").replace("Answered", "answered"))
    if extras.booked:
        parts.append(f"booked, job {extras.job_number}" if extras.job_number else "booked")
    return ", ".join(parts)


class _ElidedLabel(QLabel):
    """A one-line label that ends in "…" when the bubble is too narrow; the full text is its tooltip."""

    def __init__(self, name: str, parent: QWidget) -> None:
        super().__init__(parent)
        self.setObjectName(name)
        self.setTextFormat(Qt.TextFormat.PlainText)
        self.setAttribute(Qt.WidgetAttribute.WA_TransparentForMouseEvents)  # the bubble takes the click
        self.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.full = ""

    def set_full_text(self, text: str) -> None:
        self.full = text
        self._elide()

    def resizeEvent(self, event: QResizeEvent) -> None:  # noqa: N802 - Qt override
        super().resizeEvent(event)
        self._elide()

    def _elide(self) -> None:
        shown = self.fontMetrics().elidedText(self.full, Qt.TextElideMode.ElideRight, max(self.width(), 1))
        self.setText(shown)


class CallBubble(QAbstractButton):
    """A call as one CSR sees it: caller, number and campaign, a timer, who has it, and an X once ended
    (Delete does the same on the focused bubble)."""

    closeRequested = Signal(str)
    stepFocus = Signal(int)  # ← / →: the strip moves the focus to the neighbouring bubble
    closeKeyPressed = Signal(str)  # Delete on the bubble

    def __init__(self, card: CallCard, parent: Any = None) -> None:
        super().__init__(parent)
        self.setObjectName("callBubble")
        self.call_id = self.bubble_id = card.call_id
        self.card = card
        self.extras = NO_EXTRAS
        self.kind = ""
        self._ended_seen: datetime | None = None
        self._shown = 0  # the timer's last value: it never goes back
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.setCursor(Qt.CursorShape.PointingHandCursor)
        self.setSizePolicy(QSizePolicy.Policy.Fixed, QSizePolicy.Policy.Fixed)
        self.setProperty("callState", "ringing")
        self.setProperty("active", False)

        self.caller_label = _ElidedLabel("callBubbleCaller", self)
        self.timer_label = QLabel(self)
        self.timer_label.setObjectName("callBubbleTimer")
        self.timer_label.setAttribute(Qt.WidgetAttribute.WA_TransparentForMouseEvents)
        self.timer_label.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        self.detail_label = _ElidedLabel("callBubbleDetail", self)
        self.status_label = _ElidedLabel("callBubbleStatus", self)
        self.close_button = QToolButton(self)
        self.close_button.setObjectName("callBubbleClose")
        self.close_button.setText("✕")
        self.close_button.setAutoRaise(True)
        self.close_button.setToolTip("Close and classify this call (Delete)")
        self.close_button.clicked.connect(lambda: self.closeRequested.emit(self.call_id))

        grid = QGridLayout(self)
        grid.setContentsMargins(10, 5, 6, 5)
        grid.setHorizontalSpacing(6)
        grid.setVerticalSpacing(1)
        grid.addWidget(self.caller_label, 0, 0)
        grid.addWidget(self.timer_label, 0, 1)
        grid.addWidget(self.close_button, 0, 2, 3, 1, Qt.AlignmentFlag.AlignVCenter)
        grid.addWidget(self.detail_label, 1, 0, 1, 2)
        grid.addWidget(self.status_label, 2, 0, 1, 2)
        grid.setColumnStretch(0, 1)
        self.close_button.hide()

    # -- what the strip tells it --------------------------------------------------------------------------
    def show_card(
        self,
        card: CallCard,
        me: str,
        online: bool,
        pending: bool,
        now: datetime,
        extras: CallExtras | None = None,
    ) -> None:
        """Show this card as ``me`` sees it (``pending``: a claim or takeover from here is on its way;
        ``extras``: what the console knows beyond the card — kept when not given)."""
        if card.ended and self._ended_seen is None:
            self._ended_seen = now  # frozen here if the server sent no end time
        self.card = card
        if extras is not None:
            self.extras = extras
        extras = self.extras
        kind = look(card, me)
        closable = card.ended and not extras.booked
        self.caller_label.set_full_text(caller_text(card))
        self.detail_label.set_full_text(detail_text(card))
        self.updateGeometry()  # its width follows its lines (sizeHint)
        status = status_text(card, me, online, pending, extras)
        self.status_label.set_full_text(status)
        description = status.replace("✓ ", "").replace("✕", "the close button or Delete")
        if answered_text(extras) and status == answered_text(extras) and online and not pending:
            description += ". Click or F2 to claim"
        self.setAccessibleDescription(description)
        self.close_button.setVisible(closable)
        self.close_button.setEnabled(closable)
        self.close_button.setAccessibleName(f"Close and classify the call from {caller_text(card)}")
        tips = [f"{caller_text(card)}\n{number_text(card)}" + (f"\n{card.campaign}" if card.campaign else "")]
        rang = rang_seconds(card)
        if rang is not None:
            tips.append(f"Rang {duration_text(rang)} before it was answered.")
        if answered_text(extras) and not card.claimed_by_id:
            tips.append(f"{answered_text(extras)}: click the bubble (or F2) to claim it.")
        if not online and not card.ended and kind != "mine":
            tips.append(OFFLINE_CLAIM)
        self.setToolTip("\n\n".join(tips))
        if kind != self.kind:
            self.kind = kind
            self._repolish("callState", kind)
        self.tick(now, me)

    def tick(self, now: datetime, me: str) -> None:
        """Move the timer on (the strip's one timer calls this every second)."""
        self._shown = max(self._shown, int(call_seconds(self.card, now, self._ended_seen)))
        self.timer_label.setText(duration_text(self._shown))
        self.setAccessibleName(accessible_text(self.card, me, self._shown, self.extras))

    def set_active(self, active: bool) -> None:
        if self.property("active") != active:
            self._repolish("active", active)

    def _repolish(self, name: str, value: object) -> None:
        # Descendant rules (#callBubble[callState="ended"] QLabel) need the labels re-polished too.
        self.setProperty(name, value)
        for w in (self, *self.findChildren(QLabel)):
            w.style().unpolish(w)
            w.style().polish(w)
        self.update()

    # -- a button drawn by the style sheet ----------------------------------------------------------------
    def sizeHint(self) -> QSize:  # noqa: N802 - Qt override
        # As wide as its lines need (the campaign shows whole), within 42 to 64 characters; past that
        # a line ends in "…" and the tooltip has it.
        em = self.fontMetrics().averageCharWidth()
        margins = self.layout().contentsMargins()
        timer = self.timer_label.fontMetrics().horizontalAdvance("0:00:00") + 6
        lines = (
            self.caller_label.fontMetrics().horizontalAdvance(self.caller_label.full) + timer,
            *(
                label.fontMetrics().horizontalAdvance(label.full)
                for label in (self.detail_label, self.status_label)
            ),
        )
        width = max(lines) + margins.left() + margins.right() + 4
        return QSize(min(max(width, em * 42), em * 64), self.layout().sizeHint().height())

    def minimumSizeHint(self) -> QSize:  # noqa: N802 - Qt override
        return self.sizeHint()

    def paintEvent(self, event: QPaintEvent) -> None:  # noqa: N802 - Qt override
        option = QStyleOption()
        option.initFrom(self)
        painter = QPainter(self)
        self.style().drawPrimitive(QStyle.PrimitiveElement.PE_Widget, option, painter, self)

    def keyPressEvent(self, event: QKeyEvent) -> None:  # noqa: N802 - Qt override
        key = event.key()
        if key in (Qt.Key.Key_Return, Qt.Key.Key_Enter) and not event.isAutoRepeat():
            self.animateClick()
        elif key in (Qt.Key.Key_Left, Qt.Key.Key_Right):
            self.stepFocus.emit(-1 if key == Qt.Key.Key_Left else 1)
        elif key == Qt.Key.Key_Delete and not event.modifiers():
            self.closeKeyPressed.emit(self.call_id)  # the strip closes it, or says why not yet
        else:
            super().keyPressEvent(event)  # Space clicks, as on any button


class CallNotice(QLabel):
    """A short message to the CSR at the end of the strip; it goes away by itself (or when clicked)."""

    def __init__(self, parent: QWidget) -> None:
        super().__init__(parent)
        self.setObjectName("callNotice")
        self.setAccessibleName("Call notice")
        self.setTextFormat(Qt.TextFormat.PlainText)
        self.setWordWrap(True)
        chars = self.fontMetrics().averageCharWidth()
        self.setMinimumWidth(chars * 30)
        self.setMaximumWidth(chars * 44)
        self.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Maximum)
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.timeout.connect(self.dismiss)
        self.hide()

    def show_message(self, message: str, msec: int) -> None:
        self.setText(message)
        self.setToolTip(message)
        self.show()
        self._timer.start(msec)
        if QAccessible.isActive():  # a screen reader says it without moving the focus
            QAccessible.updateAccessibility(QAccessibleAnnouncementEvent(self, message))

    def dismiss(self) -> None:
        self._timer.stop()
        self.hide()

    def mousePressEvent(self, event: Any) -> None:  # noqa: N802 - Qt override
        self.dismiss()
