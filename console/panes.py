"""The window's three panes side by side — search, customer, booking — and how the width is shared.

With no customer open the search results get the room (every column shows); once one is open they
narrow to a list and the customer panel takes the room. Each mode keeps its shares of the width, the
CSR's own drags included (remembered in the settings), and a resized window keeps the shares. The
customer panel's handle between its details and its history is remembered too.
"""

from __future__ import annotations

from PySide6.QtCore import QByteArray, QEvent, QObject, QSettings
from PySide6.QtWidgets import QSizePolicy, QSplitter, QTabWidget

from widgets.customer_panel import CustomerPanel
from widgets.customer_search import CustomerResultsView

from .settings import pane_shares, remember_pane_shares

CUSTOMER_SPLIT = "layout/customer-split"


class Panes(QObject):
    """Sizes the main splitter for what the CSR is doing and remembers the CSR's drags."""

    def __init__(
        self,
        splitter: QSplitter,
        panel: CustomerPanel,
        results: CustomerResultsView,
        work_tabs: QTabWidget,
        settings: QSettings,
    ) -> None:
        super().__init__(splitter)
        self._splitter, self._panel, self._results, self._settings = splitter, panel, results, settings
        self._work_tabs = work_tabs
        for i, stretch in enumerate((0, 1, 0)):  # between refits, the customer panel takes any change
            splitter.setStretchFactor(i, stretch)
        state = settings.value(CUSTOMER_SPLIT)
        if isinstance(state, QByteArray) and not state.isEmpty():
            panel.splitter.restoreState(state)
        self._connect_signals()
        self.fit()

    def _connect_signals(self) -> None:
        self._splitter.installEventFilter(self)
        self._splitter.splitterMoved.connect(self._moved)
        self._panel.customerShown.connect(self.fit)
        self._work_tabs.currentChanged.connect(self._fit_work_tabs)
        self._panel.splitter.splitterMoved.connect(
            lambda *_: self._settings.setValue(CUSTOMER_SPLIT, self._panel.splitter.saveState())
        )

    def mode(self) -> str:
        """ "customer" while a customer is open, else "idle"."""
        return "customer" if self._panel.customer_id() else "idle"

    def fit(self, *_args: object) -> None:
        """Give each pane the mode's share of the splitter's width."""
        mode = self.mode()
        self._results.set_compact(mode == "customer")
        self._fit_work_tabs()
        splitter = self._splitter
        total = splitter.width() - splitter.handleWidth() * (splitter.count() - 1)
        if total > 0:
            splitter.setSizes([round(total * share) for share in pane_shares(self._settings, mode)])

    def _fit_work_tabs(self, *_args: object) -> None:
        """The booking pane is as narrow as its current tab allows: a wider tab (the leads list's row of
        buttons) widens the pane while it is shown, and only then."""
        tabs = self._work_tabs
        for i in range(tabs.count()):
            page = tabs.widget(i)
            wanted = QSizePolicy.Policy.Preferred if i == tabs.currentIndex() else QSizePolicy.Policy.Ignored
            if page.sizePolicy().horizontalPolicy() != wanted:
                page.setSizePolicy(wanted, page.sizePolicy().verticalPolicy())

    def _moved(self, *_args: object) -> None:
        remember_pane_shares(self._settings, self.mode(), self._splitter.sizes())

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802 - Qt override
        if watched is self._splitter and event.type() == QEvent.Type.Resize:
            self.fit()
        return False
