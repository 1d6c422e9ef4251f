"""The floor in assembled consoles against a real server (websockets and signed webhooks on the qasync
loop): a CSR's state button shows what the server says and changes it; a supervisor's floor board
follows that CSR and a call live, is paused while its network is down and comes back with a whole
new snapshot (never a row that ended meanwhile); a stale call is closed from the board; scorecards
for a CSR (their own row) and for a supervisor (everyone), exported to CSV; a CSR has no board."""

from __future__ import annotations

import aiohttp
import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QKeySequence
from PySide6.QtWidgets import QFileDialog
from sqlalchemy import select

from models.calls import Call, CallState
from sync.auth import Accounts
from tests.gui.helpers import until
from tests.gui.test_calls_console import CALLER, PASSWORD, TRACKING, post, running_server
from widgets.live_models import A_REASON, A_STATE, C_CSR, C_STATE

pytest_plugins = ["tests.gui.conftest_sync"]
STALE_SECONDS = 1.5


@pytest.fixture
def server(loop, tmp_path):
    yield from running_server(
        loop, tmp_path, stale_call_minutes=STALE_SECONDS / 60, floor_tick=0.2, agent_offline_seconds=0.3
    )


def leg(sid: str) -> dict[str, str]:
    return {
        "CallSid": sid,
        "AccountSid": "AC" + "0" * 32,
        "From": CALLER,
        "To": TRACKING,
        "Direction": "inbound",
        "ApiVersion": "2010-04-01",
    }


async def sign_in(console, url: str, user: str) -> None:
    console.window.show()
    await console.sync.sign_in_with(url, user, PASSWORD)
    await until(lambda: console.window.sync_status.state == "online", 20)


def cell(model, row_id: str, column: int) -> str:
    return model.data(model.index(model.row_of(row_id), column), Qt.ItemDataRole.DisplayRole)


def test_the_board_follows_a_csr_and_a_call_and_comes_back_whole_after_a_drop(qtbot, loop, server, desks):
    url, webhooks, sessions, _customer_id, _campaign_id = server
    Accounts(sessions).add_user("sam", "Sam Ortiz", "supervisor", PASSWORD)

    async def scenario() -> None:
        csr, sup = desks("csr"), desks("sup")
        await sign_in(csr, url, "dana")
        await sign_in(sup, url, "sam")
        dana = csr.sync.user["id"]
        state = csr.floor.agent
        # Dana's state comes from the server at sign-in, with the company's away reasons.
        await until(lambda: state.shown_state() == "Available")
        assert [a.text() for a in state.away_actions] == ["Break", "Lunch", "Meeting", "Training", "Personal"]
        assert csr.window.findChild(type(state), "agentState") is state
        assert state.menu in [a.menu() for a in csr.window.phone_menu.actions()]

        # A CSR has no floor board (and the server would refuse its feed anyway).
        assert not csr.floor.board_action.isVisible()
        assert csr.floor.open_board() is None and csr.floor.board is None

        # The supervisor opens the board (Ctrl+Shift+B): Dana is there, Available.
        assert sup.floor.board_action.isVisible()
        assert sup.floor.board_action.shortcut() == QKeySequence("Ctrl+Shift+B")
        sup.floor.board_action.trigger()
        board = sup.floor.board
        assert board is not None and board.objectName() == "supervisorBoard" and board.isWindow()
        await until(lambda: board.connected and board.agents_model.row_of(dana) >= 0)
        assert cell(board.agents_model, dana, A_STATE).startswith("Available")

        # Dana goes Away — Lunch from her menu: her button and the board say so.
        next(a for a in state.away_actions if a.text() == "Lunch").trigger()
        await until(lambda: state.shown_state() == "Away — Lunch")
        await until(lambda: cell(board.agents_model, dana, A_REASON) == "Lunch")
        state.available_action.trigger()
        await until(lambda: state.shown_state() == "Available")

        seen: list[str] = []
        sup.sync.floorMessage.connect(lambda m: seen.append(m["type"]))
        async with aiohttp.ClientSession() as http:
            sid = "CA" + "7" * 32
            await post(http, webhooks, "/telephony/twilio/voice", {**leg(sid), "CallStatus": "ringing"})
            await until(lambda: board.calls_model.rowCount() == 1)
            call_id = board.calls_model.row_at(0).id
            await until(lambda: board.tile_text("tileCallsWaiting") == "1")
            assert cell(board.calls_model, call_id, C_STATE) in ("Ringing", "Queued")

            # Dana claims it on her console: the board shows who has it.
            await until(lambda: call_id in csr.window.bubble_strip.call_ids())
            qtbot.mouseClick(csr.window.bubble_strip.call_bubble(call_id), Qt.MouseButton.LeftButton)
            await until(lambda: cell(board.calls_model, call_id, C_CSR) == "Dana Reyes")

            # The supervisor's network drops; the call ends meanwhile. Back online, the board is whole
            # again from a new snapshot: no row for the call that ended while it was away.
            snapshots = seen.count("floor_snapshot")
            await sup.sync.client._channel.ws.close()
            await until(lambda: not board.connected, 5)
            await post(
                http,
                webhooks,
                "/telephony/twilio/status",
                {**leg(sid), "CallStatus": "completed", "CallDuration": "30", "SequenceNumber": "3"},
            )
            await until(lambda: seen.count("floor_snapshot") > snapshots and board.connected, 20)
            assert board.calls_model.rowCount() == 0
            assert board.tile_text("tileCallsWaiting") == "0"

        # Dana signs out: Offline on the board once the grace is over; her button reads Offline.
        csr.sync.sign_out()
        await until(lambda: state.shown_state() == "Offline")
        await until(lambda: cell(board.agents_model, dana, A_STATE).startswith("Offline"), 5)

        # Closing the board unsubscribes (the server stops sending), Ctrl+Shift+B opens it again.
        board.close()
        await until(lambda: not sup.sync.client.floor_subscribed)
        assert sup.floor.open_board() is board
        await until(lambda: sup.sync.client.floor_subscribed and board.connected)

    loop.run_until_complete(scenario())


