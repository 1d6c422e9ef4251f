"""The left pane: search box, a one-line summary, and the results list."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QLabel, QVBoxLayout, QWidget

from models.search import Match, ResultRow

from .customer_search import CustomerResultsModel, CustomerResultsView, CustomerSearchBox, RowRequest


class LookupPane(QWidget):
    """Emits ``queryChanged`` on every edit and ``customerActivated`` when a customer is opened."""

    queryChanged = Signal(str)
    customerActivated = Signal(str)

    def __init__(self, loader: RowRequest | None = None, parent: Any = None) -> None:
        super().__init__(parent)
        self.setObjectName("lookupPane")
        self.search = CustomerSearchBox(self)
        self.summary = QLabel("Type to find the caller.", self)
        self.summary.setObjectName("searchSummary")
        self.summary.setAccessibleName("Search summary")
        self.model = CustomerResultsModel(loader, self)
        self.results = CustomerResultsView(self)
        self.results.setModel(self.model)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(4)
        layout.addWidget(self.search)
        layout.addWidget(self.summary)
        layout.addWidget(self.results, 1)
        self.setTabOrder(self.search, self.results)
        self._connect_signals()

    def _connect_signals(self) -> None:
        self.search.textChanged.connect(self._on_text)
        self.search.moveToResults.connect(self.results.focus_first)
        self.search.openTopResult.connect(self._open_top)
        self.results.openCustomer.connect(self.customerActivated)
        self.results.backToSearch.connect(lambda: self.search.setFocus(Qt.FocusReason.ShortcutFocusReason))

    def _on_text(self, text: str) -> None:
        if not text.strip():
            self.model.clear()
            self.summary.setText("Type to find the caller.")
        self.queryChanged.emit(text)

    def _open_top(self) -> None:
        cid = self.model.customer_id(0)
        if cid:
            self.customerActivated.emit(cid)

    def show_results(
        self, query: str, ids: list[str], reasons: dict[str, Match], rows: dict[str, ResultRow]
    ) -> None:
        if query != self.search.text():
            return  # the CSR has typed on; a newer result is coming
        if not query.strip():
            return
        self.model.set_results(query, ids, reasons, rows)
        exact = sum(1 for i in ids if reasons.get(i) is Match.PHONE_EXACT)
        if not ids:
            text = "No customer matches — press Ctrl+Shift+N to create one."
        elif exact:
            text = f"{exact} customer{'s' if exact > 1 else ''} with this phone number" + (
                f", {len(ids) - exact} more matches" if len(ids) > exact else ""
            )
        else:
            more = "+" if len(ids) >= 200 else ""
            text = f"{len(ids)}{more} match{'es' if len(ids) != 1 else ''} — ↓ to choose, Enter to open"
        self.summary.setText(text)

    def show_error(self, message: str) -> None:
        self.summary.setText(message)
