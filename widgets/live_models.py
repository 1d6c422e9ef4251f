"""The supervisor board's two models: live calls and agents, built from the dicts the server's feed
sends. A snapshot is a reset (a new picture); a delta inserts, changes or removes single rows; the
one-second tick is a ``dataChanged`` on the ticking column only, for the display role."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, ClassVar

from PySide6.QtCore import QModelIndex, QObject, Qt
from PySide6.QtGui import QColor, QFont

from models.phone import format_phone

from .call_bubble import duration_text
from .row_model import RowTableModel

__all__ = ["AgentsModel", "LiveAgent", "LiveCall", "LiveCallsModel", "parse_time"]

NO_CALLER_ID = "No caller ID"
STALE_HINT = "The server has had no news of this call for a while. If it is over, close it."
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MUTED = QColor("#8b929c")
_WARN = QColor("#b26a00")


def parse_time(text: str | None) -> datetime | None:
    """An ISO 8601 stamp from the server ("…Z" or "+00:00"), as an aware UTC datetime; None stays None."""
    if not text:
        return None
    at = datetime.fromisoformat(text)
    return at.replace(tzinfo=UTC) if at.tzinfo is None else at


@dataclass(frozen=True)
class LiveCall:
    id: str
    state: str
    direction: str
    from_number: str
    customer_name: str
    campaign: str
    agent_id: str
    agent_name: str
    started_at: datetime
    answered_at: datetime | None
    ended_at: datetime | None
    classification: str
    closed: bool
    stale: bool
    answered_by_name: str = ""  # whose softphone answered, when nobody claimed the call
    to_number: str = ""  # the number dialed (an outbound call's other party)

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> LiveCall:
        return cls(
            str(d["id"]),
            str(d.get("state") or ""),
            str(d.get("direction") or ""),
            str(d.get("from_number") or ""),
            str(d.get("customer_name") or ""),
            str(d.get("campaign") or ""),
            str(d.get("agent_id") or ""),
            str(d.get("agent_name") or ""),
            parse_time(d.get("started_at")) or _EPOCH,
            parse_time(d.get("answered_at")),
            parse_time(d.get("ended_at")),
            str(d.get("classification") or ""),
            bool(d.get("closed")),
            bool(d.get("stale")),
            str(d.get("answered_by_name") or ""),
            str(d.get("to_number") or ""),
        )

    @property
    def caller(self) -> str:
        """The other party's number: who called in, or whom a CSR called out to."""
        number = self.to_number if self.direction == "Outbound" else self.from_number
        return format_phone(number) if number else NO_CALLER_ID

    def state_text(self) -> str:
        """ "Ringing", "Waiting", "Talking", "On hold", "Ended — not classified"; stale calls say so."""
        if self.state == "Ended":
            text = "Ended" if self.classification else "Ended — not classified"
        else:
            text = {"Queued": "Waiting", "Held": "On hold"}.get(self.state, self.state)
        return f"{text} (stale)" if self.stale else text

    def seconds(self, now: datetime) -> float:
        """How long it has waited (ringing, queued) or been answered; an ended call's clock stops."""
        since = self.answered_at or self.started_at
        if self.state in ("Ringing", "Queued"):
            since = self.started_at
        end = self.ended_at if self.state == "Ended" and self.ended_at else now
        return (end - since).total_seconds()


@dataclass(frozen=True)
class LiveAgent:
    id: str
    name: str
    state: str
    reason: str
    since: datetime | None
    call_id: str
    phone: str = ""  # their softphone: "registered", "offline", "" (no seat, or not said)
    phone_message: str = ""  # why it is offline, as the CSR reads it

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> LiveAgent:
        return cls(
            str(d["user_id"]),
            str(d.get("name") or ""),
            str(d.get("state") or "Offline"),
            str(d.get("reason") or ""),
            parse_time(d.get("since")),
            str(d.get("call_id") or ""),
            str(d.get("phone") or ""),
            str(d.get("phone_message") or ""),
        )


