"""The assembled console against a real csr-server over loopback, on the qasync loop: sign-in dialog,
initial copy with its progress bar, live changes between two consoles, the status bar, conflicts with
keep mine / keep theirs, and a refused change the CSR is told about at once."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QAbstractButton, QLabel, QLineEdit
from sqlalchemy import func, select

from models.conflicts import Conflict
from models.customers import ContactMethod, Customer
from models.setup import BusinessUnit
from sync.auth import Accounts
from tests.gui.helpers import opened, show_active, until
from tests.gui.served import serve_consoles, sign_in
from tests.servers import PASSWORD
from tests.unit.conftest import customer_args

pytest_plugins = ["tests.gui.conftest_sync"]


@pytest.fixture
def server(loop, tmp_path):
    with serve_consoles(
        loop, tmp_path, [("dana", "Dana Reyes", "csr"), ("lee", "Lee Park", "csr")]
    ) as served:
        yield served.url, served.sessions


def _count(console, model, *where) -> int:
    with console.cache.sessions() as s:
        return s.scalar(select(func.count()).select_from(model).where(*where))


def test_sign_in_dialog_initial_copy_and_status(qtbot, loop, server, desks):
    # The whole scenario runs inside the qasync loop, as the console always does.
    async def scenario() -> None:
        url, _sessions = server
        a = desks("a")
        show_active(qtbot, a.window)
        seen: list[tuple[bool, int, int]] = []
        a.sync.progress.valueChanged.connect(
            lambda v: seen.append((a.sync.progress.isVisible(), v, a.sync.progress.maximum()))
        )
        # Signed out once the controller has looked (the outbox is counted on a worker at start).
        await until(lambda: a.window.sync_status.state == "signed_out")
        # Ctrl+Shift+L opens the sign-in dialog.
        qtbot.keyClick(
            a.window, Qt.Key.Key_L, Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier
        )
        await until(lambda: a.sync._dialog is not None and a.sync._dialog.isVisible())
        dialog = a.sync._dialog
        dialog.findChild(QLineEdit, "loginServer").setText(url)
        dialog.findChild(QLineEdit, "loginUser").setText("dana")
        password = dialog.findChild(QLineEdit, "loginPassword")
        password.setText("wrong password!")
        qtbot.mouseClick(dialog.findChild(QAbstractButton, "loginButton"), Qt.MouseButton.LeftButton)
        error = dialog.findChild(QLabel, "loginError")
        await until(lambda: error.isVisible() and error.text() != "", timeout=30)
        assert password.text() == ""  # asked again, never kept
        password.setText(PASSWORD)
        qtbot.mouseClick(dialog.findChild(QAbstractButton, "loginButton"), Qt.MouseButton.LeftButton)
        await until(lambda: a.window.sync_status.state == "online", timeout=30)
        assert not dialog.isVisible()
        # The new console copied the company setup with a visible progress bar, then hid it.
        assert _count(a, BusinessUnit) == 3
        assert seen and any(visible for visible, _v, _m in seen) and seen[-1][1] == seen[-1][2]
        assert not a.sync.progress.isVisible()
        # Server and user are remembered, the password is not.
        settings = a.sync.settings
        assert (settings.value("sync/server"), settings.value("sync/user")) == (url, "dana")
        assert not any(PASSWORD in str(settings.value(k)) for k in settings.allKeys())
        await until(lambda: a.window.sync_status.text() == "Online — all changes sent")  # counted on a worker

    loop.run_until_complete(scenario())


def test_live_changes_conflicts_and_refusals_between_two_consoles(qtbot, loop, server, desks):
    # The whole scenario runs inside the qasync loop, as the console always does.
    async def scenario() -> None:
        url, sessions = server
        a, b = desks("a"), desks("b")
        await sign_in(a, url, "dana")
        await sign_in(b, url, "lee")
        args = customer_args()
        args["contacts"].append({"kind": "Phone", "value": "(214) 555-0199", "memo": "office"})
        cid = a.writer.execute("create_customer", args).applied.entity_id
        a.refresh_outbox()  # what every controller does after a write: push now
        await until(lambda: _count(b, Customer) == 1)
        # B may pull the customer before A has settled its receipt: the count follows the receipt.
        await until(lambda: a.window.sync_status.pending == a.writer.pending_count() == 0)
        # B has the customer open when A renames it: B's panel shows the new name without a click.
        assert await opened(b.customers, cid)
        a.writer.execute("update_customer", {"customer_id": cid, "changes": {"city": ["Dallas", "Plano"]}})
        a.refresh_outbox()
        await until(lambda: _count(b, Customer, Customer.city == "Plano") == 1)
        await until(lambda: b.window.customer_panel.record().city == "Plano")
        # B loses the network; both edit the same name; B's change reaches the server second.
        await b.sync.aclose()
        a.writer.execute(
            "update_customer", {"customer_id": cid, "changes": {"name": ["Maria Garcia", "Maria Lopez"]}}
        )
        a.refresh_outbox()
        await until(lambda: a.writer.pending_count() == 0)
        with b.cache.sessions() as s:
            office = s.scalar(select(ContactMethod.id).where(ContactMethod.memo == "office"))
        a.writer.execute("remove_contact", {"contact_id": office})
        a.refresh_outbox()
        await until(lambda: a.writer.pending_count() == 0)
        b.writer.execute(
            "update_customer", {"customer_id": cid, "changes": {"name": ["Maria Garcia", "Mary Garcia"]}}
        )
        b.writer.execute(
            "update_contact", {"contact_id": office, "changes": {"memo": ["office", "front desk"]}}
        )
        b.refresh_outbox()
        await until(lambda: b.window.sync_status.pending == 2)  # counted on the status worker
        assert b.window.sync_status.state == "signed_out"
        await sign_in(b, url, "lee")
        await until(lambda: b.writer.pending_count() == 0 and b.window.customer_panel.conflicts.count() == 1)
        # B is told at once that the contact edit was refused (the contact is gone).
        assert b.sync.problems.isVisible() and b.sync.problems.count() == 1
        # The clash, from B's side: "Yours" is what B typed, "Theirs" is Dana's.
        panel = b.window.customer_panel.conflicts
        row = panel.rows[0]
        texts = " ".join(label.text() for label in row.findChildren(QLabel))
        assert "Mary Garcia" in texts and "Maria Lopez" in texts and "Dana Reyes" in texts
        assert b.window.customer_panel.record().name == "Maria Lopez"
        # A sees the same clash on its side when it opens the customer.
        await until(lambda: _count(a, Conflict) == 1)
        assert await opened(a.customers, cid)
        await until(lambda: a.window.customer_panel.conflicts.count() == 1)  # read on the sync worker
        # One click on B: keep mine. Everyone converges on B's name and the clash closes for A too.
        qtbot.mouseClick(row.findChild(QAbstractButton, "keepMineButton"), Qt.MouseButton.LeftButton)
        await until(
            lambda: (
                _count(a, Customer, Customer.name == "Mary Garcia") == 1
                and a.window.customer_panel.conflicts.count() == 0
            )
        )
        with sessions() as s:
            assert s.get(Customer, cid).name == "Mary Garcia"
        await until(lambda: b.window.customer_panel.conflicts.count() == 0)

    loop.run_until_complete(scenario())


def test_an_expired_session_says_signed_out_asks_to_sign_in_and_sends_the_queue(qtbot, loop, server, desks):
    """A password change (or the token's 12 hours) ends the session: the console must not look merely
    offline — it says Signed out with the waiting count, opens the sign-in dialog, keeps the queue and
    sends it after the CSR signs in again."""

    async def scenario() -> None:
        url, sessions = server
        a = desks("a")
        show_active(qtbot, a.window)
        await sign_in(a, url, "dana")
        Accounts(sessions).set_password("dana", "a brand new secret")  # revokes dana's tokens
        a.writer.execute("create_customer", customer_args(name="Queued While Out"))
        a.sync.local_write()
        await a.sync.client._channel.ws.close()  # the next hello is refused
        status = a.window.sync_status
        await until(lambda: status.state == "session_expired")
        assert status.text() == "Signed out — sign in to send 1 waiting change"
        assert a.sync._dialog is not None and a.sync._dialog.isVisible()
        await a.sync.sign_in_with(url, "dana", "a brand new secret")
        await until(lambda: status.state == "online" and status.pending == 0)
        with sessions() as s:
            assert (
                s.scalar(
                    select(func.count()).select_from(Customer).where(Customer.name == "Queued While Out")
                )
                == 1
            )

    loop.run_until_complete(scenario())


def test_refusals_are_listed_again_after_a_restart_until_acknowledged(qtbot, loop, desks, tmp_path):
    from models.db import open_cache
    from models.sync_tables import SyncProblem

    (tmp_path / "c").mkdir()
    cache = open_cache(tmp_path / "c" / "cache.sqlite3")
    with cache.sessions.begin() as s:
        s.add(
            SyncProblem(
                mutation_id="m1",
                seq=3,
                kind="rejected",
                name="add_note",
                args={"note": {"customer_id": "x", "text": "Gate code"}},
                receipt={
                    "mutation_id": "m1",
                    "status": "rejected",
                    "errors": {"text": "The note is too long."},
                },
            )
        )
    cache.close()
    c = desks("c")
    qtbot.waitUntil(lambda: c.sync.problems.count() == 1)  # read on the status worker at start
    assert c.sync.problems.keys() == ["m1"]
    assert "The note is too long." in c.sync.problems.list.item(0).text()

    def acknowledged() -> bool:
        with c.cache.sessions() as s:
            return s.get(SyncProblem, "m1").acknowledged_at is not None

    async def dismiss() -> None:  # as in the console: on the qasync loop, the write off the UI thread
        c.sync.problems.list.setCurrentRow(0)
        c.sync.problems.dismiss_current()
        await until(acknowledged)

    loop.run_until_complete(dismiss())


def test_the_call_review_reruns_for_pulled_calls_not_for_every_customer_change(qtbot, loop, desks):
    c = desks("r")
    with qtbot.assertNotEmitted(c.sync.callsChanged):
        c.sync._on_changes({"customers", "locations"})  # what the sync client reports after a pull
    with qtbot.waitSignal(c.sync.callsChanged, timeout=1000):
        c.sync._on_changes({"calls"})
