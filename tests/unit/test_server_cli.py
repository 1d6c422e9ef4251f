"""`csr-server user …`: the operator's account commands, and what they do to signing in."""

from __future__ import annotations

import io
from datetime import timedelta

import pytest
from sqlalchemy.orm import sessionmaker

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
    assert _run(monkeypatch, ["--db", db, "user", "add", "dana", "--password-stdin"], "another good pass\n") == 0
    accounts = Accounts(sessionmaker(open_server_db(db), expire_on_commit=False))
    now = utcnow()
    for i in range(10):                                            # locks the name
        with pytest.raises(AuthError):
            accounts.login("dana", "wrong password!", now + timedelta(seconds=61 * i))
    later = now + timedelta(seconds=700)
    with pytest.raises(AuthError) as locked:
        accounts.login("dana", "another good pass", later)
    assert locked.value.code == "account_locked"
    assert _run(monkeypatch, ["--db", db, "user", "unlock", "dana"]) == 0
    assert accounts.login("dana", "another good pass", later).username == "dana"
    assert _run(monkeypatch, ["--db", db, "user", "passwd", "dana", "--password-stdin"], "brand new password\n") == 0
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
