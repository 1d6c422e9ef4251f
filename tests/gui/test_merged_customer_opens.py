"""Opening a merged customer (an old link, a recent list) shows the customer it was merged into (issue 19),
through the real CustomerController, writer and cache."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tests.gui.conftest_customer import Desk

pytest_plugins = ["tests.gui.conftest_customer"]


def test_a_merged_customer_opens_its_survivor(qtbot, desk: Desk) -> None:
    keep = desk.add_customer("Ann Lee", "+12145550101")
    gone = desk.add_customer("Anne Lee", "+12145550102")
    desk.writer.execute("merge_customers", {"survivor_id": keep, "merged_id": gone})
    shown: list[bool] = []
    with qtbot.waitSignal(desk.controller.customerOpened) as opened:
        desk.controller.open_customer(gone, then=shown.append)  # read on the customer worker
    qtbot.waitUntil(lambda: bool(shown))
    assert shown == [True] and opened.args == [keep]
    assert desk.panel.customer_id() == keep and desk.panel.record().name == "Ann Lee"
