"""Two full consoles (console/composition.py) and a real server over loopback: a manager saves an
arrival window in the setup window (the window's own keys are tested by keyboard in tests/gui/test_setup_window.py) and the CSR's console's
booking form has the new name without a restart; a setup change the CSR's console made anyway (its
window is read-only; an old or tampered console) is refused by the server and told to the CSR in the
Sync problems window, durably."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from models.setup import ArrivalWindow
from models.sync_tables import SyncProblem
from tests.gui.helpers import until
from tests.gui.served import serve_consoles, sign_in

pytest_plugins = ["tests.gui.conftest_sync"]


@pytest.fixture
def server(loop, tmp_path):
    with serve_consoles(
        loop, tmp_path, [("dana", "Dana Reyes", "csr"), ("max", "Max Manager", "manager")]
    ) as served:
        yield served.url, served.sessions


def _window_names(console) -> list[str]:
    return [w.name for w in console.booking.setup.windows]


def test_a_managers_save_reaches_the_csrs_booking_form_and_a_csrs_is_refused(qtbot, loop, server, desks):
    async def scenario() -> None:
        url, sessions = server
        manager, csr = desks("m"), desks("c")
        await sign_in(manager, url, "max")
        await sign_in(csr, url, "dana")
        await until(lambda: bool(_window_names(csr)))
        first = sorted(_window_names(manager))[0]
        # Inside the qasync loop, no synthesized key events (their nested event loop re-enters qasync's
        # timer); tests/gui/test_setup_window.py drives the same window by keyboard.
        d = manager.setup.open()
        d.kinds.setCurrentRow(5)  # arrival windows
        await until(lambda: d.kind.name == "arrival_window" and d.proxy.rowCount() > 0)
        d.filter.setText(first)
        d.filter.returnPressed.emit()  # Enter: edit the record found
        name = d.editors["name"]
        assert name.text() == first
        name.setText("Early bird")
        d.save_button.click()  # what Ctrl+S does
        await until(lambda: "Early bird" in _window_names(csr), timeout=15)  # the CSR's booking form
        assert first not in _window_names(csr)
        # The CSR's console writes a setup change anyway: the server refuses it, the CSR is told.
        with csr.cache.sessions() as s:
            window_id = s.scalar(select(ArrivalWindow.id).where(ArrivalWindow.name == "Early bird"))
        csr.writer.execute(
            "setup_save",
            {
                "kind": "arrival_window",
                "id": window_id,
                "values": {"name": "Mine"},
                "seen": {"name": "Early bird"},
            },
        )
        csr.refresh_outbox()
        await until(lambda: csr.sync.problems.count() == 1, timeout=15)
        text = csr.sync.problems.list.item(0).text()
        assert "Setup change not saved on the server" in text and "role" in text.lower()
        with csr.cache.sessions() as s:
            assert (
                s.get(SyncProblem, csr.sync.problems.keys()[0]) is not None
            )  # durable: kept until acknowledged
        await until(
            lambda: "Early bird" in _window_names(csr) and "Mine" not in _window_names(csr), timeout=15
        )

    loop.run_until_complete(scenario())
