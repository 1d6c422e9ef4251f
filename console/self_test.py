"""`csr-console --self-test`: the window opens offscreen, a real lookup runs against a tiny
generated cache through the real widgets and worker thread, and the process exits 0 on success."""

from __future__ import annotations

import asyncio
import sqlite3
import sys
import time
from typing import TYPE_CHECKING

from PySide6.QtCore import Qt
from PySide6.QtTest import QTest

from models.phone import format_phone

if TYPE_CHECKING:
    from .composition import Console


async def _wait_for(predicate, timeout: float) -> bool:  # noqa: ANN001
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        await asyncio.sleep(0.01)
    return predicate()


async def run_self_test(console: Console) -> int:
    with sqlite3.connect(console.cache.path) as conn:
        row = conn.execute(
            "SELECT customer_id, value FROM contact_methods WHERE kind != 'Email' "
            "AND location_id IS NULL ORDER BY id LIMIT 1"
        ).fetchone()
    if row is None:
        print("self-test: FAILED — the generated cache has no customers", file=sys.stderr)
        return 1
    customer_id, e164 = row
    lookup = console.window.lookup
    console.window.focus_search()
    QTest.keyClicks(lookup.search, format_phone(e164))
    found = await _wait_for(lambda: lookup.model.customer_id(0) == customer_id, timeout=10)
    if not found:
        print(
            f"self-test: FAILED — searching {format_phone(e164)} did not list customer {customer_id}",
            file=sys.stderr,
        )
        return 1
    QTest.keyClick(lookup.search, Qt.Key.Key_Return)
    opened = await _wait_for(lambda: console.customers.current_customer_id() == customer_id, timeout=5)
    if not opened:
        print("self-test: FAILED — Enter did not open the customer", file=sys.stderr)
        return 1
    print(f"self-test: OK — phone lookup found and opened customer {customer_id}")
    return 0
