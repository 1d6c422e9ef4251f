"""`csr-server` as a real process: init, user add, run, a console logs in over loopback, SIGTERM stops
it cleanly."""

from __future__ import annotations

import asyncio
import json
import signal
import subprocess
import sys
from pathlib import Path

import websockets

ROOT = Path(__file__).resolve().parents[2]


def _cli(*args: str, stdin: str = "") -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "sync.server_cli", *args],
        cwd=ROOT,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_init_user_run_login_and_clean_stop(tmp_path):
    db = str(tmp_path / "server.sqlite3")
    assert _cli("--db", db, "init", "--password-stdin", stdin="admin password 1\n").returncode == 0
    weak = _cli("--db", db, "user", "add", "dana", "--password-stdin", stdin="short\n")
    assert weak.returncode == 1 and "10" in weak.stderr
    assert (
        _cli(
            "--db", db, "user", "add", "dana", "--role", "csr", "--password-stdin", stdin="dana password 1\n"
        ).returncode
        == 0
    )
    proc = subprocess.Popen(
        [sys.executable, "-m", "sync.server_cli", "--db", db, "run", "--port", "0"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        line = proc.stdout.readline()
        assert "listening on ws://127.0.0.1:" in line, proc.stderr.read()
        url = line.split("listening on ")[1].strip()

        async def login() -> dict:
            async with websockets.connect(url) as ws:
                await ws.send(json.dumps({"type": "hello", "protocol": 1, "client_id": "c" * 32}))
                await ws.recv()
                await ws.send(
                    json.dumps({"type": "login", "username": "dana", "password": "dana password 1"})
                )
                return json.loads(await ws.recv())

        answer = asyncio.run(login())
        assert answer["type"] == "logged_in" and answer["user"]["role"] == "csr"
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0
        assert "event=stopped" in proc.stderr.read()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
