"""The callback queue in the console, by keyboard only (docs/phone.md "Callback queue"): Ctrl+Alt+C
opens the Callbacks tab on the list, longest-waiting first; Enter takes the highlighted caller (an intent in
the outbox), Ctrl+D calls them by click-to-call, Ctrl+3 records "No answer" and the caller leaves the list."""

from __future__ import annotations

from datetime import timedelta

import pytest
from PySide6.QtCore import Qt
from sqlalchemy import select

from console.composition import Console
from console.settings import open_settings
from models.base import utcnow
from models.call_store import record_events
from models.callbacks import Callback
from models.calls import CallEventKind, NeutralEvent
from models.demo import generate
from models.journal import OutboxEntry
from models.setup import User
from tests.gui.helpers import show_active, wait_for_workers

Ctrl = Qt.KeyboardModifier.ControlModifier
Shift = Qt.KeyboardModifier.ShiftModifier


@pytest.fixture
def console(qtbot, tmp_path):
    path = tmp_path / "cache.sqlite3"
    generate(path, customers=20, seed=5)
    c = Console.build(path, open_settings(tmp_path))
    qtbot.addWidget(c.window)
    show_active(qtbot, c.window)
    qtbot.wait(50)
    wait_for_workers(qtbot, c.window)
    yield c
    c.shutdown()


def abandoned(console: Console, sid: str, phone: str, minutes_ago: int) -> None:
    ended = utcnow() - timedelta(minutes=minutes_ago)
    with console.cache.sessions.begin() as s:
        record_events(
            s,
            [
                NeutralEvent(
                    "twilio",
                    sid,
                    f"{sid}:o",
                    CallEventKind.OFFERED,
                    ended - timedelta(seconds=30),
                    from_number=phone,
                ),
                NeutralEvent("twilio", sid, f"{sid}:e", CallEventKind.ENDED, ended, from_number=phone),
            ],
        )


def outbox(console: Console) -> list[tuple[str, dict]]:
    with console.cache.sessions() as s:
        return [(e.name, e.args) for e in s.scalars(select(OutboxEntry).order_by(OutboxEntry.seq))]


def test_take_call_and_record_a_callback_by_keyboard(qtbot, console):
    with console.cache.sessions.begin() as s:
        s.add(User(id="dana", username="dana", display_name="Dana Reyes", role="csr"))
    console.calls.me = "dana"
    abandoned(console, "CA-new", "+12145550111", 5)
    abandoned(console, "CA-old", "+12145550122", 50)
    dialed: list[tuple[str, str]] = []
    controller = console.callbacks
    controller._dial = lambda number, customer_id: dialed.append((number, customer_id))
    before = len(outbox(console))

    qtbot.keyClick(console.window, Qt.Key.Key_C, Ctrl | Qt.KeyboardModifier.AltModifier)
    widget = console.window.findChild(type(controller.widget), "callbacksList")
    assert console.window.work_tabs.currentWidget() is widget
    qtbot.waitUntil(lambda: len(widget.rows()) == 2)
    assert widget.tree.hasFocus()
    assert [r.phone for r in widget.rows()] == ["+12145550122", "+12145550111"]  # longest waiting first
    assert widget.current_row().phone == "+12145550122"
    assert widget.tree.topLevelItem(0).text(1) == "(214) 555-0122"  # as a CSR reads it

    qtbot.keyClick(widget.tree, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: widget.current_row() is not None and widget.current_row().claimed_by == "dana")
    assert outbox(console)[before][0] == "claim_callback"
    assert widget.tree.currentItem().text(3) == "You"

    qtbot.keyClick(widget.tree, Qt.Key.Key_D, Ctrl)
    assert dialed == [("+12145550122", "")]

    qtbot.keyClick(widget.tree, Qt.Key.Key_3, Ctrl)
    qtbot.waitUntil(lambda: len(widget.rows()) == 1)
    name, args = outbox(console)[before + 1]
    assert name == "record_callback_outcome" and args["outcome"] == "no_answer"
    assert widget.rows()[0].phone == "+12145550111" and widget.tree.hasFocus()

    # Calling someone nobody took is refused with a sentence; nothing is dialed.
    qtbot.keyClick(widget.tree, Qt.Key.Key_D, Ctrl)
    assert dialed == [("+12145550122", "")] and "Take this callback first" in widget.message.text()

    # Someone else's claim already pulled: Enter is refused here at once, with who has it; nothing queued.
    with console.cache.sessions.begin() as s:
        s.add(User(id="lee", username="lee", display_name="Lee Chen", role="csr"))
        s.get(Callback, widget.current_id()).claimed_by = "lee"
    queued = len(outbox(console))
    qtbot.keyClick(widget.tree, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: "Lee Chen already took this callback" in widget.message.text())
    assert len(outbox(console)) == queued and widget.message.property("kind") == "error"
    wait_for_workers(qtbot, console.window)


