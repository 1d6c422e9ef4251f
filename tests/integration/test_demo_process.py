"""`csr-console --demo` as a real process: it starts, and SIGTERM closes it cleanly, removing the
throw-away profile (no demo data left behind on a CSR's PC)."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def start_demo(*args: str) -> tuple[subprocess.Popen, Path]:
    """`csr-console --demo` over 300 customers as a real process (offscreen), and its throw-away profile
    (named on its first line). Whoever starts it kills it when done."""
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", QT_API="pyside6")
    proc = subprocess.Popen(
        [sys.executable, "-m", "console.app", "--demo", "--demo-customers", "300", *args],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        first = proc.stdout.readline()
        found = re.search(r"customers in (\S+) ", first)
        assert found, (
            f"no profile named: {first!r} {proc.stderr.read()[-2000:] if proc.poll() is not None else ''}"
        )
        return proc, Path(found.group(1))
    except BaseException:
        proc.kill()
        proc.wait()
        raise


def test_demo_starts_and_sigterm_closes_it_cleanly():
    proc, profile = start_demo()
    try:
        assert profile.exists()
        deadline = time.monotonic() + 120
        line = ""
        while "is running" not in line and time.monotonic() < deadline:
            line = proc.stdout.readline()
            if not line and proc.poll() is not None:
                break
        assert "is running" in line, proc.stderr.read()[-2000:]
        time.sleep(8)  # the phone simulator's first call is under way (it starts after 6 s)
        family = _descendants(proc.pid)  # the server, the stand-ins, the simulators, the softphones
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0
        assert not profile.exists()
        # Nothing it started lives on (a SIGTERMed simulator whose wind-down hung once did, for good).
        for pid, cmd in family.items():
            _wait_gone(pid, f"{cmd} outlived the demo console closed with SIGTERM", timeout=25)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def _wait_for(proc, text: str, timeout: float = 120) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if text in line:
            return line
        if not line and proc.poll() is not None:
            break
    raise AssertionError(f"no '{text}' from the process: {proc.stderr.read()[-2000:]}")


def _descendants(pid: int) -> dict[int, str]:
    """Every process below ``pid`` (children, theirs, …): pid → command line, read from /proc."""
    parents: dict[int, int] = {}
    commands: dict[int, str] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
                cmd = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            except OSError:
                continue
            parents[int(entry.name)] = int(stat.rsplit(")", 1)[1].split()[1])
            commands[int(entry.name)] = cmd.strip()
    found: dict[int, str] = {}
    wanted = [pid]
    while wanted:
        parent = wanted.pop()
        for child, its_parent in parents.items():
            if its_parent == parent and child not in found:
                found[child] = commands[child]
                wanted.append(child)
    return found


def _wait_gone(pid: int, why: str, timeout: float = 15) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return
        assert time.monotonic() < deadline, why
        time.sleep(0.1)


def _count(path: Path, sql: str) -> int:
    import sqlite3

    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5)
        try:
            row = conn.execute(sql).fetchone()
            return row[0] if row else -1
        finally:
            conn.close()
    except sqlite3.Error:
        return -1


def test_demo_server_and_a_joining_second_csr_see_each_others_changes(tmp_path):
    """--demo runs a real csr-server; --demo --join copies the records from it and receives a change
    pushed by another console live; SIGTERM stops the window and its server."""
    import asyncio

    from console.demo_server import DEMO_PASSWORD
    from models.db import open_cache
    from models.writer import LocalWriter
    from sync.client import SyncClient, login
    from tests.unit.conftest import customer_args

    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", QT_API="pyside6")
    first = subprocess.Popen(
        [sys.executable, "-m", "console.app", "--demo", "--demo-customers", "300"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    second = None
    try:
        url = _wait_for(first, "Demo server running at").split(" at ", 1)[1].split(";")[0].strip()
        _wait_for(first, "is running")
        second = subprocess.Popen(
            [sys.executable, "-m", "console.app", "--demo", "--join"],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        joined = _wait_for(second, "Joining the demo server")
        assert url in joined
        cache = Path(re.search(r"\(profile (\S+)\)", joined).group(1)) / "cache.sqlite3"
        deadline = time.monotonic() + 120
        while _count(cache, "SELECT value FROM sync_state WHERE key = 'snapshot_done'") != 1:
            assert time.monotonic() < deadline, "the second window never finished its initial copy"
            time.sleep(0.2)
        # The 300 demo customers, and the clients of ServiceChannel work orders the demo's stand-in has
        # sent so far (each client becomes a customer when its first work order arrives).
        # A work order pulled meanwhile may bring its client a moment before the work order itself: the
        # customers that are not a work order's client settle at the 300 demo customers.
        demo_customers = (
            "SELECT count(*) FROM customers WHERE id NOT IN"
            " (SELECT customer_id FROM work_orders WHERE customer_id IS NOT NULL)"
        )
        deadline = time.monotonic() + 20
        while (seen := _count(cache, demo_customers)) != 300:
            assert time.monotonic() < deadline, f"{seen} customers besides the work orders' clients"
            time.sleep(0.2)

        async def push_one() -> str:
            other = open_cache(tmp_path / "other.sqlite3")
            try:
                client = SyncClient(other, url, token=lambda: None, backoff=(0.05, 0.5))
                token, _user = await login(url, client.client_id, "sam", DEMO_PASSWORD)
                client.token = lambda: token
                task = asyncio.create_task(client.run())
                while not (client.status.state == "online"):
                    await asyncio.sleep(0.05)
                cid = (
                    LocalWriter(other.sessions, actor="Sam Ortiz")
                    .execute("create_customer", customer_args(name="Zelda Live-Update"))
                    .applied.entity_id
                )
                client.wake()
                while client.pending():
                    await asyncio.sleep(0.05)
                client.stop()
                await asyncio.wait_for(task, 10)
                return cid
            finally:
                other.close()

        cid = asyncio.run(asyncio.wait_for(push_one(), 120))
        deadline = time.monotonic() + 30
        while _count(cache, f"SELECT count(*) FROM customers WHERE id = '{cid}'") != 1:
            assert time.monotonic() < deadline, "the second window never received the live change"
            time.sleep(0.1)
        server_pid = int(
            __import__("json").loads(
                __import__("console.demo_server", fromlist=["rendezvous_path"]).rendezvous_path().read_text()
            )["pid"]
        )
        for proc in (second, first):
            proc.send_signal(signal.SIGTERM)
            assert proc.wait(timeout=30) == 0
        _wait_gone(server_pid, "the demo server outlived its window")
    finally:
        for proc in (second, first):
            if proc is not None:
                if proc.poll() is None:
                    proc.kill()
                    proc.wait()
                proc.stdout.close()
                proc.stderr.close()


def test_the_demo_server_does_not_outlive_a_killed_console():
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", QT_API="pyside6")
    proc = subprocess.Popen(
        [sys.executable, "-m", "console.app", "--demo", "--demo-customers", "300"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        _wait_for(proc, "is running")
        from console.demo_server import rendezvous_path

        server_pid = int(__import__("json").loads(rendezvous_path().read_text())["pid"])
        family = _descendants(proc.pid)  # the server, the stand-ins, the simulators, the softphones
        assert server_pid in family
        proc.kill()  # kill -9: no clean-up runs in the console
        proc.wait()
        _wait_gone(server_pid, "the demo server outlived its killed console")
        for pid, cmd in family.items():
            _wait_gone(pid, f"{cmd} outlived the killed demo console")
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        proc.stdout.close()
        proc.stderr.close()


def test_a_demo_child_that_dies_is_reaped_while_the_console_runs():
    """kill -9 the demo's server under a running console: the console collects it (no zombie left in
    the process table) and keeps running."""
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", QT_API="pyside6")
    proc = subprocess.Popen(
        [sys.executable, "-m", "console.app", "--demo", "--demo-customers", "300"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        _wait_for(proc, "is running")
        from console.demo_server import rendezvous_path

        server_pid = int(__import__("json").loads(rendezvous_path().read_text())["pid"])
        os.kill(server_pid, signal.SIGKILL)
        # A zombie still answers signal 0: gone means the console waited for it.
        _wait_gone(server_pid, "the killed demo server was left a zombie")
        assert proc.poll() is None
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        proc.stdout.close()
        proc.stderr.close()


def test_watch_children_reaps_an_early_exit_and_stop_waits_for_the_rest(qtbot):
    import pytest
    from PySide6.QtWidgets import QMainWindow

    from console.app import watch_children
    from console.demo_server import DemoServer

    early = subprocess.Popen([sys.executable, "-c", "pass"])
    running = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    server = DemoServer("ws://127.0.0.1:9", early, None, callsim=running)
    window = QMainWindow()
    qtbot.addWidget(window)
    timer = watch_children(server, window)
    timer.setInterval(50)
    try:
        qtbot.waitUntil(lambda: "server" in server.ended, timeout=15_000)
        with pytest.raises(ChildProcessError):
            os.waitpid(early.pid, os.WNOHANG)  # already waited for: no zombie
        assert "server stopped (exit code 0)" in window.statusBar().currentMessage()
        assert "phone simulator" not in server.ended
    finally:
        timer.stop()
        server.stop()  # SIGTERM → wait
    assert server.ended["phone simulator"] == -signal.SIGTERM
    with pytest.raises(ChildProcessError):
        os.waitpid(running.pid, os.WNOHANG)


def test_a_job_booked_in_the_demo_sends_a_confirmation_to_the_text_service_stand_in(tmp_path):
    """The demo server texts the customer through the local stand-in (csr-msgsim): a booking pushed by a
    console shows up in the stand-in's log (the demo's Sent messages window reads it)."""
    import asyncio
    import json
    import sqlite3
    from datetime import date, timedelta

    from console.demo_server import DEMO_PASSWORD
    from models.db import open_cache
    from models.validation import ValidationFailed
    from models.writer import LocalWriter
    from sync.client import SyncClient, login

    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", QT_API="pyside6")
    proc = subprocess.Popen(
        [sys.executable, "-m", "console.app", "--demo", "--demo-customers", "300"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        profile = Path(re.search(r"customers in (\S+) ", proc.stdout.readline()).group(1))
        url = _wait_for(proc, "Demo server running at").split(" at ", 1)[1].split(";")[0].strip()
        _wait_for(proc, "is running")
        # A second console's cache: a copy of the demo's records, with an identity of its own.
        copy = tmp_path / "other.sqlite3"
        src, dst = sqlite3.connect(str(profile / "cache.sqlite3")), sqlite3.connect(str(copy))
        src.backup(dst)
        src.close()
        for table in ("outbox", "client_state", "drafts", "sync_problems"):
            dst.execute(f"DELETE FROM {table}")
        dst.commit()
        unit, job_type = dst.execute(
            "SELECT business_unit_id, job_type_id FROM job_type_business_units LIMIT 1"
        ).fetchone()
        campaign = dst.execute("SELECT id FROM campaigns WHERE active LIMIT 1").fetchone()[0]
        windows = [r[0] for r in dst.execute("SELECT id FROM arrival_windows WHERE active")]
        customer, location = dst.execute(
            "SELECT c.customer_id, l.id FROM contact_methods c JOIN locations l ON l.customer_id = c.customer_id "
            "WHERE c.kind = 'MobilePhone' AND c.notifications AND NOT c.do_not_text LIMIT 1"
        ).fetchone()
        phone = dst.execute(
            "SELECT value FROM contact_methods WHERE customer_id = ? AND kind = 'MobilePhone'", (customer,)
        ).fetchone()[0]
        dst.close()

        async def book() -> str:
            other = open_cache(copy)
            try:
                client = SyncClient(other, url, token=lambda: None, backoff=(0.05, 0.5))
                token, _user = await login(url, client.client_id, "lee", DEMO_PASSWORD)
                client.token = lambda: token
                task = asyncio.create_task(client.run())
                while client.status.state != "online":
                    await asyncio.sleep(0.05)
                writer = LocalWriter(other.sessions, actor="Lee Park")
                number = ""
                for offset in range(3, 12):
                    for window in windows:
                        args = {
                            "job": {
                                "customer_id": customer,
                                "location_id": location,
                                "business_unit_id": unit,
                                "job_type_id": job_type,
                                "campaign_id": campaign,
                                "summary": "No heat upstairs",
                            },
                            "appointment": {
                                "day": (date.today() + timedelta(days=offset)).isoformat(),
                                "arrival_window_id": window,
                            },
                        }
                        try:
                            number = writer.execute("book_job", args).args["job"]["number"]
                            break
                        except ValidationFailed:
                            continue
                    if number:
                        break
                assert number, "no window could be booked"
                client.wake()
                while client.pending():
                    await asyncio.sleep(0.05)
                client.stop()
                await asyncio.wait_for(task, 10)
                return number
            finally:
                other.close()

        number = asyncio.run(asyncio.wait_for(book(), 120))
        log = profile / "sent-messages.jsonl"
        deadline = time.monotonic() + 30
        sent: list[dict] = []
        while time.monotonic() < deadline:
            if log.exists():
                sent = [json.loads(line) for line in log.read_text().splitlines() if line.strip()]
                if any(number in m["body"] for m in sent):
                    break
            time.sleep(0.2)
        confirmation = next((m for m in sent if number in m["body"]), None)
        if confirmation is None:
            store = sqlite3.connect(str(profile / "server.sqlite3"))
            rows = store.execute("SELECT kind, status, to_address, error FROM notifications").fetchall()
            store.close()
            server_log = (profile / "server.log").read_text(errors="replace")[-3000:]
            raise AssertionError(
                f"no confirmation of job {number} reached the stand-in: {rows}\n{server_log}"
            )
        assert confirmation["to"] == phone and "Reply C to confirm" in confirmation["body"]
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0
        assert not profile.exists()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        proc.stdout.close()
        proc.stderr.close()


def _udp_port_taken(port: int) -> bool:
    import socket

    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return True
    return False


def test_the_demo_gives_dana_a_phone_seat_that_her_softphone_listens_at():
    """--demo with the pjsua2 wheel: Dana's direct seat (no registrar) is on the server, her console's
    softphone listens at its loopback port, and the phone simulator rings it (tests/gui/
    test_demo_phone_seat.py plays a whole call through the same wiring)."""
    import sqlite3

    from tests.tools import require_tool

    require_tool("py:pjsua2")
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", QT_API="pyside6")
    proc = subprocess.Popen(
        [sys.executable, "-m", "console.app", "--demo", "--demo-customers", "300"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        first = proc.stdout.readline()
        profile = Path(re.search(r"customers in (\S+) ", first).group(1))
        line = _wait_for(proc, "Phone seat:")
        address = re.search(r"listens at (sip:dana@127\.0\.0\.1:\d+) \(no registrar\)", line).group(1)
        port = int(address.rsplit(":", 1)[1])
        _wait_for(proc, "is running")
        store = sqlite3.connect(str(profile / "server.sqlite3"))
        try:
            seat = store.execute(
                "SELECT sip_address, registrar FROM phone_seats JOIN users ON users.id = phone_seats.user_id "
                "WHERE users.username = 'dana'"
            ).fetchone()
        finally:
            store.close()
        assert seat == (address, "")
        deadline = time.monotonic() + 30
        while not _udp_port_taken(port):  # the console signed in and started the phone: it listens
            assert time.monotonic() < deadline, "Dana's softphone never listened at " + address
            time.sleep(0.2)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0
        deadline = time.monotonic() + 15
        while _udp_port_taken(port):  # the phone left with its console
            assert time.monotonic() < deadline, "the demo's softphone outlived its console"
            time.sleep(0.2)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        proc.stdout.close()
        proc.stderr.close()


def test_without_the_pjsua2_wheel_the_demo_has_no_seat_and_says_why(monkeypatch, tmp_path):
    import importlib.util

    from console import demo_server

    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a, **k: None if name == "pjsua2" else real(name, *a, **k)
    )
    assert demo_server.phone_missing() == demo_server.NO_PHONE
    store = tmp_path / "server.sqlite3"
    assert demo_server.add_demo_seat(store) == ("", demo_server.NO_PHONE)
    assert not store.exists()  # nothing was written: the demo runs without a seat
