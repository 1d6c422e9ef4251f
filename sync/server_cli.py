"""`csr-server`: init (database + first admin), user add, setup import/export (the company setup is
the server's), run (the websocket endpoint).

Qt-free: the server runs where PySide6 is not installed. The store is a SQLite file by default or a
postgresql:// URL; migrations run on start. Several `run` instances may share one PostgreSQL: they
tell each other about commits with LISTEN/NOTIFY (sync/fanout.py).
"""

from __future__ import annotations

import argparse
import asyncio
import errno
import getpass
import logging
import os
import signal
import ssl
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sqlalchemy.orm import sessionmaker

from models.db import open_server_db
from models.setup_doc import SetupFileError
from models.setup_export import NoSetupError, export_setup
from models.setup_file import parse_setup, read_setup_text

from .address_limit import DEFAULT_MAX_PER_ADDRESS, is_loopback
from .apply import Applier
from .auth import Accounts, AuthError, token_secret
from .fanout import is_postgres_url, make_watch, notify_version
from .server import SyncServer
from .server_auth import AccountsAuthenticator
from .setup_sync import import_setup_logged

DEFAULT_DB = "csr-server.sqlite3"
DEFAULT_PORT = 8765


def _password(args: argparse.Namespace) -> str:
    if args.password_stdin:
        return sys.stdin.readline().rstrip("\n")
    first = getpass.getpass("Password: ")
    if getpass.getpass("Again: ") != first:
        raise SystemExit("csr-server: the passwords differ")
    return first


def _sessions(url: str) -> sessionmaker:
    return sessionmaker(open_server_db(url), expire_on_commit=False)


def cmd_init(args: argparse.Namespace) -> int:
    sessions = _sessions(args.db)
    token_secret(sessions)  # the signing key exists from the start
    try:
        Accounts(sessions).add_user(args.admin, args.display_name or args.admin, "admin", _password(args))
    except AuthError as exc:
        print(f"csr-server: {exc.message}", file=sys.stderr)
        return 1
    print(f"csr-server: database ready at {args.db}; admin '{args.admin}' created")
    return 0


def cmd_user_add(args: argparse.Namespace) -> int:
    try:
        Accounts(_sessions(args.db)).add_user(
            args.name, args.display_name or args.name, args.role, _password(args)
        )
    except AuthError as exc:
        print(f"csr-server: {exc.message}", file=sys.stderr)
        return 1
    print(f"csr-server: user '{args.name}' ({args.role}) added")
    return 0


def cmd_user(args: argparse.Namespace) -> int:
    if args.user_command == "add":
        return cmd_user_add(args)
    accounts = Accounts(_sessions(args.db))
    try:
        if args.user_command == "passwd":
            accounts.set_password(args.name, _password(args))
            done = "password changed (their consoles sign in again)"
        elif args.user_command == "deactivate":
            accounts.deactivate(args.name)
            done = "deactivated (their consoles are signed out at the next connection)"
        elif args.user_command == "reactivate":
            accounts.reactivate(args.name)
            done = "reactivated"
        else:
            accounts.unlock(args.name)
            done = "unlocked (failed log-ins forgotten)"
    except AuthError as exc:
        print(f"csr-server: {exc.message}", file=sys.stderr)
        return 1
    print(f"csr-server: user '{args.name}' {done}")
    return 0


def cmd_setup(args: argparse.Namespace) -> int:
    if args.setup_command == "import":
        return _setup_import(args)
    return _setup_export(args)


