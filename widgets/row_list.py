"""What the lists of rows with a message line do alike (leads, call review): pick a row by index or
id, focus the list, say something above it. A list that mixes this in has ``view`` (a table view over
a ``widgets.row_model.RowTableModel`` in ``model``) and ``message_label``."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date
from typing import Any

from PySide6.QtCore import QDate, QEvent, QObject, Qt
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QDateEdit,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QTableView,
    QWidget,
)

from models.call_review import period_bounds

MESSAGE_STYLE = {"error": "color: #c62828;", "warning": "color: #b26a00;", "info": ""}
DATE_FORMAT = "ddd MMM d, yyyy"


def read_only_table(
    parent: QWidget,
    name: str,
    spoken: str,
    model: Any,
    *,
    alternating: bool = False,
    stretch_last: bool = False,
) -> QTableView:
    """A table of rows to pick from: whole rows, one at a time, read-only; Tab leaves it, arrows move in it."""
    view = QTableView(parent)
    view.setObjectName(name)
    view.setAccessibleName(spoken)
    view.setModel(model)
    view.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
    view.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
    view.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
    view.setTabKeyNavigation(False)
    view.setAlternatingRowColors(alternating)
    view.verticalHeader().hide()
    view.setWordWrap(False)
    view.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
    view.horizontalHeader().setStretchLastSection(stretch_last)
    return view


class ColumnFitter(QObject):
    """Keeps a table's columns inside its width, so it never scrolls sideways: short columns get their
    contents' width, the ``elastic`` text columns share what is left (the first takes any surplus) and,
    when short of room, shrink in proportion to their contents, never below their header's text (nor
    the number of characters ``elastic`` maps them to); their cells then end in "…" and the model's
    tooltip shows the whole text."""

    def __init__(self, view: QTableView, elastic: Sequence[int] | Mapping[int, int]) -> None:
        super().__init__(view)
        self._view = view
        self._keep = dict(elastic) if isinstance(elastic, Mapping) else dict.fromkeys(elastic, 0)
        self._elastic = tuple(self._keep)
        header = view.horizontalHeader()
        header.setStretchLastSection(False)
        header.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        view.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAsNeeded)
        view.viewport().installEventFilter(self)
        model = view.model()
        for signal in (
            model.modelReset,
            model.rowsInserted,
            model.rowsRemoved,
            model.layoutChanged,
            model.dataChanged,
        ):
            signal.connect(self.fit)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802 - Qt override
        if event.type() == QEvent.Type.Resize:
            self.fit()
        return False

    def fit(self, *_args: Any) -> None:
        view, header = self._view, self._view.horizontalHeader()
        columns = [c for c in range(header.count()) if not header.isSectionHidden(c)]
        if not columns:
            return
        em = view.fontMetrics().averageCharWidth()
        # The header's text must show, and the characters a column keeps.
        least = {c: max(header.sectionSizeHint(c), self._keep.get(c, 0) * em) for c in columns}
        want = {c: max(least[c], view.sizeHintForColumn(c)) for c in columns}
        elastic = [c for c in self._elastic if c in want]
        room = view.viewport().width() - sum(want[c] for c in columns if c not in elastic)
        widths = {c: want[c] for c in columns}
        needed = sum(want[c] for c in elastic)
        if elastic and needed <= room:
            widths[elastic[0]] += room - needed
        elif elastic:
            spare = max(0, room - sum(least[c] for c in elastic))
            extra = sum(want[c] - least[c] for c in elastic) or 1
            for c in elastic:
                widths[c] = least[c] + (want[c] - least[c]) * spare // extra
        for c, width in widths.items():
            if header.sectionSize(c) != width:
                header.resizeSection(c, width)


def fit_columns(view: QTableView, elastic: Sequence[int] | Mapping[int, int]) -> ColumnFitter:
    """Columns that always fit the table's width (see ``ColumnFitter``)."""
    return ColumnFitter(view, elastic)


def labelled(parent: QWidget, text: str, widget: QWidget, row: QHBoxLayout) -> None:
    """A mnemonic label for ``widget``, both added to ``row``."""
    label = QLabel(text, parent)
    label.setBuddy(widget)
    row.addWidget(label)
    row.addWidget(widget)


