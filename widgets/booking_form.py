"""The booking form (`bookingForm`): business unit, job type, campaign, priority, summary, tags,
technician, services, then arrival windows from real availability, then Book Job.

Plain data in (SetupData, CustomerRecord, slots), signals out; the booking controller runs the
capacity math and the write.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from PySide6.QtCore import QModelIndex, Qt, Signal
from PySide6.QtGui import QKeyEvent, QKeySequence, QShortcut, QTextCursor
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QCompleter,
    QFormLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QSizePolicy,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from models.capacity import Slot
from models.records import CustomerRecord
from models.search_index import address_text
from models.setup_data import JobTypeInfo, SetupData

from .booking_models import AvailabilityModel, LineItemsModel, SlotRole

PRIORITIES = ("Low", "Normal", "High", "Urgent")
FIELDS = ("businessUnit", "jobType", "campaign", "priority", "summary", "tags", "technician", "window")


class AvailabilityView(QTableView):
    """Enter picks the highlighted window (Ctrl+Enter is left to the form: it books)."""

    picked = Signal(int)

    def keyPressEvent(self, event: QKeyEvent) -> None:
        if (
            event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter)
            and not event.modifiers() & Qt.KeyboardModifier.ControlModifier
        ):
            if self.currentIndex().isValid():
                self.picked.emit(self.currentIndex().row())
            return
        super().keyPressEvent(event)


class BookingForm(QWidget):
    availabilityRequested = Signal()
    bookRequested = Signal()
    changed = Signal()

    def __init__(self, parent: Any = None) -> None:
        super().__init__(parent)
        self.setObjectName("bookingForm")
        self.setAccessibleName("Booking form")
        self._setup = SetupData()
        self._record: CustomerRecord | None = None
        self._chosen: Slot | None = None
        # What the current job type filled in, so a change of job type replaces it where the CSR left it.
        self._template = ""
        self._default_tags: list[str] = []
        self._default_items: list[dict[str, Any]] = []
        self._default_priority = ""
        self._restoring = False
        self._pending_choice: dict[str, str] | None = None
        # The retired campaign of the call being booked (id, name): offered for that booking only.
        self._call_campaign: tuple[str, str] | None = None
        self._build()
        self._connect_signals()
        self.bind(None)

    # -- building -----------------------------------------------------------------------------------
    def _combo(self, name: str, accessible: str) -> QComboBox:
        combo = QComboBox(self)
        combo.setObjectName(name)
        combo.setAccessibleName(accessible)
        combo.setMinimumContentsLength(18)
        combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        return combo

    def _build(self) -> None:
        self.heading = QLabel(self)
        self.heading.setObjectName("bookingHeading")
        self.heading.setWordWrap(True)
        self.location = self._combo("bookingLocation", "Service location")
        self.business_unit = self._combo("businessUnit", "Business unit")
        self.job_type = self._combo("jobType", "Job type")
        self.campaign = self._combo("campaign", "Campaign")
        self.campaign_warning = QLabel(self)
        self.campaign_warning.setObjectName("campaignWarning")
        self.campaign_warning.setAccessibleName("Campaign warning")
        self.campaign_warning.setTextFormat(Qt.TextFormat.PlainText)
        self.campaign_warning.setWordWrap(True)
        self.campaign_warning.hide()
        self.priority = self._combo("priority", "Priority")
        self.priority.addItems(PRIORITIES)
        self.priority.setCurrentText("Normal")
        self.summary = QPlainTextEdit(self)
        self.summary.setObjectName("summary")
        self.summary.setAccessibleName("Summary")
        self.summary.setTabChangesFocus(True)
        self.summary.setFixedHeight(self.summary.fontMetrics().lineSpacing() * 4 + 12)
        self.tags = QLineEdit(self)
        self.tags.setObjectName("tags")
        self.tags.setAccessibleName("Tags")
        self.tags.setPlaceholderText("Separate tags with commas")
        self.technician = self._combo("technician", "Technician")
        self.line_items = LineItemsModel(self)
        self.items_view = QTableView(self)
        self.items_view.setObjectName("lineItems")
        self.items_view.setAccessibleName("Services on the job")
        self.items_view.setModel(self.line_items)
        self.items_view.verticalHeader().hide()
        self.items_view.horizontalHeader().setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        self.items_view.setMaximumHeight(self.fontMetrics().height() * 6)
        self.items_view.setTabKeyNavigation(False)
        self.get_availability = QPushButton("Get availabilit&y", self)
        self.get_availability.setObjectName("getAvailability")
        self.get_availability.setAccessibleName("Get availability")
        self.get_availability.setToolTip("Show arrival windows for the next 14 days (Ctrl+G)")
        self.availability = AvailabilityModel(self)
        self.availability_view = AvailabilityView(self)
        self.availability_view.setObjectName("availabilityList")
        self.availability_view.setAccessibleName("Available arrival windows")
        self.availability_view.setModel(self.availability)
        self.availability_view.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.availability_view.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.availability_view.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.availability_view.setTabKeyNavigation(False)
        self.availability_view.verticalHeader().hide()
        # The list takes the height the fields leave (four rows at least): Book Job stays on screen at 768.
        self.availability_view.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Ignored)
        self.availability_view.setMinimumHeight(self.fontMetrics().height() * 8)
        header = self.availability_view.horizontalHeader()
        header.setSectionResizeMode(4, QHeaderView.ResizeMode.Stretch)  # Notes takes the rest, cut if need be
        em = self.fontMetrics().averageCharWidth()
        self.availability_view.setWordWrap(False)
        day = self.fontMetrics().horizontalAdvance("Wed Sep 30") + 2 * em
        for col, least in enumerate(
            (day, 8 * em, 6 * em, 6 * em)
        ):  # fixed: measuring every cell costs ~20 ms
            title = self.availability.COLUMNS[col]
            header.resizeSection(col, max(least, header.fontMetrics().horizontalAdvance(title) + 3 * em))
        self.chosen_label = QLabel("No arrival window chosen.", self)
        self.chosen_label.setObjectName("chosenWindow")
        self.errors_label = QLabel(self)
        self.errors_label.setObjectName("bookingErrors")
        self.errors_label.setWordWrap(True)
        self.errors_label.setStyleSheet("color: #c62828; font-weight: bold;")
        self.errors_label.hide()
        self.book_button = QPushButton("&Book Job", self)
        self.book_button.setObjectName("bookJobButton")
        self.book_button.setAccessibleName("Book job")
        self.book_button.setToolTip("Book the job in the chosen window (Ctrl+Enter)")
        self.book_button.setDefault(False)
        self.book_button.setAutoDefault(False)

        form = QFormLayout()
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        for label, widget in (
            ("&Location", self.location),
            ("B&usiness unit", self.business_unit),
            ("Job &type", self.job_type),
            ("Ca&mpaign", self.campaign),
            ("&Priority", self.priority),
            ("&Summary", self.summary),
            ("Ta&gs", self.tags),
            ("Techn&ician", self.technician),
            ("Se&rvices", self.items_view),
        ):
            lab = QLabel(label, self)
            lab.setBuddy(widget)
            form.addRow(lab, widget)
        actions = QHBoxLayout()
        actions.addWidget(self.get_availability)
        actions.addStretch(1)
        bottom = QHBoxLayout()
        bottom.addWidget(self.chosen_label, 1)
        bottom.addWidget(self.book_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(8, 8, 8, 8)
        layout.addWidget(self.heading)
        layout.addLayout(form)
        layout.addWidget(self.campaign_warning)
        layout.addLayout(actions)
        layout.addWidget(self.availability_view, 1)
        layout.addWidget(self.errors_label)
        layout.addLayout(bottom)
        order = [
            self.location,
            self.business_unit,
            self.job_type,
            self.campaign,
            self.priority,
            self.summary,
            self.tags,
            self.technician,
            self.items_view,
            self.get_availability,
            self.availability_view,
            self.book_button,
        ]
        for a, b in zip(order, order[1:], strict=False):
            self.setTabOrder(a, b)
        self.book_shortcuts = []
        for keys in ("Ctrl+Return", "Ctrl+Enter"):
            sc = QShortcut(QKeySequence(keys), self)
            sc.setContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
            self.book_shortcuts.append(sc)
        self.availability_shortcut = QShortcut(QKeySequence("Ctrl+G"), self)
        self.availability_shortcut.setContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)

    def _connect_signals(self) -> None:
        self.business_unit.currentIndexChanged.connect(self._on_business_unit)
        self.job_type.currentIndexChanged.connect(self._on_job_type)
        for combo in (self.location, self.campaign, self.priority, self.technician):
            combo.currentIndexChanged.connect(self._emit_changed)
        self.summary.textChanged.connect(self._emit_changed)
        self.tags.textChanged.connect(self._emit_changed)
        self.line_items.dataChanged.connect(self._emit_changed)
        self.get_availability.clicked.connect(self.availabilityRequested)
        self.availability_shortcut.activated.connect(self.availabilityRequested)
        self.availability_view.picked.connect(self._pick_row)
        self.availability_view.doubleClicked.connect(lambda index: self._pick_row(index.row()))
        self.book_button.clicked.connect(self.bookRequested)
        for sc in self.book_shortcuts:
            sc.activated.connect(self.bookRequested)

    def _emit_changed(self, *_: Any) -> None:
        if not self._restoring:
            self.changed.emit()

    # -- setup and customer ---------------------------------------------------------------------------
    def set_setup(self, setup: SetupData) -> None:
        """Fill the pick lists; the current choices are kept when they still exist."""
        state = self.state()
        self._setup = setup
        self._restoring = True
        try:
            _fill(
                self.business_unit, [(b.name, b.id) for b in setup.business_units], "Choose a business unit…"
            )
            self._fill_campaigns()
            self._refresh_technicians()
            completer = QCompleter(setup.tag_names, self.tags)
            completer.setCaseSensitivity(Qt.CaseSensitivity.CaseInsensitive)
            self.tags.setCompleter(completer)
        finally:
            self._restoring = False
        self.restore(state)
        self._update_heading()

    def set_call_campaign(self, campaign: tuple[str, str] | None) -> None:
        """Offer a call's retired campaign (id, name) besides the active ones, with a warning (None: only
        the active ones). A call to a tracking number of a retired campaign is still that campaign's."""
        if campaign == self._call_campaign:
            return
        self._call_campaign = campaign
        restoring, self._restoring = self._restoring, True
        try:
            self._fill_campaigns()
        finally:
            self._restoring = restoring
        if campaign is None:
            self.campaign_warning.hide()
            self.campaign.setAccessibleDescription("")
            return
        text = (
            f"This call came in on a number of {campaign[1]}, a campaign that is no longer active. "
            "The job is booked with it; tell your admin the number still rings."
        )
        self.campaign_warning.setText(text)
        self.campaign_warning.show()
        self.campaign.setAccessibleDescription(text)

    def _fill_campaigns(self) -> None:
        items = [(c.name, c.id) for c in self._setup.campaigns]
        extra = self._call_campaign
        if extra is not None and all(cid != extra[0] for _name, cid in items):
            items.append((f"{extra[1]} (no longer active)", extra[0]))
        _fill(self.campaign, items, "Choose the campaign…")

    def bind(self, record: CustomerRecord | None) -> None:
        """Book for this customer (None: the form explains that a customer must be opened first). Bound
        again to the same customer (fresh flags), the chosen location stays."""
        same = record is not None and self._record is not None and record.id == self._record.id
        self._record = record
        self._restoring = True
        try:
            locations = [
                (loc.name + " — " if loc.name else "")
                + address_text(loc.street, loc.unit, loc.city, loc.state, loc.zip)
                for loc in (record.locations if record else ())
            ]
            _fill(
                self.location,
                list(zip(locations, [loc.id for loc in record.locations], strict=True)) if record else [],
                "No location" if record else "Open a customer first",
            )
            if record and record.locations and not (same and self.location.currentIndex() > 0):
                self.location.setCurrentIndex(1)
        finally:
            self._restoring = False
        self._update_heading()

    def choose_caller_location(self, phone: str) -> bool:
        """Choose the location the caller's number belongs to (a location's own phone); True if found."""
        record = self._record
        found = (
            next(
                (
                    loc.id
                    for loc in (record.locations if record else ())
                    if any(c.is_phone and c.value == phone for c in loc.contacts)
                ),
                None,
            )
            if phone
            else None
        )
        if found is None:
            return False
        self._select(self.location, found)
        return True

    def _update_heading(self) -> None:
        """Who is being booked, why not (Do Not Service, no setup), and whether the buttons work."""
        record = self._record
        if record is None:
            self.heading.setText("<b>Book a job</b> — open the caller's customer first (Ctrl+F).")
        elif record.do_not_service:
            reason = f" ({record.do_not_service_reason})" if record.do_not_service_reason else ""
            self.heading.setText(
                f"<b>{record.name}</b><br><span style='color:#c62828'><b>Do Not Service"
                f"{reason}</b> — this customer can't be booked.</span>"
            )
        else:
            self.heading.setText(f"<b>Book a job for {record.name}</b>")
        if not self._setup.business_units:
            self.heading.setText(
                self.heading.text() + "<br><b>No business units are set up yet</b> — an admin "
                "imports the company setup on the server (csr-server setup import FILE), or on this PC "
                "alone (csr-console setup import FILE)."
            )
        bookable = record is not None and not record.do_not_service and bool(self._setup.business_units)
        self.book_button.setEnabled(bookable)
        self.get_availability.setEnabled(bookable)

    def customer_id(self) -> str:
        return self._record.id if self._record else ""

    def record(self) -> CustomerRecord | None:
        return self._record

    # -- reacting to choices ---------------------------------------------------------------------------
    def _on_business_unit(self, _index: int) -> None:
        bu_id = self.business_unit.currentData() or ""
        current = self.job_type.currentData()
        _fill(self.job_type, [(j.name, j.id) for j in self._setup.job_types_for(bu_id)], "Choose a job type…")
        if current:
            self._select(self.job_type, current)
        if current != self.job_type.currentData() and not self._restoring:
            # The job type isn't offered by this business unit: it was reset (signals blocked), so its
            # defaults go with it here.
            self._apply_job_type(None)
        self._refresh_technicians()
        self._clear_availability()
        self._emit_changed()

    def _on_job_type(self, _index: int) -> None:
        if not self._restoring:
            self._apply_job_type(self._setup.job_type(self.job_type.currentData() or ""))
        self._refresh_technicians()
        self._clear_availability()
        self._emit_changed()

    def _apply_job_type(self, job_type: JobTypeInfo | None) -> None:
        """Fill in the job type's priority, summary template, default tags and default services, replacing
        the previous job type's wherever the CSR left them as filled in (None: no job type, no defaults)."""
        priority = job_type.priority if job_type else "Normal"
        if job_type is not None or self.priority.currentText() == self._default_priority:
            self.priority.setCurrentText(priority)
        template = job_type.summary_template if job_type else ""
        text = self.summary.toPlainText()
        if (not text.strip() or text == self._template) and text != template:
            self.summary.setPlainText(template)
            self.summary.moveCursor(QTextCursor.MoveOperation.End)  # the CSR continues the template
        # Tags: the previous defaults go, the CSR's own stay; a default the CSR already typed stays theirs.
        current = _tags(self.tags.text())
        previous = {t.casefold() for t in self._default_tags}
        own = [t for t in current if t.casefold() not in previous]
        default_tags = list(job_type.default_tags) if job_type else []
        tags = _unique([*own, *default_tags])
        if tags != current:
            self.tags.setText(", ".join(tags))
        # Services: replaced only while they are exactly the previous defaults (an edit makes them the CSR's).
        default_items = self._default_services(job_type)
        items = self.line_items.items()
        if items == self._default_items and items != default_items:
            self.line_items.set_items(default_items)
        own_keys = {t.casefold() for t in own}
        self._template = template
        self._default_priority = job_type.priority if job_type else ""
        self._default_tags = [t for t in default_tags if t.casefold() not in own_keys]
        self._default_items = default_items

    def _default_services(self, job_type: JobTypeInfo | None) -> list[dict[str, Any]]:
        items = []
        for code, quantity in job_type.default_services if job_type else ():
            service = self._setup.services.get(code)
            if service is not None:
                items.append(
                    {"code": code, "name": service.name, "quantity": quantity, "price": service.price}
                )
        return items

    def _refresh_technicians(self) -> None:
        """Offer the technicians who can take the job: in the business unit's capacity group, with all the
        job type's skills (each filter applies once its field is chosen); the choice stays if still offered."""
        setup = self._setup
        bu = setup.business_unit(self.business_unit.currentData() or "")
        job_type = setup.job_type(self.job_type.currentData() or "")
        units = setup.group_units(bu.group_id) if bu else None
        skills = job_type.skills if job_type else ()
        _fill(
            self.technician,
            [
                (t.name, t.id)
                for t in setup.technicians
                if (units is None or t.business_unit_id in units) and t.has(skills)
            ],
            "Any technician",
        )

    # -- availability ---------------------------------------------------------------------------------
    def set_slots(self, slots: list[Slot]) -> None:
        chosen = self._chosen
        self.availability.set_slots(slots)
        row = self.availability.row_of(chosen.day, chosen.window.id) if chosen else -1
        pending = self.pending_choice()
        if row < 0 and pending:
            row = self.availability.row_of(*pending)
            self._pending_choice = None
        if row < 0:
            row = self.availability.first_fitting_row()
        if row >= 0:
            self.availability_view.selectRow(row)
            self.availability_view.setFocus(Qt.FocusReason.OtherFocusReason)

    def _pick_row(self, row: int) -> None:
        slot = self.availability.slot(row)
        if slot is None:
            return
        if not slot.fits:
            self.show_errors({"window": "This window is full — pick another."})
            return
        self._chosen = slot
        warn = f" — {', '.join(slot.warnings)}" if slot.warnings else ""
        self.chosen_label.setText(f"Arrival window: <b>{slot.label}</b>{warn}")
        self.errors_label.hide()
        self.book_button.setFocus(Qt.FocusReason.OtherFocusReason)
        self._emit_changed()

    def chosen_slot(self) -> Slot | None:
        return self._chosen

    def _clear_availability(self) -> None:
        if self._restoring:
            return
        self._chosen = None
        self.availability.set_slots([])
        self.chosen_label.setText("No arrival window chosen.")

    # -- values, errors, drafts ------------------------------------------------------------------------
    def values(self) -> dict[str, Any]:
        """The job part of the book_job intent (ids are added by the controller)."""
        return {
            "customer_id": self.customer_id(),
            "location_id": self.location.currentData() or "",
            "business_unit_id": self.business_unit.currentData() or "",
            "job_type_id": self.job_type.currentData() or "",
            "campaign_id": self.campaign.currentData() or "",
            "priority": self.priority.currentText(),
            "summary": self.summary.toPlainText().strip(),
            "tags": _tags(self.tags.text()),
            "technician_ids": [self.technician.currentData()] if self.technician.currentData() else [],
            "line_items": [
                {"code": i["code"], "quantity": i["quantity"], "price": i["price"]}
                for i in self.line_items.items()
            ],
        }

    def show_errors(self, errors: dict[str, str]) -> None:
        """Name every problem and put the cursor on the first one."""
        if not errors:
            self.errors_label.hide()
            return
        self.errors_label.setText("<br>".join(errors.values()))
        self.errors_label.show()
        widgets = {
            "businessUnit": self.business_unit,
            "jobType": self.job_type,
            "campaign": self.campaign,
            "priority": self.priority,
            "summary": self.summary,
            "tags": self.tags,
            "technician": self.technician,
            "window": self.availability_view,
            "location": self.location,
            "customer": self.location,
        }
        for name in (*FIELDS, "location", "customer"):
            if name in errors and name in widgets:
                widgets[name].setFocus(Qt.FocusReason.OtherFocusReason)
                break

    def focus_first(self) -> None:
        self.business_unit.setFocus(Qt.FocusReason.ShortcutFocusReason)

    def reset(self) -> None:
        """Empty the form for the next booking (the bound customer stays)."""
        self._restoring = True
        try:
            for combo in (self.business_unit, self.job_type, self.campaign, self.technician):
                combo.setCurrentIndex(0)
            self.priority.setCurrentText("Normal")
            self.summary.clear()
            self.tags.clear()
            self.line_items.set_items([])
            self._template, self._default_tags, self._default_items, self._default_priority = "", [], [], ""
        finally:
            self._restoring = False
        self._clear_availability()
        self.errors_label.hide()

    def state(self) -> dict[str, Any]:
        """Everything typed so far, as plain JSON (saved as a draft)."""
        chosen = self._chosen
        return {
            **self.values(),
            "summary_text": self.summary.toPlainText(),
            "tags_text": self.tags.text(),
            "template": self._template,
            "line_items": self.line_items.items(),
            "default_tags": list(self._default_tags),
            "default_items": [dict(i) for i in self._default_items],
            "default_priority": self._default_priority,
            "chosen": {"day": chosen.day.isoformat(), "window_id": chosen.window.id} if chosen else None,
        }

    def restore(self, state: dict[str, Any]) -> None:
        self._restoring = True
        try:
            self._select(self.business_unit, state.get("business_unit_id"))
            self._on_business_unit(0)
            self._select(self.job_type, state.get("job_type_id"))
            self._select(self.campaign, state.get("campaign_id"))
            self._select(self.location, state.get("location_id"))
            if state.get("priority") in PRIORITIES:
                self.priority.setCurrentText(state["priority"])
            self.summary.setPlainText(state.get("summary_text", state.get("summary", "")))
            self.tags.setText(state.get("tags_text", ""))
            self._refresh_technicians()  # for this business unit and job type, before choosing
            tech = (state.get("technician_ids") or [None])[0]
            self._select(self.technician, tech)
            self.line_items.set_items(state.get("line_items") or [])
            self._template = state.get("template", "")
            self._default_tags = list(state.get("default_tags") or [])
            self._default_items = [dict(i) for i in state.get("default_items") or []]
            self._default_priority = state.get("default_priority") or ""
        finally:
            self._restoring = False
        self._chosen = None
        self.availability.set_slots([])
        chosen = state.get("chosen")
        self.chosen_label.setText(
            "No arrival window chosen."
            if not chosen
            else "Arrival window to confirm: press Get availability."
        )
        self._pending_choice = chosen

    def pending_choice(self) -> tuple[date, str] | None:
        """A window chosen before a restart: re-offered after Get availability re-checks it."""
        choice = self._pending_choice
        if not choice:
            return None
        return date.fromisoformat(choice["day"]), choice["window_id"]

    @staticmethod
    def _select(combo: QComboBox, value: Any) -> None:
        if value:
            index = combo.findData(value)
            if index >= 0:
                combo.setCurrentIndex(index)


def _tags(text: str) -> list[str]:
    return [t.strip() for t in text.split(",") if t.strip()]


def _unique(tags: list[str]) -> list[str]:
    """Tags in order, each once (tag names compare without case)."""
    seen: dict[str, str] = {}
    for tag in tags:
        seen.setdefault(tag.casefold(), tag)
    return list(seen.values())


def _fill(combo: QComboBox, items: list[tuple[str, str]], placeholder: str) -> None:
    """Replace a combo's items, keeping the current choice when it is still offered."""
    current = combo.currentData()
    combo.blockSignals(True)
    combo.clear()
    combo.addItem(placeholder, None)
    for text, data in items:
        combo.addItem(text, data)
    index = combo.findData(current) if current else 0
    combo.setCurrentIndex(max(0, index))
    combo.blockSignals(False)


def slot_of(index: QModelIndex) -> Slot | None:
    return index.data(SlotRole)
