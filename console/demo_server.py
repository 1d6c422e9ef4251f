"""`csr-console --demo` runs a real `csr-server` on 127.0.0.1 with a throw-away SQLite store that holds
the demo company, and signs in as a demo CSR; `csr-console --demo --join` opens a second window
against the same server as another CSR (it copies the records through the initial sync), so two
CSRs see each other's bookings live.

Qt-free: the console calls it before building the window.
"""

from __future__ import annotations

import json
import os
import secrets
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sync.parent_watch import child_env

DEMO_PASSWORD = "demo password"  # the demo's throw-away server only
DEMO_USERS = [
    ("dana", "Dana Reyes", "csr"),
    ("lee", "Lee Park", "csr"),
    ("sam", "Sam Ortiz", "supervisor"),
    ("admin", "Demo Admin", "admin"),
]
START_TIMEOUT = 30.0
DEMO_CALL_RATE = 0.04  # a call every 25 s: enough to see bubbles ring, not a flood
TOKEN_ENV = "CSR_TWILIO_AUTH_TOKEN"
DEMO_ACCOUNT = "AC" + "d" * 32  # the stand-in's account (sync/msgsim.py); no real account is used
DEMO_SMS_FROM = "+19725550100"
# The ServiceChannel stand-in (sync/scsim.py, not ServiceChannel): a work order soon after the start, then
# one every 90 s, delivered by signed webhook to the demo server's receiver.
DEMO_WORK_ORDER_FIRST = 12.0
DEMO_WORK_ORDER_EVERY = 90.0
DEMO_SC_JOB_TYPES = {
    "HVAC": "AC Not Cooling",
    "PLUMBING": "Leak Repair",
    "ELECTRICAL": "Outlet/Switch Repair",
}
# The demo CSR's phone seat (docs/phone.md): a direct seat, no registrar. Her softphone listens on a loopback
# UDP port, and the phone simulator INVITEs it there when the server's answer rings her <Sip>.
DEMO_SEAT_TALK_S = 90.0  # a caller Dana answers hangs up after this long (or when she does: F9)
NO_PHONE = "the softphone needs pjsua2-python, which is published for Linux x86-64 (Python 3.11) only"
DEMO_NOTIFICATIONS = {
    "enabled": True,
    "company_phone": "(972) 555-0100",
    "quiet_hours": {},  # a demo runs at any hour: its confirmations must show at once
    "reminder": {"day_before_at": "17:00"},
}


def rendezvous_path() -> Path:
    """Where the first demo window leaves its server's address for `--demo --join`."""
    return (
        Path(tempfile.gettempdir())
        / f"csr-console-demo-{os.getuid() if hasattr(os, 'getuid') else 'user'}.json"
    )


@dataclass
class DemoServer:
    url: str
    process: subprocess.Popen | None
    store: Path | None
    webhooks: str = ""  # the server's webhook address (the simulated phone system's)
    web: str = ""  # the Web Scheduler's page (docs/web-scheduler.md)
    callsim: subprocess.Popen | None = None
    msgsim: subprocess.Popen | None = None  # the text service's stand-in (sync/msgsim.py)
    scsim: subprocess.Popen | None = None  # the ServiceChannel stand-in (sync/scsim.py)
    sent_log: Path | None = None  # one JSON line per text the stand-in took (the Sent messages window)
    seat: str = ""  # the demo CSR's phone seat (sip:dana@127.0.0.1:port), "" without one
    ended: dict[str, int] = field(default_factory=dict)  # child → exit code, once reaped

    def children(self) -> dict[str, subprocess.Popen]:
        """The processes this console started: "server", "phone simulator"."""
        return {
            name: p
            for name, p in (
                ("server", self.process),
                ("phone simulator", self.callsim),
                ("text service stand-in", self.msgsim),
                ("ServiceChannel stand-in", self.scsim),
            )
            if p is not None
        }

    def reap(self) -> list[str]:
        """Collect any child that has exited (``poll`` waits for it, so no zombie is left); returns the
        names of those that ended since the last call. The console calls this every few seconds."""
        ended = []
        for name, process in self.children().items():
            if name not in self.ended and process.poll() is not None:
                self.ended[name] = process.returncode
                ended.append(name)
        return ended

    def stop(self) -> None:
        """SIGTERM, then wait: the server finishes in-flight requests and exits cleanly."""
        if self.callsim is not None and self.callsim.poll() is None:
            self.callsim.terminate()
            try:
                self.callsim.wait(5)
            except subprocess.TimeoutExpired:
                self.callsim.kill()
                self.callsim.wait(5)
        for helper in (self.msgsim, self.scsim):
            if helper is not None and helper.poll() is None:
                helper.terminate()
                try:
                    helper.wait(5)
                except subprocess.TimeoutExpired:
                    helper.kill()
                    helper.wait(5)
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)
        self.reap()  # one that had died already is collected too
        path = rendezvous_path()
        try:
            if json.loads(path.read_text()).get("url") == self.url:
                path.unlink()
        except (OSError, ValueError):
            pass


