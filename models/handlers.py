"""Every intent the console (and later the server) can apply, by name.

Importing the intent modules registers their handlers; this is the one place that lists them.
"""

from __future__ import annotations

from . import availability as availability_intents  # noqa: F401 - time off, holidays, capacity (issue 19)
from . import (  # noqa: F401 - imported for their @intent registrations
    booking,
    call_intents,
    call_review_intents,
    callbacks,
    conflicts,
    intents,
    leads,
    notify_intents,
    work_order_intents,
)
from . import merge as merge_intents  # noqa: F401 - merge_customers, undo_merge (issue 19)
from . import setup_edit as setup_edit_intents  # noqa: F401 - setup_save, setup_retire, setup_delete (issue 19)
from .inbox_intents import claim_online_booking  # noqa: F401 - the Bookings inbox (Web Scheduler requests)
from .intent_kit import HANDLERS

__all__ = ["HANDLERS"]
