"""The setup window (issue 19): one screen for every kind of setup record, built from the kind's
description (models/setup_edit.py ``KINDS``) — a type-ahead list and an editor form per kind.

Keyboard: Up/Down pick a kind; Tab to the filter (type to narrow the list; Down to the list); Enter edits
the highlighted record; Ctrl+N a new one; Ctrl+S saves; Ctrl+R retires (or reactivates); Delete deletes
one nothing refers to; Esc leaves the form (asking "Discard changes?" when something was typed) and,
from the list, closes the window. For a user who may not change the setup, every editor is read-only and
the actions are hidden. The window never touches the database: it asks its controller
(console/setup_controller.py), which answers by calling ``show_listing`` / ``show_errors`` / ``show_message``.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QModelIndex, QSortFilterProxyModel, Qt, Signal
from PySide6.QtGui import QKeySequence, QShortcut, QStandardItem, QStandardItemModel
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListView,
    QListWidget,
    QMessageBox,
    QPlainTextEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from models.setup_edit import KINDS, Field, Kind, Listing

from .name_list_completer import NameListCompleter

ID_ROLE = Qt.ItemDataRole.UserRole + 1
FIELDS_ROLE = Qt.ItemDataRole.UserRole + 2
ACTIVE_ROLE = Qt.ItemDataRole.UserRole + 3


class SetupWindow(QWidget):
    kindChosen = Signal(str)
    saveRequested = Signal(str, str, dict, dict)  # kind, id ("" for new), values, seen
    retireRequested = Signal(str, str, bool)  # kind, id, active
    deleteRequested = Signal(str, str)  # kind, id
    closed = Signal()

    def __init__(self, parent: QWidget | None = None, *, can_edit: bool = True) -> None:
        super().__init__(parent, Qt.WindowType.Window)
        self.setObjectName("setupWindow")
        self.setWindowTitle("Company setup")
        self.setAccessibleName("Company setup")
        self.can_edit = can_edit
        self.kind: Kind = next(iter(KINDS.values()))
        self.record_id = ""  # the record in the form ("" : a new one)
        self.seen: dict[str, str] = {}
        self.editors: dict[str, QWidget] = {}
        self.errors: dict[str, QLabel] = {}
        self._loading = False
        self.dirty = False
        self._discard_box: QMessageBox | None = None

        self.kinds = QListWidget(objectName="setupKinds")
        self.kinds.setAccessibleName("Kinds of setup records")
        for kind in KINDS.values():
            self.kinds.addItem(kind.title)
        self.kinds.setMaximumWidth(180)
        self.filter = QLineEdit(objectName="setupFilter", placeholderText="Type to find…")
        self.filter.setAccessibleName("Find a record")
        self.records = QStandardItemModel(self)
        self.records.setObjectName("setupRecordsModel")
        self.proxy = QSortFilterProxyModel(self)
        self.proxy.setObjectName("setupRecordsProxy")
        self.proxy.setSourceModel(self.records)
        self.proxy.setFilterCaseSensitivity(Qt.CaseSensitivity.CaseInsensitive)
        self.list = QListView(objectName="setupRecords")
        self.list.setAccessibleName("Records")
        self.list.setModel(self.proxy)
        self.list.setEditTriggers(QListView.EditTrigger.NoEditTriggers)

        self.form_title = QLabel(objectName="setupFormTitle")
        self.form_host = QWidget(objectName="setupForm")
        self.form = QFormLayout(self.form_host)
        self.message = QLabel(objectName="setupMessage", wordWrap=True)
        self.message.setAccessibleName("Setup message")
        self.read_only_note = QLabel(
            "Read only — only managers and admins change the setup.", objectName="setupReadOnly"
        )
        self.read_only_note.setVisible(not can_edit)
        self.new_button = QPushButton("&New (Ctrl+N)", objectName="setupNew")
        self.save_button = QPushButton("&Save (Ctrl+S)", objectName="setupSave")
        self.retire_button = QPushButton("&Retire (Ctrl+R)", objectName="setupRetire")
        self.delete_button = QPushButton("&Delete (Del)", objectName="setupDelete")
        buttons = QHBoxLayout()
        for b in (self.new_button, self.save_button, self.retire_button, self.delete_button):
            b.setAccessibleName(b.text().replace("&", ""))
            b.setVisible(can_edit)
            buttons.addWidget(b)
        left = QVBoxLayout()
        left.addWidget(self.filter)
        left.addWidget(self.list)
        right = QVBoxLayout()
        right.addWidget(self.read_only_note)
        right.addWidget(self.form_title)
        right.addWidget(self.form_host)
        right.addLayout(buttons)
        right.addWidget(self.message)
        right.addStretch(1)
        outer = QHBoxLayout(self)
        outer.addWidget(self.kinds)
        outer.addLayout(left, 1)
        outer.addLayout(right, 2)

        self.kinds.currentRowChanged.connect(self._kind_changed)
        self.filter.textChanged.connect(self.proxy.setFilterFixedString)
        self.filter.returnPressed.connect(self._edit_current)
        self.list.activated.connect(lambda _i: self._edit_current())
        # Moving through the list shows each record in the form (read only stays read only; nothing typed
        # is ever replaced): Enter still moves the keyboard into the form to edit.
        self.list.selectionModel().currentChanged.connect(self._preview)
        self.new_button.clicked.connect(self.new_record)
        self.save_button.clicked.connect(self.save)
        self.retire_button.clicked.connect(self.retire)
        self.delete_button.clicked.connect(self.delete)
        if can_edit:
            for keys, slot in (("Ctrl+S", self.save), ("Ctrl+N", self.new_record), ("Ctrl+R", self.retire)):
                shortcut = QShortcut(QKeySequence(keys), self)
                shortcut.setContext(Qt.ShortcutContext.WindowShortcut)
                shortcut.activated.connect(slot)
        self._build_form()
        self.kinds.setCurrentRow(0)

    # -- the kind and its form ------------------------------------------------------------------------------
    def _kind_changed(self, row: int) -> None:
        if row < 0:
            return
        self.kind = list(KINDS.values())[row]
        self._build_form()
        self.records.clear()
        self.kindChosen.emit(self.kind.name)

    def _build_form(self) -> None:
        while self.form.rowCount():
            self.form.removeRow(0)
        self.editors, self.errors = {}, {}
        for fld in self.kind.fields:
            editor = self._editor(fld)
            error = QLabel(objectName=f"setupError_{fld.key}", wordWrap=True)
            error.setStyleSheet("color: #b00020;")
            error.setAccessibleName(f"{fld.label} problem")
            column = QVBoxLayout()
            column.addWidget(editor)
            column.addWidget(error)
            label = QLabel(f"{fld.label}:")
            label.setBuddy(editor)
            self.form.addRow(label, column)
            self.editors[fld.key], self.errors[fld.key] = editor, error
        self.retire_button.setVisible(self.can_edit and self.kind.retirable)
        self.new_button.setVisible(self.can_edit and self.kind.creatable)
        self.delete_button.setVisible(self.can_edit and self.kind.creatable)
        self._clear_form()

    def _editor(self, fld: Field) -> QWidget:
        name = f"setupField_{fld.key}"
        editor: Any
        if fld.editor == "check":
            editor = QCheckBox(fld.label, objectName=name)
            editor.toggled.connect(self._touched)
            editor.setEnabled(self.can_edit)
        elif fld.editor == "choice":
            editor = QComboBox(objectName=name)
            editor.setEditable(False)
            editor.addItems(list(fld.choices))
            # A new record starts with nothing chosen (not silently the first business unit, nor
            # "Low" priority): saving without a choice is refused with the field's own message.
            editor.setPlaceholderText(f"Choose the {fld.label.lower()}…")
            editor.currentTextChanged.connect(self._touched)
            editor.setEnabled(self.can_edit)
        elif fld.editor == "multiline":
            editor = QPlainTextEdit(objectName=name)
            editor.setTabChangesFocus(True)
            editor.setMaximumHeight(80)
            editor.textChanged.connect(self._touched)
            editor.setReadOnly(not self.can_edit)
        else:
            editor = QLineEdit(objectName=name)
            if fld.editor == "list":
                editor.setPlaceholderText("names, separated by commas")
                if fld.ref:  # type-ahead over the known names, item by item
                    editor.setCompleter(NameListCompleter(editor))
            editor.textEdited.connect(self._touched)
            editor.setReadOnly(not self.can_edit)
        editor.setAccessibleName(fld.label)
        return editor

    def _touched(self, *_args: Any) -> None:
        if not self._loading:
            self.dirty = True

    def _value(self, fld: Field) -> str:
        editor = self.editors[fld.key]
        if isinstance(editor, QCheckBox):
            return "true" if editor.isChecked() else "false"
        if isinstance(editor, QComboBox):
            return editor.currentText()
        if isinstance(editor, QPlainTextEdit):
            return editor.toPlainText()
        return editor.text()

    def _fill(self, values: dict[str, str]) -> None:
        self._loading = True
        try:
            for fld in self.kind.fields:
                editor, value = self.editors[fld.key], values.get(fld.key, "")
                if isinstance(editor, QCheckBox):
                    editor.setChecked(value == "true")
                elif isinstance(editor, QComboBox):
                    if value and editor.findText(value) < 0:
                        editor.addItem(value)  # a retired campaign still named by a number
                    editor.setCurrentIndex(editor.findText(value))  # -1: nothing chosen yet
                elif isinstance(editor, QPlainTextEdit):
                    editor.setPlainText(value)
                else:
                    editor.setText(value)
                editor.setEnabled(self.can_edit and not (fld.create_only and self.record_id))
                self.errors[fld.key].clear()
        finally:
            self._loading = False
        self.dirty = False

    def _clear_form(self) -> None:
        self.record_id, self.seen = "", {}
        self.form_title.setText(f"New {self.kind.noun}" if self.can_edit else "")
        self._fill({})

    # -- from the controller ---------------------------------------------------------------------------------
    def show_listing(self, kind: str, listing: Listing) -> None:
        """The kind's records and the names its pickers offer (a stale kind's answer is ignored)."""
        if kind != self.kind.name:
            return
        current = self._current_id()
        self.records.clear()
        for ident, label, active, values in listing.rows:
            item = QStandardItem(label if active else f"{label} (retired)")
            item.setData(ident, ID_ROLE)
            item.setData(values, FIELDS_ROLE)
            item.setData(active, ACTIVE_ROLE)
            item.setEditable(False)
            self.records.appendRow(item)
        for fld in self.kind.fields:
            editor = self.editors[fld.key]
            if fld.ref and isinstance(editor, QComboBox):
                keep = editor.currentText()
                self._loading = True
                editor.clear()
                editor.addItems(
                    ["", *listing.choices.get(fld.ref, [])]
                    if fld.key == "category"
                    else listing.choices.get(fld.ref, [])
                )
                editor.setCurrentIndex(editor.findText(keep))
                self._loading = False
            elif fld.ref and isinstance(editor, QLineEdit):
                editor.setToolTip("Known: " + ", ".join(listing.choices.get(fld.ref, [])))
                if isinstance(editor.completer(), NameListCompleter):
                    editor.completer().set_names(listing.choices.get(fld.ref, []))
        self._select(current)
        if self.record_id and not self.dirty:
            row = self._row_of(self.record_id)
            if row is not None:  # someone else's change to the open record: show it (the focus stays put)
                self._open(row, focus=False)

    def saved(self, ident: str, text: str) -> None:
        self.record_id = ident
        self.dirty = False
        self.show_message(text)
        self._select(ident)

    def show_errors(self, errors: dict[str, str]) -> None:
        """Each problem next to its field; one that belongs to no field in the message line."""
        for label in self.errors.values():
            label.clear()
        loose = []
        for key, text in errors.items():
            if key in self.errors:
                self.errors[key].setText(text)
            else:
                loose.append(text)
        self.show_message(" ".join(loose) or "Fix the fields marked in red, then save again.", "error")
        for key in errors:
            if key in self.editors:
                self.editors[key].setFocus()
                break

    def show_message(self, text: str, level: str = "info") -> None:
        self.message.setText(text)
        self.message.setProperty("level", level)
        self.message.setStyleSheet("color: #b00020;" if level == "error" else "")

    # -- the list -------------------------------------------------------------------------------------------
    def _current_id(self) -> str:
        index = self.list.currentIndex()
        return str(index.data(ID_ROLE) or "") if index.isValid() else ""

    def _row_of(self, ident: str) -> QModelIndex | None:
        for r in range(self.proxy.rowCount()):
            index = self.proxy.index(r, 0)
            if index.data(ID_ROLE) == ident:
                return index
        return None

    def _select(self, ident: str) -> None:
        index = self._row_of(ident) if ident else None
        if index is None and self.proxy.rowCount():
            index = self.proxy.index(0, 0)
        if index is not None:
            self.list.setCurrentIndex(index)

    def _edit_current(self) -> None:
        index = self.list.currentIndex()
        if not index.isValid() and self.proxy.rowCount():
            index = self.proxy.index(0, 0)
        if index.isValid():
            self._open(index)

    def _preview(self, current: QModelIndex, _previous: QModelIndex) -> None:
        if current.isValid() and not self.dirty and not self._loading:
            self._open(current, focus=False)

    def _open(self, index: QModelIndex, *, focus: bool = True) -> None:
        self.record_id = str(index.data(ID_ROLE))
        self.seen = dict(index.data(FIELDS_ROLE) or {})
        active = bool(index.data(ACTIVE_ROLE))
        self.form_title.setText(f"{self.kind.noun.capitalize()}: {self.seen.get(self.kind.spec.label, '')}")
        self.retire_button.setText("&Retire (Ctrl+R)" if active else "&Reactivate (Ctrl+R)")
        self.retire_button.setAccessibleName(self.retire_button.text().replace("&", ""))
        self._fill(self.seen)
        first = next((e for e in self.editors.values() if e.isEnabled()), None)
        if first is not None and focus:
            first.setFocus()

    # -- actions --------------------------------------------------------------------------------------------
    def new_record(self) -> None:
        if self.can_edit and not self.kind.creatable:  # a fixed set (the notification templates)
            self.show_message(self.kind.keep_hint, "error")
            return
        if self.can_edit:
            self._clear_form()
            next(iter(self.editors.values())).setFocus()

    def save(self) -> None:
        if not self.can_edit:
            return
        values = {fld.key: self._value(fld).strip() for fld in self.kind.fields}
        if self.record_id:
            values = {k: v for k, v in values.items() if v != self.seen.get(k)}
            if not values:
                self.show_message("Nothing changed.")
                return
        self.saveRequested.emit(self.kind.name, self.record_id, values, dict(self.seen))

    def retire(self) -> None:
        ident = self.record_id or self._current_id()
        if self.can_edit and ident and not self.kind.retirable:
            self.show_message(self.kind.keep_hint or f"A {self.kind.noun} can't be retired.", "error")
            return
        if self.can_edit and ident and self.kind.retirable:
            index = self._row_of(ident)
            active = bool(index.data(ACTIVE_ROLE)) if index is not None else True
            self.retireRequested.emit(self.kind.name, ident, not active)

    def delete(self) -> None:
        ident = self._current_id()
        if self.can_edit and ident:
            self.deleteRequested.emit(self.kind.name, ident)

    # -- keys -----------------------------------------------------------------------------------------------
    def keyPressEvent(self, event: Any) -> None:
        key = event.key()
        if key == Qt.Key.Key_Escape:
            self.escape()
            return
        if key == Qt.Key.Key_Down and self.filter.hasFocus():
            self.list.setFocus()
            return
        if key == Qt.Key.Key_Delete and self.list.hasFocus():
            self.delete()
            return
        super().keyPressEvent(event)

    def escape(self) -> None:
        if self._discard_box is not None:
            return
        in_form = self.form_host.isAncestorOf(self.focusWidget()) if self.focusWidget() else False
        if in_form and self.dirty:
            box = QMessageBox(
                QMessageBox.Icon.Question,
                "Discard changes?",
                f"Discard the changes to this {self.kind.noun}?",
                QMessageBox.StandardButton.Discard | QMessageBox.StandardButton.Cancel,
                self,
            )
            box.setObjectName("discardChanges")
            box.setDefaultButton(QMessageBox.StandardButton.Cancel)
            box.finished.connect(lambda _r: self._discard_answered(box))
            self._discard_box = box
            box.open()
            return
        if in_form:
            self._leave_form()
            return
        self.close()

    def _discard_answered(self, box: QMessageBox) -> None:
        self._discard_box = None
        box.deleteLater()
        if box.standardButton(box.clickedButton()) == QMessageBox.StandardButton.Discard:
            self._leave_form()

    def _leave_form(self) -> None:
        ident = self.record_id
        index = self._row_of(ident) if ident else None
        if index is not None:
            self._open(index)  # back to the stored values
        else:
            self._clear_form()
        self.list.setFocus()

    def closeEvent(self, event: Any) -> None:
        self.closed.emit()
        super().closeEvent(event)