def server_command() -> list[str]:
    """How to start `csr-server` from this console: the module, or the bundle's own executable."""
    if getattr(sys, "frozen", False):
        return [sys.executable, "server"]
    return [sys.executable, "-m", "sync.server_cli"]


def msgsim_command() -> list[str]:
    if getattr(sys, "frozen", False):
        return [sys.executable, "msgsim"]
    return [sys.executable, "-m", "sync.msgsim"]


def scsim_command() -> list[str]:
    if getattr(sys, "frozen", False):
        return [sys.executable, "scsim"]
    return [sys.executable, "-m", "sync.scsim"]


def callsim_command() -> list[str]:
    if getattr(sys, "frozen", False):
        return [sys.executable, "callsim"]
    return [sys.executable, "-m", "sync.callsim"]


def prepare_store(cache_path: Path, store: Path) -> None:
    """The server's store is a copy of the freshly generated demo cache (same ids), with the demo
    accounts; the console's cache is marked as already holding the server's data."""
    src = sqlite3.connect(str(cache_path))
    dst = sqlite3.connect(str(store))
    try:
        src.backup(dst)
    finally:
        src.close()
    dst.execute("DELETE FROM outbox")
    dst.execute("DELETE FROM client_state")
    dst.execute("DELETE FROM sync_state")
    dst.execute("DELETE FROM drafts")
    dst.commit()
    dst.close()
    from sqlalchemy.orm import sessionmaker

    from models.db import open_server_db
    from sync.auth import Accounts, token_secret

    engine = open_server_db(str(store))
    try:
        sessions = sessionmaker(engine, expire_on_commit=False)
        token_secret(sessions)
        _notifications_on(sessions)
        accounts = Accounts(sessions)
        for username, display, role in DEMO_USERS:
            accounts.add_user(username, display, role, DEMO_PASSWORD)
    finally:
        engine.dispose()
    from models.db import open_cache
    from sync.snapshot import mark_synced

    cache = open_cache(cache_path)
    try:
        _notifications_on(cache.sessions)
        mark_synced(cache, 0)
    finally:
        cache.close()


def phone_missing() -> str:
    """Why this machine can't run the softphone, or "" when it can (the pjsua2 wheel is installed)."""
    import importlib.util

    try:
        found = importlib.util.find_spec("pjsua2") is not None
    except (ImportError, ValueError):
        found = False
    return "" if found else NO_PHONE


def free_udp_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.bind((host, 0))
        return int(probe.getsockname()[1])


def add_demo_seat(store: Path) -> tuple[str, str]:
    """Give the demo CSR a direct phone seat on a free loopback UDP port: (address, "") — or ("", why
    not) when the softphone can't run here. The demo then runs without a seat."""
    why = phone_missing()
    if why:
        return "", why
    from sqlalchemy.orm import sessionmaker

    from models.db import open_server_db
    from sync.phone_seats import set_seat

    user = DEMO_USERS[0][0]
    address = f"sip:{user}@127.0.0.1:{free_udp_port()}"
    engine = open_server_db(str(store))
    try:
        set_seat(sessionmaker(engine, expire_on_commit=False), user,
                 {"sip_address": address, "registrar": "", "user": user})  # fmt: skip
    finally:
        engine.dispose()
    return address, ""


def _notifications_on(sessions: Any) -> None:
    """The demo company texts its customers (docs/notifications.md), through the local stand-in."""
    from models.setup import CompanySetting

    with sessions.begin() as session:
        session.merge(CompanySetting(key="notifications", value=DEMO_NOTIFICATIONS))


