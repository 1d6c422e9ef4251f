"""The console ↔ phone-process channel: one JSON object per line (docs/phone.md), and SIP URI checks.

Commands go to the phone on its stdin (``{"cmd": "answer", "call": "c1"}``); events come back on its
stdout (``{"event": "call", "call": "c1", "state": "confirmed", "code": 200}``). Both sides import this
module, so it stays free of pjsua2 and of Qt.
"""

from __future__ import annotations

import json
import re
from typing import Any

# Commands the phone process understands, with the fields each one needs.
COMMANDS: dict[str, tuple[str, ...]] = {
    "register": ("registrar", "user", "password"),
    "listen": ("address",),
    "unregister": (),
    "call": ("to",),
    "answer": ("call",),
    "hangup": ("call",),
    "hold": ("call",),
    "resume": ("call",),
    "mute": ("call",),
    "unmute": ("call",),
    "dtmf": ("call", "digits"),
    "transfer": ("call", "to"),
    "complete_transfer": ("call", "other"),
    "stats": (),
    "list_devices": (),
    "set_devices": (),
    "quit": (),
}
DEVICE_FIELDS = ("input_device", "output_device", "ring_device")
TRANSPORTS = ("udp", "tcp", "tls")
DTMF_DIGITS = re.compile(r"^[0-9*#A-Da-d]{1,32}$")
# sip:user@host[:port][;params][?headers] — user optional (a registrar URI has none).
_SIP_URI = re.compile(
    r"^sips?:(?:[A-Za-z0-9\-_.!~*'()&=+$,;?/%]+@)?"
    r"(?:[A-Za-z0-9](?:[A-Za-z0-9\-.]*[A-Za-z0-9])?|\[[0-9A-Fa-f:.]+\])"
    r"(?::\d{1,5})?(?:;[^\s?<>\"]*)?(?:\?[^\s<>\"]*)?$"
)


class BadCommand(ValueError):
    """A command line the phone cannot act on; the message is a sentence for the CSR."""


def is_sip_uri(value: str) -> bool:
    """True for a well-formed ``sip:`` or ``sips:`` URI (user part optional)."""
    return bool(_SIP_URI.match(value or ""))


def check_sip_uri(value: str, what: str) -> str:
    """The URI, or BadCommand naming what was wrong with it."""
    value = (value or "").strip()
    if not is_sip_uri(value):
        raise BadCommand(f"The {what} “{value}” is not a SIP address (expected sip:user@host).")
    return value


def listen_address(value: str) -> tuple[str, str, int]:
    """A direct seat's address (``sip:dana@127.0.0.1:5062``; port 0 or none: any free one) as
    (user, host, port); BadCommand when it is not one the phone can listen at."""
    value = check_sip_uri(value, "seat address")
    match = re.match(r"^sip:([^@;?]+)@([0-9.]+|\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9\-.]+)(?::(\d{1,5}))?$", value)
    if match is None:
        raise BadCommand(f"The seat address “{value}” is not sip:user@host[:port] (no parameters).")
    port = int(match.group(3) or 0)
    if port > 65535:
        raise BadCommand(f"The seat address “{value}” has no valid port.")
    return match.group(1), match.group(2).strip("[]"), port


def encode(message: dict[str, Any]) -> bytes:
    """One line of the channel."""
    return (json.dumps(message, separators=(",", ":")) + "\n").encode()


def decode_command(line: bytes | str) -> dict[str, Any]:
    """Parse and check one command line; BadCommand tells what is wrong with it."""
    try:
        message = json.loads(line)
    except (ValueError, UnicodeDecodeError) as exc:
        raise BadCommand(f"The phone got a line that is not JSON ({exc}).") from None
    if not isinstance(message, dict):
        raise BadCommand("The phone got a command that is not a JSON object.")
    name = message.get("cmd")
    if name not in COMMANDS:
        raise BadCommand(f"The phone does not know the command “{name}”.")
    missing = [f for f in COMMANDS[name] if message.get(f) in (None, "")]
    if missing:
        raise BadCommand(f"The phone's “{name}” command needs {', '.join(missing)}.")
    if name == "register":
        check_sip_uri(str(message["registrar"]), "registrar")
        if message.get("proxy"):
            check_sip_uri(str(message["proxy"]), "proxy")
        transport = str(message.get("transport") or "udp").lower()
        if transport not in TRANSPORTS:
            raise BadCommand(f"The SIP transport “{transport}” is not one of UDP, TCP or TLS.")
    if name == "listen":
        listen_address(str(message["address"]))
    if name in ("call", "transfer"):
        check_sip_uri(str(message["to"]), "number to call" if name == "call" else "transfer target")
    for key in DEVICE_FIELDS:
        value = message.get(key)
        if value is not None and (not isinstance(value, str) or len(value) > 200 or not value.isprintable()):
            raise BadCommand(
                f"The {key.replace('_', ' ')} must be a device's name (text, at most 200 characters)."
            )
    if name == "dtmf" and not DTMF_DIGITS.match(str(message["digits"])):
        raise BadCommand(f"“{message['digits']}” are not keypad digits (0–9, *, #).")
    return message


def decode_event(line: bytes | str) -> dict[str, Any] | None:
    """One event line from the phone, or None for a line that is not one (logged by the caller)."""
    try:
        message = json.loads(line)
    except (ValueError, UnicodeDecodeError):
        return None
    if not isinstance(message, dict) or not isinstance(message.get("event"), str):
        return None
    return message
