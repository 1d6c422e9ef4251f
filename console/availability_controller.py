"""Wiring of the *Availability* window (widgets/availability_window.py) for managers and admins: reads the
technicians, groups, windows and active entries on a database worker of its own, and writes
``add_time_off`` / ``add_holiday`` / ``adjust_capacity`` / ``remove_availability_entry`` through the
console's LocalWriter (applied to the cache at once, queued for the server, which refuses them from any
other role — sync/server_auth.py). A change that leaves booked jobs over capacity shows those jobs in the
window's *To reschedule* list and in the message.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from PySide6.QtCore import Signal
from sqlalchemy import select

from models.availability import AvailabilityEntry, entry_label
from models.db import Cache
from models.setup import ArrivalWindow, BusinessUnitGroup, Technician
from models.writer import LocalWriter
from widgets.availability_window import AvailabilityWindow, Choices, EntryRow

from .failures import describe_failure
from .manager_window import MANAGER_ROLES, ManagerWindowController, install_for_role

log = logging.getLogger(__name__)

SHORTCUT = "Ctrl+Alt+A"
MAX_ROWS = 1000


def load_view(cache: Cache) -> tuple[Choices, list[EntryRow]]:
    """The form's choices and the active entries, soonest first (on the worker)."""
    with cache.sessions() as session:
        techs = [
            (t.id, t.name)
            for t in session.scalars(select(Technician).where(Technician.active).order_by(Technician.name))
        ]
        groups = [
            (g.id, g.name)
            for g in session.scalars(select(BusinessUnitGroup).order_by(BusinessUnitGroup.name))
        ]
        windows = [
            (w.id, w.name)
            for w in session.scalars(
                select(ArrivalWindow)
                .where(ArrivalWindow.active)
                .order_by(ArrivalWindow.start, ArrivalWindow.end)
            )
        ]
        names = dict(techs) | dict(groups) | dict(windows)
        entries = session.scalars(
            select(AvailabilityEntry)
            .where(AvailabilityEntry.active)
            .order_by(AvailabilityEntry.day, AvailabilityEntry.created_at)
            .limit(MAX_ROWS)
        )
        rows = []
        for e in entries:
            head, _sep, what = entry_label(e, names).partition(" · ")
            reschedule = tuple(str(j.get("number") or j.get("job_id")) for j in e.overbooked or [])
            rows.append(EntryRow(e.id, head, what, e.note, e.created_by, reschedule))
    return Choices(techs, groups, windows), rows


@dataclass(frozen=True)
class Written:
    name: str
    warning: str
    reschedule: list[str]  # "J-1001 · Tue Dec 1 8–12"


def write_entry(cache: Cache, writer: LocalWriter, name: str, args: dict[str, Any]) -> Written:
    """Apply the intent (on the worker) and read back the jobs it left over capacity."""
    result = writer.execute(name, args)
    with cache.sessions() as session:
        entry = session.get(AvailabilityEntry, result.applied.entity_id)
        jobs = list(entry.overbooked or []) if entry is not None else []
    reschedule = [f"{j.get('number') or j.get('job_id')} · {j.get('day')} {j.get('window')}" for j in jobs]
    return Written(name, (result.applied.warnings or {}).get("overbooked", ""), reschedule)


class AvailabilityController(ManagerWindowController):
    outboxChanged = Signal()
    loaded = Signal(int)  # entries shown (tests wait on it)

    def __init__(self, window: Any, cache: Cache, writer: LocalWriter) -> None:
        super().__init__(window, cache, worker_name="csr-availability")
        self._writer = writer
        self.dialog: AvailabilityWindow | None = None

    def add_action(self) -> None:
        self._add_shortcut("Availability", "availabilityAction", SHORTCUT, self.open)

    def open(self) -> AvailabilityWindow:
        """Ctrl+Alt+A: the window (made once), freshly loaded, the form's first field focused."""
        if self.dialog is None:
            self.dialog = AvailabilityWindow(None)
            self.dialog.addRequested.connect(self.add)
            self.dialog.removeRequested.connect(self.remove)
            self.dialog.reloadRequested.connect(self.reload)
        self._present(self.dialog, self.dialog.kind)
        self.reload()
        return self.dialog

    def reload(self) -> None:
        self._worker.submit(load_view, self._cache, done=self._loaded, failed=self._read_failed, key="load")

    def _loaded(self, view: tuple[Choices, list[EntryRow]]) -> None:
        choices, rows = view
        if self.dialog is not None:
            self.dialog.set_choices(choices)
            self.dialog.show_entries(rows)
        self.loaded.emit(len(rows))

    def add(self, name: str, args: dict) -> None:
        self._worker.submit(
            write_entry,
            self._cache,
            self._writer,
            name,
            dict(args),
            done=self._written,
            failed=self._write_failed,
        )

    def remove(self, entry_id: str) -> None:
        self._worker.submit(
            write_entry,
            self._cache,
            self._writer,
            "remove_availability_entry",
            {"id": entry_id},
            done=self._written,
            failed=self._write_failed,
        )

    def _written(self, written: Written) -> None:
        self.outboxChanged.emit()
        if self.dialog is not None:
            if written.name != "remove_availability_entry":
                self.dialog.added()
            self.dialog.show_reschedule(written.reschedule)  # none: the list empties
            if written.warning:
                self.dialog.show_message(f"Saved on this PC. {written.warning}", "warning")
            else:
                self.dialog.show_message(
                    "Saved on this PC — every console sees it once it reaches the server."
                )
        self.reload()

    def _write_failed(self, exc: BaseException) -> None:
        self._refused(exc, what="availability change")

    def _read_failed(self, exc: BaseException) -> None:
        self._error(describe_failure(self._cache.path, exc, what="availability"))


def install(window: Any, cache: Cache, writer: LocalWriter, *, role: str) -> AvailabilityController | None:
    """The Availability window (Ctrl+Alt+A) for a manager or an admin; for any other role none, and
    one left by the previous user is removed."""
    return install_for_role(
        window,
        AvailabilityController,
        role,
        lambda: AvailabilityController(window, cache, writer),
        roles=MANAGER_ROLES,
        denied=(SHORTCUT, "Availability"),
    )
