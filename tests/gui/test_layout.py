"""The window at the CSR's screen sizes: at 1366×768 (the most common call-desk screen), 1920×1080 and
2560×1440 nothing is clipped and no main pane scrolls sideways — idle with search results, and with a
full customer open, the booking form bound, availability listed and a call ringing. The panes share
the width by what the CSR is doing, and the shares the CSR drags are remembered."""

from __future__ import annotations

import dataclasses
import shutil
from datetime import UTC, datetime, timedelta

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QAbstractButton,
    QAbstractScrollArea,
    QApplication,
    QCheckBox,
    QLabel,
    QLineEdit,
    QPushButton,
    QRadioButton,
    QStyle,
    QTabBar,
    QTableView,
    QWidget,
)

from console.app import _import_demo_setup
from console.composition import Console
from console.settings import PANE_MODES, open_settings
from models.calls import CallCard, CallDirection, CallState
from models.demo import generate
from models.demo_jobs import generate_jobs
from models.records import CallRecord, ContactRecord, CustomerRecord, NoteRecord
from tests.gui.helpers import open_now

SIZES = [(1366, 768), (1920, 1080), (2560, 1440)]
WHEN = datetime(2026, 11, 20, 15, 30, tzinfo=UTC)


@pytest.fixture(scope="module")
def demo_cache(tmp_path_factory):
    path = tmp_path_factory.mktemp("layout") / "cache.sqlite3"
    generate(path, customers=300, seed=2024)
    _import_demo_setup(path)
    generate_jobs(path, jobs=300)
    return path


@pytest.fixture
def cache_path(demo_cache, tmp_path):
    """A copy per test: a booking form left bound is a draft the next console would reopen."""
    path = tmp_path / "cache.sqlite3"
    shutil.copyfile(demo_cache, path)
    return path


@pytest.fixture
def console(qtbot, cache_path, tmp_path):
    c = Console.build(cache_path, open_settings(tmp_path))
    qtbot.addWidget(c.window)
    yield c
    c.shutdown()


def show_at(qtbot, console: Console, width: int, height: int) -> None:
    window = console.window
    window.resize(width, height)
    with qtbot.waitExposed(window):
        window.show()
    qtbot.waitUntil(lambda: window.size().width() == width)
    assert (window.width(), window.height()) == (width, height), "the window doesn't fit this screen"


# -- what a CSR would call clipped -----------------------------------------------------------------------
def _plain(text: str) -> str:
    """A button's text as drawn: "&&" is an ampersand, a single "&" marks the mnemonic."""
    return text.replace("&&", "\0").replace("&", "").replace("\0", "&")


def _name(w: QWidget) -> str:
    return f"{type(w).__name__} {w.objectName() or '?'} in {w.parent().objectName() or type(w.parent()).__name__}"


def _tooltip_with(w: QWidget, shown: str) -> bool:
    """An elided text ("Google Local Ser…") has its whole text in a tooltip (its own or its owner's):
    every word shown but the cut one is in it."""
    words = [word for word in shown.split()[:-1] if word != "·"]
    while w is not None and not w.isWindow():
        if w.toolTip() and all(word in w.toolTip() for word in words):
            return True
        w = w.parentWidget()
    return False


def _label_problem(label: QLabel) -> str:
    text = label.text()
    if not text.strip():
        return ""
    if "…" in text and label.textFormat() == Qt.TextFormat.PlainText and not _tooltip_with(label, text):
        return f"{_name(label)} is cut to {text!r} with no tooltip"
    if label.wordWrap():
        need = label.heightForWidth(label.width())
        if need > label.height() + 1:
            return f"{_name(label)} {text[:40]!r} needs {need}px of height, has {label.height()}"
        return ""
    need = label.minimumSizeHint().width()
    if need > label.width() + 1:
        return f"{_name(label)} {text[:40]!r} needs {need}px, has {label.width()}"
    return ""


def _button_problem(button: QAbstractButton) -> str:
    text = _plain(button.text())
    if not text.strip():
        return ""
    style = button.style()
    need = button.fontMetrics().horizontalAdvance(text)
    if not button.icon().isNull():
        need += button.iconSize().width() + 4
    if isinstance(button, QCheckBox | QRadioButton):
        need += style.pixelMetric(QStyle.PixelMetric.PM_IndicatorWidth) + 4
    elif isinstance(button, QPushButton):
        need += style.pixelMetric(QStyle.PixelMetric.PM_ButtonMargin)
    if need > button.contentsRect().width():
        return f"{_name(button)} {text!r} needs {need}px, has {button.contentsRect().width()}"
    return ""


