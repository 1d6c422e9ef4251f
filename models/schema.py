"""Imports every table so ``Base.metadata`` is complete (alembic and tests use this module)."""

from __future__ import annotations

from . import (  # noqa: F401
    accounts,
    agents,
    calls,
    conflicts,
    customers,
    jobs,
    journal,
    merge,  # noqa: F401 - customer merges (issue 19)
    setup,
    sync_tables,
)
from .base import Base

metadata = Base.metadata
