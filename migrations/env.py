"""Alembic environment for netpol-drift.

Normally driven from :mod:`service.store.migrate`, which passes an open
connection (already inside a locked transaction) in ``config.attributes``.
Run by hand for development, e.g. to draft a new revision::

    .venv/bin/alembic -c migrations/alembic.ini revision --autogenerate -m "what changed"

it connects to ``sqlalchemy.url`` from the ini file or, when that is empty,
to the same database the service would use (``NETPOL_DRIFT_DATABASE_URL``).
"""

from __future__ import annotations

from logging.config import fileConfig

from alembic import context
from sqlalchemy import Connection

import service.store.models  # noqa: F401 - registers every table on Base.metadata
from service.store.base import Base
from service.store.engine import default_database_url, make_engine

config = context.config
target_metadata = Base.metadata

if config.config_file_name is not None:
    # Only when run through the alembic command: the service keeps its own logging.
    fileConfig(config.config_file_name, disable_existing_loggers=False)


def _database_url() -> str:
    return config.get_main_option("sqlalchemy.url") or default_database_url()


def _run_on(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        compare_type=True,
        # SQLite cannot ALTER most things; autogenerate then drafts batch operations.
        render_as_batch=connection.dialect.name == "sqlite",
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_offline() -> None:
    context.configure(
        url=_database_url(),
        target_metadata=target_metadata,
        literal_binds=True,
        dialect_opts={"paramstyle": "named"},
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    given = config.attributes.get("connection")
    if isinstance(given, Connection):
        _run_on(given)
        return
    engine = make_engine(_database_url())
    try:
        # One transaction for the whole upgrade, on SQLite too (the engine emits BEGIN).
        with engine.connect() as connection, connection.begin():
            _run_on(connection)
    finally:
        engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
