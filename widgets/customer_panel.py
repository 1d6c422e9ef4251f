"""The customer panel: who the caller is, where the work is done, how to reach them, what
happened before. Shows a plain ``CustomerRecord`` and emits signals; it never touches the cache.

Keyboard: Ctrl+E edit customer, Ctrl+L add location, Ctrl+Shift+P add contact (window-wide while
the panel shows a customer); F2 or Enter edits the highlighted location or contact; Space toggles
a contact's Notifications / Do not text cell; Ctrl+D calls the highlighted phone contact (the CSR's
softphone rings first); Alt+N goes to the note box, Ctrl+Enter adds the note. Alt+J shows the jobs,
whose own keys are listed in ``widgets.jobs_tab``; Alt+A the calls, where Enter or Ctrl+P plays the
highlighted call's recording.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from PySide6.QtCore import QModelIndex, Qt, Signal
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPlainTextEdit,
    QScrollArea,
    QSizePolicy,
    QSplitter,
    QStackedWidget,
    QTableView,
    QTabWidget,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from models.records import CallRecord, ContactRecord, CustomerRecord, LocationRecord

from .conflicts import ConflictsPanel
from .customer_header import CustomerHeader, selectable_label
from .customer_models import (
    CallsModel,
    ContactsModel,
    JobsModel,
    LocationsModel,
    NotesModel,
    RecordTableModel,
)
from .jobs_tab import JobsTab
from .row_list import fit_columns

EMPTY_TEXT = "No customer open.\nFind the caller by phone, name or address, or create a new customer."
_MESSAGE_STYLE = {"error": "color: #c62828;", "warning": "color: #b26a00;", "info": ""}


class CustomerPanel(QWidget):
    """Shows one customer; every change a CSR asks for leaves as a signal."""

    editCustomerRequested = Signal(str)  # customer id
    addLocationRequested = Signal(str)  # customer id
    editLocationRequested = Signal(str)  # location id
    addContactRequested = Signal(str, str)  # customer id, location id or ""
    editContactRequested = Signal(str)  # contact id
    contactFlagChanged = Signal(str, str, bool)  # contact id, "notifications" / "do_not_text", value
    addNoteRequested = Signal(str, str)  # customer id, text
    jobActionRequested = Signal(str, str)  # job id, "reschedule" / "cancel" / "hold" / "release"
    callContactRequested = Signal(str, str)  # the phone number (E.164), customer id
    playRecordingRequested = Signal(str)  # the call's id (the server sends its recording, by role)
    customerShown = Signal(bool)  # a customer is shown (False: the empty state)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("customerPanel")
        self.setAccessibleName("Customer")
        self._record: CustomerRecord | None = None
        self.contacts_model = ContactsModel(self)
        self.locations_model = LocationsModel(self)
        self.location_contacts_model = ContactsModel(self)
        self.notes_model = NotesModel(self)
        self.jobs_model = JobsModel(self)
        self.calls_model = CallsModel(self)

        self._stack = QStackedWidget(self)
        self.empty_label = QLabel(EMPTY_TEXT, self)
        self.empty_label.setObjectName("customerPanelEmpty")
        self.empty_label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.empty_label.setWordWrap(True)
        self._stack.addWidget(self.empty_label)
        # Who the customer is scrolls (vertically only) above the history, which keeps its own share of
        # the height: the CSR drags the handle between them, and the window remembers where.
        self.details = QScrollArea(self)
        self.details.setObjectName("customerDetails")
        self.details.setWidgetResizable(True)
        self.details.setFrameShape(QScrollArea.Shape.NoFrame)
        self.details.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.details.setWidget(self._build_content())
        self.splitter = QSplitter(Qt.Orientation.Vertical, self)
        self.splitter.setObjectName("customerSplitter")
        self.splitter.setChildrenCollapsible(False)
        self.splitter.addWidget(self.details)
        self.splitter.addWidget(self._build_history())
        self.splitter.setStretchFactor(0, 3)
        self.splitter.setStretchFactor(1, 2)
        self._stack.addWidget(self.splitter)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self._stack)
        self._build_actions()
        self._connect_signals()
        self.set_record(None)

    # -- building -------------------------------------------------------------------------------------
    def _label(self, name: str, text: str = "") -> QLabel:
        return selectable_label(self, name, text)

    def _table(
        self, model: RecordTableModel[Any], name: str, accessible: str, elastic: dict[int, int]
    ) -> QTableView:
        """A read-only table whose ``elastic`` text columns give way (elided, with tooltips) so it never
        scrolls sideways; rows are one line high."""
        view = QTableView(self)
        view.setObjectName(name)
        view.setAccessibleName(accessible)
        view.setModel(model)
        view.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        view.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        view.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        view.setTabKeyNavigation(False)  # Tab leaves the table, arrows move inside it
        view.verticalHeader().hide()
        view.verticalHeader().setDefaultSectionSize(view.fontMetrics().height() + 8)
        view.setWordWrap(False)
        view.setVerticalScrollMode(QAbstractItemView.ScrollMode.ScrollPerPixel)
        fit_columns(view, elastic)
        return view

    def _fit_rows(self, view: QTableView, max_rows: int) -> None:
        """Size a table to its rows (up to ``max_rows``) so short lists don't hide behind scroll bars."""

        def fit() -> None:
            _fit_rows(view, max_rows)

        model = view.model()
        for sig in (model.modelReset, model.rowsInserted, model.rowsRemoved, model.layoutChanged):
            sig.connect(fit)
        view.horizontalHeader().sectionResized.connect(fit)  # wrapped notes grow as their column narrows
        fit()

    def _button(self, name: str) -> QToolButton:
        button = QToolButton(self)
        button.setObjectName(name)
        button.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextOnly)
        return button

    def _section(self, title: str, *buttons: QToolButton) -> QHBoxLayout:
        row = QHBoxLayout()
        heading = QLabel(f"<b>{title}</b>", self)
        row.addWidget(heading)
        row.addStretch(1)
        for b in buttons:
            row.addWidget(b)
        return row

    def _build_content(self) -> QWidget:
        content = QWidget(self)
        v = QVBoxLayout(content)
        v.setContentsMargins(8, 8, 8, 8)

        self.edit_customer_button = self._button("editCustomerButton")
        self.header = CustomerHeader(content, trailing=self.edit_customer_button)
        # The header's parts, for callers and tests that look at one flag.
        self.name_label, self.dns_banner = self.header.name_label, self.header.dns_banner
        self.membership_badge, self.billing_label = self.header.membership_badge, self.header.billing_label
        self.type_label, self.do_not_mail_label = self.header.type_label, self.header.do_not_mail_label
        self.tags_box = self.header.tags_box
        v.addWidget(self.header)
        # Edits that clashed with another CSR's (sync): keep mine / keep theirs, one click each.
        self.conflicts = ConflictsPanel(content)
        v.addWidget(self.conflicts)
        self.message_label = self._label("panelMessage")
        v.addWidget(self.message_label)

        self.add_contact_button = self._button("addContactButton")
        self.edit_contact_button = self._button("editContactButton")
        self.call_contact_button = self._button("callContactButton")
        v.addLayout(
            self._section(
                "Contacts", self.call_contact_button, self.add_contact_button, self.edit_contact_button
            )
        )
        self.contacts_view = self._table(
            self.contacts_model, "contactsView", "Customer contacts", {2: 0, 1: 14}
        )
        v.addWidget(self.contacts_view)
        self._fit_rows(self.contacts_view, 6)

        self.add_location_button = self._button("addLocationButton")
        self.edit_location_button = self._button("editLocationButton")
        v.addLayout(self._section("Locations", self.add_location_button, self.edit_location_button))
        self.locations_view = self._table(
            self.locations_model, "locationsView", "Locations", {1: 16, 2: 0, 3: 0, 4: 0, 0: 0}
        )
        v.addWidget(self.locations_view)
        self._fit_rows(self.locations_view, 6)
        self.add_location_contact_button = self._button("addLocationContactButton")
        self.edit_location_contact_button = self._button("editLocationContactButton")
        self.call_location_contact_button = self._button("callLocationContactButton")
        v.addLayout(
            self._section(
                "Contacts at this location",
                self.call_location_contact_button,
                self.add_location_contact_button,
                self.edit_location_contact_button,
            )
        )
        self.location_contacts_view = self._table(
            self.location_contacts_model,
            "locationContactsView",
            "Contacts at the selected location",
            {2: 0, 1: 14},
        )
        v.addWidget(self.location_contacts_view)
        self._fit_rows(self.location_contacts_view, 4)

        self.add_note_button = self._button("addNoteButton")
        v.addLayout(self._section("Notes", self.add_note_button))
        self.notes_view = self._table(self.notes_model, "notesView", "Notes", {0: 0, 1: 0})
        self.notes_view.setWordWrap(True)
        self.notes_view.verticalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        v.addWidget(self.notes_view)
        self._fit_rows(self.notes_view, 5)
        self.notes_empty = self._label("notesEmpty", "No notes yet.")
        v.addWidget(self.notes_empty)
        note_row = QHBoxLayout()
        note_label = QLabel("&Note:", self)
        self.note_edit = QPlainTextEdit(self)
        self.note_edit.setObjectName("noteEditor")
        self.note_edit.setAccessibleName("New note")
        self.note_edit.setPlaceholderText("Type a note, then Ctrl+Enter to add it")
        self.note_edit.setTabChangesFocus(True)
        self.note_edit.setFixedHeight(self.note_edit.fontMetrics().lineSpacing() * 3 + 12)
        note_label.setBuddy(self.note_edit)
        note_row.addWidget(note_label, 0, Qt.AlignmentFlag.AlignTop)
        note_row.addWidget(self.note_edit, 1)
        v.addLayout(note_row)
        v.addStretch(1)
        return content

    def _build_history(self) -> QTabWidget:
        self.history_tabs = QTabWidget(self)
        self.history_tabs.setObjectName("historyTabs")
        self.history_tabs.setAccessibleName("History")
        self.history_tabs.setContentsMargins(8, 0, 8, 4)
        self.jobs_view = self._table(self.jobs_model, "jobsView", "Jobs", {6: 0, 1: 13, 2: 10, 3: 0})
        self.jobs_tab = JobsTab(self.jobs_model, self.jobs_view, self)
        self.jobs_empty = self.jobs_tab.empty_label
        self.history_tabs.addTab(self.jobs_tab, "&Jobs")
        self.calls_view = self._table(self.calls_model, "callsView", "Calls", {2: 12, 5: 0, 4: 0})
        self.calls_empty = self._label("callsEmpty", "No calls from this customer yet.")
        self.calls_empty.setAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop)
        self._calls_stack = QStackedWidget(self)
        self._calls_stack.addWidget(self.calls_empty)
        self._calls_stack.addWidget(self.calls_view)
        self.play_recording_button = self._button("playRecordingButton")
        calls_page = QWidget(self)
        calls_layout = QVBoxLayout(calls_page)
        calls_layout.setContentsMargins(0, 0, 0, 0)
        calls_row = QHBoxLayout()
        calls_row.addStretch(1)
        calls_row.addWidget(self.play_recording_button)
        calls_layout.addLayout(calls_row)
        calls_layout.addWidget(self._calls_stack, 1)
        self.history_tabs.addTab(calls_page, "C&alls")
        self.history_tabs.setMinimumHeight(self.fontMetrics().height() * 8)
        return self.history_tabs

    def _action(
        self,
        name: str,
        text: str,
        button: QToolButton | None,
        shortcut: str | None = None,
        context: Qt.ShortcutContext = Qt.ShortcutContext.WindowShortcut,
        on: QWidget | None = None,
    ) -> QAction:
        action = QAction(text, self)
        action.setObjectName(name)
        if shortcut:
            action.setShortcut(QKeySequence(shortcut))
            action.setShortcutContext(context)
            action.setToolTip(
                f"{text} ({QKeySequence(shortcut).toString(QKeySequence.SequenceFormat.NativeText)})"
            )
        (on or self).addAction(action)
        if button is not None:
            button.setDefaultAction(action)
            button.setAccessibleName(text)
        return action

    def _build_actions(self) -> None:
        widget = Qt.ShortcutContext.WidgetShortcut
        self.edit_customer_action = self._action(
            "editCustomerAction", "Edit customer", self.edit_customer_button, "Ctrl+E"
        )
        self.add_location_action = self._action(
            "addLocationAction", "Add location", self.add_location_button, "Ctrl+L"
        )
        self.add_contact_action = self._action(
            "addContactAction", "Add contact", self.add_contact_button, "Ctrl+Shift+P"
        )
        self.edit_contact_action = self._action(
            "editContactAction", "Edit contact", self.edit_contact_button, "F2", widget, self.contacts_view
        )
        self.edit_location_action = self._action(
            "editLocationAction",
            "Edit location",
            self.edit_location_button,
            "F2",
            widget,
            self.locations_view,
        )
        self.add_location_contact_action = self._action(
            "addLocationContactAction", "Add contact to location", self.add_location_contact_button
        )
        self.edit_location_contact_action = self._action(
            "editLocationContactAction",
            "Edit location contact",
            self.edit_location_contact_button,
            "F2",
            widget,
            self.location_contacts_view,
        )
        self.add_note_action = self._action(
            "addNoteAction", "Add note", self.add_note_button, "Ctrl+Return", widget, self.note_edit
        )
        self.call_contact_action = self._action(
            "callContactAction", "Call", self.call_contact_button, "Ctrl+D", widget, self.contacts_view
        )
        self.call_location_contact_action = self._action(
            "callLocationContactAction",
            "Call",
            self.call_location_contact_button,
            "Ctrl+D",
            widget,
            self.location_contacts_view,
        )
        self.play_recording_action = self._action(
            "playRecordingAction",
            "Play recording",
            self.play_recording_button,
            "Ctrl+P",
            widget,
            self.calls_view,
        )
        # Enter on the numeric keypad too: both keys mean "add" for a CSR.
        self.add_note_action.setShortcuts([QKeySequence("Ctrl+Return"), QKeySequence("Ctrl+Enter")])

    def _connect_signals(self) -> None:
        self.edit_customer_action.triggered.connect(self._edit_customer)
        self.add_location_action.triggered.connect(self._add_location)
        self.add_contact_action.triggered.connect(lambda: self._add_contact(""))
        self.add_location_contact_action.triggered.connect(
            lambda: self._add_contact(self.current_location_id())
        )
        self.edit_contact_action.triggered.connect(lambda: self._edit_contact(self.contacts_view))
        self.edit_location_contact_action.triggered.connect(
            lambda: self._edit_contact(self.location_contacts_view)
        )
        self.edit_location_action.triggered.connect(self._edit_location)
        self.add_note_action.triggered.connect(self._add_note)
        self.call_contact_action.triggered.connect(lambda: self._call_contact(self.contacts_view))
        self.call_location_contact_action.triggered.connect(
            lambda: self._call_contact(self.location_contacts_view)
        )
        self.play_recording_action.triggered.connect(self._play_recording)
        self.calls_view.activated.connect(lambda _i: self._play_recording())
        self.calls_view.selectionModel().currentRowChanged.connect(self._update_actions)
        self.contacts_view.activated.connect(lambda _i: self._edit_contact(self.contacts_view))
        self.location_contacts_view.activated.connect(
            lambda _i: self._edit_contact(self.location_contacts_view)
        )
        self.locations_view.activated.connect(lambda _i: self._edit_location())
        self.contacts_model.flagToggled.connect(self.contactFlagChanged)
        self.location_contacts_model.flagToggled.connect(self.contactFlagChanged)
        self.locations_view.selectionModel().currentRowChanged.connect(self._on_location_changed)
        self.contacts_view.selectionModel().currentRowChanged.connect(self._update_actions)
        self.location_contacts_view.selectionModel().currentRowChanged.connect(self._update_actions)
        self.note_edit.textChanged.connect(self._update_actions)
        self.jobs_tab.actionRequested.connect(self.jobActionRequested)

    # -- showing a record -----------------------------------------------------------------------------------
    def record(self) -> CustomerRecord | None:
        return self._record

    def customer_id(self) -> str:
        return self._record.id if self._record else ""

    def set_record(self, record: CustomerRecord | None) -> None:
        """Show this customer (None: the empty state). Same customer again keeps the selections."""
        same = record is not None and self._record is not None and record.id == self._record.id
        previous_location = self.current_location_id() if same else ""
        self._record = record
        if not same:
            self.note_edit.clear()
            self.show_message("")
        if record is None:
            for model in (
                self.contacts_model,
                self.locations_model,
                self.location_contacts_model,
                self.notes_model,
                self.jobs_model,
                self.calls_model,
            ):
                model.set_rows(())
            self._show_page(0)
            self._update_actions()
            return
        self.header.show_record(record)
        self.contacts_model.set_rows(record.contacts)
        self.locations_model.set_rows(record.locations)
        self.select_location(previous_location or (record.locations[0].id if record.locations else ""))
        self._show_location_contacts()
        self.notes_model.set_rows(record.notes)
        self.notes_view.setVisible(bool(record.notes))
        self.notes_empty.setVisible(not record.notes)
        self.jobs_tab.set_jobs(record.jobs)
        self.calls_model.set_rows(record.calls)
        self._calls_stack.setCurrentIndex(1 if record.calls else 0)
        if record.calls and not self.calls_view.currentIndex().isValid():
            self.calls_view.setCurrentIndex(self.calls_model.index(0, 0))  # the latest call
        self._show_page(1)
        self._update_actions()

    def _show_page(self, page: int) -> None:
        if page == 1:
            # Never narrower than the details need: the splitter then can't squeeze a button or heading.
            bar = self.details.verticalScrollBar().sizeHint().width()
            self.details.setMinimumWidth(self.details.widget().minimumSizeHint().width() + bar)
        # The empty panel may be narrow (the search results want the room); a hidden page would not let it.
        self.splitter.setSizePolicy(
            QSizePolicy.Policy.Preferred if page == 1 else QSizePolicy.Policy.Ignored,
            QSizePolicy.Policy.Preferred,
        )
        if self._stack.currentIndex() != page:
            self._stack.setCurrentIndex(page)
            self.customerShown.emit(page == 1)

    def set_clock(self, now_fn: Callable[[], datetime]) -> None:
        """The clock that tells upcoming jobs from past ones."""
        self.jobs_model.set_now_fn(now_fn)

    def current_location(self) -> LocationRecord | None:
        return self.locations_model.row_at(self.locations_view.currentIndex().row())

    def current_location_id(self) -> str:
        loc = self.current_location()
        return loc.id if loc else ""

    def select_location(self, location_id: str) -> None:
        row = self.locations_model.row_of(location_id)
        if row < 0 and self.locations_model.rowCount():
            row = 0
        if row >= 0:
            self.locations_view.setCurrentIndex(self.locations_model.index(row, 0))

    def _on_location_changed(self, current: QModelIndex, _previous: QModelIndex) -> None:
        self._show_location_contacts()
        self._update_actions()

    def _show_location_contacts(self) -> None:
        loc = self.current_location()
        self.location_contacts_model.set_rows(loc.contacts if loc else ())

    def show_message(self, text: str, kind: str = "info") -> None:
        """A line under the header: a save warning, an error a CSR can act on, or nothing."""
        self.message_label.setText(text)
        self.message_label.setStyleSheet(_MESSAGE_STYLE.get(kind, ""))
        self.message_label.setAccessibleName({"error": "Error", "warning": "Warning"}.get(kind, "Message"))
        self.message_label.setVisible(bool(text))

    def clear_note_editor(self) -> None:
        self.note_edit.clear()

    def _update_actions(self, *_args: Any) -> None:
        has = self._record is not None
        for action in (self.edit_customer_action, self.add_location_action, self.add_contact_action):
            action.setEnabled(has)
        self.edit_contact_action.setEnabled(has and self.contacts_view.currentIndex().isValid())
        self.edit_location_action.setEnabled(has and self.current_location() is not None)
        self.add_location_contact_action.setEnabled(has and self.current_location() is not None)
        self.edit_location_contact_action.setEnabled(
            has and self.location_contacts_view.currentIndex().isValid()
        )
        self.add_note_action.setEnabled(has and bool(self.note_edit.toPlainText().strip()))
        self.call_contact_action.setEnabled(has and self._phone_at(self.contacts_view) is not None)
        self.call_location_contact_action.setEnabled(
            has and self._phone_at(self.location_contacts_view) is not None
        )
        self.play_recording_action.setEnabled(has and bool(self.current_recording_url()))
        self.jobs_tab.update_actions()

    # -- requests -----------------------------------------------------------------------------------------
    def _edit_customer(self) -> None:
        if self._record:
            self.editCustomerRequested.emit(self._record.id)

    def _add_location(self) -> None:
        if self._record:
            self.addLocationRequested.emit(self._record.id)

    def _edit_location(self) -> None:
        if self._record and (loc := self.current_location()):
            self.editLocationRequested.emit(loc.id)

    def _add_contact(self, location_id: str) -> None:
        if self._record:
            self.addContactRequested.emit(self._record.id, location_id)

    def _edit_contact(self, view: QTableView) -> None:
        model = view.model()
        contact = model.row_at(view.currentIndex().row()) if isinstance(model, ContactsModel) else None
        if self._record and contact:
            self.editContactRequested.emit(contact.id)

    @staticmethod
    def _phone_at(view: QTableView) -> ContactRecord | None:
        model = view.model()
        contact = model.row_at(view.currentIndex().row()) if isinstance(model, ContactsModel) else None
        return contact if contact is not None and contact.is_phone and contact.value else None

    def _call_contact(self, view: QTableView) -> None:
        contact = self._phone_at(view)
        if self._record and contact:
            self.callContactRequested.emit(contact.value, self._record.id)

    def current_call(self) -> CallRecord | None:
        return self.calls_model.row_at(self.calls_view.currentIndex().row())

    def current_recording_url(self) -> str:
        call = self.current_call()
        return call.recording_url if call else ""

    def _play_recording(self) -> None:
        call = self.current_call()
        if self._record and call is not None and call.recording_url:
            self.playRecordingRequested.emit(call.id)

    def _add_note(self) -> None:
        text = self.note_edit.toPlainText().strip()
        if self._record and text:
            self.addNoteRequested.emit(self._record.id, text)


def _fit_rows(view: QTableView, max_rows: int) -> None:
    """Tables inside the scrolling panel show up to ``max_rows`` rows before scrolling themselves."""
    rows = min(view.model().rowCount(), max_rows)
    vertical = view.verticalHeader()
    wrapped = vertical.sectionResizeMode(0) == QHeaderView.ResizeMode.ResizeToContents if rows else False
    height = (
        sum(
            max(view.sizeHintForRow(r), vertical.defaultSectionSize()) if wrapped else vertical.sectionSize(r)
            for r in range(rows)
        )
        if rows
        else vertical.defaultSectionSize()
    )
    view.setFixedHeight(view.horizontalHeader().sizeHint().height() + height + 2 * view.frameWidth())