def test_a_voicemail_says_so_and_ctrl_p_asks_the_server_for_it(qtbot, console):
    sid, phone = "CA-vm", "+12145550133"
    at = utcnow() - timedelta(minutes=9)
    with console.cache.sessions.begin() as s:
        record_events(
            s,
            [
                NeutralEvent("twilio", sid, f"{sid}:o", CallEventKind.OFFERED, at, from_number=phone),
                NeutralEvent("twilio", sid, f"{sid}:v", CallEventKind.VOICEMAIL, at, from_number=phone),
                NeutralEvent("twilio", sid, f"{sid}:e", CallEventKind.ENDED, at + timedelta(seconds=40)),
                NeutralEvent(
                    "twilio",
                    sid,
                    f"{sid}:r",
                    CallEventKind.RECORDING,
                    at + timedelta(seconds=41),
                    recording_url="https://api.twilio.com/x/RE9",
                    recording_seconds=30,
                ),  # fmt: skip
            ],
        )
    abandoned(console, "CA-plain", "+12145550144", 5)
    asked: list[str] = []
    controller = console.callbacks
    controller._play = asked.append  # the console's RecordingPlayer: fetches through the server
    qtbot.keyClick(console.window, Qt.Key.Key_C, Ctrl | Qt.KeyboardModifier.AltModifier)
    widget = console.window.findChild(type(controller.widget), "callbacksList")
    qtbot.waitUntil(lambda: len(widget.rows()) == 2)
    assert [widget.tree.topLevelItem(i).text(2) for i in range(2)] == ["Voicemail", "Missed call"]
    assert widget.current_row().phone == phone and widget.listen_button.isEnabled()
    qtbot.keyClick(widget.tree, Qt.Key.Key_P, Ctrl)
    assert asked == [widget.current_id()]  # the item's id is its call's: the server checks who may hear it
    qtbot.keyClick(widget.tree, Qt.Key.Key_Down)
    assert not widget.listen_button.isEnabled()
    qtbot.keyClick(widget.tree, Qt.Key.Key_P, Ctrl)
    assert len(asked) == 1 and widget.message.text() == "This caller left no voicemail."
    wait_for_workers(qtbot, console.window)


def test_del_puts_a_taken_callback_back_and_a_csr_cannot_put_back_anothers(qtbot, console):
    with console.cache.sessions.begin() as s:
        s.add(User(id="dana", username="dana", display_name="Dana Reyes", role="csr"))
        s.add(User(id="lee", username="lee", display_name="Lee Chen", role="csr"))
    console.calls.me = "dana"
    abandoned(console, "CA-a", "+12145550155", 20)
    controller = console.callbacks
    qtbot.keyClick(console.window, Qt.Key.Key_C, Ctrl | Qt.KeyboardModifier.AltModifier)
    widget = console.window.findChild(type(controller.widget), "callbacksList")
    qtbot.waitUntil(lambda: len(widget.rows()) == 1)
    assert not widget.release_button.isEnabled()  # nobody has it
    qtbot.keyClick(widget.tree, Qt.Key.Key_Delete)
    assert "already in the queue" in widget.message.text()
    qtbot.keyClick(widget.tree, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: widget.current_row().claimed_by == "dana")
    assert widget.release_button.isEnabled() and widget.release_button.accessibleName()
    before = len(outbox(console))
    qtbot.keyClick(widget.tree, Qt.Key.Key_Delete)
    qtbot.waitUntil(lambda: widget.current_row() is not None and not widget.current_row().claimed_by)
    assert outbox(console)[before][0] == "release_callback" and "anyone can take it" in widget.message.text()
    # Lee's claim (pulled): Dana, a CSR, is refused here at once, with a sentence; nothing queued.
    with console.cache.sessions.begin() as s:
        item = s.get(Callback, widget.current_id())
        item.claimed_by, item.status = "lee", "claimed"
    controller.refresh()
    qtbot.waitUntil(lambda: widget.current_row().claimed_by == "lee")
    queued = len(outbox(console))
    qtbot.keyClick(widget.tree, Qt.Key.Key_Delete)
    qtbot.waitUntil(lambda: "Only a supervisor" in widget.message.text())
    assert len(outbox(console)) == queued
    wait_for_workers(qtbot, console.window)
