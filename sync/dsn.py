"""Reading a bounce (docs/notifications.md, "Bounces"), with the standard library's email package.

A delivery status notification (RFC 3464: ``multipart/report; report-type=delivery-status`` with a
``message/delivery-status`` part) is read exactly: the per-recipient block naming our recipient (else
the first), its ``Action``, ``Status`` and ``Diagnostic-Code``. A plain-text bounce (some mail servers
still send prose) is read best effort, and only when it names the message's bounce address and looks
like a failure: an enhanced status code (``5.1.1``) or a 5xx reply in it, or the usual words ("could
not be delivered", "user unknown" …). Anything else is NotABounce: the receiver refuses it.
"""

from __future__ import annotations

import re
from email import message_from_bytes, policy
from email.message import EmailMessage, Message

from models.notify_bounces import Bounce

ACTIONS = frozenset({"failed", "delayed", "delivered", "relayed", "expanded"})
_ENHANCED = re.compile(r"(?<![\d.])([245])\.(\d{1,3})\.(\d{1,3})(?![\d.])")
# An SMTP reply quoted by the bounce: at the start of a line, or after "said:" (not a phone number).
_REPLY = re.compile(r"(?:^\s*|said:\s*)(5[0-5]\d)[ -]", re.MULTILINE | re.IGNORECASE)
_FAILURE_WORDS = re.compile(
    r"could not be delivered|couldn't be delivered|undeliverable|delivery (?:has )?failed|"
    r"failed permanently|permanent (?:error|failure)|user unknown|unknown user|no such user|"
    r"does not exist|mailbox (?:unavailable|not found)|address rejected",
    re.IGNORECASE,
)
_DELAY_WORDS = re.compile(r"delayed|not yet been delivered|will (?:keep )?(?:retry|trying)", re.IGNORECASE)
MAX_TEXT = 200_000  # characters of a plain bounce looked at


class NotABounce(ValueError):
    """Not a delivery report for our message (the sentence says why)."""


def read_bounce(raw: bytes, bounce_address: str, to_address: str = "") -> Bounce:
    """What ``raw`` (the whole mail) reports of the message whose bounce address is ``bounce_address``
    and recipient ``to_address``; NotABounce when it is no such report."""
    try:
        msg = message_from_bytes(raw, policy=policy.default)
    except Exception as exc:  # noqa: BLE001 - the parser is lenient; anything it still can't take is bad mail
        raise NotABounce(f"unreadable mail ({type(exc).__name__})") from None
    if msg.defects and not msg.keys():
        raise NotABounce("unreadable mail (no headers)")
    if msg.get_content_type() == "multipart/report":
        kind = str(msg.get_param("report-type") or "").lower()
        if kind != "delivery-status":
            raise NotABounce(f"a report of another kind ({kind or 'none'}), not a delivery status")
        return _from_dsn(msg, to_address)
    return _from_text(msg, bounce_address)


def _field(block: Message, name: str) -> str:
    value = block.get(name)
    return " ".join(str(value).split()) if value is not None else ""


def _address(value: str) -> str:
    """``rfc822; ann@example.com`` → ``ann@example.com``."""
    return value.partition(";")[2].strip().strip("<>").lower() if ";" in value else value.strip("<> ").lower()


def _from_dsn(msg: Message, to_address: str) -> Bounce:
    status_part = next((p for p in msg.walk() if p.get_content_type() == "message/delivery-status"), None)
    if status_part is None:
        raise NotABounce("a delivery report without its message/delivery-status part")
    blocks = status_part.get_payload()
    if not isinstance(blocks, list) or len(blocks) < 2:
        raise NotABounce("a delivery report without a per-recipient block")
    recipients = [b for b in blocks[1:] if isinstance(b, Message) and _field(b, "Action")]
    if not recipients:
        raise NotABounce("a delivery report whose recipient blocks have no Action")
    wanted = to_address.strip().lower()
    chosen = next(
        (
            b
            for b in recipients
            if wanted
            and wanted in (_address(_field(b, "Final-Recipient")), _address(_field(b, "Original-Recipient")))
        ),
        recipients[0],
    )
    action = _field(chosen, "Action").lower()
    if action not in ACTIONS:
        raise NotABounce(f"a delivery report with an unknown Action ({action[:40]})")
    status = _field(chosen, "Status")
    match = _ENHANCED.search(status)
    if status and match is None:
        raise NotABounce(f"a delivery report with a malformed Status ({status[:40]})")
    diagnostic = _field(chosen, "Diagnostic-Code")
    if ";" in diagnostic:
        diagnostic = diagnostic.partition(";")[2].strip()
    return Bounce(
        action=action,
        status=match.group(0) if match else "",
        diagnostic=diagnostic[:200],
        recipient=_address(_field(chosen, "Final-Recipient")),
    )


def _text_of(msg: Message) -> str:
    """Every text part and every attached message's headers, as one string (bounded)."""
    out: list[str] = []
    for part in msg.walk():
        if part.get_content_type() == "message/rfc822" or part.get_content_type().startswith("message/"):
            for inner in part.get_payload() if isinstance(part.get_payload(), list) else []:
                if isinstance(inner, Message):
                    out.extend(f"{k}: {v}" for k, v in inner.items())
        elif part.get_content_maintype() == "text":
            try:
                content = part.get_content() if isinstance(part, EmailMessage) else part.get_payload()
            except (LookupError, ValueError):
                content = str(part.get_payload())
            out.append(str(content))
        if sum(len(s) for s in out) > MAX_TEXT:
            break
    return "\n".join(out)[:MAX_TEXT]


def _from_text(msg: Message, bounce_address: str) -> Bounce:
    text = _text_of(msg)
    if bounce_address.lower() not in text.lower():
        raise NotABounce(
            "not a delivery status notification, and it doesn't name the message's bounce address"
        )
    enhanced = [m for m in _ENHANCED.finditer(text) if m.group(1) in "45"]
    failed = next((m for m in enhanced if m.group(1) == "5"), None)
    reply = _REPLY.search(text)
    if failed is not None or reply is not None or _FAILURE_WORDS.search(text):
        status = failed.group(0) if failed else "5.0.0"
        anchor = failed or reply or _FAILURE_WORDS.search(text)
        return Bounce("failed", status, _line_at(text, anchor.start()) if anchor else "")
    delayed = next((m for m in enhanced if m.group(1) == "4"), None)
    if delayed is not None or _DELAY_WORDS.search(text):
        anchor = delayed or _DELAY_WORDS.search(text)
        return Bounce("delayed", delayed.group(0) if delayed else "4.0.0", _line_at(text, anchor.start()))
    raise NotABounce("it names the bounce address but reports no failure or delay")


def _line_at(text: str, pos: int) -> str:
    start = text.rfind("\n", 0, pos) + 1
    end = text.find("\n", pos)
    return " ".join(text[start : end if end >= 0 else len(text)].split())[:200]
