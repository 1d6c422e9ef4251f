"""Fusion style with light and dark palettes; "system" follows the OS colour scheme."""

from __future__ import annotations

from importlib import resources

from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QGuiApplication, QPalette
from PySide6.QtWidgets import QApplication

THEMES = ("system", "light", "dark")


def _palette(dark: bool) -> QPalette:
    p = QPalette()
    if dark:
        base, window, text, button = "#1e1f22", "#2b2d30", "#dfe1e5", "#3c3f41"
        highlight, link, mid = "#2f65ca", "#6ea8fe", "#4e5157"
    else:
        base, window, text, button = "#ffffff", "#f3f4f6", "#1b1f24", "#e9ebef"
        highlight, link, mid = "#2f65ca", "#1a56db", "#c5c9d0"
    roles = {
        QPalette.ColorRole.Window: window,
        QPalette.ColorRole.WindowText: text,
        QPalette.ColorRole.Base: base,
        QPalette.ColorRole.AlternateBase: window,
        QPalette.ColorRole.Text: text,
        QPalette.ColorRole.Button: button,
        QPalette.ColorRole.ButtonText: text,
        QPalette.ColorRole.Highlight: highlight,
        QPalette.ColorRole.HighlightedText: "#ffffff",
        QPalette.ColorRole.Link: link,
        QPalette.ColorRole.ToolTipBase: base,
        QPalette.ColorRole.ToolTipText: text,
        QPalette.ColorRole.PlaceholderText: "#8b929c",
        QPalette.ColorRole.Mid: mid,
    }
    for role, color in roles.items():
        p.setColor(role, QColor(color))
    for role in (QPalette.ColorRole.Text, QPalette.ColorRole.WindowText, QPalette.ColorRole.ButtonText):
        p.setColor(QPalette.ColorGroup.Disabled, role, QColor("#7d838c"))
    return p


def system_is_dark() -> bool:
    return QGuiApplication.styleHints().colorScheme() == Qt.ColorScheme.Dark


def apply_theme(app: QApplication, theme: str) -> str:
    """Apply "system", "light" or "dark"; returns the scheme actually shown ("light"/"dark")."""
    app.setStyle("Fusion")
    dark = system_is_dark() if theme == "system" else theme == "dark"
    app.setPalette(_palette(dark))
    qss = (resources.files("resources") / "themes" / "console.qss").read_text(encoding="utf-8")
    app.setStyleSheet(qss)
    app.setProperty("csrDark", dark)
    return "dark" if dark else "light"
