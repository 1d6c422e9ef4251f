"""Where an inbound call goes when nobody can take it (docs/phone.md): pure rules, no I/O.

A company that turns it on (the phone settings' ``after_hours_voicemail``, `csr-server phone-settings`)
sends callers outside its business hours to voicemail; ``max_wait_seconds`` (0: no limit) sends a
caller who has waited that long to voicemail too. With neither set, calls ring and wait as before.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, time

from .timeutil import zone

RING = "ring"
AFTER_HOURS = "after_hours"
MAX_WAIT = "max_wait"


@dataclass(frozen=True)
class RoutingPolicy:
    after_hours_voicemail: bool = False
    max_wait_seconds: int = 0
    time_zone: str = "America/Chicago"
    hours: Mapping[int, tuple[tuple[time, time], ...]] | None = None  # weekday (0 = Monday) → shifts

    @classmethod
    def from_settings(
        cls, company: Mapping[str, object], hours: Mapping[int, tuple[tuple[time, time], ...]], tz: str
    ) -> RoutingPolicy:
        try:
            max_wait = max(0, int(company.get("max_wait_seconds") or 0))  # type: ignore[call-overload]
        except (TypeError, ValueError):
            max_wait = 0
        return cls(bool(company.get("after_hours_voicemail", False)), max_wait, tz, dict(hours))


def open_at(policy: RoutingPolicy, now_utc: datetime) -> bool:
    """Whether ``now_utc`` falls in a shift of the company's business hours (its own time zone). A company
    with no hours set is always open."""
    if not policy.hours:
        return True
    local = now_utc.astimezone(zone(policy.time_zone))
    return any(opens <= local.time() < closes for opens, closes in policy.hours.get(local.weekday(), ()))


def route(policy: RoutingPolicy, now_utc: datetime, waited_seconds: float | None) -> str:
    """RING, or why the caller goes to voicemail (AFTER_HOURS, MAX_WAIT)."""
    if policy.after_hours_voicemail and not open_at(policy, now_utc):
        return AFTER_HOURS
    if policy.max_wait_seconds and waited_seconds is not None and waited_seconds >= policy.max_wait_seconds:
        return MAX_WAIT
    return RING
