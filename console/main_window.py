"""The Call Booking window: bubble strip (top), lookup pane (left), customer panel (right),
sync status (bottom). Later issues add the bubbles and the booking form in the reserved places."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from PySide6.QtCore import QByteArray, QSettings, Qt, Signal
from PySide6.QtGui import QAction, QActionGroup, QCloseEvent, QKeySequence
from PySide6.QtWidgets import (
    QApplication,
    QFrame,
    QMainWindow,
    QMessageBox,
    QScrollArea,
    QSplitter,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from widgets.booking_form import BookingForm
from widgets.bubble_strip import BubbleStrip
from widgets.customer_panel import CustomerPanel
from widgets.leads_list import LeadsList
from widgets.lookup_pane import LookupPane
from widgets.shortcuts_dialog import ShortcutsDialog
from widgets.sync_status import SyncStatus

from .focus import FocusKeeper
from .panes import Panes
from .theme import THEMES, apply_theme

SHORTCUTS = [
    ("Ctrl+F", "Find a customer (focus the search box)"),
    ("↓ / ↑", "Move between the search box and the results"),
    ("Enter", "Open the highlighted customer (the top one from the search box)"),
    ("Esc", "Clear the search"),
    ("Ctrl+Shift+N", "New customer"),
    ("Ctrl+Shift+L", "Sign in to the server"),
    ("F2", "Claim the ringing call (the oldest one nobody has)"),
    ("Click / Enter on a call bubble", "Claim it; on your call: back to its customer and booking"),
    ("F3 / F4 / F9 (softphone)", "Hold or resume / mute or unmute / hang up the call on your softphone"),
    ("F6 / F7 / F8 (softphone)", "Transfer… / consult a colleague… / keypad…"),
    ("F10 / F11 (softphone)", "Complete the warm transfer / return to the caller"),
    ("Ctrl+Alt+D", "Sound devices: this PC's microphone, headset and ring device for your phone seat"),
    ("Ctrl+Shift+R", "Call review (supervisors and managers): Abandoned and Unbooked calls"),
    ("Ctrl+Shift+F", "Possible duplicates (managers): compare, merge, Ctrl+Z undoes the last merge"),
    ("Ctrl+Shift+O", "Company setup: business units, job types, campaigns, … (editable by managers)"),
    ("Ctrl+Shift+G", "Campaign report (managers): calls, bookings and cost per campaign; CSV export"),
    ("Ctrl+Alt+A", "Availability (managers): time off, holidays, capacity adjustments; Ctrl+S adds"),
    ("Ctrl+Alt+U", "Users (admins): add, reset a password, change a role, deactivate, phone seat"),
    ("Alt+O, S", "My state: Available, Away (with a reason) or Wrap-up"),
    ("Ctrl+Shift+B", "Floor board (supervisors and managers): live calls, agents, today's tiles"),
    ("Ctrl+Shift+Y", "Scorecards (a CSR sees their own)"),
    ("Ctrl+Shift+K (floor board)", "Close the highlighted stale call"),
    ("Ctrl+P / Ctrl+Shift+A / Ctrl+R (review)", "Listen / attach the CSR / reclassify the highlighted call"),
    ("Ctrl+Shift+X / Ctrl+Shift+U / Ctrl+T (review)", "Excuse with a memo / un-excuse / tags"),
    ("F5", "Sync now (send waiting changes, fetch others')"),
    ("Ctrl+J", "New job for the open customer (focus on Business unit)"),
    ("Ctrl+N", "New booking without a call (a manual bubble)"),
    ("Ctrl+Shift+E", "New lead for the open customer (or from a name and phone)"),
    ("Alt+J", "The customer's jobs (upcoming first)"),
    ("Ctrl+R / Ctrl+Shift+C (jobs)", "Reschedule / cancel the highlighted job"),
    ("Ctrl+H / Ctrl+Shift+H (jobs)", "Put the highlighted job on hold / release the hold"),
    ("Ctrl+Shift+W (jobs)", "Text the customer that the technician is on the way"),
    ("Alt+K", "The Book job tab"),
    ("Alt+E", "The Leads tab: due follow-ups first"),
    (
        "Ctrl+Shift+I; Enter / Space / Delete",
        "The Bookings inbox (web requests); accept / claim or let go / dismiss",
    ),
    ("Enter / F2 / Delete (leads)", "Convert the lead to a job / edit its follow-up / dismiss it"),
    ("Ctrl+Shift+L, Ctrl+O (leads)", "New lead from a name and phone / open the lead's customer"),
    ("Ctrl+Alt+C", "Callbacks: callers to call back, longest waiting first"),
    ("Enter / Ctrl+D / Ctrl+1…4 (callbacks)", "Take the caller / call them / record how it went"),
    ("Ctrl+P / Del (callbacks)", "Listen to the voicemail / put a taken callback back in the queue"),
    ("Ctrl+PgDown / Ctrl+PgUp", "Next / previous bubble"),
    ("Ctrl+W", "Close the current bubble"),
    ("Ctrl+G", "Get availability (arrival windows for 14 days)"),
    ("Enter (on a window)", "Choose that arrival window"),
    ("Ctrl+Enter", "Book Job"),
    ("Ctrl+E", "Edit the open customer"),
    ("Ctrl+L", "Add a location to the open customer"),
    ("Ctrl+Shift+P", "Add a contact method to the open customer"),
    ("F2 / Enter", "Edit the highlighted location or contact"),
    ("Space", "Toggle Notifications / Do not text on the highlighted contact"),
    ("Ctrl+D", "Call the highlighted phone (your softphone rings first)"),
    ("Enter / Ctrl+P (Calls history)", "Play the highlighted call's recording"),
    ("Alt+N, Ctrl+Enter", "Write a note, add it"),
    ("Alt+J / Alt+A", "Jobs / Calls history"),
    ("Alt+X", "The customer's texts and emails: delivery state, why one failed, their replies"),
    ("Ctrl+Shift+S / Ctrl+Shift+V (texts)", "Resend the highlighted message / preview the templates"),
    ("Ctrl+Shift+M", "Texts from customers: unread ones, answer (Ctrl+Enter), mark read (Ctrl+D)"),
    ("Ctrl+Shift+T (demo)", "Sent messages: the texts the demo server sent to its text service stand-in"),
    ("Ctrl+Shift+D", "Toggle dark mode"),
    ("F1", "This list of shortcuts"),
    ("Ctrl+Q", "Quit (asks first while you are on a call or changes are waiting to be sent)"),
]


def on_a_call(calls: Iterable[dict[str, Any]], me: str) -> bool:
    """A call of mine is still on (claimed by me, not ended, not closed)."""
    return bool(me) and any(
        c.get("agent_id") == me and c.get("state") != "Ended" and not c.get("closed") for c in calls
    )


def quit_question(on_call: bool, waiting: int) -> str:
    """Why Ctrl+Q asks first ("" when it may quit at once)."""
    parts = []
    if on_call:
        parts.append("You are on a call.")
    if waiting:
        parts.append(
            f"{waiting} change{'s are' if waiting != 1 else ' is'} still waiting to be sent to the server "
            "(they stay on this PC and go out the next time the console is signed in and online)."
        )
    return " ".join(parts)


class MainWindow(QMainWindow):
    """Assembles the panes; wiring to services happens in console.app via the public attributes."""

    themeChosen = Signal(str)
    newCustomerRequested = Signal()
    newJobRequested = Signal()
    newBubbleRequested = Signal()
    newLeadRequested = Signal()
    closeBubbleRequested = Signal()
    stepBubbleRequested = Signal(int)
    closing = Signal()

    def __init__(self, settings: QSettings, title_suffix: str = "") -> None:
        super().__init__()
        self.setObjectName("mainWindow")
        self.settings = settings
        self.setWindowTitle("CSR Console" + (f" — {title_suffix}" if title_suffix else ""))
        # Read-only views the composition root wires in: is a call of mine on, how many changes wait.
        self.call_in_progress: Callable[[], bool] = lambda: False
        self.changes_waiting: Callable[[], int] = lambda: 0
        self.quit_box: QMessageBox | None = None
        self.shortcuts_dialog: ShortcutsDialog | None = None

        self.bubble_strip = BubbleStrip(self)  # call bubbles and manual bubbles
        self.lookup = LookupPane(parent=self)
        self.customer_panel = CustomerPanel(self)
        self.booking_form = BookingForm(self)
        self.work_tabs = QTabWidget(self)
        self.work_tabs.setObjectName("workTabs")
        self.work_tabs.setAccessibleName("Booking and leads")
        booking_scroll = QScrollArea(self)  # small screens scroll instead of growing the window
        booking_scroll.setObjectName("bookingScroll")
        booking_scroll.setWidgetResizable(True)
        booking_scroll.setFrameShape(QFrame.Shape.NoFrame)
        booking_scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        booking_scroll.setWidget(self.booking_form)
        # Never narrower than the form: the splitter then can't squeeze a field or a button.
        booking_scroll.setMinimumWidth(
            self.booking_form.minimumSizeHint().width()
            + booking_scroll.verticalScrollBar().sizeHint().width()
        )
        self.work_tabs.addTab(booking_scroll, "Boo&k job")
        self.leads_list = LeadsList(self)
        self.work_tabs.addTab(self.leads_list, "L&eads")
        self.splitter = QSplitter(Qt.Orientation.Horizontal, self)
        self.splitter.setObjectName("mainSplitter")
        self.lookup.summary.setWordWrap(True)  # "No customer matches — …" wraps in the narrow list
        self.splitter.addWidget(self.lookup)
        self.splitter.addWidget(self.customer_panel)
        self.splitter.addWidget(self.work_tabs)
        self.splitter.setChildrenCollapsible(False)
        self.panes = Panes(self.splitter, self.customer_panel, self.lookup.results, self.work_tabs, settings)

        central = QWidget(self)
        layout = QVBoxLayout(central)
        layout.setContentsMargins(8, 4, 8, 4)
        layout.addWidget(self.bubble_strip)
        layout.addWidget(self.splitter, 1)
        self.setCentralWidget(central)

        self.sync_status = SyncStatus(self)
        self.statusBar().addPermanentWidget(self.sync_status)
        self.statusBar().messageChanged.connect(lambda text: self.sync_status.make_room(bool(text)))
        # Closing any dialog or window gives the keyboard back here, so the shortcuts keep working.
        self.focus_keeper = FocusKeeper(self, fallback=lambda: self.lookup.search)
        self._build_menus()
        self._connect_signals()
        self._restore()

    # -- menus and shortcuts ------------------------------------------------------------------------
    def _build_menus(self) -> None:
        bar = self.menuBar()
        customer = bar.addMenu("&Customer")
        self.find_action = self._action(customer, "&Find customer…", QKeySequence.StandardKey.Find)
        self.new_customer_action = self._action(customer, "&New customer…", "Ctrl+Shift+N")
        self.new_job_action = self._action(customer, "New &job for this customer", "Ctrl+J")
        self.new_lead_action = self._action(customer, "New &lead for this customer…", "Ctrl+Shift+E")
        customer.addSeparator()
        self.new_bubble_action = self._action(customer, "New &booking without a call", "Ctrl+N")
        self.close_bubble_action = self._action(customer, "&Close this booking bubble", "Ctrl+W")
        self.next_bubble_action = self._action(customer, "Ne&xt bubble", "Ctrl+PgDown")
        self.prev_bubble_action = self._action(customer, "Pre&vious bubble", "Ctrl+PgUp")
        customer.addSeparator()
        self.quit_action = self._action(customer, "&Quit", QKeySequence.StandardKey.Quit)
        self.quit_action.setShortcut("Ctrl+Q")

        server = bar.addMenu("Net&work")
        self.sign_in_action = self._action(server, "&Sign in…", "Ctrl+Shift+L")
        self.sync_now_action = self._action(server, "Sync &now", "F5")
        self.sync_problems_action = self._action(server, "Sync &problems…")
        server.addSeparator()
        self.sign_out_action = self._action(server, "Sign &out")

        calls = self.phone_menu = bar.addMenu("Ph&one")
        calls.addAction(self.bubble_strip.claim_action)  # F2: claim the oldest ringing call

        view = self.view_menu = bar.addMenu("&View")
        theme_menu = view.addMenu("&Theme")
        self.theme_group = QActionGroup(self)
        self.theme_actions: dict[str, QAction] = {}
        for name in THEMES:
            act = theme_menu.addAction({"system": "Follow &system", "light": "&Light", "dark": "&Dark"}[name])
            act.setCheckable(True)
            act.setData(name)
            self.theme_group.addAction(act)
            self.theme_actions[name] = act
        self.toggle_theme_action = self._action(view, "Toggle &dark mode", "Ctrl+Shift+D")

        help_menu = bar.addMenu("&Help")
        self.shortcuts_action = self._action(help_menu, "&Keyboard shortcuts", "F1")
        self.about_action = self._action(help_menu, "&About CSR Console")

    def _action(self, menu, text: str, shortcut=None) -> QAction:  # noqa: ANN001
        act = menu.addAction(text)
        if shortcut is not None:
            act.setShortcut(QKeySequence(shortcut))
        act.setShortcutContext(Qt.ShortcutContext.ApplicationShortcut)
        return act

    def _share_f2(self) -> None:
        """F2 claims a ringing call anywhere in the window; in the contact, location and lead lists F2
        also means "edit". While a call can be claimed, claiming wins (two actions on one key would
        both be ignored); between calls, F2 edits again."""
        claim = self.bubble_strip.claim_action
        edits = [
            a
            for a in self.findChildren(QAction)
            if a is not claim
            and any(
                k.matches(QKeySequence("F2")) == QKeySequence.SequenceMatch.ExactMatch for k in a.shortcuts()
            )
        ]
        keys = {a: a.shortcuts() for a in edits}

        def update() -> None:
            for action, shortcuts in keys.items():
                action.setShortcuts(
                    [k for k in shortcuts if k != QKeySequence("F2")] if claim.isEnabled() else shortcuts
                )

        claim.changed.connect(update)
        update()

    def _share_pane_keys(self) -> None:
        """A key a pane gives a meaning of its own (Ctrl+Shift+L in the leads list: a new lead) means that
        while the keyboard is in the pane and keeps its window-wide meaning (sign in) everywhere else: Qt
        ignores a key that two actions answer in the same place. F2 is shared by ``_share_f2``."""
        wide = (Qt.ShortcutContext.ApplicationShortcut, Qt.ShortcutContext.WindowShortcut)
        claim, f2 = self.bubble_strip.claim_action, QKeySequence("F2")
        actions = self.findChildren(QAction)
        panes = [a for a in actions if a.shortcutContext() not in wide]
        self._pane_clashes: list[tuple[QAction, QKeySequence, QAction]] = [
            (action, key, local)
            for action in actions
            if action.shortcutContext() in wide and action is not claim
            for key in action.shortcuts()
            if key != f2
            for local in panes
            if key in local.shortcuts()
        ]
        self._wide_keys = {action: action.shortcuts() for action, _key, _local in self._pane_clashes}
        if self._pane_clashes:
            app = QApplication.instance()
            assert isinstance(app, QApplication)
            app.focusChanged.connect(self._pane_keys)

    def _pane_keys(self, _old: QWidget | None, new: QWidget | None) -> None:
        def inside(local: QAction) -> bool:
            scopes = [w for w in local.associatedObjects() if isinstance(w, QWidget)]
            if local.shortcutContext() == Qt.ShortcutContext.WidgetShortcut:
                return new in scopes
            return new is not None and any(w is new or w.isAncestorOf(new) for w in scopes)

        taken = {
            (action, key) for action, key, local in self._pane_clashes if local.isEnabled() and inside(local)
        }
        for action, keys in self._wide_keys.items():
            wanted = [k for k in keys if (action, k) not in taken]
            if wanted != action.shortcuts():
                action.setShortcuts(wanted)

    def _connect_signals(self) -> None:
        self._share_f2()
        self._share_pane_keys()
        self.find_action.triggered.connect(self.focus_search)
        self.new_customer_action.triggered.connect(self.newCustomerRequested)
        self.new_job_action.triggered.connect(self.newJobRequested)
        self.new_bubble_action.triggered.connect(self.newBubbleRequested)
        self.new_lead_action.triggered.connect(self.newLeadRequested)
        self.close_bubble_action.triggered.connect(self.closeBubbleRequested)
        self.next_bubble_action.triggered.connect(lambda: self.stepBubbleRequested.emit(1))
        self.prev_bubble_action.triggered.connect(lambda: self.stepBubbleRequested.emit(-1))
        self.quit_action.triggered.connect(self.quit)
        self.theme_group.triggered.connect(lambda act: self.set_theme(act.data()))
        self.toggle_theme_action.triggered.connect(self._toggle_theme)
        self.shortcuts_action.triggered.connect(self._show_shortcuts)
        self.about_action.triggered.connect(self._show_about)

    # -- behaviour ------------------------------------------------------------------------------------
    def focus_search(self) -> None:
        self.lookup.search.setFocus(Qt.FocusReason.ShortcutFocusReason)
        self.lookup.search.selectAll()

    def set_theme(self, name: str) -> None:
        if name not in THEMES:
            name = "system"
        app = QApplication.instance()
        if isinstance(app, QApplication):
            apply_theme(app, name)
        self.theme_actions[name].setChecked(True)
        self.settings.setValue("theme", name)
        self.themeChosen.emit(name)

    def _toggle_theme(self) -> None:
        app = QApplication.instance()
        dark = bool(app.property("csrDark")) if app else False
        self.set_theme("light" if dark else "dark")

    def _show_shortcuts(self) -> None:
        """F1: every shortcut, in a list that scrolls and fits the screen (one at a time)."""
        if self.shortcuts_dialog is not None and self.shortcuts_dialog.isVisible():
            self.shortcuts_dialog.activateWindow()
            return
        # Over the window in use: a form open over this window (modal to it) would block help parented here.
        over = QApplication.activeWindow()
        dialog = self.shortcuts_dialog = ShortcutsDialog(
            SHORTCUTS, over if isinstance(over, QWidget) else self
        )
        dialog.finished.connect(dialog.deleteLater)
        dialog.finished.connect(lambda _r: setattr(self, "shortcuts_dialog", None))
        dialog.open()

    def quit(self) -> QMessageBox | None:
        """Ctrl+Q: quit at once, unless a call of mine is on or changes wait to be sent — then ask
        (non-modal, Cancel the default); returns the question when one is asked."""
        question = quit_question(self.call_in_progress(), self.changes_waiting())
        if not question:
            self.close()
            return None
        if self.quit_box is not None and self.quit_box.isVisible():
            self.quit_box.activateWindow()
            return self.quit_box
        box = self.quit_box = QMessageBox(
            QMessageBox.Icon.Question,
            "Quit CSR Console?",
            f"{question}\n\nQuit anyway?",
            QMessageBox.StandardButton.NoButton,
            self,
        )
        box.setObjectName("quitQuestion")
        quit_button = box.addButton("&Quit", QMessageBox.ButtonRole.AcceptRole)
        quit_button.setObjectName("quitAnywayButton")
        cancel = box.addButton(QMessageBox.StandardButton.Cancel)
        box.setDefaultButton(cancel)
        box.setEscapeButton(cancel)

        def answered(_result: int) -> None:
            self.quit_box = None
            box.deleteLater()
            if box.clickedButton() is quit_button:
                self.close()

        box.finished.connect(answered)
        box.open()
        return box

    def _show_about(self) -> None:
        from importlib.metadata import PackageNotFoundError, version

        try:
            v = version("csr-console")
        except PackageNotFoundError:
            v = "dev"
        box = QMessageBox(
            QMessageBox.Icon.Information,
            "About CSR Console",
            f"CSR Console {v}\nCall booking for home-service companies — works offline.",
            QMessageBox.StandardButton.Close,
            self,
        )
        box.open()

    # -- geometry -----------------------------------------------------------------------------------
    def _restore(self) -> None:
        geometry = self.settings.value("window/geometry")
        if isinstance(geometry, QByteArray) and not geometry.isEmpty():
            self.restoreGeometry(geometry)
        else:
            screen = self.screen().availableGeometry()  # 1366×768 desks get the whole screen
            self.resize(min(1440, screen.width()), min(860, screen.height()))
        theme = str(self.settings.value("theme", "system"))
        self.theme_actions.get(theme, self.theme_actions["system"]).setChecked(True)

    def closeEvent(self, event: QCloseEvent) -> None:
        self.settings.setValue("window/geometry", self.saveGeometry())
        self.settings.setValue("window/splitter", self.splitter.saveState())
        self.settings.sync()
        self.closing.emit()
        super().closeEvent(event)
