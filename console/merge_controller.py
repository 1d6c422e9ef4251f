"""Wiring of the *Possible duplicates* window (widgets/duplicates_window.py) for managers and admins:
the whole-cache scan (models/duplicate_scan.py), the compare, ``merge_customers`` and ``undo_merge``.

Everything that touches the cache runs on a database worker of its own (console/db_worker.py), never
on the UI thread, and the scan itself in a process of its own: a 1M-customer cache takes tens of
seconds of Python work, which in a thread would compete with the UI thread for the GIL. The scan stops when the window closes or a newer scan starts; a stale
answer is dropped. The server refuses merges from any other role (sync/server_auth.py); a CSR's console
doesn't offer the window at all.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

from PySide6.QtCore import Signal
from sqlalchemy import func, select

from models.calls import Call
from models.customers import ContactMethod, Customer, Location
from models.db import Cache
from models.duplicate_scan import Stopped, scan_in_process
from models.intents import CUSTOMER_FIELDS
from models.jobs import Job, Lead
from models.phone import format_phone
from models.validation import ValidationFailed
from models.writer import LocalWriter
from widgets.duplicates_window import Comparison, DuplicatesWindow, PairRow, Side

from .failures import describe_failure
from .manager_window import MANAGER_ROLES, ManagerWindowController, install_for_role

log = logging.getLogger(__name__)

SHORTCUT = "Ctrl+Shift+F"
LABELS = {
    "name": "Name",
    "type": "Type",
    "street": "Billing street",
    "unit": "Unit",
    "city": "City",
    "state": "State",
    "zip": "ZIP",
    "country": "Country",
    "do_not_service": "Do Not Service",
    "do_not_service_reason": "Do Not Service reason",
    "do_not_mail": "Do not mail",
}


def _shown(value: Any) -> str:
    if isinstance(value, bool):
        return "Yes" if value else "No"
    return str(getattr(value, "value", value) or "")


def load_pairs(cache: Cache, stop: threading.Event, progress: Any) -> list[PairRow]:
    """The scan, in a process of its own (models/duplicate_scan.py), waited for on the worker."""
    rows = scan_in_process(cache.path, should_stop=stop.is_set, progress=progress)
    return [PairRow(*row) for row in rows]


def load_comparison(cache: Cache, survivor_id: str, merged_id: str) -> Comparison:
    """Both customers' fields and what hangs off each (on the worker)."""
    with cache.sessions() as session:
        sides = []
        for cid in (survivor_id, merged_id):
            customer = session.get(Customer, cid)
            if customer is None or customer.merged_into_id:
                raise ValidationFailed(
                    {"customer": "One of these customers was merged or removed meanwhile — scan again."}
                )
            counts = []
            for model, word in ((Job, "job"), (Location, "location"), (Call, "call"), (Lead, "lead")):
                n = (
                    session.scalar(select(func.count()).select_from(model).where(model.customer_id == cid))
                    or 0
                )
                counts.append(f"{n} {word}{'' if n == 1 else 's'}")
            phones = session.scalars(
                select(ContactMethod.value).where(
                    ContactMethod.customer_id == cid, ContactMethod.digits != ""
                )
            ).all()
            values = {k: _shown(getattr(customer, k)) for k in CUSTOMER_FIELDS}
            values["phones"] = ", ".join(format_phone(p) for p in phones)
            sides.append(Side(cid, values, " · ".join(counts)))
    fields = [(k, LABELS.get(k, k)) for k in CUSTOMER_FIELDS]
    return Comparison(fields=fields, survivor=sides[0], merged=sides[1])


