"""Time helpers: datetimes are stored in UTC; arrival windows and business hours are local times
of the company's time zone."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

DEFAULT_TZ = "America/Chicago"


def zone(name: str | None) -> ZoneInfo:
    try:
        return ZoneInfo(name or DEFAULT_TZ)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo(DEFAULT_TZ)


def as_utc(dt: datetime) -> datetime:
    """SQLite hands back naive datetimes: they are UTC by convention."""
    return dt.replace(tzinfo=UTC) if dt.tzinfo is None else dt.astimezone(UTC)


def utc_iso(value: datetime) -> str:
    """A moment as the wire and the change log carry it: ISO 8601 in UTC ending in ``Z``
    ("2026-12-05T18:07:57.123456Z"); a naive datetime is UTC (SQLite's convention)."""
    return as_utc(value).isoformat().replace("+00:00", "Z")


def local_to_utc(day: date, t: time, tz: ZoneInfo) -> datetime:
    return datetime.combine(day, t, tzinfo=tz).astimezone(UTC)


def minutes(t: time) -> int:
    return t.hour * 60 + t.minute


def overlap_minutes(a_start: int, a_end: int, b_start: int, b_end: int) -> int:
    return max(0, min(a_end, b_end) - max(a_start, b_start))


def parse_hhmm(text: str) -> time:
    """ "08:30" → time(8, 30); raises ValueError with a readable message."""
    try:
        hh, mm = text.strip().split(":")
        return time(int(hh), int(mm))
    except (ValueError, AttributeError) as exc:
        raise ValueError(f"'{text}' is not a time (use HH:MM)") from exc


def days_from(start: date, count: int) -> list[date]:
    return [start + timedelta(days=i) for i in range(count)]
