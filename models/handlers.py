"""Every intent the console (and later the server) can apply, by name.

Importing the intent modules registers their handlers; this is the one place that lists them.
"""

from __future__ import annotations

from . import availability as availability_intents  # noqa: F401 - time off, holidays, capacity (issue 19)
from . import booking, call_intents, call_review_intents, conflicts, intents, leads  # noqa: F401 - imported for their @intent registrations
from . import merge as merge_intents  # noqa: F401 - merge_customers, undo_merge (issue 19)
from .intent_kit import HANDLERS

__all__ = ["HANDLERS"]
