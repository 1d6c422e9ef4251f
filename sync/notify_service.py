"""csr-server's notifications, wired (docs/notifications.md): the command-line options, the messaging
webhooks on the ingress, and the sender running beside the websocket endpoint.

Every instance takes the webhooks; every instance runs a sender unless ``--no-sender`` (on PostgreSQL
they share the outbox safely; on SQLite run one).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from aiohttp import web
from sqlalchemy.orm import Session, sessionmaker

from .messaging import SmtpEmail, TwilioSms
from .notify_sender import NotifySender
from .notify_webhooks import STATUS_PATH, MessagingHooks, add_routes

if TYPE_CHECKING:
    from .bounce_receiver import BounceReceiver

log = logging.getLogger("csr.server.notify")


def add_arguments(run: argparse.ArgumentParser) -> None:
    g = run.add_argument_group("customer notifications (docs/notifications.md)")
    g.add_argument(
        "--sms-from", default="", help="the number texts come from (E.164); needs --twilio-account-sid"
    )
    g.add_argument(
        "--messaging-service-sid", default="", help="send texts through this Messaging Service instead"
    )
    g.add_argument("--smtp-host", default="", help="the mail server for notification emails")
    g.add_argument("--smtp-port", type=int, default=587)
    g.add_argument("--smtp-user", default="")
    g.add_argument(
        "--smtp-password-file", default="", help="file holding the SMTP password (else $CSR_SMTP_PASSWORD)"
    )
    g.add_argument(
        "--smtp-from", default="", help='the From of notification emails, e.g. "Acme <service@acme.com>"'
    )
    g.add_argument(
        "--smtp-allow-cleartext",
        action="store_true",
        help="send even when the mail server offers no STARTTLS",
    )
    g.add_argument(
        "--bounce-domain",
        default="",
        help="each email's envelope sender is bounces+<message id>@DOMAIN (the From stays --smtp-from); "
        "the bounce receiver takes mail for it",
    )
    g.add_argument(
        "--bounce-smtp",
        default="",
        metavar="HOST:PORT",
        help="read bounces (delivery status notifications) the MX or a forward hands over by SMTP here",
    )
    g.add_argument("--bounce-lmtp", default="", metavar="HOST:PORT", help="the same by LMTP")
    g.add_argument("--notify-rate", type=float, default=None, help="texts and emails per second per sender")
    g.add_argument("--notify-lease", type=float, default=60.0, help=argparse.SUPPRESS)
    g.add_argument("--no-sender", action="store_true", help="this instance takes webhooks but sends nothing")


def attach_webhooks(
    app: web.Application, sessions: sessionmaker[Session], poke: Callable[[int], None]
) -> MessagingHooks:
    """The messaging routes on the ingress (call before it starts)."""
    hooks = MessagingHooks(sessions, on_committed=poke)
    add_routes(app, hooks)
    return hooks


@dataclass
class Running:
    sender: NotifySender
    task: asyncio.Task[None]
    stop_event: asyncio.Event

    async def stop(self) -> None:
        self.stop_event.set()
        with contextlib.suppress(asyncio.CancelledError):
            await self.task


def _smtp_password(args: argparse.Namespace) -> str:
    if args.smtp_password_file:
        return Path(args.smtp_password_file).read_text(encoding="utf-8").strip()
    return os.environ.get("CSR_SMTP_PASSWORD", "")


def start_sender(
    args: argparse.Namespace,
    sessions: sessionmaker[Session],
    *,
    account: str,
    token: str,
    public_url: str,
    poke: Callable[[int], None],
) -> Running | None:
    """Start this instance's sender (None with --no-sender). Texts need the account, its token and a
    public webhook URL (for the status callbacks); emails need --smtp-host. A message for a channel
    that isn't set up fails with that reason (the CSR sees it), never silently."""
    if args.no_sender:
        return None
    sms = None
    if args.sms_from or args.messaging_service_sid:
        if not (account and token and public_url):
            print(
                "csr-server: texting needs --twilio-account-sid, its auth token and --http-port",
                file=sys.stderr,
            )
        else:
            sms = TwilioSms(
                account,
                token,
                from_number=args.sms_from,
                messaging_service_sid=args.messaging_service_sid,
                status_callback=public_url.rstrip("/") + STATUS_PATH,
                api_base=args.twilio_api_base,
            )
    email = None
    if args.smtp_host:
        email = SmtpEmail(
            args.smtp_host,
            args.smtp_port,
            from_address=args.smtp_from,
            username=args.smtp_user,
            password=_smtp_password(args),
            require_tls=not args.smtp_allow_cleartext,
            bounce_domain=args.bounce_domain,
        )
    sender = NotifySender(
        sessions,
        sms=sms,
        email=email,
        rate_per_second=args.notify_rate,
        lease=timedelta(seconds=args.notify_lease),
        on_committed=poke,
    )
    stop = asyncio.Event()
    task = asyncio.create_task(sender.run(stop))
    log.info("event=sender_started instance=%s sms=%s email=%s", sender.instance, bool(sms), bool(email))
    return Running(sender, task, stop)


def _host_port(value: str) -> tuple[str, int]:
    host, sep, port = value.rpartition(":")
    if not sep or not port.isdigit() or not host:
        raise ValueError(f"{value!r} is not HOST:PORT")
    return host.strip("[]"), int(port)


async def start_bounces(
    args: argparse.Namespace, sessions: sessionmaker[Session], poke: Callable[[int], None]
) -> BounceReceiver | None:
    """The bounce receiver (docs/notifications.md, "Bounces"), when --bounce-smtp or --bounce-lmtp is
    given; ValueError (a sentence) for options that don't fit, OSError when the port can't be had."""
    listen = args.bounce_lmtp or args.bounce_smtp
    if not listen:
        return None
    if args.bounce_smtp and args.bounce_lmtp:
        raise ValueError("give --bounce-smtp or --bounce-lmtp, not both")
    if not args.bounce_domain:
        raise ValueError(
            "--bounce-smtp / --bounce-lmtp need --bounce-domain (the domain of the bounce addresses)"
        )
    host, port = _host_port(listen)
    from .bounce_receiver import BounceStore, start_bounce_receiver

    store = BounceStore(sessions, args.bounce_domain, on_committed=poke)
    receiver = await start_bounce_receiver(store, host, port, lmtp=bool(args.bounce_lmtp))
    print(
        f"csr-server: bounces for *@{args.bounce_domain} read by {'LMTP' if args.bounce_lmtp else 'SMTP'}"
        f" on {host}:{receiver.port}",
        flush=True,
    )
    return receiver
