"""Shared by the controllers: a failure becomes one sentence a CSR can act on (the log keeps the
traceback), and the dialog a controller has open is tracked until it closes."""

from __future__ import annotations

import logging
import sqlite3
from pathlib import Path

from PySide6.QtWidgets import QDialog
from sqlalchemy.exc import SQLAlchemyError

from models.db import CacheError, classify_sqlite_error

log = logging.getLogger("csr.console")

UNEXPECTED = (
    "Something went wrong and the change was not saved. Try again; if it keeps happening, "
    "call support (details are in the log)."
)


def describe_failure(
    cache_path: Path,
    exc: BaseException,
    *,
    prefix: str = "",
    what: str = "change",
    unexpected: str = UNEXPECTED,
) -> str:
    """ "The job was not changed. The customer cache is in use by another program. Close …"."""
    if isinstance(exc, CacheError):
        return f"{prefix}{exc.message} {exc.advice}".strip()
    if isinstance(exc, SQLAlchemyError | sqlite3.Error | OSError):
        err = classify_sqlite_error(cache_path, exc)
        return f"{prefix}{err.message} {err.advice}".strip()
    log.error("%s failed", what, exc_info=exc)
    return unexpected


class DialogTracker:
    """Keeps ``self.dialog`` pointing at the dialog a controller has open (tests and the window use
    it); a closed dialog is deleted soon after, so it is never handed out once closed."""

    dialog: QDialog | None = None

    def _track(self, dialog: QDialog) -> None:
        self.dialog = dialog
        dialog.finished.connect(lambda _result: self._forget(dialog))
        dialog.finished.connect(dialog.deleteLater)

    def _forget(self, dialog: QDialog) -> None:
        if self.dialog is dialog:
            # A dialog opened over another one (duplicates over the customer form) hands back to it.
            under = dialog.parentWidget()
            self.dialog = under if isinstance(under, QDialog) and under.isVisible() else None
