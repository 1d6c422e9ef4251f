"""Wiring of the setup window (widgets/setup_window.py): lists read and saves written on a database worker
of its own (console/db_worker.py) through the console's writer — each save is an intent
(models/setup_edit.py), applied to the cache at once and pushed to the server, which lets only managers
and admins change the setup (sync/server_auth.py: every ``setup_`` intent) and sends the change to every
console. A refusal the server sends back is listed in the Sync problems window like any refused change.

Everyone gets the window (Ctrl+Shift+O) — read-only unless the user is a manager or an admin. Managers and
admins also get the campaign report (Ctrl+Shift+G, widgets/campaign_report.py), run on the same worker.
"""

from __future__ import annotations

import logging
from typing import Any

from PySide6.QtCore import Signal

from models.db import Cache
from models.setup_edit import KINDS, Listing, list_records
from models.validation import ValidationFailed
from models.writer import LocalWriter
from widgets.setup_window import SetupWindow

from .failures import describe_failure
from .manager_window import MANAGER_ROLES, ManagerWindowController, install_for_role, role_name

log = logging.getLogger(__name__)

SHORTCUT = "Ctrl+Shift+O"
REPORT_SHORTCUT = "Ctrl+Shift+G"
EDIT_ROLES = MANAGER_ROLES


def run_report(cache: Cache, start: Any, end: Any) -> Any:
    from models.campaign_report import campaign_report
    from models.setup_data import load_setup

    with cache.sessions() as session:
        return campaign_report(session, start, end, load_setup(session).time_zone)


def load_listing(cache: Cache, kind: str) -> tuple[str, Listing]:
    with cache.sessions() as session:
        return kind, list_records(session, KINDS[kind])


class SetupController(ManagerWindowController):
    outboxChanged = Signal()
    listed = Signal(str)  # a kind's list is shown (tests and the bench wait on it)
    savedRecord = Signal(str)  # id of a record saved on this PC
    reported = Signal()  # the campaign report is shown

    def __init__(self, window: Any, cache: Cache, writer: LocalWriter, *, can_edit: bool) -> None:
        super().__init__(window, cache, worker_name="csr-setup")
        self._writer = writer
        self.can_edit = can_edit
        self.dialog: SetupWindow | None = None
        self.report: Any = None  # widgets/campaign_report.CampaignReportWindow, made on first use

    def add_action(self) -> None:
        self._add_shortcut("Company setup", "setupAction", SHORTCUT, self.open)
        if self.can_edit:  # what campaigns cost is the managers' business
            self._add_shortcut("Campaign report", "campaignReportAction", REPORT_SHORTCUT, self.open_report)

    def open_report(self) -> Any:
        from widgets.campaign_report import CampaignReportWindow

        if self.report is None:
            self.report = CampaignReportWindow(None)
            self.report.runRequested.connect(self.run_report)
        self._present(self.report, self.report.start)
        return self.report

    def run_report(self, start: Any, end: Any) -> None:
        def done(report: Any) -> None:
            if self.report is not None:
                self.report.show_report(report)
            self.reported.emit()

        def failed(exc: BaseException) -> None:
            text = describe_failure(self._cache.path, exc, what="campaign report")
            if self.report is not None:
                self.report.message.setText(text)
            self.errorOccurred.emit(text)

        self._worker.submit(run_report, self._cache, start, end, done=done, failed=failed, key="report")

    def open(self) -> SetupWindow:
        if self.dialog is None:
            self.dialog = d = SetupWindow(None, can_edit=self.can_edit)
            d.kindChosen.connect(self.load)
            d.saveRequested.connect(self.save)
            d.retireRequested.connect(self.retire)
            d.deleteRequested.connect(self.delete)
        self._present(self.dialog, self.dialog.kinds)
        self.load(self.dialog.kind.name)
        return self.dialog

    def load(self, kind: str) -> None:
        self._worker.submit(
            load_listing, self._cache, kind, done=self._loaded, failed=self._failed, key="list"
        )

    def reload(self) -> None:
        """The setup changed (pulled from the server): the open kind's list again."""
        if self.dialog is not None and self.dialog.isVisible():
            self.load(self.dialog.kind.name)

    def _loaded(self, answer: tuple[str, Listing]) -> None:
        kind, listing = answer
        if self.dialog is not None:
            self.dialog.show_listing(kind, listing)
        self.listed.emit(kind)

    def _write(self, name: str, args: dict[str, Any], done_text: str) -> None:
        def done(result: Any) -> None:
            self.outboxChanged.emit()
            ident = str(result.args.get("id") or "")
            if self.dialog is not None:
                if name == "setup_save":
                    self.dialog.saved(ident, done_text)
                else:
                    self.dialog.show_message(done_text)
            self.savedRecord.emit(ident)
            self.load(args["kind"])

        self._worker.submit(self._writer.execute, name, args, done=done, failed=self._failed)

    def save(self, kind: str, ident: str, values: dict, seen: dict) -> None:
        args: dict[str, Any] = {"kind": kind, "values": dict(values)}
        if ident:
            args["id"] = ident
            args["seen"] = {k: v for k, v in seen.items() if k in values}
        self._write("setup_save", args, "Saved — every console gets the change.")

    def retire(self, kind: str, ident: str, active: bool) -> None:
        text = "Reactivated." if active else "Retired — kept in history, no longer offered for new work."
        self._write("setup_retire", {"kind": kind, "id": ident, "active": active}, text)

    def delete(self, kind: str, ident: str) -> None:
        self._write("setup_delete", {"kind": kind, "id": ident}, "Deleted.")

    def _failed(self, exc: BaseException) -> None:
        if isinstance(exc, ValidationFailed):
            if self.dialog is not None:
                self.dialog.show_errors(exc.errors)
            self.errorOccurred.emit(" ".join(exc.errors.values()))
            return
        self._error(describe_failure(self._cache.path, exc, what="setup change"))

    def _close_windows(self) -> None:
        super()._close_windows()
        if self.report is not None:
            self.report.close()
            self.report.deleteLater()
            self.report = None


def install(window: Any, cache: Cache, writer: LocalWriter, *, role: str) -> SetupController:
    """The setup window for the signed-in user: editable for managers and admins, read-only for others
    (a controller left by a previous user of another kind is replaced)."""
    can_edit = role_name(role) in EDIT_ROLES
    controller = install_for_role(
        window,
        SetupController,
        role,
        lambda: SetupController(window, cache, writer, can_edit=can_edit),
        keep=lambda existing: existing.can_edit == can_edit,
    )
    assert controller is not None  # no ``roles``: everyone gets the window
    return controller
