"""The small forms of call review: attach the CSR, pick the reason, write the excuse memo, tag.

Each is built from plain data, checks what it can (a choice made, a memo written) and closes on Save;
the review widget then emits its request. Opened with ``open()``, never ``exec()``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel, QVBoxLayout, QWidget

from models.call_review import ReasonChoice, ReviewRow, UserChoice
from models.call_review_intents import MAX_TAGS
from models.calls import Call
from models.customers import TagType
from models.validation import Report, max_length

from .call_review_model import when_text
from .form_dialog import FormDialog, text_of

AGENT_REQUIRED = "Pick the CSR who took the call."
REASON_REQUIRED = "Pick the call reason."
MEMO_REQUIRED = "Write why the call is excused."
TAG_LIMIT = max_length(TagType, "name") or 60


def split_tags(text: str) -> list[str]:
    """ "Call back, after hours," → ["Call back", "after hours"] (blanks and repeats dropped)."""
    out: list[str] = []
    for part in text.split(","):
        name = part.strip()
        if name and name.casefold() not in {t.casefold() for t in out}:
            out.append(name)
    return out


class _ReviewDialog(FormDialog):
    """A form about one call: the call in one line above the fields."""

    def __init__(self, title: str, row: ReviewRow, parent: QWidget | None, name: str) -> None:
        super().__init__(title, parent)
        self.setObjectName(name)
        self.row = row
        who = row.customer_name or row.caller
        header = QLabel(
            f"{who} · {row.caller if row.customer_name else row.campaign} · {when_text(row.started_at)}", self
        )
        header.setObjectName(f"{name}Call")
        header.setTextFormat(Qt.TextFormat.PlainText)
        layout = self.layout()
        if isinstance(layout, QVBoxLayout):
            layout.insertWidget(0, header)


class AttachAgentDialog(_ReviewDialog):
    """Which user really took the call: the active users, the call's CSR preselected."""

    def __init__(self, row: ReviewRow, users: Sequence[UserChoice], parent: QWidget | None = None) -> None:
        super().__init__("Attach the CSR who took the call", row, parent, "attachAgentDialog")
        items = [("Choose a user…", "")]
        items += [(u.name if u.role == "csr" else f"{u.name} ({u.role})", u.id) for u in users]
        self.agent = self.add_combo("agent_id", "&CSR who took the call", items, row.agent_id or "")
        if row.answered_by:
            self.agent.setToolTip(f"The phone system says {row.answered_by} answered.")

    def check(self) -> Report:
        return Report(errors={} if text_of(self.agent) else {"agent_id": AGENT_REQUIRED})

    def values(self) -> dict[str, Any]:
        return {"agent_id": text_of(self.agent)}


class ReasonDialog(_ReviewDialog):
    """The call's reason as the manager judges it (lead reasons first, marked)."""

    def __init__(
        self, row: ReviewRow, reasons: Sequence[ReasonChoice], parent: QWidget | None = None
    ) -> None:
        super().__init__("Reclassify the call", row, parent, "reasonDialog")
        items = [("Choose a call reason…", "")]
        items += [(f"{r.name} (lead)" if r.is_lead else r.name, r.id) for r in reasons]
        self.reason = self.add_combo("call_reason_id", "Call &reason", items, row.call_reason_id or "")

    def check(self) -> Report:
        return Report(errors={} if text_of(self.reason) else {"call_reason_id": REASON_REQUIRED})

    def values(self) -> dict[str, Any]:
        return {"call_reason_id": text_of(self.reason)}


class ExcuseDialog(_ReviewDialog):
    """Why the call doesn't count against the CSR: the memo is required."""

    def __init__(self, row: ReviewRow, parent: QWidget | None = None) -> None:
        super().__init__("Excuse the call", row, parent, "excuseDialog")
        self.memo = self.add_line("memo", "&Memo", Call, "excuse_memo", text=row.excuse_memo)
        self.memo.setPlaceholderText("Why it doesn't count: wrong number, line test, …")
        self.save_button.setText("E&xcuse")

    def check(self) -> Report:
        return Report(errors={} if text_of(self.memo) else {"memo": MEMO_REQUIRED})

    def values(self) -> dict[str, Any]:
        return {"memo": text_of(self.memo)}


class TagsDialog(_ReviewDialog):
    """The call's tags, comma-separated; the names replace the ones it has."""

    def __init__(self, row: ReviewRow, parent: QWidget | None = None) -> None:
        super().__init__("Tag the call", row, parent, "tagsDialog")
        self.tags = self.add_line("tags", "&Tags", text=", ".join(row.tags))
        self.tags.setPlaceholderText("Call back, After hours")
        self.tags.setToolTip("Separate tags with commas; clear the box to remove them all.")

    def check(self) -> Report:
        names = split_tags(self.tags.text())
        report = Report()
        if len(names) > MAX_TAGS:
            report.errors["tags"] = f"A call can have at most {MAX_TAGS} tags."
        elif any(len(n) > TAG_LIMIT for n in names):
            report.errors["tags"] = f"A tag can have at most {TAG_LIMIT} characters."
        return report

    def values(self) -> dict[str, Any]:
        return {"tags": split_tags(self.tags.text())}