def _setup_import(args: argparse.Namespace) -> int:
    name = str(args.file)
    try:
        doc = parse_setup(read_setup_text(Path(args.file)))  # before the store: a bad file changes nothing
    except SetupFileError as exc:
        return _setup_refused(name, exc)
    except OSError as exc:
        print(f"csr-server: can't read {name}: {exc.strerror or exc}", file=sys.stderr)
        return 1
    try:
        result = import_setup_logged(_sessions(args.db), doc, dry_run=args.dry_run)
    except SetupFileError as exc:
        return _setup_refused(name, exc)
    for line, message in result.summary.warnings:
        print(f"{name}:{line}: warning: {message}", file=sys.stderr)
    if not result.summary.changed:
        print(f"{name}: nothing to change; the server already has this setup for {doc.company.name}.")
        return 0
    head = "would import (dry run, nothing saved)" if args.dry_run else "imported"
    print(f"{name}: {head} setup for {doc.company.name}:")
    for line in result.summary.lines():
        print(f"  {line}")
    for note in result.summary.notes:
        print(f"note: {note}")
    if args.dry_run:
        return 0
    print(f"csr-server: {result.changes} changes for the consoles (server version {result.server_version})")
    if is_postgres_url(args.db):
        try:
            notify_version(args.db, result.server_version)
        except Exception as exc:  # noqa: BLE001 - committed; the instances' 1 s poll will notice
            print(
                f"csr-server: could not notify the running servers ({exc}); they will notice within "
                "their poll interval",
                file=sys.stderr,
            )
    return 0


def _setup_refused(name: str, exc: SetupFileError) -> int:
    for line in exc.lines(name):
        print(line, file=sys.stderr)
    count = len(exc.problems)
    print(f"{name}: refused ({count} problem{'s' * (count != 1)}); nothing was imported.", file=sys.stderr)
    return 1


def _setup_export(args: argparse.Namespace) -> int:
    try:
        with _sessions(args.db)() as session:
            text = export_setup(session)
    except NoSetupError as exc:
        print(f"csr-server: {exc}", file=sys.stderr)
        return 1
    if args.file == "-":
        sys.stdout.write(text)
        return 0
    target = Path(args.file)
    # A half-written setup file would be refused on the next import: replace the old one in one step.
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as fh:
            fh.write(text)
        os.replace(tmp, target)
    except OSError as exc:
        Path(tmp).unlink(missing_ok=True)
        print(f"csr-server: can't write {target}: {exc.strerror or exc}", file=sys.stderr)
        return 1
    print(f"{target}: wrote the setup ({len(text.splitlines())} lines).")
    return 0


class StartError(Exception):
    """`csr-server run` can't start; the message is the one line the operator sees."""


def _tls_context(args: argparse.Namespace) -> ssl.SSLContext | None:
    """The server's TLS context from --tls-cert/--tls-key (None without them)."""
    if not args.tls_cert:
        if args.tls_key:
            raise StartError("--tls-key needs --tls-cert (the certificate chain, PEM)")
        return None
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    for name in (args.tls_cert, args.tls_key):
        if name and not os.access(name, os.R_OK):  # ssl's own error doesn't say which file
            raise StartError(f"can't read {name}")
    try:
        context.load_cert_chain(args.tls_cert, args.tls_key or None)
    except OSError as exc:  # ssl.SSLError too: not PEM, or the key doesn't match the certificate
        raise StartError(
            f"can't use the TLS certificate {args.tls_cert} with the key "
            f"{args.tls_key or '(in the same file)'}: they must be a PEM certificate chain and its "
            f"own private key ({exc.strerror or exc})"
        ) from None
    return context


def _listen_error(what: str, host: str, port: int, exc: OSError) -> StartError:
    if exc.errno == errno.EADDRINUSE:
        return StartError(f"port {port} on {host} is already in use ({what}; is another csr-server running?)")
    if exc.errno == errno.EACCES:
        return StartError(
            f"not allowed to listen on port {port} on {host} ({what}; ports below 1024 need privileges)"
        )
    return StartError(f"can't listen on {host}:{port} ({what}): {exc.strerror or exc}")


def warn_cleartext(host: str) -> None:
    """The loud warning for consoles' passwords and tokens crossing a network unencrypted."""
    bar = "csr-server: WARNING " + "*" * 76
    lines = [
        bar,
        f"csr-server: WARNING  Listening on {host or 'every address'} WITHOUT TLS: user names, passwords and",
        "csr-server: WARNING  session tokens cross the network in clear text, readable by anyone on it.",
        'csr-server: WARNING  Give --tls-cert FILE --tls-key FILE (docs/operations.md, "TLS"), or listen',
        "csr-server: WARNING  on 127.0.0.1 behind a proxy that terminates TLS.",
        bar,
    ]
    print("\n".join(lines), file=sys.stderr, flush=True)
    logging.getLogger("csr.server").warning("event=cleartext_listen host=%s", host)


