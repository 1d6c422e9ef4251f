"""Wiring of the work order panel (widgets/work_order_panel.py) to the console's cache: reads the work
order, and writes the CSR's decisions through the LocalWriter (cache + outbox in one transaction, the
server then tells ServiceChannel exactly once). Every read and write runs on a database worker
(console/db_worker.py): the UI thread never waits for the disk. A refusal comes back as a sentence on the
panel and in the status bar.

Accept books the job first (``book_job``: the client's customer, the store's location, the mapped job
type, the campaign "ServiceChannel", the free arrival window nearest the scheduled date —
models/work_order_booking.py) and then ``accept_work_order``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime
from typing import Any

from PySide6.QtCore import QObject, Signal

from models.base import utcnow
from models.db import Cache
from models.validation import ValidationFailed
from models.work_order_booking import accept_plan
from models.work_order_inbox import WorkOrderView, work_order_view
from models.writer import LocalWriter
from widgets.work_order_panel import WorkOrderPanel

from .db_worker import DbWorker

log = logging.getLogger(__name__)
GONE = "That work order is no longer on this PC — refresh the inbox."
FAILED = "The work order could not be saved. Try again; if it keeps happening, call support (details are in the log)."
REFRESH_CHECK_MS = 15  # while an inbox read is on its way, look again this often


class WorkOrdersController(QObject):
    outboxChanged = Signal()
    workOrderChanged = Signal(str)  # after a write from here (the inbox refreshes its row)
    jobBooked = Signal(str, str)  # work order id, job id (Accept)
    errorOccurred = Signal(str)

    def __init__(
        self,
        cache: Cache,
        writer: LocalWriter,
        panel: WorkOrderPanel,
        *,
        worker: DbWorker | None = None,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        super().__init__(panel)
        self._cache = cache
        self._writer = writer
        self.panel = panel
        self.worker = worker or DbWorker(self, "csr-work-orders")
        self._clock = clock
        self._connect_signals()

    def _connect_signals(self) -> None:
        p = self.panel
        p.acceptRequested.connect(self.accept)
        p.declineRequested.connect(self.decline)
        p.checkInRequested.connect(self.check_in)
        p.checkOutRequested.connect(self.check_out)
        p.noteRequested.connect(self.note)

    def close(self) -> None:
        """Stop the worker (the console's shutdown)."""
        self.worker.shutdown()

    # -- reading ---------------------------------------------------------------------------------------------
    def show(self, work_order_id: str) -> None:
        self.worker.submit(self._load, work_order_id, done=self._shown, failed=self._failed, key="work-order")

    def _load(self, work_order_id: str) -> WorkOrderView | None:
        with self._cache.sessions() as session:
            return work_order_view(session, work_order_id)

    def _shown(self, view: WorkOrderView | None) -> None:
        self.panel.show_work_order(view)
        if view is None:
            self.panel.show_message(GONE, error=True)

    # -- writing ---------------------------------------------------------------------------------------------
    def accept(self, work_order_id: str) -> None:
        self._run(self._accept, work_order_id, "Accepted — job {job} booked; ServiceChannel will be told.")

    def _accept(self, work_order_id: str) -> dict[str, Any]:
        with self._cache.sessions() as session:
            plan = accept_plan(session, work_order_id, self._clock())
        booked = self._writer.execute("book_job", plan)
        job_id = booked.applied.entity_id
        self._writer.execute("accept_work_order", {"work_order_id": work_order_id, "job_id": job_id})
        return {"id": work_order_id, "job_id": job_id, "job": booked.args.get("job", {}).get("number", "")}

    def decline(self, work_order_id: str, reason: int, note: str) -> None:
        args = {"work_order_id": work_order_id, "reason_id": reason, "note": note}
        self._run(
            lambda _id: self._write("decline_work_order", args),
            work_order_id,
            "Declined; ServiceChannel will be told.",
        )

    def check_in(self, work_order_id: str) -> None:
        args = {"work_order_id": work_order_id}
        self._run(
            lambda _id: self._write("check_in_work_order", args),
            work_order_id,
            "Checked in; ServiceChannel will be told.",
        )

    def check_out(self, work_order_id: str, resolution: str) -> None:
        args = {"work_order_id": work_order_id, "resolution": resolution}
        self._run(
            lambda _id: self._write("check_out_work_order", args),
            work_order_id,
            "Checked out; ServiceChannel will be told.",
        )

    def note(self, work_order_id: str, text: str) -> None:
        args = {"work_order_id": work_order_id, "note": text}
        self._run(
            lambda _id: self._write("note_work_order", args),
            work_order_id,
            "Note saved; ServiceChannel will get it.",
        )

    def _write(self, name: str, args: dict[str, Any]) -> dict[str, Any]:
        self._writer.execute(name, args)
        return {"id": args["work_order_id"]}

    def _run(self, fn: Callable[[str], dict[str, Any]], work_order_id: str, done_text: str) -> None:
        self.panel.set_busy(True)

        def done(result: dict[str, Any]) -> None:
            self.outboxChanged.emit()
            self.workOrderChanged.emit(work_order_id)
            if result.get("job_id"):
                self.jobBooked.emit(work_order_id, result["job_id"])
            self.show(work_order_id)
            self.panel.show_message(done_text.format(job=result.get("job", "")))

        self.worker.submit(fn, work_order_id, done=done, failed=self._failed)

    def _failed(self, exc: BaseException) -> None:
        self.panel.set_busy(False)
        if isinstance(exc, ValidationFailed):
            text = " ".join(dict.fromkeys(str(v) for v in exc.errors.values()))
        else:
            log.error("work order action failed", exc_info=exc)
            text = FAILED
        self.panel.show_message(text, error=True)
        self.errorOccurred.emit(text)


def install_in_inbox(console: Any, inbox: Any) -> WorkOrdersController:
    """ServiceChannel work orders in the Bookings inbox: Enter (and Delete) on a work order opens its panel
    in a window of its own (Accept Alt+A, Decline… Alt+D, Check in Alt+I, Check out… Alt+U, note Alt+T);
    a work order is not claimed — accepting it is the claim."""
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QDialog, QVBoxLayout

    from .inbox_controller import KindActions

    window = console.window
    dialog = QDialog(window)
    dialog.setObjectName("workOrderWindow")
    dialog.setWindowTitle("Work order — ServiceChannel")
    dialog.setAccessibleName("Work order")
    panel = WorkOrderPanel(dialog)
    layout = QVBoxLayout(dialog)
    layout.addWidget(panel)
    dialog.resize(640, 560)
    controller = WorkOrdersController(console.cache, console.writer, panel)
    controller.outboxChanged.connect(console.refresh_outbox)
    controller.workOrderChanged.connect(lambda _id: inbox.refresh())
    controller.jobBooked.connect(lambda _wo, _job: inbox.refresh())
    controller.errorOccurred.connect(lambda text: window.statusBar().showMessage(text, 10_000))

    def open_panel(item: Any) -> None:
        controller.show(item.item_id)
        dialog.show()
        dialog.raise_()
        dialog.activateWindow()
        panel.setFocus()

    def claim(_item: Any) -> None:
        inbox.inbox.show_message(
            "A work order is not claimed: Enter opens it, and accepting it is the claim."
        )

    # Work orders pulled from the server refresh the inbox — at most one read on its way at a time: a
    # burst of work orders (one pull after another) would otherwise queue a full read per pull on the
    # inbox's worker, each answer stale before it is shown.
    throttle = QTimer(dialog)
    throttle.setObjectName("workOrderInboxRefresh")
    throttle.setSingleShot(True)
    throttle.setInterval(REFRESH_CHECK_MS)

    def refresh_when_idle() -> None:
        if inbox.worker.pending:  # a read is on its way: one more once it has answered
            throttle.start()
            return
        inbox.refresh()

    throttle.timeout.connect(refresh_when_idle)
    console.sync.workOrdersChanged.connect(lambda: throttle.isActive() or throttle.start())
    inbox.actions["servicechannel"] = KindActions(open_panel, claim, open_panel)
    controller.dialog = dialog  # kept with the controller
    return controller
