"""Imports every table so ``Base.metadata`` is complete (alembic and tests use this module)."""

from __future__ import annotations

from . import accounts, agents, calls, conflicts, customers, jobs, journal, setup, sync_tables  # noqa: F401
from . import availability as availability_entries  # noqa: F401 - availability_entries (issue 19)
from . import merge as customer_merges  # noqa: F401 - the customer_merges table (issue 19)
from .base import Base

metadata = Base.metadata
