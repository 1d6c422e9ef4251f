"""Users managed by an admin over a real loopback server (sync/user_admin.py, the ``manage_user``
request): only an admin may; add, deactivate, reactivate, change a role, reset a password (the user must
choose a new one at the next sign-in); the last active admin can't be deactivated or demoted; every
change audited (never the password); ``csr-server user`` keeps working alongside."""

from __future__ import annotations

import json
import uuid

import pytest
import websockets
from sqlalchemy import select

from models.journal import AuditEntry
from models.setup import User
from models.sync_tables import ChangeRow
from tests.servers import role_store
from tests.unit.test_roles import PASSWORD, Console, _serve

NEW = "violet tangerine lighthouse"


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request, tmp_path):
    """The server's database: a SQLite file, and a real PostgreSQL (the admin rows locked FOR UPDATE)."""
    with role_store(request, tmp_path) as made:
        yield made


async def _login(url: str, username: str, password: str, new_password: str | None = None) -> dict:
    async with websockets.connect(url) as ws:
        await ws.send(json.dumps({"type": "hello", "protocol": 1, "client_id": uuid.uuid4().hex}))
        await ws.recv()
        message = {"type": "login", "username": username, "password": password}
        if new_password:
            message["new_password"] = new_password
        await ws.send(json.dumps(message))
        return json.loads(await ws.recv())


def _manage(action: str, username: str, **extra) -> dict:
    return {"type": "manage_user", "id": "m1", "action": action, "username": username, **extra}


def _user(sessions, username: str) -> User:
    with sessions() as s:
        user = s.scalars(select(User).where(User.username == username)).one()
        s.expunge(user)
        return user


def test_only_an_admin_may_manage_users(store):
    sessions, accounts = store

    async def scenario(url: str) -> None:
        for role in ("csr", "supervisor", "manager"):
            who = await Console.open(url, f"{role}1")
            answer = await who.ask(_manage("add", "newbie", role="admin", password=PASSWORD))
            assert answer["type"] == "error" and answer["code"] == "forbidden" and answer["id"] == "m1", (
                answer
            )
            answer = await who.ask(_manage("deactivate", "admin1"))
            assert answer["code"] == "forbidden"
            await who.ws.close()
        with sessions() as s:
            assert s.scalar(select(User).where(User.username == "newbie")) is None
            assert s.scalars(select(AuditEntry).where(AuditEntry.entity == "users")).all() == []
        assert _user(sessions, "admin1").active

    _serve(sessions, accounts, scenario)


def test_admin_adds_changes_role_deactivates_and_every_change_is_audited(store):
    sessions, accounts = store

    async def scenario(url: str) -> None:
        admin = await Console.open(url, "admin1")
        added = await admin.ask(
            _manage("add", "Jo.Smith", display_name="Jo Smith", role="csr", password=PASSWORD)
        )
        assert added["type"] == "user_managed", added
        assert added["user"]["username"] == "jo.smith" and added["user"]["role"] == "csr"
        assert added["user"]["must_change_password"] is True  # the first password was the admin's
        # A bad role or a weak password: refused with the sentence, nothing changed.
        bad = await admin.ask(_manage("set_role", "jo.smith", role="boss"))
        assert bad["code"] == "user_refused" and "The role must be one of" in bad["message"]
        weak = await admin.ask(_manage("add", "kim", password="12345678"))
        assert weak["code"] == "user_refused" and weak["details"]["reason"] == "weak_password"
        promoted = await admin.ask(_manage("set_role", "jo.smith", role="supervisor"))
        assert promoted["user"]["role"] == "supervisor"
        gone = await admin.ask(_manage("deactivate", "jo.smith"))
        assert gone["user"]["active"] is False
        assert (await _login(url, "jo.smith", PASSWORD))["code"] == "auth_failed"
        back = await admin.ask(_manage("reactivate", "jo.smith"))
        assert back["user"]["active"] is True
        unknown = await admin.ask(_manage("deactivate", "nobody"))
        assert unknown["code"] == "user_refused" and "no user named nobody" in unknown["message"]
        # The connection lives on after refusals.
        assert (await admin.ask({"type": "ping", "id": "p"}))["type"] == "pong"

    _serve(sessions, accounts, scenario)
    jo = _user(sessions, "jo.smith")
    with sessions() as s:
        audit = s.scalars(
            select(AuditEntry).where(AuditEntry.entity_id == jo.id).order_by(AuditEntry.id)
        ).all()
        published = s.scalars(
            select(ChangeRow).where(ChangeRow.entity == "users", ChangeRow.entity_id == jo.id)
        )
        assert published.first() is not None  # every console learns the user
    assert [a.action for a in audit] == ["user_add", "user_set_role", "user_deactivate", "user_reactivate"]
    assert {a.actor for a in audit} == {"Admin"}
    assert audit[1].details["before"]["role"] == "csr" and audit[1].details["after"]["role"] == "supervisor"
    assert PASSWORD not in json.dumps([a.details for a in audit])  # never a password in the audit


def test_the_last_active_admin_cannot_be_deactivated_or_demoted(store):
    sessions, accounts = store

    async def scenario(url: str) -> None:
        admin = await Console.open(url, "admin1")
        for message in (_manage("deactivate", "admin1"), _manage("set_role", "admin1", role="manager")):
            answer = await admin.ask(message)
            assert answer["code"] == "user_refused" and "last active admin" in answer["message"], answer
            assert answer["details"]["reason"] == "last_admin"
        assert _user(sessions, "admin1").active and _user(sessions, "admin1").role.value == "admin"
        # With a second admin, the first may step down; then the second is the last one.
        assert (await admin.ask(_manage("set_role", "manager1", role="admin")))["type"] == "user_managed"
        assert (await admin.ask(_manage("set_role", "admin1", role="manager")))["user"]["role"] == "manager"
        second = await Console.open(url, "manager1")
        answer = await second.ask(_manage("deactivate", "manager1"))
        assert answer["code"] == "user_refused" and "last active admin" in answer["message"]

    _serve(sessions, accounts, scenario)


def test_a_reset_password_must_be_changed_at_the_next_sign_in(store):
    sessions, accounts = store

    async def scenario(url: str) -> None:
        admin = await Console.open(url, "admin1")
        temporary = "copper walrus umbrella"
        reset = await admin.ask(_manage("reset_password", "csr1", password=temporary))
        assert reset["user"]["must_change_password"] is True
        assert (await _login(url, "csr1", PASSWORD))["code"] == "auth_failed"  # the old one is gone
        asked = await _login(url, "csr1", temporary)
        assert asked["type"] == "error" and asked["code"] == "password_change_required", asked
        same = await _login(url, "csr1", temporary, new_password=temporary)
        assert same["code"] == "weak_password" and "not the temporary one" in same["message"]
        signed_in = await _login(url, "csr1", temporary, new_password=NEW)
        assert signed_in["type"] == "logged_in" and signed_in["user"]["role"] == "csr"
        assert (await _login(url, "csr1", NEW))["type"] == "logged_in"  # no longer asked
        assert (await _login(url, "csr1", temporary))["code"] == "auth_failed"

    _serve(sessions, accounts, scenario)
    assert not _user(sessions, "csr1").must_change_password


def test_scripts_keep_csr_server_user(store):
    sessions, accounts = store
    accounts.add_user("script1", "Script", "csr", PASSWORD)  # what `csr-server user add` calls
    accounts.deactivate("script1")
    assert not _user(sessions, "script1").active and not _user(sessions, "script1").must_change_password
