"""The setup file as plain data: what `parse_setup` returns and `import_setup` applies.

Every record carries ``lines`` (key → line in the file it came from) so problems found later, even
while importing, can point the admin at the right line. ``lines`` is left out of equality: two docs
are equal when they describe the same setup, wherever it was written.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import time
from decimal import Decimal

from .setup import CallType, Priority

FORMAT_VERSION = 1
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")  # index = Python's weekday()
WEEKDAY_NAMES = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
REQUIRED_FIELD_CHOICES = ("summary", "technician", "tags", "priority")

Problem = tuple[int, str]  # (line number, message); line 0 = the file as a whole


class SetupFileError(ValueError):
    """The setup file was refused; ``problems`` lists every reason with its line."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = sorted(problems)
        first = self.problems[0] if self.problems else (0, "the setup file was refused")
        more = f" (and {len(self.problems) - 1} more)" if len(self.problems) > 1 else ""
        super().__init__(f"line {first[0]}: {first[1]}{more}")

    def lines(self, filename: str = "") -> list[str]:
        """One "FILE:LINE: message" (or "line N: message") per problem, in file order."""
        return [
            f"{filename}:{line}: {msg}" if filename else f"line {line}: {msg}" for line, msg in self.problems
        ]


def _lines() -> dict[str, int]:
    return field(default_factory=dict, repr=False, compare=False)  # type: ignore[return-value]


@dataclass
class CompanyDef:
    name: str
    time_zone: str
    lines: dict[str, int] = _lines()


@dataclass
class GroupDef:
    name: str
    renamed_from: str | None = None
    lines: dict[str, int] = _lines()


@dataclass
class BusinessUnitDef:
    name: str
    group: str
    trade: str = ""
    renamed_from: str | None = None
    lines: dict[str, int] = _lines()


@dataclass
class ServiceDef:
    code: str
    name: str
    price: Decimal = Decimal(0)
    duration_minutes: int = 60
    lines: dict[str, int] = _lines()


@dataclass
class DefaultServiceDef:
    code: str
    quantity: Decimal = Decimal(1)
    lines: dict[str, int] = _lines()


@dataclass
class JobTypeDef:
    name: str
    business_units: list[str]
    priority: Priority = Priority.NORMAL
    duration_minutes: int = 120
    skills: list[str] = field(default_factory=list)
    default_tags: list[str] = field(default_factory=list)
    summary_template: str = ""
    default_services: list[DefaultServiceDef] = field(default_factory=list)
    renamed_from: str | None = None
    lines: dict[str, int] = _lines()


@dataclass
class CategoryDef:
    name: str
    renamed_from: str | None = None
    lines: dict[str, int] = _lines()


@dataclass
class TrackingNumberDef:
    number: str  # E.164
    default_call_type: CallType = CallType.LEAD
    label: str = ""
    lines: dict[str, int] = _lines()


@dataclass
class CampaignDef:
    name: str
    category: str | None = None
    active: bool = True
    monthly_cost: Decimal | None = None
    tracking_numbers: list[TrackingNumberDef] = field(default_factory=list)
    renamed_from: str | None = None
    lines: dict[str, int] = _lines()


@dataclass
class CallReasonDef:
    name: str
    is_lead: bool
    renamed_from: str | None = None
    lines: dict[str, int] = _lines()


@dataclass
class TagTypeDef:
    name: str
    color: str = "#607d8b"
    renamed_from: str | None = None
    lines: dict[str, int] = _lines()


@dataclass
class ArrivalWindowDef:
    name: str
    start: time
    end: time
    business_units: list[str] = field(default_factory=list)  # empty: every business unit
    same_day: bool = True
    renamed_from: str | None = None
    lines: dict[str, int] = _lines()


@dataclass
class HoursDef:
    weekday: int  # 0 = Monday
    opens: time
    closes: time
    lines: dict[str, int] = _lines()


@dataclass
class ShiftDef:
    weekday: int
    start: time
    end: time
    lines: dict[str, int] = _lines()


@dataclass
class TechnicianDef:
    name: str
    business_unit: str
    skills: list[str] = field(default_factory=list)
    shifts: list[ShiftDef] = field(default_factory=list)
    renamed_from: str | None = None
    lines: dict[str, int] = _lines()


@dataclass
class CapacityDef:
    group: str
    bookable_percent: int = 100
    overbooking_warn_percent: int = 100
    lines: dict[str, int] = _lines()


@dataclass
class BookingPreferencesDef:
    required_fields: list[str] = field(default_factory=list)
    lines: dict[str, int] = _lines()


@dataclass
class OnlineJobTypeDef:
    job_type: str
    public_name: str = ""
    business_unit: str = ""
    lines: dict[str, int] = _lines()


@dataclass
class OnlineBookingDef:
    """The Web Scheduler (docs/web-scheduler.md); a file without this section turns it off."""

    enabled: bool = False
    auto_book: bool = False
    service_area_zips: list[str] = field(default_factory=list)
    job_types: list[OnlineJobTypeDef] = field(default_factory=list)
    capacity_share_percent: int = 50
    lead_time_hours: int = 2
    hold_minutes: int = 10
    allowed_origins: list[str] = field(default_factory=list)
    campaign: str = "Web Scheduler"
    lines: dict[str, int] = _lines()


@dataclass
class SetupDoc:
    """A validated setup file. ``warnings`` are worth telling the admin but don't refuse the file."""

    company: CompanyDef
    business_unit_groups: list[GroupDef] = field(default_factory=list)
    business_units: list[BusinessUnitDef] = field(default_factory=list)
    services: list[ServiceDef] = field(default_factory=list)
    job_types: list[JobTypeDef] = field(default_factory=list)
    campaign_categories: list[CategoryDef] = field(default_factory=list)
    campaigns: list[CampaignDef] = field(default_factory=list)
    call_reasons: list[CallReasonDef] = field(default_factory=list)
    tag_types: list[TagTypeDef] = field(default_factory=list)
    arrival_windows: list[ArrivalWindowDef] = field(default_factory=list)
    business_hours: list[HoursDef] = field(default_factory=list)
    technicians: list[TechnicianDef] = field(default_factory=list)
    capacity: list[CapacityDef] = field(default_factory=list)
    booking_preferences: BookingPreferencesDef = field(default_factory=BookingPreferencesDef)
    # The notifications section as stored (models/notify_setup.py); None: the file has none.
    notifications: dict | None = None
    online_booking: OnlineBookingDef = field(default_factory=OnlineBookingDef)
    version: int = FORMAT_VERSION
    warnings: list[Problem] = field(default_factory=list, compare=False)