class _LiveModel(RowTableModel[Any]):
    """Rows kept in a fixed order (``sort_key``); deltas insert in place; ``tick`` refreshes one column."""

    tick_column: ClassVar[int] = 0

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.now = _EPOCH
        self._bold = QFont()
        self._bold.setBold(True)

    def sort_key(self, row: Any) -> Any:
        raise NotImplementedError

    def set_rows(self, rows: Iterable[Any]) -> None:  # type: ignore[override]
        super().set_rows(sorted(rows, key=self.sort_key))

    def upsert(self, row: Any) -> None:
        """A row that is new or changed: inserted at its place, or changed where it is (moved if its place moved)."""
        index = self.row_of(row.id)
        if index >= 0:
            key = self.sort_key(row)
            before = self._rows[index - 1] if index > 0 else None
            after = self._rows[index + 1] if index + 1 < len(self._rows) else None
            if (before is None or self.sort_key(before) <= key) and (
                after is None or key <= self.sort_key(after)
            ):
                self._rows[index] = row
                self.changed(index)
                return
            self.remove_row(row.id)
        at = next(
            (i for i, r in enumerate(self._rows) if self.sort_key(row) < self.sort_key(r)), len(self._rows)
        )
        self.beginInsertRows(QModelIndex(), at, at)
        self._rows.insert(at, row)
        self.endInsertRows()

    def tick(self, now: datetime) -> None:
        """Move the clocks on: only the ticking column's text changes."""
        self.now = now
        if self._rows:
            self.dataChanged.emit(
                self.index(0, self.tick_column),
                self.index(len(self._rows) - 1, self.tick_column),
                [Qt.ItemDataRole.DisplayRole],
            )

    def refresh_cells(self, column: int, rows: Iterable[int]) -> None:
        """These rows' text in ``column`` changed."""
        for row in rows:
            self.dataChanged.emit(self.index(row, column), self.index(row, column))


CALL_COLUMNS = ("State", "Time", "Caller", "Customer", "Campaign", "CSR")
C_STATE, C_TIME, C_CALLER, C_CUSTOMER, C_CAMPAIGN, C_CSR = range(len(CALL_COLUMNS))


class LiveCallsModel(_LiveModel):
    """Calls in progress, the longest-waiting first."""

    columns = CALL_COLUMNS
    tick_column = C_TIME

    def sort_key(self, row: LiveCall) -> Any:
        return (row.started_at, row.id)

    def text(self, row: LiveCall, column: int) -> str:
        if column == C_STATE:
            return row.state_text()
        if column == C_CALLER:
            return row.caller
        if column == C_CUSTOMER:
            return row.customer_name
        if column == C_CAMPAIGN:
            return row.campaign
        if column == C_CSR:
            if row.agent_name:
                return row.agent_name
            if row.answered_by_name:
                return f"{row.answered_by_name} (not claimed)"
            return "Nobody yet" if row.state in ("Ringing", "Queued") else "Nobody"
        return duration_text(row.seconds(self.now))

    def role_data(self, row: LiveCall, column: int, role: int) -> Any:
        if role == Qt.ItemDataRole.ToolTipRole:
            if row.stale:
                return STALE_HINT
            if column == C_TIME:
                return "Waiting for" if row.state in ("Ringing", "Queued") else "Answered for"
            return None
        if role == Qt.ItemDataRole.ForegroundRole:
            if row.stale:
                return _WARN
            if row.state == "Ended":
                return _MUTED
        if role == Qt.ItemDataRole.FontRole and column == C_STATE and row.state in ("Ringing", "Queued"):
            return self._bold
        if role == Qt.ItemDataRole.TextAlignmentRole and column == C_TIME:
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        return None


AGENT_COLUMNS = ("CSR", "State", "In state", "Reason", "Current call", "Phone")
A_NAME, A_STATE, A_SINCE, A_REASON, A_CALL, A_PHONE = range(len(AGENT_COLUMNS))
PHONE_TEXTS = {"registered": "Ready", "offline": "Phone offline"}


class AgentsModel(_LiveModel):
    """Every CSR, by name; ``call_text`` says how a current call reads (the board knows the calls)."""

    columns = AGENT_COLUMNS
    tick_column = A_SINCE

    def __init__(
        self, parent: QObject | None = None, call_text: Callable[[str], str] = lambda call_id: call_id
    ) -> None:
        super().__init__(parent)
        self.call_text = call_text

    def sort_key(self, row: LiveAgent) -> Any:
        return (row.name.casefold(), row.id)

    def text(self, row: LiveAgent, column: int) -> str:
        if column == A_NAME:
            return row.name
        if column == A_STATE:
            return row.state
        if column == A_REASON:
            return row.reason
        if column == A_SINCE:
            return duration_text((self.now - row.since).total_seconds()) if row.since else ""
        if column == A_PHONE:
            # A signed-out CSR's phone is not the news: they are Offline.
            return PHONE_TEXTS.get(row.phone, "") if row.state != "Offline" else ""
        return self.call_text(row.call_id) if row.call_id else ""

    def role_data(self, row: LiveAgent, column: int, role: int) -> Any:
        if role == Qt.ItemDataRole.ForegroundRole and row.state == "Offline":
            return _MUTED
        if role == Qt.ItemDataRole.TextAlignmentRole and column == A_SINCE:
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        if role == Qt.ItemDataRole.ToolTipRole and column == A_STATE and row.reason:
            return f"{row.state}: {row.reason}"
        phone_down = column == A_PHONE and row.phone == "offline" and row.state != "Offline"
        if role == Qt.ItemDataRole.ToolTipRole and phone_down:
            return row.phone_message or "Their softphone is offline: calls can't ring at their seat."
        if role == Qt.ItemDataRole.ForegroundRole and phone_down:
            return _WARN
        return None
