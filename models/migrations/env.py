"""Alembic environment: runs on the connection handed in by models.db.migrate, or on the URL."""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine

from models.schema import metadata

config = context.config


def _include(obj, name, type_, reflected, compare_to) -> bool:  # noqa: ANN001
    # The console's search index (customer_search, customer_fts*) is plain DDL in the migrations,
    # not ORM tables: autogenerate must not try to drop it.
    return not (
        type_ == "table"
        and name
        and name.startswith("customer_fts")
        or name == "customer_search"
        or (type_ == "index" and name and name.startswith("ix_customer_search"))
    )


def _run(connection) -> None:  # noqa: ANN001
    context.configure(
        connection=connection,
        target_metadata=metadata,
        include_object=_include,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    context.configure(
        url=config.get_main_option("sqlalchemy.url"), target_metadata=metadata, literal_binds=True
    )
    with context.begin_transaction():
        context.run_migrations()
else:
    conn = config.attributes.get("connection")
    if conn is not None:
        _run(conn)
    else:
        with create_engine(config.get_main_option("sqlalchemy.url")).begin() as c:
            _run(c)
