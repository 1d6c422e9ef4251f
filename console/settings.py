"""Where things live (platformdirs) and what the console remembers (QSettings)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from platformdirs import user_data_dir

if TYPE_CHECKING:
    from PySide6.QtCore import QSettings

APP = "csr-console"
ORG = "CSR Console"


def default_cache_path() -> Path:
    return Path(user_data_dir(APP, ORG)) / "cache.sqlite3"


def open_settings(profile_dir: Path | None = None) -> QSettings:
    """The user's settings, or an .ini inside a throw-away profile (demo, tests, self-test)."""
    # Imported here so `csr-console setup …` and the paths above stay free of Qt.
    from PySide6.QtCore import QSettings

    if profile_dir is not None:
        return QSettings(str(profile_dir / "settings.ini"), QSettings.Format.IniFormat)
    return QSettings(ORG, APP)