class MergeController(ManagerWindowController):
    outboxChanged = Signal()
    scanFinished = Signal(int)  # pairs found (tests and the bench wait on it)
    _progress = Signal(float)  # from the worker thread, queued to the UI thread

    def __init__(self, window: Any, cache: Cache, writer: LocalWriter) -> None:
        super().__init__(window, cache, worker_name="csr-dupscan")
        self._writer = writer
        self._stop = threading.Event()
        self.last_merge: str = ""
        self.dialog: DuplicatesWindow | None = None
        self._progress.connect(self._on_progress)

    # -- the window -----------------------------------------------------------------------------------------
    def add_action(self) -> None:
        self._add_shortcut("Possible duplicates", "duplicatesAction", SHORTCUT, self.open)

    def open(self) -> DuplicatesWindow:
        """Ctrl+Shift+F: the window (made once), with a fresh scan."""
        if self.dialog is None:
            self.dialog = DuplicatesWindow(None)
            d = self.dialog
            d.rescanRequested.connect(self.scan)
            d.pairChosen.connect(self.compare)
            d.mergeRequested.connect(self.merge)
            d.undoRequested.connect(self.undo)
            d.closed.connect(self._stop.set)  # a running scan stops at its next check
        # The focus stays where the window's own constructor put it (the pairs list).
        self.dialog.show()
        self.dialog.raise_()
        self.dialog.activateWindow()
        self.scan()
        return self.dialog

    def reload(self) -> None:
        """The window's list again: a fresh scan."""
        self.scan()

    def scan(self) -> None:
        self._stop.set()  # the scan before this one, if any
        self._stop = stop = threading.Event()
        if self.dialog is not None:
            self.dialog.show_progress(0.0, "Looking for possible duplicates in every customer on this PC…")
        self._worker.submit(
            load_pairs,
            self._cache,
            stop,
            self._progress.emit,
            done=self._scanned,
            failed=self._scan_failed,
            key="scan",
        )

    def _on_progress(self, fraction: float) -> None:
        if self.dialog is not None and fraction < 1.0:
            self.dialog.show_progress(
                fraction, "Looking for possible duplicates in every customer on this PC…"
            )

    def _scanned(self, rows: list[PairRow]) -> None:
        if self.dialog is not None:
            text = (
                f"{len(rows):,} possible duplicate pair{'' if len(rows) == 1 else 's'}"
                if rows
                else "No possible duplicates found."
            )
            self.dialog.show_pairs(rows, text)
        self.scanFinished.emit(len(rows))

    def _scan_failed(self, exc: BaseException) -> None:
        if isinstance(exc, Stopped):
            return
        self._error(describe_failure(self._cache.path, exc, what="duplicate scan"))

    def compare(self, survivor_id: str, merged_id: str) -> None:
        self._worker.submit(
            load_comparison,
            self._cache,
            survivor_id,
            merged_id,
            done=lambda c: self.dialog is not None and self.dialog.show_comparison(c),
            failed=self._write_failed,
            key="compare",
        )

    def merge(self, survivor_id: str, merged_id: str, winners: dict) -> None:
        args = {"survivor_id": survivor_id, "merged_id": merged_id, "fields": dict(winners)}
        self._worker.submit(
            self._writer.execute, "merge_customers", args, done=self._merged, failed=self._write_failed
        )

    def _merged(self, result: Any) -> None:
        self.last_merge = str(result.args["merge_id"])
        self.outboxChanged.emit()
        if self.dialog is not None:
            self.dialog.merged(str(result.args["merged_id"]))
            self.dialog.show_message(
                "Merged — saved on this PC. Ctrl+Z undoes it until either record changes."
            )

    def undo(self) -> None:
        if not self.last_merge:
            self._error("There is no merge to undo in this window.")
            return
        self._worker.submit(
            self._writer.execute,
            "undo_merge",
            {"merge_id": self.last_merge},
            done=self._undone,
            failed=self._write_failed,
        )

    def _undone(self, _result: Any) -> None:
        self.last_merge = ""
        self.outboxChanged.emit()
        if self.dialog is not None:
            self.dialog.show_message(
                "The merge is undone — saved on this PC. Both customers are back as they were."
            )
        self.scan()

    def _write_failed(self, exc: BaseException) -> None:
        self._refused(exc, what="merge")

    def shutdown(self) -> None:
        """Stop a running scan and the worker; close the window."""
        self._stop.set()
        super().shutdown()


def install(window: Any, cache: Cache, writer: LocalWriter, *, role: str) -> MergeController | None:
    """The Possible duplicates window (Ctrl+Shift+F) for a manager or an admin; for any other role none,
    and one left by the previous user is removed."""
    return install_for_role(
        window,
        MergeController,
        role,
        lambda: MergeController(window, cache, writer),
        roles=MANAGER_ROLES,
        denied=(SHORTCUT, "Possible duplicates"),
    )
