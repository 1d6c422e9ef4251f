"""What the scorecards show, from the server's answer (plain dicts): the CSR rows, the campaigns, the
Abandoned profile's line and the CSV a manager exports. No Qt widgets here, only the table models."""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from PySide6.QtCore import Qt

from .call_bubble import duration_text
from .charts import percent_text
from .row_model import RowTableModel

__all__ = ["CampaignModel", "ScorecardModel", "abandoned_text", "day_label", "scorecard_csv"]

NOTHING = "—"
SCORE_COLUMNS = (
    "CSR",
    "Handled",
    "Booked",
    "Unbooked",
    "Excused",
    "Not a lead",
    "Booking rate",
    "Avg handle",
)
CAMPAIGN_COLUMNS = ("Campaign", "Leads", "Booked", "Booked %")
CSV_SCORE_HEADER = (
    "CSR",
    "Calls handled",
    "Booked",
    "Unbooked",
    "Excused",
    "Not a lead",
    "Booking rate %",
    "Avg handle (s)",
)
CSV_CAMPAIGN_HEADER = ("Campaign", "Leads", "Booked", "Booked %")


def day_label(day: str) -> str:
    """ "2026-03-09" → "Mar 9"."""
    d = date.fromisoformat(day)
    return f"{d:%b} {d.day}"


@dataclass(frozen=True)
class ScoreRow:
    id: str
    name: str
    inbound_handled: int
    booked: int
    unbooked: int
    excused: int
    not_lead: int
    booking_rate_pct: float | None
    avg_handle_s: float | None

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> ScoreRow:
        return cls(
            str(d["user_id"]),
            str(d.get("name") or ""),
            int(d.get("inbound_handled") or 0),
            int(d.get("booked") or 0),
            int(d.get("unbooked") or 0),
            int(d.get("excused") or 0),
            int(d.get("not_lead") or 0),
            d.get("booking_rate_pct"),
            d.get("avg_handle_s"),
        )


@dataclass(frozen=True)
class CampaignRow:
    id: str
    leads: int
    booked: int
    booked_pct: float | None

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> CampaignRow:
        return cls(
            str(d.get("campaign") or "Unknown campaign"),
            int(d.get("leads") or 0),
            int(d.get("booked") or 0),
            d.get("booked_pct"),
        )


_RIGHT = int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)


class ScorecardModel(RowTableModel[ScoreRow]):
    """One row per CSR for the period."""

    columns = SCORE_COLUMNS

    def text(self, row: ScoreRow, column: int) -> str:
        if column == 0:
            return row.name
        if column == 6:
            return percent_text(row.booking_rate_pct)
        if column == 7:
            return NOTHING if row.avg_handle_s is None else duration_text(row.avg_handle_s)
        return str((row.inbound_handled, row.booked, row.unbooked, row.excused, row.not_lead)[column - 1])

    def role_data(self, row: ScoreRow, column: int, role: int) -> Any:
        if role == Qt.ItemDataRole.TextAlignmentRole and column > 0:
            return _RIGHT
        if role == Qt.ItemDataRole.ToolTipRole and column == 6:
            return (
                "Booked ÷ (booked + unbooked)"
                if row.booking_rate_pct is not None
                else "No leads in this period."
            )
        return None


class CampaignModel(RowTableModel[CampaignRow]):
    """Leads and bookings per campaign (tracking number)."""

    columns = CAMPAIGN_COLUMNS

    def text(self, row: CampaignRow, column: int) -> str:
        return (row.id, str(row.leads), str(row.booked), percent_text(row.booked_pct))[column]

    def role_data(self, row: CampaignRow, column: int, role: int) -> Any:
        if role == Qt.ItemDataRole.TextAlignmentRole and column > 0:
            return _RIGHT
        return None


# How the server's extra Abandoned counts read; other numbers are named from their key, lists skipped.
ABANDONED_PARTS = {
    "unanswered": "{n} hung up before anyone answered",
    "answered_unclaimed": "{n} answered but never claimed",
}


def _extra_text(key: str, value: Any) -> str | None:
    """("unanswered", 3) → "3 hung up before anyone answered"; ("avg_wait_s", 35) → "avg wait 0:35"."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None  # call ids and the like are for drilling in, not for this line
    if key in ABANDONED_PARTS:
        return ABANDONED_PARTS[key].format(n=value)
    if key.endswith("_s"):
        return f"{key[:-2].replace('_', ' ')} {duration_text(value)}"
    if key.endswith("_pct"):
        return f"{key[:-4].replace('_', ' ')} {percent_text(value)}"
    return f"{key.replace('_', ' ')} {value}"


def abandoned_text(abandoned: Mapping[str, Any] | None) -> str:
    """The Abandoned profile on its own line: "Abandoned: 4 calls · 3 hung up before anyone answered · …"."""
    count = int((abandoned or {}).get("count") or 0)
    parts = [f"Abandoned: {count} call{'s' if count != 1 else ''}"]
    parts += [t for k, v in (abandoned or {}).items() if k != "count" and (t := _extra_text(k, v))]
    return " · ".join(parts)


def _number(value: Any, digits: int = 1) -> str:
    if value is None:
        return ""
    quantum = Decimal(1).scaleb(-digits)  # halves round up, as percent_text does
    return str(Decimal(str(value)).quantize(quantum, rounding=ROUND_HALF_UP))


def scorecard_csv(answer: Mapping[str, Any]) -> str:
    """The scorecard as CSV for a spreadsheet: the CSR rows, the Abandoned count, then the campaigns."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(CSV_SCORE_HEADER)
    for r in (ScoreRow.from_dict(d) for d in answer.get("rows") or ()):
        writer.writerow(
            (
                r.name,
                r.inbound_handled,
                r.booked,
                r.unbooked,
                r.excused,
                r.not_lead,
                _number(r.booking_rate_pct),
                _number(r.avg_handle_s, 0),
            )
        )
    writer.writerow(("Abandoned", int((answer.get("abandoned") or {}).get("count") or 0)))
    writer.writerow(())
    writer.writerow(CSV_CAMPAIGN_HEADER)
    for c in (CampaignRow.from_dict(d) for d in answer.get("campaigns") or ()):
        writer.writerow((c.id, c.leads, c.booked, _number(c.booked_pct)))
    return out.getvalue()
