"""How many key presses a booking takes, measured on the assembled console (real server, signed webhooks,
the qasync loop): every key a CSR presses is sent to the widget that has the focus, as a keyboard would,
and counted — a chord (Ctrl+G) is one press, typed text one per character. README states these counts.

(a) a known caller rings: claim, book;  (b) a returning customer from an idle screen: find by phone, open,
book;  (c) a new caller rings: claim, create the customer, book."""

from __future__ import annotations

import gc

import aiohttp
import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication, QWidget
from sqlalchemy import func, select

from models.jobs import Job
from tests.gui.helpers import show_active, until
from tests.gui.test_calls_console import CALLER, PASSWORD, TRACKING, post, running_server

pytest_plugins = ["tests.gui.conftest_sync"]
NEW_CALLER = "+12145550166"
CTRL = Qt.KeyboardModifier.ControlModifier
SHIFT = Qt.KeyboardModifier.ShiftModifier
# The README's figures ("in N key presses"): change both together.
KNOWN_CALLER_KEYS = 8
RETURNING_FROM_IDLE_KEYS = 22
NEW_CALLER_KEYS = 51


@pytest.fixture
def server(loop, tmp_path):
    yield from running_server(loop, tmp_path)


@pytest.fixture(autouse=True)
def _collect_while_qt_is_up():
    """Collect this test's consoles, loops and sessions now: left for the interpreter's last collection,
    their finalizers run inside whatever Python is doing then (once, pytest's import of hypothesis)."""
    yield
    gc.collect()


class Keyboard:
    """Presses keys where the focus is, and counts them."""

    def __init__(self, qtbot, window: QWidget) -> None:
        self.qtbot, self.window, self.presses, self.log = qtbot, window, 0, []

    def _target(self) -> QWidget:
        return QApplication.focusWidget() or self.window

    def press(self, key: Qt.Key, modifiers: Qt.KeyboardModifier = Qt.KeyboardModifier.NoModifier) -> None:
        self.qtbot.keyClick(self._target(), key, modifiers)
        self.presses += 1
        self.log.append(
            key.name if modifiers == Qt.KeyboardModifier.NoModifier else f"{modifiers}+{key.name}"
        )

    def type(self, text: str) -> None:
        for char in text:
            self.qtbot.keyClicks(self._target(), char)
        self.presses += len(text)
        self.log.append(repr(text))


def jobs_of(console, customer_id: str) -> int:
    with console.cache.sessions() as s:
        return s.scalar(select(func.count()).select_from(Job).where(Job.customer_id == customer_id)) or 0


async def book_from_the_form(keys: Keyboard, console, campaign: str = "") -> None:
    """Business unit by type-ahead (H, ↓: HVAC Service comes after HVAC Install), Tab, job type by
    type-ahead, (without a call: Tab, the campaign by type-ahead), Ctrl+G, Enter on the first free window,
    Ctrl+Enter books: 7 presses, 9 with the campaign."""
    form = console.booking.form
    await until(lambda: form.business_unit.hasFocus())
    keys.type("h")  # HVAC Install, the first "h"
    keys.press(Qt.Key.Key_Down)  # HVAC Service
    assert form.business_unit.currentText() == "HVAC Service"
    keys.press(Qt.Key.Key_Tab)
    keys.type("a")  # AC Not Cooling: fills priority, summary, tags, services
    assert form.job_type.currentText() == "AC Not Cooling"
    if campaign:
        keys.press(Qt.Key.Key_Tab)
        keys.type(campaign[0].lower())
        assert form.campaign.currentText() == campaign
    keys.press(Qt.Key.Key_G, CTRL)
    await until(lambda: form.availability.rowCount() > 0 and form.availability_view.hasFocus())
    keys.press(Qt.Key.Key_Return)
    assert form.chosen_slot() is not None
    keys.press(Qt.Key.Key_Return, CTRL)


async def ring(http: aiohttp.ClientSession, webhooks: str, caller: str, sid: str) -> None:
    await post(
        http,
        webhooks,
        "/telephony/twilio/voice",
        {
            "CallSid": sid,
            "AccountSid": "AC" + "0" * 32,
            "From": caller,
            "To": TRACKING,
            "Direction": "inbound",
            "ApiVersion": "2010-04-01",
            "CallStatus": "ringing",
        },
    )


