"""The entry point: a cache that can't be opened is explained, never a traceback."""

from __future__ import annotations

from PySide6.QtWidgets import QMessageBox

from console.app import cache_error_box, main
from models.db import CacheError


def test_corrupt_cache_exits_2_naming_the_file(tmp_path, capsys, qapp):
    path = tmp_path / "cache.sqlite3"
    path.write_bytes(b"garbage" * 1000)
    assert main(["--cache", str(path), "--profile", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert str(path) in err and "damaged" in err and "move the file aside" in err
    assert path.read_bytes() == b"garbage" * 1000


def test_cache_error_dialog_names_file_and_advice(qtbot):
    exc = CacheError(
        "/data/cache.sqlite3",
        "locked",
        "The customer cache is in use by another program.",
        "Close the other CSR Console window and try again.",
    )
    box = cache_error_box(exc)
    qtbot.addWidget(box)
    assert box.objectName() == "cacheErrorDialog" and box.icon() == QMessageBox.Icon.Critical
    assert "/data/cache.sqlite3" in box.text() and "Close the other" in box.text()
