"""What consoles may read is an allow-list (models/sync_tables.py CONSOLE_TABLES): every table of the
schema is classified, and a server-only or unclassified table never reaches a console — not by fetch,
snapshot, nor the change log."""

from __future__ import annotations

import pytest
from sqlalchemy import Column, MetaData, String, Table, select
from sqlalchemy.orm import sessionmaker

from models.accounts import LoginThrottle, ServerSecret
from models.base import utcnow
from models.db import open_server_db
from models.schema import metadata
from models.sync_tables import CONSOLE_TABLES, LOCAL_TABLES, NOT_SYNCED, SERVER_ONLY_TABLES, ChangeRow
from sync.apply import Applier
from sync.auth import Accounts
from sync.changes import ChangeCollector, console_may_read, synced_tables
from sync.protocol import ProtocolError


def test_every_table_of_the_schema_is_classified_once() -> None:
    # A new table must be put in exactly one set: consoles read it, or it stays on its side.
    tables = set(metadata.tables)
    unclassified = tables - CONSOLE_TABLES - LOCAL_TABLES - SERVER_ONLY_TABLES
    assert not unclassified, f"classify these tables in models/sync_tables.py: {sorted(unclassified)}"
    assert not CONSOLE_TABLES & LOCAL_TABLES and not CONSOLE_TABLES & SERVER_ONLY_TABLES
    assert not LOCAL_TABLES & SERVER_ONLY_TABLES
    assert CONSOLE_TABLES <= tables, f"allowed but not in the schema: {sorted(CONSOLE_TABLES - tables)}"
    assert NOT_SYNCED == LOCAL_TABLES | SERVER_ONLY_TABLES


def test_secrets_and_throttle_are_server_only() -> None:
    assert {"server_secrets", "auth_login_throttle", "call_events", "agent_states"} <= SERVER_ONLY_TABLES
    assert "users" in CONSOLE_TABLES


def test_synced_tables_are_the_allow_list_in_dependency_order() -> None:
    names = synced_tables()
    assert set(names) == CONSOLE_TABLES
    order = {name: i for i, name in enumerate(names)}
    for name in names:
        for fk in metadata.tables[name].foreign_keys:
            parent = fk.column.table.name
            if parent in order and parent != name:
                assert order[parent] < order[name], (parent, name)


def test_a_table_outside_the_allow_list_is_not_readable_even_if_it_exists() -> None:
    extra = Table("brand_new_server_table", MetaData(), Column("id", String, primary_key=True))
    assert not console_may_read(extra.name)
    assert not console_may_read("no_such_table")
    assert all(console_may_read(t) for t in CONSOLE_TABLES)


@pytest.fixture
def store(tmp_path):
    engine = open_server_db(str(tmp_path / "server.sqlite3"))
    sessions = sessionmaker(engine, expire_on_commit=False)
    Accounts(sessions).add_user("dana", "Dana Reyes", "csr", "correct horse battery")
    with sessions.begin() as s:
        s.add(ServerSecret(name="token", value="ab" * 32))
        s.add(LoginThrottle(username="dana", failures=[1.0], updated_at=utcnow()))
    yield sessions
    engine.dispose()


@pytest.mark.parametrize("table", sorted(SERVER_ONLY_TABLES | LOCAL_TABLES) + ["no_such_table", "*users"])
def test_fetch_and_snapshot_of_a_table_consoles_may_not_read_are_refused(store, table) -> None:
    applier = Applier(store)
    with pytest.raises(ProtocolError) as fetched:
        applier.fetch([[table, "token"]])
    assert fetched.value.code == "bad_message" and "not a table consoles can read" in fetched.value.message
    with pytest.raises(ProtocolError) as copied:
        applier.snapshot(table, "", 10)
    assert copied.value.code == "bad_message"


def test_the_snapshot_plan_lists_only_the_allow_list(store) -> None:
    _columns, plan, _after, done, _version = Applier(store).snapshot("*", "", 1)
    assert done and {name for name, _rows in plan} == CONSOLE_TABLES


def test_users_travel_without_their_password_hash(store) -> None:
    columns, rows, *_ = Applier(store).snapshot("users", "", 10)
    assert rows and all(row[columns.index("password_hash")] == "" for row in rows)
    ((_t, _pk, op, data),) = Applier(store).fetch([["users", rows[0][columns.index("id")]]])
    assert op == "upsert" and data["password_hash"] == ""


def test_writes_to_other_tables_never_enter_the_change_log(store) -> None:
    with store.begin() as s:
        collector = ChangeCollector(s)
        s.add(LoginThrottle(username="someone", failures=[], updated_at=utcnow()))
        s.add(ServerSecret(name="other", value="cd" * 32))
        assert collector.collect() == []
    with store() as s:
        assert not s.scalars(select(ChangeRow).where(ChangeRow.entity.in_(NOT_SYNCED))).all()
