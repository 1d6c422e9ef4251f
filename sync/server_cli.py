"""`csr-server`: init (database + first admin), user add, run (the websocket endpoint).

Qt-free: the server runs where PySide6 is not installed. The store is a SQLite file by default or a
postgresql:// URL; migrations run on start.
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import logging
import signal
import ssl
import sys

from sqlalchemy.orm import sessionmaker

from models.db import open_server_db

from .apply import Applier
from .auth import Accounts, AuthError, token_secret
from .server import SyncServer
from .server_auth import AccountsAuthenticator

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
    token_secret(sessions)                  # the signing key exists from the start
    try:
        Accounts(sessions).add_user(args.admin, args.display_name or args.admin, "admin", _password(args))
    except AuthError as exc:
        print(f"csr-server: {exc.message}", file=sys.stderr)
        return 1
    print(f"csr-server: database ready at {args.db}; admin '{args.admin}' created")
    return 0


def cmd_user_add(args: argparse.Namespace) -> int:
    try:
        Accounts(_sessions(args.db)).add_user(args.name, args.display_name or args.name, args.role,
                                              _password(args))
    except AuthError as exc:
        print(f"csr-server: {exc.message}", file=sys.stderr)
        return 1
    print(f"csr-server: user '{args.name}' ({args.role}) added")
    return 0


async def _serve(args: argparse.Namespace) -> int:
    sessions = _sessions(args.db)
    server = SyncServer(Applier(sessions), AccountsAuthenticator(Accounts(sessions), token_secret(sessions)))
    context = None
    if args.tls_cert:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(args.tls_cert, args.tls_key)
    endpoint = await server.serve(args.host, args.port, ssl=context)
    port = endpoint.sockets[0].getsockname()[1]
    logging.getLogger("csr.server").info("event=listening host=%s port=%d tls=%s", args.host, port,
                                         bool(context))
    print(f"csr-server: listening on {'wss' if context else 'ws'}://{args.host}:{port}", flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    # Stop taking connections, let in-flight requests finish (each push is its own transaction:
    # nothing is half-written), then close.
    endpoint.close()
    await endpoint.wait_closed()
    logging.getLogger("csr.server").info("event=stopped")
    return 0


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
    run = sub.add_parser("run", help="serve consoles")
    run.add_argument("--host", default="127.0.0.1")
    run.add_argument("--port", type=int, default=DEFAULT_PORT)
    run.add_argument("--tls-cert")
    run.add_argument("--tls-key")
    args = p.parse_args(argv)
    logging.basicConfig(level=getattr(logging, str(args.log_level).upper(), logging.INFO),
                        format="ts=%(asctime)s level=%(levelname)s logger=%(name)s %(message)s")
    if args.command == "init":
        return cmd_init(args)
    if args.command == "user":
        return cmd_user_add(args)
    return asyncio.run(_serve(args))


if __name__ == "__main__":
    raise SystemExit(main())
