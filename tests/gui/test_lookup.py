"""The lookup pane with the real search worker thread over a real cache, driven by keys."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt

from console.search_service import SearchService
from models.demo import generate
from models.search import Match, ResultRow, load_rows
from widgets.customer_search import AHEAD, LOADING, CustomerResultsModel, IdRole
from widgets.lookup_pane import LookupPane


@pytest.fixture(scope="module")
def demo_cache(tmp_path_factory):
    path = tmp_path_factory.mktemp("lookup") / "cache.sqlite3"
    generate(path, customers=400, seed=11)
    from models.db import open_cache

    cache = open_cache(path)
    yield cache
    cache.close()


@pytest.fixture
def pane(qtbot, demo_cache):
    ui_conn = demo_cache.raw_connection()
    service = SearchService(demo_cache.raw_connection)
    widget = LookupPane(loader=lambda ids: load_rows(ui_conn, ids))
    widget.queryChanged.connect(lambda t: t.strip() and service.search(t))
    service.resultsReady.connect(widget.show_results)
    qtbot.addWidget(widget)
    widget.resize(900, 500)
    widget.show()
    yield widget
    service.shutdown()
    ui_conn.close()


def _a_phone(cache) -> tuple[str, str]:
    conn = cache.raw_connection()
    try:
        return conn.execute(
            "SELECT customer_id, value FROM contact_methods WHERE kind != 'Email' "
            "AND location_id IS NULL ORDER BY id LIMIT 1 OFFSET 17"
        ).fetchone()
    finally:
        conn.close()


def test_typing_a_phone_lists_the_customer_first_and_enter_opens_it(qtbot, pane, demo_cache):
    customer_id, e164 = _a_phone(demo_cache)
    pane.search.setFocus()
    qtbot.keyClicks(pane.search, f"({e164[2:5]}) {e164[5:8]}-{e164[8:]}")
    qtbot.waitUntil(lambda: pane.model.customer_id(0) == customer_id, timeout=5000)
    assert pane.model.index(0, 0).data(IdRole) == customer_id
    assert "with this phone number" in pane.summary.text()
    with qtbot.waitSignal(pane.customerActivated, timeout=2000) as opened:
        qtbot.keyClick(pane.search, Qt.Key.Key_Return)
    assert opened.args == [customer_id]


def test_arrow_keys_move_between_search_and_results(qtbot, pane):
    pane.search.setFocus()
    qtbot.keyClicks(pane.search, "ma")
    qtbot.waitUntil(lambda: pane.model.rowCount() > 2, timeout=5000)
    qtbot.keyClick(pane.search, Qt.Key.Key_Down)
    assert pane.results.hasFocus() and pane.results.currentIndex().row() == 0
    qtbot.keyClick(pane.results, Qt.Key.Key_Down)
    assert pane.results.currentIndex().row() == 1
    second = pane.model.customer_id(1)
    with qtbot.waitSignal(pane.customerActivated, timeout=2000) as opened:
        qtbot.keyClick(pane.results, Qt.Key.Key_Return)
    assert opened.args == [second]
    qtbot.keyClick(pane.results, Qt.Key.Key_Up)
    qtbot.keyClick(pane.results, Qt.Key.Key_Up)
    assert pane.search.hasFocus()
    qtbot.keyClick(pane.search, Qt.Key.Key_Escape)
    assert pane.search.text() == "" and pane.model.rowCount() == 0


def test_only_the_newest_query_is_shown(qtbot, pane):
    pane.search.setFocus()
    qtbot.keyClicks(pane.search, "zzzz-no-such-customer")
    qtbot.waitUntil(lambda: pane.model.query == "zzzz-no-such-customer", timeout=5000)
    assert pane.model.rowCount() == 0
    assert "No customer matches" in pane.summary.text()


@pytest.mark.parametrize("text", ['"; DROP TABLE customers; --', "NEAR(a b) OR *", "😀🔧", "x" * 3000, "'\""])
def test_hostile_text_typed_into_the_box(qtbot, pane, text):
    pane.search.setFocus()
    pane.search.setText(text)
    # The worker answered this very text (an exception there would never deliver a result).
    qtbot.waitUntil(lambda: pane.model.query == text, timeout=5000)
    assert pane.search.text() == text
    assert "failed" not in pane.summary.text().lower()


def _rows(n: int) -> tuple[list[str], dict[str, Match], dict[str, ResultRow]]:
    ids = [f"{i:032x}" for i in range(n)]
    rows = {
        i: ResultRow(
            id=i,
            name=f"Customer {k}",
            type="Residential",
            address=f"{k} Main St",
            phone="",
            do_not_service=k % 7 == 0,
            tags=["VIP"] if k % 5 == 0 else [],
            member=k % 3 == 0,
        )
        for k, i in enumerate(ids)
    }
    return ids, {i: Match.TEXT for i in ids}, rows


def test_results_model_passes_modeltester_and_hydrates_lazily(qtmodeltester):
    ids, reasons, rows = _rows(230)
    asked: list[list[str]] = []
    model = CustomerResultsModel(asked.append)  # a request: the rows come back through fill_rows
    model.set_results("customer", ids, reasons, {i: rows[i] for i in ids[:40]})
    assert model.rowCount() == 230 and not asked
    changed: list[tuple[int, int]] = []
    model.dataChanged.connect(lambda top, bottom, _roles=(): changed.append((top.row(), bottom.row())))
    # A row past the first screenful: a placeholder, and one request for it and the next screenful.
    assert model.index(45, 0).data() == LOADING and model.loading(45)
    assert model.index(45, 1).data() is None
    assert asked == [ids[45 : 45 + AHEAD]]
    assert model.index(46, 0).data() == LOADING and len(asked) == 1  # asked once, not per cell
    model.fill_rows(asked[0], {i: rows[i] for i in asked[0]})
    assert changed == [(45, 45 + AHEAD - 1)]  # filled in place: no reset
    assert model.index(45, 0).data() == "Customer 45" and not model.loading(45)
    assert model.index(46, 0).data() == "Customer 46" and len(asked) == 1
    assert model.index(7, 4).data() == "DO NOT SERVICE"
    assert model.index(15, 5).data() == "VIP"
    # An answer for the ids of an older result set changes nothing in the new one.
    model.set_results("again", ids[:100], reasons, {})
    model.fill_rows(asked[0], {i: rows[i] for i in asked[0]})
    assert model.index(45, 0).data() == LOADING  # asked anew for this result set
    model.fill_rows(asked[-1], {i: rows[i] for i in asked[-1]})
    for block in list(asked):  # whatever the tester pages through, answered
        model.fill_rows(block, {i: rows[i] for i in block})
    qtmodeltester.check(model)
    model.refresh_rows(
        {
            ids[3]: ResultRow(
                id=ids[3],
                name="Renamed",
                type="Commercial",
                address="",
                phone="",
                do_not_service=False,
                tags=[],
                member=False,
            )
        }
    )
    assert model.index(3, 0).data() == "Renamed"


def test_results_model_row_gone_since_search():
    ids, reasons, _rows_ = _rows(3)
    asked: list[list[str]] = []
    model = CustomerResultsModel(asked.append)
    model.set_results("x", ids, reasons, {})
    assert model.index(0, 0).data() == LOADING
    model.fill_rows(asked[0], {})  # read: not there any more
    assert model.index(0, 0).data() == "(no longer on this PC)" and len(asked) == 1
    assert model.index(0, 1).data() is None