def period_picker(
    parent: QWidget, prefix: str, periods: Sequence[tuple[str, str]]
) -> tuple[QComboBox, QDateEdit, QDateEdit]:
    """The period combo (text, key) and the custom range's From / To (objectNames prefix+Period/From/To)."""
    combo = QComboBox(parent)
    combo.setObjectName(f"{prefix}Period")
    combo.setAccessibleName("Period")
    for text, key in periods:
        combo.addItem(text, key)
    edits = QDateEdit(parent), QDateEdit(parent)
    for edit, part in zip(edits, ("From", "To"), strict=True):
        edit.setObjectName(f"{prefix}{part}")
        edit.setAccessibleName(part)
        edit.setCalendarPopup(True)
        edit.setDisplayFormat(DATE_FORMAT)
    return combo, edits[0], edits[1]


def qdate(day: date) -> QDate:
    return QDate(day.year, day.month, day.day)


class RowListMixin:
    view: Any
    model: Any
    message_label: Any

    def _build_list(self, view_name: str, accessible_name: str, message_name: str) -> None:
        """The message line and the table."""
        self.message_label = QLabel(self)  # type: ignore[call-overload]
        self.message_label.setObjectName(message_name)
        self.message_label.setWordWrap(True)
        self.message_label.setTextFormat(Qt.TextFormat.PlainText)
        self.message_label.hide()
        self.view = read_only_table(self, view_name, accessible_name, self.model)  # type: ignore[arg-type]

    def current_row(self) -> Any:
        return self.model.row_at(self.view.currentIndex().row())

    def current_row_id(self) -> str:
        row = self.current_row()
        return row.id if row else ""

    def select_id(self, row_id: str) -> None:
        """That row (by id) becomes current; the first one when it isn't listed."""
        index = self.model.row_of(row_id) if row_id else -1
        self.select_row(index if index >= 0 else 0)

    def select_row(self, row: int) -> None:
        if 0 <= row < self.model.rowCount():
            self.view.setCurrentIndex(self.model.index(row, 0))

    def focus_list(self) -> None:
        if self.model.rowCount():
            self.select_row(max(self.view.currentIndex().row(), 0))
        self.view.setFocus(Qt.FocusReason.ShortcutFocusReason)

    def show_message(self, text: str, kind: str = "info") -> None:
        """A line above the list: what a change did ("Saved on this PC."), or why it was refused."""
        self.message_label.setText(text)
        self.message_label.setStyleSheet(MESSAGE_STYLE.get(kind, ""))
        self.message_label.setAccessibleName({"error": "Error", "warning": "Warning"}.get(kind, "Message"))
        self.message_label.setVisible(bool(text))


class PeriodMixin:
    """A period picked as a preset ("today", "yesterday", "week", "month", counted from the company's
    today) or a custom range (call review, scorecards). Needs ``period_combo``, ``from_edit``,
    ``to_edit`` (``period_picker``) and ``_today``; ``_period_chosen()`` says what a change does."""

    period_combo: Any
    from_edit: Any
    to_edit: Any
    _today: date

    def _period_chosen(self) -> None:
        raise NotImplementedError

    def set_today(self, day: date) -> None:
        """The company's today (the periods count from it)."""
        self._today = day
        if self.period() != "custom":
            self._period_changed()

    def period(self) -> str:
        return str(self.period_combo.currentData())

    def set_period(self, period: str, first: date | None = None, last: date | None = None) -> None:
        """Choose a period ("today", "yesterday", "week", "month", or "custom" with its dates)."""
        self.period_combo.blockSignals(True)
        self.period_combo.setCurrentIndex(max(self.period_combo.findData(period), 0))
        self.period_combo.blockSignals(False)
        if period == "custom" and first is not None:
            self._set_dates(first, last or first)
        self._period_changed(emit=True)

    def date_range(self) -> tuple[date, date]:
        """First and last day of the period (inclusive; a custom range given backwards is turned round)."""
        if self.period() != "custom":
            return period_bounds(self.period(), self._today)
        first, last = self.from_edit.date().toPython(), self.to_edit.date().toPython()
        return (first, last) if first <= last else (last, first)

    def _set_dates(self, first: date, last: date) -> None:
        for edit, day in ((self.from_edit, first), (self.to_edit, last)):
            edit.blockSignals(True)
            edit.setDate(qdate(day))
            edit.blockSignals(False)

    def _period_changed(self, emit: bool = False) -> None:
        custom = self.period() == "custom"
        for edit in (self.from_edit, self.to_edit):
            edit.setEnabled(custom)
        if not custom:
            self._set_dates(*period_bounds(self.period(), self._today))  # the dates show what it means
        if emit:
            self._period_chosen()

    def _dates_changed(self) -> None:
        if self.period() == "custom":
            self._period_chosen()