async def signed_in(qtbot, desks, url: str):
    console = desks("dana")
    show_active(qtbot, console.window)
    await console.sync.sign_in_with(url, "dana", PASSWORD)
    await until(lambda: console.window.sync_status.state == "online", 20)
    return console


def test_a_known_caller_rings_and_is_booked_in_8_key_presses(qtbot, loop, server, desks):
    url, webhooks, _sessions, customer_id, campaign_id = server

    async def scenario() -> None:
        console = await signed_in(qtbot, desks, url)
        keys = Keyboard(qtbot, console.window)
        async with aiohttp.ClientSession() as http:
            await ring(http, webhooks, CALLER, "CA" + "1" * 32)
            await until(lambda: console.window.bubble_strip.claim_action.isEnabled())
            keys.press(Qt.Key.Key_F2)  # claim: the customer pops
            await until(lambda: console.window.customer_panel.customer_id() == customer_id)
            assert console.booking.form.values()["campaign_id"] == campaign_id  # from the call
            await book_from_the_form(keys, console)
            await until(lambda: jobs_of(console, customer_id) == 1)
        assert keys.presses == KNOWN_CALLER_KEYS, keys.log

    loop.run_until_complete(scenario())


def test_a_returning_customer_from_an_idle_screen_is_booked_in_22_key_presses(qtbot, loop, server, desks):
    url, _webhooks, _sessions, customer_id, _campaign_id = server

    async def scenario() -> None:
        console = await signed_in(qtbot, desks, url)
        window = console.window
        keys = Keyboard(qtbot, window)
        keys.press(Qt.Key.Key_F, CTRL)  # wherever the focus was
        keys.type(CALLER[-10:])  # 2145550134
        await until(lambda: window.lookup.model.customer_id(0) == customer_id)
        keys.press(Qt.Key.Key_Return)  # open the top result
        await until(lambda: window.customer_panel.customer_id() == customer_id)
        keys.press(Qt.Key.Key_J, CTRL)  # book a job for this customer
        await book_from_the_form(keys, console, campaign="Google Local Services")
        await until(lambda: jobs_of(console, customer_id) == 1)
        assert keys.presses == RETURNING_FROM_IDLE_KEYS, keys.log

    loop.run_until_complete(scenario())


def test_a_new_caller_rings_gets_a_customer_and_is_booked_in_51_key_presses(qtbot, loop, server, desks):
    url, webhooks, _sessions, _customer_id, campaign_id = server

    async def scenario() -> None:
        console = await signed_in(qtbot, desks, url)
        window = console.window
        keys = Keyboard(qtbot, window)
        async with aiohttp.ClientSession() as http:
            await ring(http, webhooks, NEW_CALLER, "CA" + "2" * 32)
            await until(lambda: window.bubble_strip.claim_action.isEnabled())
            keys.press(Qt.Key.Key_F2)  # claim: nobody has this number, New customer opens
            await until(lambda: console.customers.dialog is not None and console.customers.dialog.isVisible())
            dialog = console.customers.dialog
            assert "555-0166" in dialog.fields["phone"].text()  # the caller's number
            await until(lambda: dialog.fields["name"].hasFocus())
            keys.type("Nadia Brooks")
            keys.press(Qt.Key.Key_Tab)  # Type: Residential
            keys.press(Qt.Key.Key_Tab)
            keys.type("77 Lamar St")
            keys.press(Qt.Key.Key_Tab)  # Unit: none
            keys.press(Qt.Key.Key_Tab)
            keys.type("Dallas")
            keys.press(Qt.Key.Key_Tab)
            keys.type("TX")
            keys.press(Qt.Key.Key_Tab)
            keys.type("75202")
            keys.press(Qt.Key.Key_Return)  # save: the customer opens
            await until(lambda: window.customer_panel.record() is not None)
            customer_id = window.customer_panel.customer_id()
            # The booking form is bound to the new customer and the call at once: no Ctrl+J.
            # A desktop's window manager activates the window again when the dialog closes; offscreen has none.
            window.activateWindow()
            await until(window.isActiveWindow)
            await until(lambda: console.booking.form.customer_id() == customer_id)
            assert console.booking.form.values()["campaign_id"] == campaign_id  # from the call
            await book_from_the_form(keys, console)
            await until(lambda: jobs_of(console, customer_id) == 1)
        assert keys.presses == NEW_CALLER_KEYS, keys.log

    loop.run_until_complete(scenario())