async def _serve(args: argparse.Namespace) -> int:
    try:
        return await _run_server(args)
    except StartError as exc:
        print(f"csr-server: {exc}", file=sys.stderr)
        return 1


async def _run_server(args: argparse.Namespace) -> int:
    context = _tls_context(args)
    if context is None and not is_loopback(args.host):
        warn_cleartext(args.host)
    sessions = _sessions(args.db)
    auth = AccountsAuthenticator(
        Accounts(sessions), token_secret(sessions), login_concurrency=args.login_concurrency
    )
    server = SyncServer(
        Applier(sessions),
        auth,
        stale_call_minutes=args.stale_call_minutes,
        agent_offline_seconds=args.agent_offline_seconds,
        max_connections_per_address=args.max_connections_per_address,
    )
    # Commits made elsewhere (another instance, `csr-server setup import`) poke this instance's consoles.
    watch = make_watch(args.db, sessions, server.poke_all, poll_interval=args.poll_interval)
    server.on_commit = watch.published
    # A phone seat changed on one instance reaches the user's consoles on every other (docs/phone.md).
    server.publish_seat = watch.publish_seat
    watch.on_seat = server.seat_noted
    await watch.start()
    ingress = endpoint = purge = sweeper = notify = web = servicechannel = bounces = None

    def committed(version: int) -> None:
        """A commit of the notifications sender or webhooks: poke consoles here and elsewhere."""
        server.poke_all(version)
        watch.published(version)

    from . import notify_service  # customer notifications (docs/notifications.md)

    try:
        if args.servicechannel:
            servicechannel = await _start_servicechannel(args, sessions, server)
        if args.http_port is not None:
            token = _auth_token(args)
            if not token:
                print(
                    "csr-server: --http-port needs the phone system's auth token: --twilio-auth-token-file FILE "
                    "or CSR_TWILIO_AUTH_TOKEN (docs/telephony.md).",
                    file=sys.stderr,
                )
                return 2
            from .call_desk import CallDesk  # aiohttp and twilio load only for a server taking calls
            from .ingress import make_app, set_public_url, start_ingress

            desk = CallDesk(sessions, agents=server.signed_in_agents)
            server.attach_calls(desk)
            http_host = args.http_host or args.host
            app = make_app(
                desk,
                token,
                args.public_url or f"http://{http_host}:{args.http_port}",
                caller_id=args.caller_id,
            )
            notify_service.attach_webhooks(app, sessions, committed)
            try:
                ingress, http_port = await start_ingress(app, http_host, args.http_port, ssl_context=context)
            except OSError as exc:
                raise _listen_error("webhooks", http_host, args.http_port, exc) from None
            webhooks = f"{'https' if context else 'http'}://{http_host}:{http_port}"
            if not args.public_url:
                set_public_url(app, webhooks)
            account = (args.twilio_account_sid or os.environ.get("CSR_TWILIO_ACCOUNT_SID", "")).strip()
            if account:
                from .telephony.twilio import TwilioUrls
                from .telephony.twilio_rest import TwilioRest

                server.dialer = TwilioRest(
                    account,
                    token,
                    TwilioUrls.from_public_url(args.public_url or webhooks),
                    args.caller_id,
                    api_base=args.twilio_api_base,
                )
                from urllib.parse import urlsplit

                from .media import MediaFetcher

                # Recordings reach consoles through the server only (sync/media.py), fetched from the
                # phone company's API host with the account's credentials.
                server.media = MediaFetcher(
                    account, token, frozenset({urlsplit(args.twilio_api_base).hostname or "api.twilio.com"})
                )
            notify = notify_service.start_sender(
                args,
                sessions,
                account=account,
                token=token,
                public_url=args.public_url or webhooks,
                poke=committed,
            )
        else:
            notify = notify_service.start_sender(
                args, sessions, account="", token="", public_url="", poke=committed
            )
        if notify is not None:
            sender = notify.sender

            def published(version: int) -> None:
                watch.published(version)
                sender.wake()  # a booking may have queued a confirmation

            server.on_commit = published
        try:  # emails' bounces (docs/notifications.md, "Bounces")
            bounces = await notify_service.start_bounces(args, sessions, committed)
        except ValueError as exc:
            print(f"csr-server: {exc}", file=sys.stderr)
            return 2
        except OSError as exc:
            listen = args.bounce_lmtp or args.bounce_smtp
            raise _listen_error(
                "bounces", listen.rpartition(":")[0], int(listen.rpartition(":")[2]), exc
            ) from None
        if args.web_port is not None:
            web = await _start_web(
                args, sessions, server, context
            )  # the Web Scheduler (docs/web-scheduler.md)
        try:
            endpoint = await server.serve(args.host, args.port, ssl=context)
        except OSError as exc:
            raise _listen_error("consoles", args.host, args.port, exc) from None
        port = endpoint.sockets[0].getsockname()[1]
        logging.getLogger("csr.server").info(
            "event=listening host=%s port=%d tls=%s", args.host, port, bool(context)
        )
        print(f"csr-server: listening on {'wss' if context else 'ws'}://{args.host}:{port}", flush=True)
        if ingress is not None:
            logging.getLogger("csr.server").info("event=webhooks_listening url=%s", webhooks)
            print(f"csr-server: webhooks on {webhooks}", flush=True)
        if servicechannel is not None:
            print(f"csr-server: ServiceChannel webhooks on {servicechannel.url}", flush=True)
        purge = asyncio.create_task(auth.purge_throttle())  # the log-in throttle table stays small
        # Callback claims nobody works on go back to the queue (sync/callback_sweeper.py).
        from .callback_sweeper import CallbackSweeper

        sweeper = asyncio.create_task(CallbackSweeper(sessions, server).run())
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        parent_watch = asyncio.create_task(_watch_parent(stop)) if args.exit_with_parent else None
        await stop.wait()
        if parent_watch is not None:
            parent_watch.cancel()
        return 0
    finally:
        # Stop taking connections, let in-flight requests finish (each push is its own transaction:
        # nothing is half-written), then close.
        if notify is not None:
            await notify.stop()
        if bounces is not None:
            await bounces.stop()
        if purge is not None:
            purge.cancel()
            await asyncio.gather(purge, return_exceptions=True)
        if sweeper is not None:
            sweeper.cancel()
            await asyncio.gather(sweeper, return_exceptions=True)
        if ingress is not None:
            await ingress.cleanup()  # answers in flight are sent (their events are stored first)
        if web is not None:
            await web.cleanup()
        if endpoint is not None:
            endpoint.close()
            await endpoint.wait_closed()
        if servicechannel is not None:
            await servicechannel.stop()
        await server.aclose()
        await watch.stop()
        logging.getLogger("csr.server").info("event=stopped")