def start_msgsim(token: str, log: Any, sent_log: Path) -> tuple[subprocess.Popen, str]:
    """The stand-in of the text service (not Twilio): it takes the server's texts, logs each one to
    ``sent_log`` and posts signed status callbacks back."""
    cmd = [
        *msgsim_command(),
        *("--port", "0", "--account-sid", DEMO_ACCOUNT, "--log", str(sent_log), "--exit-with-parent"),
    ]
    process = subprocess.Popen(
        cmd,
        stdout=subprocess.PIPE,
        stderr=log,
        stdin=subprocess.DEVNULL,
        env=child_env({**os.environ, TOKEN_ENV: token}),
    )
    assert process.stdout is not None
    line = process.stdout.readline().decode(errors="replace")
    if "http://" not in line:
        process.kill()
        raise RuntimeError("the text service stand-in did not start")
    process.stdout.close()
    return process, line.strip().rsplit(" ", 1)[1]


def start_scsim(folder: Path, log: Any) -> tuple[subprocess.Popen, Path]:
    """The ServiceChannel stand-in (not ServiceChannel) and the demo server's setup file for it: its
    secrets in files only this user can read (as a real setup), the receiver subscribed at start, the
    demo company's job types for the stand-in's trades. Returns the process and the setup file."""
    secret = folder / "sc-client-secret"
    password = folder / "sc-password"
    for path, value in ((secret, secrets.token_hex(16)), (password, "sim-password")):
        path.write_text(value + "\n", encoding="utf-8")
        os.chmod(path, 0o600)
    cmd = [
        *scsim_command(),
        "--port",
        "0",
        "--client-secret-file",
        str(secret),
        "--demo",
        "--demo-first",
        str(DEMO_WORK_ORDER_FIRST),
        "--demo-every",
        str(DEMO_WORK_ORDER_EVERY),
        "--exit-with-parent",
    ]
    process = subprocess.Popen(
        cmd, stdout=subprocess.PIPE, stderr=log, stdin=subprocess.DEVNULL, env=child_env()
    )
    assert process.stdout is not None
    line = process.stdout.readline().decode(errors="replace")
    if "http://" not in line:
        process.kill()
        process.wait(5)
        raise RuntimeError("the ServiceChannel stand-in did not start")
    process.stdout.close()
    url = line.strip().rsplit(" ", 1)[1]
    job_types = "\n".join(
        f'    - {{trade: {trade}, category: "*", job_type: "{job_type}"}}'
        for trade, job_type in DEMO_SC_JOB_TYPES.items()
    )
    setup = folder / "servicechannel.yaml"
    setup.write_text(
        f"""# The demo's ServiceChannel: the local stand-in csr-scsim (docs/servicechannel.md).
servicechannel:
  api_base: {url}
  login_base: {url}
  client_id: csr-console
  client_secret_file: {secret.name}
  username: provider-api
  password_file: {password.name}
  webhook: {{host: 127.0.0.1, port: 0, public_url: auto}}
  poll_seconds: 60
  lookback_hours: 1
  rate_limit: {{calls: 20, seconds: 60}}
  job_types:
{job_types}
""",
        encoding="utf-8",
    )
    return process, setup


