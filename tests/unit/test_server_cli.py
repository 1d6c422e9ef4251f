"""`csr-server user …`: the operator's account commands, and what they do to signing in."""

from __future__ import annotations

import io
import signal
import socket
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import pytest
import trustme
from sqlalchemy.orm import sessionmaker

from models.accounts import LoginThrottle
from models.base import utcnow
from models.db import open_server_db
from sync.auth import Accounts, AuthError
from sync.server_cli import main


def _run(monkeypatch, argv: list[str], stdin: str = "") -> int:
    monkeypatch.setattr("sys.stdin", io.StringIO(stdin))
    return main(argv)


def test_user_commands(tmp_path, monkeypatch, capsys):
    db = str(tmp_path / "s.sqlite3")
    assert _run(monkeypatch, ["--db", db, "init", "--password-stdin"], "correct horse battery\n") == 0
    assert (
        _run(monkeypatch, ["--db", db, "user", "add", "dana", "--password-stdin"], "another good pass\n") == 0
    )
    accounts = Accounts(sessionmaker(open_server_db(db), expire_on_commit=False))
    now = utcnow()
    for i in range(10):  # locks the name
        with pytest.raises(AuthError):
            accounts.login("dana", "wrong password!", now + timedelta(seconds=61 * i))
    later = now + timedelta(seconds=700)
    with pytest.raises(AuthError) as locked:
        accounts.login("dana", "another good pass", later)
    assert locked.value.code == "account_locked"
    assert _run(monkeypatch, ["--db", db, "user", "unlock", "dana"]) == 0
    assert accounts.login("dana", "another good pass", later).username == "dana"
    assert (
        _run(monkeypatch, ["--db", db, "user", "passwd", "dana", "--password-stdin"], "brand new password\n")
        == 0
    )
    assert accounts.login("dana", "brand new password", later).username == "dana"
    assert _run(monkeypatch, ["--db", db, "user", "deactivate", "dana"]) == 0
    with pytest.raises(AuthError) as refused:
        accounts.login("dana", "brand new password", later + timedelta(seconds=5))
    assert refused.value.code == "auth_failed"
    assert _run(monkeypatch, ["--db", db, "user", "reactivate", "dana"]) == 0
    # A weak password is refused with the rule it broke, and changes nothing.
    assert _run(monkeypatch, ["--db", db, "user", "passwd", "dana", "--password-stdin"], "short\n") == 1
    assert "at least" in capsys.readouterr().err
    assert accounts.login("dana", "brand new password", later + timedelta(seconds=120)).username == "dana"


# -- `csr-server run`: starting safely -------------------------------------------------------------------
REPO = Path(__file__).resolve().parents[2]


def _server(db: str, *run_args: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "sync.server_cli", "--db", db, "--log-level", "WARNING", "run", *run_args],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


@pytest.fixture
def busy_port():
    """A port some other program already listens on (on every address)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("0.0.0.0", 0))
        sock.listen()
        yield sock.getsockname()[1]


@pytest.fixture(scope="module")
def certs(tmp_path_factory):
    ca = trustme.CA()
    cert = ca.issue_cert("localhost", "127.0.0.1")
    folder = tmp_path_factory.mktemp("tls")
    cert.private_key_pem.write_to_path(str(folder / "key.pem"))
    cert.cert_chain_pems[0].write_to_path(str(folder / "cert.pem"))
    return str(folder / "cert.pem"), str(folder / "key.pem")


def test_a_port_in_use_is_one_line_not_a_traceback(tmp_path, busy_port) -> None:
    proc = _server(str(tmp_path / "s.sqlite3"), "--port", str(busy_port))
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 1
    assert err.strip().splitlines() == [
        f"csr-server: port {busy_port} on 127.0.0.1 is already in use (consoles; is another csr-server running?)"
    ]
    assert "Traceback" not in err + out


def test_listening_beyond_loopback_without_tls_warns_loudly(tmp_path, busy_port) -> None:
    proc = _server(str(tmp_path / "s.sqlite3"), "--host", "0.0.0.0", "--port", str(busy_port))
    _out, err = proc.communicate(timeout=60)
    lines = err.strip().splitlines()
    warning = [line for line in lines if "WARNING" in line]
    assert len(warning) >= 5 and "WITHOUT TLS" in err and "--tls-cert" in err and "clear text" in err
    assert lines[-1].startswith(f"csr-server: port {busy_port} on 0.0.0.0 is already in use")


def test_no_warning_with_tls_or_on_loopback(tmp_path, busy_port, certs) -> None:
    cert, key = certs
    for args in (
        ["--host", "0.0.0.0", "--tls-cert", cert, "--tls-key", key],
        ["--host", "127.0.0.1"],
        ["--host", "localhost"],
    ):
        proc = _server(str(tmp_path / "s.sqlite3"), *args, "--port", str(busy_port))
        _out, err = proc.communicate(timeout=60)
        assert proc.returncode == 1 and "WARNING" not in err and len(err.strip().splitlines()) == 1, (
            args,
            err,
        )


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (
            ["--tls-cert", "/nonexistent/cert.pem", "--tls-key", "/nonexistent/key.pem"],
            "can't read /nonexistent/cert.pem",
        ),
        (["--tls-key", "key.pem"], "--tls-key needs --tls-cert"),
        (["--tls-cert", "KEY", "--tls-key", "KEY"], "can't use the TLS certificate"),
    ],
)
def test_tls_files_that_cannot_be_used_are_one_line(tmp_path, certs, args, says) -> None:
    args = [certs[1] if a == "KEY" else a for a in args]  # a key is not a certificate
    proc = _server(str(tmp_path / "s.sqlite3"), "--port", "0", *args)
    _out, err = proc.communicate(timeout=60)
    assert proc.returncode == 1 and len(err.strip().splitlines()) == 1 and says in err, err


def test_bad_limits_are_refused_by_the_command_line(tmp_path, capsys) -> None:
    for flag, value in (
        ("--login-concurrency", "0"),
        ("--max-connections-per-address", "-1"),
        ("--login-concurrency", "two"),
    ):
        with pytest.raises(SystemExit) as exited:
            main(["--db", str(tmp_path / "s.sqlite3"), "run", flag, value])
        assert exited.value.code == 2
        assert flag in capsys.readouterr().err


def test_a_running_server_purges_the_login_throttle(tmp_path) -> None:
    db = str(tmp_path / "s.sqlite3")
    sessions = sessionmaker(open_server_db(db), expire_on_commit=False)
    old = utcnow() - timedelta(hours=2)
    with sessions.begin() as s:
        s.add(LoginThrottle(username="typo", failures=[old.timestamp()], updated_at=old))
    proc = _server(db, "--port", "0", "--max-connections-per-address", "5", "--login-concurrency", "1")
    try:
        assert proc.stdout.readline().startswith("csr-server: listening on ws://127.0.0.1:")
        deadline = time.monotonic() + 30
        while True:
            with sessions() as s:
                if s.get(LoginThrottle, "typo") is None:
                    break
            assert time.monotonic() < deadline, "the stale throttle row was not purged"
            time.sleep(0.1)
    finally:
        proc.send_signal(signal.SIGTERM)
        _out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