async def _start_web(
    args: argparse.Namespace, sessions: sessionmaker, server: SyncServer, context: Any
) -> Any:
    """Serve the Web Scheduler on --web-port; a stored request pokes every console (here and elsewhere)."""
    from .web_scheduler import WebScheduler, make_web_app, start_web

    def committed(version: int) -> None:
        server.poke_all(version)
        if server.on_commit:
            server.on_commit(version)

    scheduler = WebScheduler(sessions, token_secret(sessions), on_committed=committed)
    server.version_listeners.append(scheduler.changed)  # any booking or hold: availability read afresh
    host = args.web_host or args.host
    try:
        runner, port = await start_web(make_web_app(scheduler), host, args.web_port, ssl_context=context)
    except OSError as exc:
        raise _listen_error("web scheduler", host, args.web_port, exc) from None
    url = f"{'https' if context else 'http'}://{host}:{port}/"
    logging.getLogger("csr.server").info("event=web_listening url=%s", url)
    print(f"csr-server: web scheduler on {url}", flush=True)
    return runner


async def _start_servicechannel(args: argparse.Namespace, sessions: sessionmaker, server: SyncServer) -> Any:
    """The ServiceChannel adapter (docs/servicechannel.md): its commits poke this instance's consoles and
    the others'."""
    from .sc_adapter import ServiceChannelAdapter  # only a server serving ServiceChannel loads it
    from .sc_config import ScConfigError, load

    try:
        config = load(args.servicechannel)
    except ScConfigError as exc:
        raise StartError(f"ServiceChannel setup: {exc}") from None

    def committed(version: int) -> None:
        server.poke_all(version)
        if published is not None:
            published(version)

    adapter = ServiceChannelAdapter(sessions, config, on_committed=committed)
    published = server.on_commit

    def on_commit(version: int) -> None:
        adapter.worker.wake.set()  # a console's push may be an accept or a job action: send it now
        if published is not None:
            published(version)

    server.on_commit = on_commit
    try:
        port = await adapter.start()
    except OSError as exc:
        await adapter.stop()
        raise _listen_error(
            "ServiceChannel webhooks", config.webhook_host, config.webhook_port, exc
        ) from None
    adapter.url = f"http://{config.webhook_host}:{port}"
    return adapter


