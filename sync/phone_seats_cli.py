"""`csr-server phone-seat set|clear|show USER`: give a CSR a SIP seat (docs/phone.md)."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from sqlalchemy import select

from models.setup import User

from .fanout import is_postgres_url, notify_seat
from .phone_seats import SeatRefused, clear_seat, seat_for_user, set_phone_settings, set_seat


def add_phone_seat_parser(sub: Any) -> None:
    seat = sub.add_parser("phone-seat", help="a CSR's SIP seat (softphone registration, <Dial><Sip>)")
    ssub = seat.add_subparsers(dest="seat_command", required=True)
    put = ssub.add_parser("set", help="give USER a seat, or change it")
    put.add_argument("name")
    put.add_argument("--address", required=True, help="what the phone company dials: sip:dana@acme.sip…")
    put.add_argument(
        "--registrar",
        default="",
        help="where the softphone signs in: sip:acme.sip… (none: a direct seat, reached at --address itself)",
    )
    put.add_argument("--sip-user", required=True, help="the SIP user name the softphone signs in as")
    put.add_argument("--transport", default="udp", help="udp (default), tcp or tls")
    put.add_argument("--proxy", default="", help="an outbound proxy (sip:…), if the company has one")
    put.add_argument("--input-device", default="", help="microphone (default: the system's)")
    put.add_argument("--output-device", default="", help="headset (default: the system's)")
    put.add_argument("--ring-device", default="", help="where it rings (default: the output device)")
    for name, text in (("clear", "take USER's seat away"), ("show", "print USER's seat as JSON")):
        ssub.add_parser(name, help=text).add_argument("name")
    settings = sub.add_parser(
        "phone-settings", help="company phone settings: voicemail, callback offer, longest wait, auto-claim"
    )
    on_off = {"choices": ["on", "off"]}
    settings.add_argument(
        "--after-hours-voicemail", **on_off, help="callers outside business hours: voicemail"
    )
    settings.add_argument(
        "--max-wait", type=int, help="seconds a caller waits before voicemail (0: no limit)"
    )
    settings.add_argument("--auto-claim", **on_off, help="a call answered on a CSR's softphone is claimed")
    settings.add_argument(
        "--callback-claim-minutes",
        type=int,
        help="a taken callback nobody finished goes back to the queue after this many minutes "
        "(default 30; 0: only when its CSR signs out)",
    )
    settings.add_argument(
        "--offer-callback",
        **on_off,
        help="a caller sent to voicemail is first offered 'press 1 to be called back'",
    )
    settings.add_argument(
        "--overflow",
        help="the second group: user names, comma-separated, rung only when nobody of the "
        "first group is Available ('' for none)",
    )


def cmd_phone_settings(args: argparse.Namespace, sessions: Any) -> int:
    def flag(value: str | None) -> bool | None:
        return None if value is None else value == "on"

    try:
        settings = set_phone_settings(
            sessions,
            after_hours_voicemail=flag(args.after_hours_voicemail),
            max_wait_seconds=args.max_wait,
            auto_claim=flag(args.auto_claim),
            offer_callback=flag(args.offer_callback),
            callback_claim_minutes=args.callback_claim_minutes,
            overflow=None if args.overflow is None else args.overflow.split(","),
        )
    except SeatRefused as exc:
        print(f"csr-server: {exc} Nothing was changed.", file=sys.stderr)
        return 2
    print(json.dumps(settings))
    return 0


def _user_id(sessions: Any, name: str) -> str | None:
    with sessions() as s:
        user_id = s.scalar(select(User.id).where(User.username == name))
    return None if user_id is None else str(user_id)


def tell_running_servers(url: str, sessions: Any, name: str) -> None:
    """After a committed seat change: the ``seat:<user id>`` note every instance on a PostgreSQL store
    listens for (sync/fanout.py), so ``name``'s connected consoles get the change at once; a line on
    stderr says what running consoles will see."""
    if not is_postgres_url(url):  # one serving instance, which has no way to hear of this process's write
        print(
            f"csr-server: {name}'s consoles already connected to a running server get this at their next "
            "connection (a SQLite store carries no note between processes).",
            file=sys.stderr,
        )
        return
    try:
        user_id = _user_id(sessions, name)
        if user_id is None:
            raise LookupError(f"no user {name!r}")
        notify_seat(url, user_id)
    except Exception as exc:  # noqa: BLE001 - committed: they get it in the welcome of their next connection
        print(
            f"csr-server: saved, but the running servers could not be told ({exc}); {name}'s consoles "
            "already connected get this at their next connection.",
            file=sys.stderr,
        )
        return
    print(
        f"csr-server: the running servers were told; {name}'s connected consoles get this now.",
        file=sys.stderr,
    )


def cmd_phone_seat(args: argparse.Namespace, sessions: Any) -> int:
    if args.seat_command == "set":
        fields = {
            "sip_address": args.address,
            "registrar": args.registrar,
            "user": args.sip_user,
            "transport": args.transport,
            "proxy": args.proxy,
            "input_device": args.input_device,
            "output_device": args.output_device,
            "ring_device": args.ring_device,
        }
        try:
            seat = set_seat(sessions, args.name, fields)
        except SeatRefused as exc:
            print(f"csr-server: {exc} Nothing was changed.", file=sys.stderr)
            return 2
        print(json.dumps(seat))
        tell_running_servers(args.db, sessions, args.name)
        return 0
    if args.seat_command == "clear":
        if not clear_seat(sessions, args.name):
            print(f"csr-server: {args.name} has no phone seat.", file=sys.stderr)
            return 1
        tell_running_servers(args.db, sessions, args.name)
        return 0
    with sessions() as s:
        user = s.scalar(select(User).where(User.username == args.name))
    seat = seat_for_user(sessions, user.id) if user is not None else None
    if seat is None:
        print(f"csr-server: {args.name} has no phone seat.", file=sys.stderr)
        return 1
    print(json.dumps(seat))
    return 0
