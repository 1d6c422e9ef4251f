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


# Shares of the window's width for the search, the customer and the booking panes. With no customer open
# the search results get the room (every column shows); once one is open they narrow to a list and the
# customer panel takes it. The CSR's own drags are remembered per mode.
PANE_MODES = {"idle": (0.54, 0.12, 0.34), "customer": (0.18, 0.485, 0.335)}


def pane_shares(settings: QSettings, mode: str) -> tuple[float, ...]:
    """The remembered shares of the three panes in ``mode`` ("idle" or "customer"), else the defaults."""
    default = PANE_MODES[mode]
    value = settings.value(f"layout/panes-{mode}")
    try:
        shares = tuple(float(v) for v in value) if isinstance(value, list | tuple) else default
    except (TypeError, ValueError):
        return default
    if len(shares) != len(default) or min(shares) <= 0:
        return default
    total = sum(shares)
    return tuple(s / total for s in shares)


def remember_pane_shares(settings: QSettings, mode: str, sizes: list[int]) -> None:
    """Keep where the CSR put the splitter handles in ``mode``, as shares of the width."""
    total = sum(sizes)
    if mode in PANE_MODES and total > 0 and len(sizes) == len(PANE_MODES[mode]) and min(sizes) > 0:
        settings.setValue(f"layout/panes-{mode}", [f"{s / total:.4f}" for s in sizes])
