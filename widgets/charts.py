"""Two small charts drawn with QPainter (PySide6-Essentials has no QtCharts): bars (calls per hour)
and a line (booking rate by day). Colours come from the palette, so they read on light and dark; the
accessible description states every value, for a screen reader and for tests."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import ROUND_HALF_UP, Decimal

from PySide6.QtCore import QPointF, QRectF, QSize, Qt
from PySide6.QtGui import QPainter, QPaintEvent, QPalette, QPen
from PySide6.QtWidgets import QSizePolicy, QWidget

__all__ = ["BarChart", "LineChart", "hour_label", "percent_text"]

MARGIN_LEFT, MARGIN_RIGHT, MARGIN_TOP, MARGIN_BOTTOM = 44.0, 12.0, 30.0, 22.0


def percent_text(value: float | None, nothing: str = "—") -> str:
    """62.5 → "63%" (halves round up, as a manager rounds); None → "—"."""
    if value is None:
        return nothing
    return f"{int(Decimal(str(value)).quantize(Decimal(1), rounding=ROUND_HALF_UP))}%"


def hour_label(hour: int) -> str:
    """0 → "12 AM", 13 → "1 PM"."""
    return f"{hour % 12 or 12} {'AM' if hour < 12 else 'PM'}"


class _Chart(QWidget):
    def __init__(self, title: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.title = title
        self.labels: list[str] = []
        self.setAccessibleName(title)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.setMinimumSize(240, 140)
        self.setFocusPolicy(Qt.FocusPolicy.TabFocus)  # a screen reader can land on it and read the values

    def sizeHint(self) -> QSize:  # noqa: N802 - Qt override
        return QSize(420, 200)

    def description(self) -> str:
        return self.accessibleDescription()

    def _plot(self) -> QRectF:
        return QRectF(
            MARGIN_LEFT,
            MARGIN_TOP,
            max(1.0, self.width() - MARGIN_LEFT - MARGIN_RIGHT),
            max(1.0, self.height() - MARGIN_TOP - MARGIN_BOTTOM),
        )

    def _frame(self, painter: QPainter, top_label: str) -> QRectF:
        """Title, baseline and the top value; returns the plot area."""
        pal = self.palette()
        plot = self._plot()
        painter.setPen(pal.color(QPalette.ColorRole.WindowText))
        font = painter.font()
        font.setBold(True)
        painter.setFont(font)
        painter.drawText(
            QRectF(0, 0, self.width(), 18),
            Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter,
            self.title,
        )
        font.setBold(False)
        painter.setFont(font)
        muted = pal.color(QPalette.ColorRole.PlaceholderText)
        painter.setPen(QPen(pal.color(QPalette.ColorRole.Mid), 1))
        painter.drawLine(plot.bottomLeft(), plot.bottomRight())
        painter.drawLine(plot.topLeft(), plot.topRight())
        painter.setPen(muted)
        painter.drawText(
            QRectF(0, plot.top() - 8, MARGIN_LEFT - 6, 16),
            Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter,
            top_label,
        )
        painter.drawText(
            QRectF(0, plot.bottom() - 16, MARGIN_LEFT - 6, 16),
            Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignBottom,
            "0",
        )
        return plot

    def _x_labels(self, painter: QPainter, plot: QRectF, every: int) -> None:
        if not self.labels:
            return
        step = plot.width() / len(self.labels)
        painter.setPen(self.palette().color(QPalette.ColorRole.PlaceholderText))
        for i, label in enumerate(self.labels):
            if i % every == 0:
                centre = plot.left() + (i + 0.5) * step
                painter.drawText(
                    QRectF(centre - 30, plot.bottom() + 2, 60, MARGIN_BOTTOM - 2),
                    Qt.AlignmentFlag.AlignHCenter | Qt.AlignmentFlag.AlignTop,
                    label,
                )

    def _empty(self, painter: QPainter, plot: QRectF, text: str) -> None:
        painter.setPen(self.palette().color(QPalette.ColorRole.PlaceholderText))
        painter.drawText(plot, Qt.AlignmentFlag.AlignCenter, text)


class BarChart(_Chart):
    """Whole numbers as bars (calls per hour)."""

    def __init__(self, title: str, parent: QWidget | None = None, *, unit: str = "calls") -> None:
        super().__init__(title, parent)
        self.unit = unit
        self.values: list[int] = []
        self.set_data([], [])

    def set_data(self, values: Sequence[int], labels: Sequence[str]) -> None:
        """One bar per value, each under its label; the description lists the non-zero ones."""
        self.values, self.labels = [int(v) for v in values], list(labels)
        shown = [f"{label} {value}" for label, value in zip(self.labels, self.values, strict=False) if value]
        if not shown:
            text = f"{self.title}: no {self.unit}."
        else:
            text = f"{self.title}: {', '.join(shown)}."
            if len(shown) < len(self.values):
                text += f" No {self.unit} in the other hours."
        self.setAccessibleDescription(text)
        self.setToolTip(text)
        self.update()

    def paintEvent(self, event: QPaintEvent) -> None:  # noqa: N802 - Qt override
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        top = max(self.values, default=0)
        plot = self._frame(painter, str(top) if top else "")
        if not top:
            self._empty(painter, plot, f"No {self.unit} yet")
        else:
            step = plot.width() / len(self.values)
            painter.setPen(Qt.PenStyle.NoPen)
            painter.setBrush(self.palette().color(QPalette.ColorRole.Highlight))
            for i, value in enumerate(self.values):
                height = plot.height() * value / top
                painter.drawRect(
                    QRectF(plot.left() + i * step + step * 0.15, plot.bottom() - height, step * 0.7, height)
                )
        self._x_labels(painter, plot, every=max(1, len(self.labels) // 8 or 1))
        painter.end()


class LineChart(_Chart):
    """Percentages over days (booking rate by day); a day with nothing to measure is a gap."""

    def __init__(self, title: str, parent: QWidget | None = None) -> None:
        super().__init__(title, parent)
        self.values: list[float | None] = []
        self.set_data([], [])

    def set_data(self, values: Sequence[float | None], labels: Sequence[str]) -> None:
        """One point per day (0–100); None is a day with no leads."""
        self.values = [None if v is None else float(v) for v in values]
        self.labels = list(labels)
        parts = [
            f"{label} {percent_text(value, 'no leads')}"
            for label, value in zip(self.labels, self.values, strict=False)
        ]
        text = f"{self.title}: {', '.join(parts)}." if parts else f"{self.title}: no days yet."
        self.setAccessibleDescription(text)
        self.setToolTip(text)
        self.update()

    def paintEvent(self, event: QPaintEvent) -> None:  # noqa: N802 - Qt override
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        plot = self._frame(painter, "100%")
        known = [v for v in self.values if v is not None]
        if not known:
            self._empty(painter, plot, "No leads yet")
        else:
            step = plot.width() / len(self.values)
            color = self.palette().color(QPalette.ColorRole.Highlight)
            painter.setPen(QPen(color, 2))
            painter.setBrush(color)
            previous: QPointF | None = None
            for i, value in enumerate(self.values):
                if value is None:
                    previous = None  # a gap, not a drop to zero
                    continue
                point = QPointF(
                    plot.left() + (i + 0.5) * step,
                    plot.bottom() - plot.height() * min(max(value, 0.0), 100.0) / 100.0,
                )
                if previous is not None:
                    painter.drawLine(previous, point)
                painter.drawEllipse(point, 3, 3)
                painter.setPen(self.palette().color(QPalette.ColorRole.WindowText))
                painter.drawText(
                    QRectF(point.x() - 30, point.y() - 20, 60, 16),
                    Qt.AlignmentFlag.AlignHCenter | Qt.AlignmentFlag.AlignBottom,
                    percent_text(value),
                )
                painter.setPen(QPen(color, 2))
                previous = point
        self._x_labels(painter, plot, every=max(1, (len(self.labels) + 6) // 7))
        painter.end()