def _tabs_problem(bar: QTabBar) -> str:
    for i in range(bar.count()):
        if not bar.isTabVisible(i):
            continue
        rect = bar.tabRect(i)
        if rect.width() < bar.tabSizeHint(i).width() - 1 or rect.right() > bar.width():
            return f"tab {_plain(bar.tabText(i))!r} of {_name(bar)} is cut"
    return ""


def _placeholder_problem(edit: QLineEdit) -> str:
    hint = edit.placeholderText()
    if edit.text() or not hint:
        return ""
    room = edit.width() - 2 * edit.height() if edit.isClearButtonEnabled() else edit.width() - 16
    if edit.fontMetrics().horizontalAdvance(hint) > room:
        return f"the hint {hint!r} of {_name(edit)} is cut"
    return ""


def _table_problems(view: QTableView) -> list[str]:
    header = view.horizontalHeader()
    if not header.isVisible():
        return []
    out = []
    margin = 2 * header.style().pixelMetric(QStyle.PixelMetric.PM_HeaderMargin)
    for c in range(header.count()):
        if header.isSectionHidden(c):
            continue
        title = str(view.model().headerData(c, Qt.Orientation.Horizontal) or "")
        need = header.fontMetrics().horizontalAdvance(title) + margin
        if need > header.sectionSize(c) + 1:
            out.append(f"column {title!r} of {_name(view)} needs {need}px, has {header.sectionSize(c)}")
        right = header.sectionViewportPosition(c) + header.sectionSize(c)
        if right > view.viewport().width() + 1:
            out.append(f"column {title!r} of {_name(view)} ends past the table's right edge")
    return out


def clipped(window: QWidget) -> list[str]:
    """Every visible button, label, tab, column header and search hint that doesn't fit, and every
    scroll area that scrolls sideways."""
    out: list[str] = []
    for w in window.findChildren(QWidget):
        if not w.isVisible() or w.window() is not window:
            continue
        if isinstance(w, QLabel):
            out.append(_label_problem(w))
        elif isinstance(w, QAbstractButton):
            out.append(_button_problem(w))
        elif isinstance(w, QTabBar):
            out.append(_tabs_problem(w))
        elif isinstance(w, QLineEdit):
            out.append(_placeholder_problem(w))
        if isinstance(w, QAbstractScrollArea) and w.horizontalScrollBar().isVisible():
            out.append(f"{_name(w)} scrolls sideways")
        if isinstance(w, QTableView):
            out += _table_problems(w)
    return [p for p in out if p]


# -- a desk in use -----------------------------------------------------------------------------------------
def full_customer(qtbot, console: Console) -> CustomerRecord:
    """The demo customer with the most jobs, opened, with contacts, notes and calls enough to fill the panel."""
    conn = console.cache.raw_connection()
    try:
        customer_id = conn.execute(
            "SELECT customer_id FROM jobs GROUP BY customer_id ORDER BY count(*) DESC LIMIT 1"
        ).fetchone()[0]
    finally:
        conn.close()
    assert open_now(qtbot, console.customers, customer_id)
    record = console.window.customer_panel.record()
    contacts = (
        *record.contacts,
        ContactRecord(
            "x1",
            "Email",
            "accounts.payable@example-holdings.com",
            "accounts.payable@example-holdings.com",
            "Invoices only, never for scheduling",
            True,
            False,
            None,
        ),
        ContactRecord(
            "x2", "MobilePhone", "+12145550177", "(214) 555-0177", "Property manager", True, True, None
        ),
    )
    notes = tuple(
        NoteRecord(f"n{i}", text, "Dana Reyes", WHEN - timedelta(days=i), i == 0, None)
        for i, text in enumerate(
            (
                "Gate code 4321; the dog is friendly but keep the side gate shut.",
                "Prefers a call 30 minutes before arrival.",
                "Asked about a maintenance membership — send the brochure.",
            )
        )
    )
    calls = tuple(
        CallRecord(
            f"call{i}",
            WHEN - timedelta(days=3 * i),
            "Inbound" if i % 2 else "Outbound",
            ("Booked", "", "Lead", "Not lead")[i % 4],
            95 + 37 * i,
            "(214) 555-0134",
            "Dana Reyes",
            "https://rec.example/1" if i % 2 else "",
        )
        for i in range(6)
    )
    full = dataclasses.replace(
        record,
        contacts=contacts,
        notes=notes,
        calls=calls,
        tags=("Commercial account", "Pets on site", "Net 30"),
        membership="Comfort Club",
    )
    console.window.customer_panel.set_record(full)
    return full


