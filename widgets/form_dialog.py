"""A dialog base for record forms: labelled fields with mnemonics, errors shown at the field
(red, blocking) and warnings (amber, informative), Enter saves and Escape cancels.

Subclasses add fields, implement ``check()`` with the pure rules of ``models.validation`` and
``values()`` in the shape of an intent's arguments. With ``confirm_externally`` the dialog does
not close on Save: it emits ``submitted(values)`` and waits for its owner to call ``finish()``
(saved) or ``show_errors()`` (the save was refused), so a refused save never loses typing.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLabel,
    QLineEdit,
    QVBoxLayout,
    QWidget,
)

from models.validation import Report, max_length

ERROR_STYLE = "color: #c62828;"
WARNING_STYLE = "color: #b26a00;"
INVALID_FIELD_STYLE = "border: 1px solid #c62828; border-radius: 2px;"


class FormDialog(QDialog):
    """Fields keyed like the intent's arguments; ``error_<key>`` / ``warning_<key>`` labels under each."""

    submitted = Signal(dict)

    def __init__(
        self, title: str, parent: QWidget | None = None, *, confirm_externally: bool = False
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle(title)
        self.setMinimumWidth(440)
        self.confirm_externally = confirm_externally
        self._focused_once = False
        self.fields: dict[str, QWidget] = {}
        self._errors: dict[str, QLabel] = {}
        self._warnings: dict[str, QLabel] = {}
        self.form = QFormLayout()
        self.form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.ExpandingFieldsGrow)
        self.form_error = self._message_label("error_form", ERROR_STYLE)
        self.buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Save | QDialogButtonBox.StandardButton.Cancel, self
        )
        self.save_button = self.buttons.button(QDialogButtonBox.StandardButton.Save)
        self.save_button.setDefault(True)
        self.save_button.setAccessibleName("Save")
        self.buttons.button(QDialogButtonBox.StandardButton.Cancel).setAccessibleName("Cancel")
        layout = QVBoxLayout(self)
        layout.addLayout(self.form)
        layout.addWidget(self.form_error)
        layout.addWidget(self.buttons)
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)

    def showEvent(self, event) -> None:  # noqa: ANN001, N802 - Qt override
        """The cursor starts in the first empty field (the first field when all are filled), so the
        CSR types straight away; the buttons come after the fields in the tab order."""
        super().showEvent(event)
        if not self._focused_once:
            self._focused_once = True
            if self.focusWidget() in self.fields.values():
                return  # the subclass chose where the cursor starts
            edits = [
                w for w in self.fields.values() if w.isEnabled() and w.focusPolicy() != Qt.FocusPolicy.NoFocus
            ]
            empty = [w for w in edits if isinstance(w, QLineEdit) and not w.text()]
            target = (empty or edits or [None])[0]
            if target is not None:
                target.setFocus(Qt.FocusReason.OtherFocusReason)

    # -- building fields -----------------------------------------------------------------------------
    def _message_label(self, name: str, style: str) -> QLabel:
        label = QLabel(self)
        label.setObjectName(name)
        label.setStyleSheet(style)
        label.setWordWrap(True)
        label.hide()
        return label

    def add_field(self, key: str, label: str, widget: QWidget) -> QWidget:
        """Add a row: ``label`` carries the mnemonic ("&Name"); an empty label spans a check box."""
        widget.setObjectName(f"field_{key}")
        plain = (label or getattr(widget, "text", lambda: key)()).replace("&", "").rstrip(":")
        widget.setAccessibleName(plain)
        self.fields[key] = widget
        box = QWidget(self)
        v = QVBoxLayout(box)
        v.setContentsMargins(0, 0, 0, 0)
        v.setSpacing(1)
        v.addWidget(widget)
        self._errors[key] = self._message_label(f"error_{key}", ERROR_STYLE)
        self._warnings[key] = self._message_label(f"warning_{key}", WARNING_STYLE)
        v.addWidget(self._errors[key])
        v.addWidget(self._warnings[key])
        if label:
            caption = QLabel(label, self)
            caption.setBuddy(widget)
            self.form.addRow(caption, box)
        else:
            self.form.addRow(box)
        # Typing in a field answers its error: clear it at once rather than nag until Save.
        for sig in ("textEdited", "currentIndexChanged", "toggled"):
            if hasattr(widget, sig):
                getattr(widget, sig).connect(lambda *_a, k=key: self._clear(k))
                break
        return widget

    def add_line(
        self, key: str, label: str, model: type | None = None, column: str | None = None, text: str = ""
    ) -> QLineEdit:
        edit = QLineEdit(text, self)
        limit = max_length(model, column or key) if model is not None else None
        if limit:
            edit.setMaxLength(limit)
        self.add_field(key, label, edit)
        return edit

    def add_check(self, key: str, label: str, checked: bool = False) -> QCheckBox:
        box = QCheckBox(label, self)
        box.setChecked(checked)
        self.add_field(key, "", box)
        return box

    def add_combo(self, key: str, label: str, items: list[tuple[str, str]], current: str = "") -> QComboBox:
        """``items`` are (text shown, value stored); ``current`` is a value."""
        combo = QComboBox(self)
        for text, value in items:
            combo.addItem(text, value)
        index = combo.findData(current)
        combo.setCurrentIndex(max(index, 0))
        self.add_field(key, label, combo)
        return combo

    # -- errors and warnings ---------------------------------------------------------------------------
    def field_for(self, error_key: str) -> str | None:
        """Which field shows an error of this key (subclasses map intent keys like ``contacts.0.value``)."""
        return error_key if error_key in self.fields else None

    def _clear(self, key: str) -> None:
        self._errors[key].hide()
        self.fields[key].setStyleSheet("")
        self.fields[key].setProperty("invalid", False)
        self.fields[key].setAccessibleDescription("")

    def show_errors(self, errors: dict[str, str], warnings: dict[str, str] | None = None) -> None:
        """Show these at their fields (others above the buttons) and focus the first bad field."""
        for key in self.fields:
            self._clear(key)
            self._warnings[key].hide()
        general: list[str] = []
        for key, text in errors.items():
            target = self.field_for(key)
            if target is None:
                general.append(text)
                continue
            label = self._errors[target]
            label.setText(text)
            label.show()
            field = self.fields[target]
            field.setProperty("invalid", True)
            field.setStyleSheet(INVALID_FIELD_STYLE)
            field.setAccessibleDescription(text)
        for key, text in (warnings or {}).items():
            target = self.field_for(key)
            if target is not None and target not in {self.field_for(k) for k in errors}:
                self._warnings[target].setText(text)
                self._warnings[target].show()
        self.form_error.setText("\n".join(general))
        self.form_error.setVisible(bool(general))
        self._grow_to_fit()
        bad = [k for k in self.fields if self._errors[k].isVisibleTo(self)]
        if bad:
            self.fields[bad[0]].setFocus(Qt.FocusReason.OtherFocusReason)
            if isinstance(self.fields[bad[0]], QLineEdit):
                self.fields[bad[0]].selectAll()

    def error_text(self, key: str) -> str:
        """The error shown at a field ("" when none) — for tests and accessibility tools."""
        label = self._errors[key]
        return label.text() if label.isVisibleTo(self) else ""

    def warning_text(self, key: str) -> str:
        label = self._warnings[key]
        return label.text() if label.isVisibleTo(self) else ""

    def refresh_warnings(self) -> None:
        """Re-run the checks and show only the warnings (used when a field is left)."""
        report = self.check()
        for key in self.fields:
            self._warnings[key].hide()
        for key, text in report.warnings.items():
            target = self.field_for(key)
            if target is not None and not self._errors[target].isVisibleTo(self):
                self._warnings[target].setText(text)
                self._warnings[target].show()
        self._grow_to_fit()

    def _grow_to_fit(self) -> None:
        # Wrapped messages need height-for-width, which a top-level layout doesn't apply by itself.
        layout = self.layout()
        layout.activate()
        wanted = (
            layout.heightForWidth(self.width()) if layout.hasHeightForWidth() else layout.sizeHint().height()
        )
        if wanted > self.height():
            self.resize(self.width(), wanted)

    # -- saving ----------------------------------------------------------------------------------------
    def check(self) -> Report:
        raise NotImplementedError

    def values(self) -> dict[str, Any]:
        raise NotImplementedError

    def accept(self) -> None:
        report = self.check()
        self.show_errors(report.errors, report.warnings)
        if not report.ok:
            return
        if self.confirm_externally:
            self.submitted.emit(self.values())
        else:
            super().accept()

    def finish(self) -> None:
        """The owner saved the values: close with ``accepted``."""
        super().accept()


def text_of(widget: QWidget) -> str:
    if isinstance(widget, QLineEdit):
        return widget.text().strip()
    if isinstance(widget, QComboBox):
        return str(widget.currentData())
    raise TypeError(type(widget).__name__)