def _auth_token(args: argparse.Namespace) -> str:
    if args.twilio_auth_token_file:
        try:
            return Path(args.twilio_auth_token_file).read_text(encoding="utf-8").strip()
        except OSError as exc:
            print(
                f"csr-server: can't read {args.twilio_auth_token_file}: {exc.strerror or exc}",
                file=sys.stderr,
            )
            return ""
    return os.environ.get("CSR_TWILIO_AUTH_TOKEN", "").strip()


async def _watch_parent(stop: asyncio.Event) -> None:
    """The demo's server: stop cleanly when the console that started it is gone (even after a kill -9)."""
    from .parent_watch import watch_parent

    if await watch_parent(stop):
        logging.getLogger("csr.server").info("event=parent_gone")


def _count(least: int) -> Callable[[str], int]:
    """An argparse type: a whole number of at least ``least``."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
        if value < least:
            raise argparse.ArgumentTypeError(f"must be at least {least}")
        return value

    return parse


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="csr-server", description="The CSR Console central server.")
    p.add_argument("--db", default=DEFAULT_DB, help="SQLite file or postgresql:// URL")
    p.add_argument("--log-level", default="INFO")
    sub = p.add_subparsers(dest="command", required=True)
    init = sub.add_parser("init", help="create the database and the first admin")
    init.add_argument("--admin", default="admin")
    init.add_argument("--display-name", default="")
    init.add_argument("--password-stdin", action="store_true")
    user = sub.add_parser("user", help="manage users")
    usub = user.add_subparsers(dest="user_command", required=True)
    add = usub.add_parser("add", help="add a user")
    add.add_argument("name")
    add.add_argument("--role", choices=["csr", "supervisor", "manager", "admin"], default="csr")
    add.add_argument("--display-name", default="")
    add.add_argument("--password-stdin", action="store_true")
    passwd = usub.add_parser("passwd", help="set a user's password")
    passwd.add_argument("name")
    passwd.add_argument("--password-stdin", action="store_true")
    for name, text in (
        ("deactivate", "stop a user from signing in"),
        ("reactivate", "let a user sign in again"),
        ("unlock", "lift a lock after too many failed log-ins"),
    ):
        usub.add_parser(name, help=text).add_argument("name")
    run = sub.add_parser("run", help="serve consoles")
    run.add_argument("--host", default="127.0.0.1")
    run.add_argument("--port", type=int, default=DEFAULT_PORT)
    run.add_argument(
        "--tls-cert", help="certificate chain (PEM): consoles connect with wss:// (docs/operations.md)"
    )
    run.add_argument("--tls-key", help="the certificate's private key (PEM), unless it is in --tls-cert")
    run.add_argument(
        "--login-concurrency",
        type=_count(1),
        default=None,
        help="log-ins hashing passwords at once (default: half the cores, at least 1)",
    )
    run.add_argument(
        "--max-connections-per-address",
        type=_count(0),
        default=DEFAULT_MAX_PER_ADDRESS,
        help=f"connections one remote address may hold (default {DEFAULT_MAX_PER_ADDRESS}; "
        "0 = no limit; loopback is not limited)",
    )
    run.add_argument("--exit-with-parent", action="store_true", help=argparse.SUPPRESS)  # the demo's server
    run.add_argument(
        "--http-port",
        type=int,
        default=None,
        help="take phone-system webhooks on this port (docs/telephony.md); 0 = any free port",
    )
    run.add_argument("--http-host", default=None, help="address for the webhooks (default: --host)")
    run.add_argument(
        "--web-port",
        type=int,
        default=None,
        help="serve the Web Scheduler, the public booking page, on this port (docs/web-scheduler.md); 0 = any",
    )
    run.add_argument("--web-host", default=None, help="address for the Web Scheduler (default: --host)")
    run.add_argument(
        "--public-url",
        default="",
        help="the URL the phone system was configured with (signatures are checked against it)",
    )
    run.add_argument(
        "--twilio-auth-token-file",
        default="",
        help="file holding the phone system's auth token (else $CSR_TWILIO_AUTH_TOKEN)",
    )
    run.add_argument("--caller-id", default="", help="the number customers see when a CSR calls them")
    run.add_argument(
        "--twilio-account-sid",
        default="",
        help="the phone system's account, to place click-to-call calls (else $CSR_TWILIO_ACCOUNT_SID)",
    )
    run.add_argument(
        "--twilio-api-base",
        default="https://api.twilio.com",
        help="the phone system's REST API (default: Twilio's)",
    )
    run.add_argument(
        "--servicechannel",
        default="",
        help="serve ServiceChannel work orders with this setup file (docs/servicechannel.md)",
    )
    run.add_argument(
        "--stale-call-minutes",
        type=float,
        default=120.0,
        help="a call not ended whose last event is older than this shows as stale on the floor, "
        "and a supervisor may close it (default 120)",
    )
    run.add_argument(
        "--agent-offline-seconds",
        type=float,
        default=15.0,
        help="a CSR whose console disconnected shows Offline after this long (default 15)",
    )
    run.add_argument(
        "--poll-interval",
        type=float,
        default=1.0,
        help="seconds between checks of the change log for commits made elsewhere "
        "(the fallback when a PostgreSQL notification is lost)",
    )
    from .notify_service import add_arguments as notify_arguments

    notify_arguments(run)
    setup = sub.add_parser("setup", help="the company setup (docs/setup-file.md)")
    ssub = setup.add_subparsers(dest="setup_command", required=True)
    simp = ssub.add_parser("import", help="load a setup file; connected consoles receive it")
    simp.add_argument("file", help="the setup file (YAML)")
    simp.add_argument("--dry-run", action="store_true", help="show what would change, save nothing")
    sexp = ssub.add_parser("export", help="write the server's setup to a file ('-' for the screen)")
    sexp.add_argument("file")
    from .phone_seats_cli import add_phone_seat_parser, cmd_phone_seat, cmd_phone_settings

    add_phone_seat_parser(sub)
    args = p.parse_args(argv)
    logging.basicConfig(
        level=getattr(logging, str(args.log_level).upper(), logging.INFO),
        format="ts=%(asctime)s level=%(levelname)s logger=%(name)s %(message)s",
    )
    logging.getLogger("alembic").setLevel(logging.WARNING)  # migrations: only what goes wrong
    if args.command == "init":
        return cmd_init(args)
    if args.command == "user":
        return cmd_user(args)
    if args.command == "setup":
        return cmd_setup(args)
    if args.command == "phone-seat":
        return cmd_phone_seat(args, _sessions(args.db))
    if args.command == "phone-settings":
        return cmd_phone_settings(args, _sessions(args.db))
    return asyncio.run(_serve(args))


if __name__ == "__main__":
    raise SystemExit(main())