def test_a_stale_call_is_shown_and_closed_from_the_board(qtbot, loop, server, desks):
    url, webhooks, sessions, _customer_id, _campaign_id = server
    Accounts(sessions).add_user("sam", "Sam Ortiz", "supervisor", PASSWORD)

    async def scenario() -> None:
        sup = desks("sup")
        await sign_in(sup, url, "sam")
        board = sup.floor.open_board()
        async with aiohttp.ClientSession() as http:
            sid = "CA" + "8" * 32
            await post(http, webhooks, "/telephony/twilio/voice", {**leg(sid), "CallStatus": "ringing"})
        await until(lambda: board.calls_model.rowCount() == 1)
        call_id = board.calls_model.row_at(0).id
        assert not board.close_stale_action.isEnabled()
        # No end event ever comes: after the configured time the row is marked stale.
        await until(
            lambda: board.calls_model.row_at(0) is not None and board.calls_model.row_at(0).stale,
            STALE_SECONDS + 5,
        )
        board.select_call(call_id)
        assert board.close_stale_action.isEnabled()
        board.close_stale_action.trigger()
        await until(lambda: board.calls_model.rowCount() == 0)
        with sessions() as s:
            call = s.scalar(select(Call).where(Call.provider_call_id == sid))
            assert call.state is CallState.ENDED and call.end_reason == "closed-stale"

    loop.run_until_complete(scenario())


def test_scorecards_for_a_csr_and_a_supervisor_and_the_csv_export(qtbot, loop, server, desks, tmp_path):
    url, webhooks, sessions, _customer_id, _campaign_id = server
    Accounts(sessions).add_user("sam", "Sam Ortiz", "supervisor", PASSWORD)

    async def scenario() -> None:
        csr, sup = desks("csr"), desks("sup")
        # Offline, the scorecards say where their figures come from.
        assert csr.floor.open_scorecards() is None  # not signed in: sign in first
        await sign_in(csr, url, "dana")
        await sign_in(sup, url, "sam")
        dana = csr.sync.user["id"]
        async with aiohttp.ClientSession() as http:  # one answered call of Dana's today
            sid = "CA" + "9" * 32
            await post(http, webhooks, "/telephony/twilio/voice", {**leg(sid), "CallStatus": "ringing"})
            await until(lambda: csr.window.bubble_strip.call_ids())
            call_id = csr.window.bubble_strip.call_ids()[0]
            qtbot.mouseClick(csr.window.bubble_strip.call_bubble(call_id), Qt.MouseButton.LeftButton)
            await until(lambda: csr.calls.cards[call_id].claimed_by_name == "Dana Reyes")
            await post(
                http,
                webhooks,
                "/telephony/twilio/status",
                {**leg(sid), "CallStatus": "completed", "CallDuration": "30", "SequenceNumber": "3"},
            )

        mine = csr.floor.open_scorecards()
        assert mine.objectName() == "scorecards" and mine.windowTitle().startswith("My scorecard")
        assert mine.period() == "today" and mine.date_range() == (csr.floor._today(),) * 2
        assert csr.floor.scorecards_action.shortcut() == QKeySequence("Ctrl+Shift+Y")
        await until(lambda: mine.score_model.rowCount() == 1)
        assert mine.score_model.row_at(0).id == dana  # only her own row, ever

        cards = sup.floor.open_scorecards()
        assert cards.windowTitle().startswith("Scorecards")
        await until(lambda: cards.score_model.rowCount() >= 2)  # every CSR
        assert {cards.score_model.row_at(i).name for i in range(cards.score_model.rowCount())} >= {
            "Dana Reyes",
            "Lee Park",
        }
        cards.set_period("week")
        await until(lambda: cards.answer.get("period") == "week")

        target = tmp_path / "export.csv"
        cards.export_action.trigger()
        dialog = cards.findChild(QFileDialog, "exportScorecardDialog")
        assert dialog is not None and dialog.isVisible()
        dialog.selectFile(str(target))
        dialog.accept()
        await until(lambda: target.exists())
        assert target.read_bytes().decode("utf-8") == cards.csv_text()  # byte for byte
        assert cards.message_label.text() == f"Saved to {target}."

        # Offline: the scorecards say so; back online they ask again.
        csr.sync.sign_out()
        assert mine.message_label.isVisible() and "server" in mine.message_label.text()

    loop.run_until_complete(scenario())