def start_server(store: Path, log_path: Path, *, calls: bool = True, seat: str = "") -> DemoServer:
    """The demo's server; with ``calls``, its webhook port too (a throw-away auth token shared with the
    simulator through the environment, never a command line). ``seat``: the demo CSR's direct seat
    (add_demo_seat), which the phone simulator then rings for real."""
    log = log_path.open("ab")
    token = secrets.token_hex(16)
    cmd = [
        *server_command(),
        "--db",
        str(store),
        "run",
        "--host",
        "127.0.0.1",
        "--port",
        "0",
        "--exit-with-parent",
    ]
    msgsim = None
    sent_log = store.parent / "sent-messages.jsonl"
    if calls:
        cmd += ["--http-port", "0"]
        msgsim, msgsim_url = start_msgsim(token, log, sent_log)
        cmd += [
            "--twilio-account-sid",
            DEMO_ACCOUNT,
            "--twilio-api-base",
            msgsim_url,
            "--sms-from",
            DEMO_SMS_FROM,
        ]
    cmd += ["--web-port", "0"]  # the Web Scheduler: a booking made there reaches the demo's inbox
    scsim = None
    if calls:  # ServiceChannel work orders now and then, into the Bookings inbox
        scsim, sc_setup = start_scsim(store.parent, log)
        cmd += ["--servicechannel", str(sc_setup)]
    process = subprocess.Popen(
        cmd,
        stdout=subprocess.PIPE,
        stderr=log,
        stdin=subprocess.DEVNULL,
        env=child_env({**os.environ, TOKEN_ENV: token}),
    )
    deadline = time.monotonic() + START_TIMEOUT
    assert process.stdout is not None
    url = webhooks = web = sc_receiver = ""
    # Every line the server prints at start is read before its stdout is closed (a print to a closed
    # pipe would stop it).
    while time.monotonic() < deadline and not (
        url and web and (webhooks or not calls) and (sc_receiver or scsim is None)
    ):
        line = process.stdout.readline().decode(errors="replace")
        if not line:
            break
        if "ServiceChannel webhooks on " in line:  # before "webhooks on ", which it contains
            sc_receiver = line.strip().split("ServiceChannel webhooks on ", 1)[1]
        elif "listening on " in line:
            url = line.strip().split("listening on ", 1)[1]
        elif "webhooks on " in line:
            webhooks = line.strip().split("webhooks on ", 1)[1]
        elif "web scheduler on " in line:
            web = line.strip().split("web scheduler on ", 1)[1]
    if not url or (calls and not webhooks) or (scsim is not None and not sc_receiver):
        process.kill()
        for helper in (msgsim, scsim):
            if helper is not None:
                helper.kill()
                helper.wait(5)
        raise RuntimeError(f"the demo server did not start (see {log_path})")
    process.stdout.close()
    rendezvous_path().write_text(json.dumps({"url": url, "pid": process.pid}))
    server = DemoServer(
        url,
        process,
        store,
        webhooks,
        web=web,
        msgsim=msgsim,
        scsim=scsim,
        sent_log=sent_log if calls else None,
        seat=seat,
    )
    if calls:
        server.callsim = start_callsim(webhooks, token, store, log, seat=bool(seat))
    return server


def start_callsim(
    webhooks: str, token: str, store: Path, log: Any, *, seat: bool = False
) -> subprocess.Popen:
    """The simulated phone system: a call every ~25 s to the demo company's tracking numbers, mostly
    from its customers' phones (so the bubble pops a known customer), some unknown or anonymous. With
    ``seat``, a call the server rings at a SIP seat reaches it as a real INVITE (``--sip-direct``)."""
    conn = sqlite3.connect(str(store))
    try:
        tracking = [r[0] for r in conn.execute("SELECT number FROM tracking_numbers ORDER BY number")]
        callers = [
            r[0]
            for r in conn.execute(
                "SELECT DISTINCT value FROM contact_methods WHERE kind IN "
                "('Phone', 'MobilePhone') ORDER BY random() LIMIT 60"
            )
        ]
    finally:
        conn.close()
    callers += [f"+1415555{n:04d}" for n in range(150, 165)]  # callers nobody knows yet
    numbers = store.parent / "callers.txt"  # in the demo's throw-away profile: removed with it
    numbers.write_text("\n".join(callers) + "\n", encoding="utf-8")
    cmd = [
        *callsim_command(),
        "--url",
        webhooks,
        "--rate",
        str(DEMO_CALL_RATE),
        "--count",
        "0",
        "--speed",
        "1",
        "--from-file",
        str(numbers),
        "--agent",
        DEMO_USERS[0][0],
        "--agent",
        DEMO_USERS[1][0],
        "--start-after",
        "6",
        "--exit-with-parent",
    ]
    for number in tracking:
        cmd += ["--to", number]
    if seat:
        cmd += ["--sip-direct", "--talk", str(DEMO_SEAT_TALK_S)]
    return subprocess.Popen(
        cmd,
        stdout=subprocess.DEVNULL,
        stderr=log,
        stdin=subprocess.DEVNULL,
        env=child_env({**os.environ, TOKEN_ENV: token}),
    )


def find_running() -> DemoServer | None:
    """The server of a demo window already open on this machine (for `--demo --join`)."""
    try:
        data = json.loads(rendezvous_path().read_text())
    except (OSError, ValueError):
        return None
    pid = int(data.get("pid") or 0)
    try:
        os.kill(pid, 0)
    except (OSError, ValueError):
        return None
    return DemoServer(str(data["url"]), None, None)
