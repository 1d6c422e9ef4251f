"""Email bounces that arrive after the mail server took a message (docs/notifications.md, "Bounces").

Every notification email leaves with a per-message envelope sender (VERP): ``bounces+<message
id>@<bounce domain>``; the visible From stays the company's. A delivery status notification (RFC 3464)
or a plain bounce comes back to that address, and the bounce receiver (sync/bounce_receiver.py) reads
the message id from it. Here: the address both ways, which messages may take a bounce, and what a
bounce does to the message — pure rules in the caller's transaction.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from .notifications import Channel, NoticeStatus, Notification

BOUNCE_LOCAL = "bounces"
_ID = re.compile(r"[0-9a-f]{32}")
# A message that may take a bounce: the mail server took it (or is taking it right now: the sender
# records "sent" a moment later and keeps a status that got there first), or one already bounced (the
# same report again changes nothing). A message never sent (waiting, canceled, not sent) takes none.
BOUNCEABLE = frozenset(
    {
        NoticeStatus.SENDING,
        NoticeStatus.QUEUED,
        NoticeStatus.SENT,
        NoticeStatus.DELIVERED,
        NoticeStatus.UNDELIVERED,
        NoticeStatus.FAILED,
    }
)


class BadBounceAddress(ValueError):
    """Not a bounce address of ours (the sentence says why)."""


def bounce_address(message_id: str, domain: str) -> str:
    """The envelope sender (SMTP MAIL FROM) of the email ``message_id``."""
    return f"{BOUNCE_LOCAL}+{message_id}@{domain}"


def message_id_of(address: str, domain: str) -> str:
    """The message id in a bounce address (``bounces+<id>@<domain>``, any case, in angle brackets or
    not); BadBounceAddress when the address is not one."""
    addr = address.strip().strip("<>").strip()
    local, at, host = addr.rpartition("@")
    if not at or host.lower().rstrip(".") != domain.lower().rstrip("."):
        raise BadBounceAddress(f"not the bounce domain {domain}")
    name, plus, ident = local.partition("+")
    ident = ident.lower()
    if name.lower() != BOUNCE_LOCAL or not plus or not _ID.fullmatch(ident):
        raise BadBounceAddress(f"not a bounce address ({BOUNCE_LOCAL}+<message id>@{domain})")
    return ident


def refuse_reason(row: Notification | None) -> str:
    """Why this message can take no bounce ("" when it can)."""
    if row is None or Channel(row.channel) is not Channel.EMAIL:
        return "no such message"
    if NoticeStatus(row.status) not in BOUNCEABLE:
        return "that message was never sent"
    return ""


@dataclass(frozen=True)
class Bounce:
    """What a report says of our message: RFC 3464's Action (failed, delayed, delivered, relayed,
    expanded), the Status (``5.1.1``), the Diagnostic-Code's text, and the recipient it names."""

    action: str
    status: str = ""
    diagnostic: str = ""
    recipient: str = ""


def bounce_note(bounce: Bounce) -> str:
    """The sentence the CSR reads on the Messages tab."""
    said = f": {bounce.diagnostic}" if bounce.diagnostic else ""
    code = f" ({bounce.status})" if bounce.status else ""
    if bounce.action == "failed":
        return f"The address bounced{code}{said}"[:300]
    if bounce.action == "delayed":
        return f"Delayed{code}, the mail server is still trying{said}"[:300]
    return f"The mail server passed it on ({bounce.action}) and will report no more{said}"[:300]


def apply_bounce(row: Notification, bounce: Bounce, now: datetime) -> bool:
    """Record a report on the message; whether anything changed (the same report twice: nothing).

    ``failed`` fails the message with the status code and the diagnostic (once: a message already
    failed or not delivered keeps its first reason). ``delayed`` (and ``relayed`` / ``expanded``) is a
    note on a message still on its way: its state doesn't change. ``delivered`` marks it Delivered.
    A failure changes nothing beyond the message: an email goes only to a customer without a number
    that can take texts, so there is no other channel to fall back to (docs/notifications.md).
    """
    current = NoticeStatus(row.status)
    if current in (NoticeStatus.FAILED, NoticeStatus.UNDELIVERED):
        return False
    code = (bounce.status or "")[:16]
    if bounce.action == "failed":
        row.status = NoticeStatus.FAILED
    elif bounce.action == "delivered":
        if current is NoticeStatus.DELIVERED:
            return False
        row.status = NoticeStatus.DELIVERED
        row.sent_at = row.sent_at or now
        code = ""
    elif current is NoticeStatus.DELIVERED:
        return False  # a late "delayed" never undoes "delivered"
    note = bounce_note(bounce) if bounce.action != "delivered" else ""
    if row.status == current and (row.error_code, row.error) == (code, note):
        return False
    if row.status != current:
        row.status_at = now
    row.error_code, row.error = code, note
    return True
