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
)
from .base import Base

metadata = Base.metadata
