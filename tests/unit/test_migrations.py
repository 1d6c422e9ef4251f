"""The alembic migration builds the whole schema on SQLite and PostgreSQL, and matches the models."""

from __future__ import annotations

import uuid

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine, inspect, text

from models.db import HEAD_REVISION, current_revision, make_sqlite_engine, migrate
from models.schema import metadata

DOMAIN_TABLES = {
    "customers",
    "locations",
    "contact_methods",
    "memberships",
    "tag_types",
    "notes",
    "business_units",
    "business_unit_groups",
    "job_types",
    "campaigns",
    "campaign_categories",
    "tracking_numbers",
    "call_reasons",
    "arrival_windows",
    "technicians",
    "users",
    "jobs",
    "appointments",
    "leads",
    "calls",
    "call_events",
    "online_bookings",
    "audit",
    "outbox",
}


def _diff(conn) -> list:
    ctx = MigrationContext.configure(conn, opts={"compare_type": True})
    return [
        d
        for d in compare_metadata(ctx, metadata)
        if not (isinstance(d, tuple) and d[0] == "remove_table" and d[1].name.startswith("customer_"))
        and not (isinstance(d, tuple) and d[0] == "remove_index" and "customer_search" in str(d[1]))
    ]


def test_sqlite_upgrade_matches_models_and_downgrades(tmp_path):
    engine = make_sqlite_engine(tmp_path / "m.sqlite3")
    migrate(engine)
    assert current_revision(engine) == HEAD_REVISION
    tables = set(inspect(engine).get_table_names())
    assert DOMAIN_TABLES <= tables
    assert {"customer_search", "customer_fts"} <= tables
    with engine.connect() as conn:
        assert _diff(conn) == []
    from alembic import command
    from alembic.config import Config

    from models.db import MIGRATIONS

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, "base")
    assert set(inspect(engine).get_table_names()) <= {"alembic_version"}
    engine.dispose()


@pytest.mark.postgres
def test_postgres_upgrade_matches_models(postgres_url):
    schema = f"t_{uuid.uuid4().hex[:10]}"
    admin = create_engine(postgres_url.replace("postgresql://", "postgresql+psycopg://"))
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    try:
        engine = create_engine(
            postgres_url.replace("postgresql://", "postgresql+psycopg://"),
            connect_args={"options": f"-csearch_path={schema}"},
        )
        migrate(engine)
        assert current_revision(engine) == HEAD_REVISION
        assert DOMAIN_TABLES <= set(inspect(engine).get_table_names())
        with engine.connect() as conn:
            assert _diff(conn) == []
            # The search index is the console's; the server has none.
            assert "customer_fts" not in inspect(engine).get_table_names()
        engine.dispose()
    finally:
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


def test_upgrade_keeps_data_written_at_the_first_revision(tmp_path):
    """A console updated in the field keeps its customers and its outbox across migrations."""
    from alembic import command
    from alembic.config import Config

    from models.db import MIGRATIONS

    engine = make_sqlite_engine(tmp_path / "old.sqlite3")
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "0001_initial")
    with engine.begin() as conn:
        conn.execute(
            text("INSERT INTO client_state (client_id, next_seq, created_at) VALUES ('c1', 8, '2026-01-01')")
        )
        conn.execute(
            text(
                "INSERT INTO outbox (client_id, seq, mutation_id, name, args, created_at) "
                "VALUES ('c1', 7, 'm7', 'add_note', '{}', '2026-01-01')"
            )
        )
    migrate(engine)
    assert current_revision(engine) == HEAD_REVISION
    with engine.connect() as conn:
        assert conn.execute(text("SELECT next_seq, job_prefix, next_job_no FROM client_state")).one() == (
            8,
            "",
            1,
        )
        assert conn.execute(text("SELECT count(*) FROM outbox")).scalar() == 1
        assert _diff(conn) == []
    engine.dispose()
