"""Small helpers shared by the GUI tests."""

from __future__ import annotations

import asyncio


def show_active(qtbot, window) -> None:
    """Show a window and wait until it is exposed and active, as on a desk where the CSR uses it
    (shortcuts only reach an active window). pytest-qt's waitExposed/waitActive are context managers."""
    with qtbot.waitExposed(window):
        window.show()
    window.activateWindow()
    qtbot.waitUntil(window.isActiveWindow)


async def until(predicate, timeout: float = 10.0) -> None:
    """Wait on the running (qasync) loop until ``predicate()`` holds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not predicate():
        if loop.time() > deadline:
            raise AssertionError("timed out")
        await asyncio.sleep(0.02)


def settle(qtbot, booking, timeout: int = 10_000) -> None:
    """Wait until the booking controller's worker has answered (availability shown, a booking saved)."""
    qtbot.waitUntil(lambda: booking.worker.pending == 0, timeout=timeout)


async def settled(booking, timeout: float = 10.0) -> None:
    """The same inside a test running on the qasync loop."""
    await until(lambda: booking.worker.pending == 0, timeout)


def book_now(qtbot, booking, timeout: int = 10_000):
    """Book Job and wait for the write: the job's number, or None (refused; the form says why)."""
    numbers: list = []
    booking.bookFinished.connect(numbers.append)
    try:
        if booking.book() is None:
            return None
        qtbot.waitUntil(lambda: bool(numbers), timeout=timeout)
    finally:
        booking.bookFinished.disconnect(numbers.append)
    return numbers[0]


async def booked(booking, timeout: float = 10.0):
    """book_now inside a test running on the qasync loop."""
    numbers: list = []
    booking.bookFinished.connect(numbers.append)
    try:
        if booking.book() is None:
            return None
        await until(lambda: bool(numbers), timeout)
    finally:
        booking.bookFinished.disconnect(numbers.append)
    return numbers[0]


def wait_for_workers(qtbot, window, timeout: int = 10_000) -> None:
    """What a CSR does before the next key: wait for the screen to answer (the console's database workers
    — availability, a booking being saved — have delivered)."""
    from console.db_worker import DbWorker

    workers = window.findChildren(DbWorker)
    qtbot.waitUntil(lambda: all(w.pending == 0 for w in workers), timeout=timeout)


def open_now(qtbot, customers, customer_id: str, timeout: int = 10_000) -> bool:
    """Open a customer and wait until the panel shows it (the record is read on the customer worker):
    True when shown, False when it could not be (the panel says why)."""
    shown: list[bool] = []
    customers.open_customer(customer_id, then=shown.append)
    qtbot.waitUntil(lambda: bool(shown), timeout=timeout)
    return shown[0]


async def opened(customers, customer_id: str, timeout: float = 10.0) -> bool:
    """open_now inside a test running on the qasync loop."""
    shown: list[bool] = []
    customers.open_customer(customer_id, then=shown.append)
    await until(lambda: bool(shown), timeout)
    return shown[0]
