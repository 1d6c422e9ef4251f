"""Every intent the console (and later the server) can apply, by name.

Importing the intent modules registers their handlers; this is the one place that lists them.
"""

from __future__ import annotations

from . import (  # noqa: F401 - imported for their @intent registrations
    booking,
    call_intents,
    call_review_intents,
    callbacks,
    conflicts,
    intents,
    leads,
    notify_intents,
)
from .intent_kit import HANDLERS

__all__ = ["HANDLERS"]
