"""Imports every table so ``Base.metadata`` is complete (alembic and tests use this module)."""

from __future__ import annotations

from . import (  # noqa: F401
    accounts,
    agents,
    callbacks,
    calls,
    conflicts,
    customers,
    jobs,
    journal,
    notifications,
    phone_seats,
    setup,
    sync_tables,
    web_address_limit,  # web_address_hits: the Web Scheduler's per-address limit
    web_booking,
    work_orders,
)
from . import availability as availability_entries  # noqa: F401 - availability_entries (issue 19)
from . import merge as customer_merges  # noqa: F401 - the customer_merges table (issue 19)
from .base import Base

metadata = Base.metadata
