"""Imports every table so ``Base.metadata`` is complete (alembic and tests use this module)."""

from __future__ import annotations

from . import accounts, agents, calls, conflicts, customers, jobs, journal, phone_seats, setup, sync_tables  # noqa: F401
from .base import Base

metadata = Base.metadata