def book_with_availability(qtbot, console: Console) -> None:
    """Ctrl+J's form bound to the open customer, filled in, with the arrival windows listed."""
    console.new_job()
    form = console.booking.form
    for combo in (form.business_unit, form.job_type, form.campaign):
        qtbot.waitUntil(lambda c=combo: c.count() > 1)
        combo.setCurrentIndex(1)
    console.booking.show_availability()
    qtbot.waitUntil(lambda: form.availability.rowCount() > 0)


def ring(console: Console) -> None:
    """A ringing call in the strip, from a known caller on the longest campaign name."""
    strip = console.window.bubble_strip
    strip.show_call(
        CallCard(
            "call-ring",
            CallState.RINGING,
            CallDirection.INBOUND,
            "+12145550134",
            "(214) 555-0134",
            "Pittman Holdings",
            ("c",),
            "Google Local Services",
            datetime.now(UTC),
        )
    )


def settle(qtbot) -> None:
    for _ in range(3):
        QApplication.processEvents()
        qtbot.wait(10)


# -- the tests ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_idle_with_results_nothing_is_clipped(qtbot, console, size):
    show_at(qtbot, console, *size)
    window = console.window
    window.lookup.search.setText("Smith")
    qtbot.waitUntil(lambda: window.lookup.model.total() > 0, timeout=5000)
    ring(console)
    settle(qtbot)
    results = window.lookup.results.horizontalHeader()
    assert not any(results.isSectionHidden(c) for c in range(results.count()))  # every column shows
    assert clipped(window) == []


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_customer_open_and_booking_nothing_is_clipped(qtbot, console, size):
    show_at(qtbot, console, *size)
    window = console.window
    window.lookup.search.setText("Smith")
    qtbot.waitUntil(lambda: window.lookup.model.total() > 0, timeout=5000)
    full_customer(qtbot, console)
    book_with_availability(qtbot, console)
    ring(console)
    settle(qtbot)
    assert clipped(window) == []
    # The results narrowed to a list that still shows the phone; the customer panel has the room.
    results = window.lookup.results.horizontalHeader()
    assert not results.isSectionHidden(3) and results.isSectionHidden(1)
    lookup, panel, _booking = window.splitter.sizes()
    assert panel > 2 * lookup
    # Every location row shows (up to six) — no table cut to a row and a half.
    view = window.customer_panel.locations_view
    rows = min(view.model().rowCount(), 6)
    shown = view.viewport().height() // view.verticalHeader().defaultSectionSize()
    assert shown >= rows


def test_the_panes_follow_the_work_and_remember_the_csrs_shares(qtbot, cache_path, tmp_path):
    first = Console.build(cache_path, open_settings(tmp_path))
    qtbot.addWidget(first.window)
    try:
        show_at(qtbot, first, 1366, 768)
        splitter = first.window.splitter
        idle = splitter.sizes()
        assert idle[0] / sum(idle) == pytest.approx(PANE_MODES["idle"][0], abs=0.03)
        full_customer(qtbot, first)
        settle(qtbot)
        opened = splitter.sizes()
        assert opened[0] < idle[0] / 2 and opened[1] > idle[1]
        # The CSR gives the search list more room; the window remembers it for customers.
        splitter.setSizes([opened[0] + 40, opened[1] - 40, opened[2]])
        dragged = splitter.sizes()[0]
        assert dragged == opened[0] + 40
        splitter.splitterMoved.emit(dragged, 1)
        first.window.customer_panel.set_record(None)
        settle(qtbot)
        assert splitter.sizes()[0] == pytest.approx(idle[0], abs=3)
    finally:
        first.shutdown()
    second = Console.build(cache_path, open_settings(tmp_path))  # the same PC, the next morning
    qtbot.addWidget(second.window)
    try:
        show_at(qtbot, second, 1366, 768)
        full_customer(qtbot, second)
        settle(qtbot)
        assert second.window.splitter.sizes()[0] == pytest.approx(dragged, abs=3)
    finally:
        second.shutdown()
