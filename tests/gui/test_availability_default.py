"""Availability never pre-selects an arrival window that has already started; the CSR may still pick
one (its note says "Already started")."""

from __future__ import annotations

from datetime import date, time

from PySide6.QtCore import Qt

from models.capacity import Slot
from models.setup_data import WindowInfo
from widgets.booking_form import BookingForm

MONDAY = date(2024, 6, 3)


def _slot(
    window_id: str,
    start: int,
    end: int,
    *,
    day: date = MONDAY,
    fits: bool = True,
    warnings: tuple[str, ...] = (),
) -> Slot:
    window = WindowInfo(window_id, f"{start}–{end}", time(start), time(end), frozenset(), True)
    return Slot(day, window, 480, 0, ["Ana"], fits, list(warnings))


def _slots() -> list[Slot]:
    return [
        _slot("w8", 8, 12, warnings=("Already started",)),
        _slot("w8b", 8, 10, fits=False),
        _slot("w10", 10, 12),
        _slot("w8", 8, 12, day=date(2024, 6, 4)),
    ]


def test_the_first_window_with_room_that_has_not_started_is_preselected(qtbot):
    form = BookingForm()
    qtbot.addWidget(form)
    form.set_slots(_slots())
    slot = form.availability.slot(form.availability_view.currentIndex().row())
    assert slot is not None and slot.window.id == "w10" and "Already started" not in slot.warnings


def test_a_started_window_can_still_be_picked_with_its_note(qtbot):
    form = BookingForm()
    qtbot.addWidget(form)
    form.set_slots(_slots())
    form.availability_view.selectRow(0)
    qtbot.keyClick(form.availability_view, Qt.Key.Key_Return)
    assert form.chosen_slot() is form.availability.slot(0)
    assert "Already started" in form.chosen_label.text()


def test_only_started_windows_left_preselects_none(qtbot):
    form = BookingForm()
    qtbot.addWidget(form)
    form.set_slots([_slot("w8", 8, 12, warnings=("Already started",))])
    assert form.availability.first_fitting_row() == -1
    assert not form.availability_view.selectionModel().hasSelection()
