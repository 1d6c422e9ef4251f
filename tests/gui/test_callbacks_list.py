"""The callback queue's list (widgets/callbacks_list.py) is re-read after every call change; a re-read
that finds the queue as it was leaves the rows alone (a 200-row rebuild on each ringing call was a UI
stall in the calls benchmark), and a changed one redraws with the highlight kept."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from widgets.callbacks_list import CallbackRow, CallbacksList


def _rows(n: int) -> list[CallbackRow]:
    return [
        CallbackRow(f"cb-{i}", f"+1214555{i:04d}", f"Caller {i}", False, f"{i} min", "", "") for i in range(n)
    ]


def test_an_unchanged_queue_is_not_redrawn_and_a_change_keeps_the_highlight(qtbot: Any) -> None:
    widget = CallbacksList()
    qtbot.addWidget(widget)
    rows = _rows(200)
    widget.set_rows(rows)
    first = widget.tree.topLevelItem(0)
    widget.tree.setCurrentItem(widget.tree.topLevelItem(5))
    widget.set_rows(list(rows))  # the same queue, read again
    assert widget.tree.topLevelItem(0) is first and widget.current_id() == "cb-5"

    changed = [*rows[:5], replace(rows[5], claimed_by="u-lee", claimed_by_name="Lee"), *rows[6:]]
    widget.set_rows(changed)
    assert widget.tree.topLevelItemCount() == 200 and widget.current_id() == "cb-5"
    assert widget.tree.topLevelItem(5).text(3) == "Lee"

    widget.me = "u-lee"  # signed in as Lee: the same rows now say "You"
    widget.set_rows(changed)
    assert widget.tree.topLevelItem(5).text(3) == "You"
