"""The demo's Sent messages window: it shows each text the stand-in logged, opens by itself without taking
the focus when one goes out, and its window-wide action (Ctrl+Shift+T) opens it."""

from __future__ import annotations

import json
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QMainWindow

from console.sent_messages import install
from tests.gui.helpers import show_active


def test_texts_the_stand_in_logged_show_up(qtbot: Any, tmp_path: Any) -> None:
    log = tmp_path / "sent-messages.jsonl"
    window = QMainWindow()
    qtbot.addWidget(window)
    show_active(qtbot, window)
    sent = install(window, log)
    line = {
        "at": "2026-12-05T21:00:00+00:00",
        "to": "+12145550134",
        "body": "Lone Star: see you Tue.",
        "sid": "SM1",
    }
    with log.open("w") as f:
        f.write(json.dumps(line) + "\n")
        f.write('{"partial": ')  # a line still being written is read next time
    qtbot.waitUntil(lambda: sent.dialog.list.count() == 1, timeout=5000)
    assert "to +12145550134: Lone Star: see you Tue." in sent.dialog.list.item(0).text()
    assert sent.dialog.isVisible()
    assert "a text went to +12145550134" in window.statusBar().currentMessage()
    sent.dialog.hide()
    assert sent.action.shortcut().toString() == "Ctrl+Shift+T"
    assert (
        sent.action.shortcutContext() == Qt.ShortcutContext.WindowShortcut and sent.action in window.actions()
    )
    sent.action.trigger()
    qtbot.waitUntil(sent.dialog.isVisible, timeout=2000)
    assert sent.dialog.list.hasFocus() or sent.dialog.isVisible()
    sent.timer.stop()
    sent.worker.shutdown()
    sent.dialog.close()
