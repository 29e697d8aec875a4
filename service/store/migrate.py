"""Making and upgrading the schema, only ever through the Alembic migrations.

The Alembic configuration is built here in code, pointing at the repository's
``migrations/`` folder, so ``netpol-drift db upgrade`` works from any working
directory without an ``alembic.ini``. Every upgrade runs in one transaction
holding a lock (``BEGIN IMMEDIATE`` on SQLite, an advisory lock on
PostgreSQL): two processes starting at once on a fresh database do not both
try to create it.
"""

from __future__ import annotations

import contextlib
import functools
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Final

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, text

from service.store.engine import SQLITE_BEGIN, make_engine

__all__ = [
    "MIGRATIONS_DIR",
    "alembic_config",
    "current_revision",
    "downgrade",
    "ensure_schema",
    "head_revision",
    "upgrade",
]

# service/store/migrate.py -> the repository root's migrations/.
MIGRATIONS_DIR: Final = Path(__file__).resolve().parents[2] / "migrations"

# Any fixed 64-bit number; it only has to differ from other advisory locks we take.
_PG_MIGRATION_LOCK: Final = 0x6E65_7470_6F6C_0001

# Alembic keeps the running migration in module globals (alembic.op, alembic.context):
# two threads migrating at once would run each other's statements. One at a time
# per process; the database lock below orders processes.
_ALEMBIC_IN_USE: Final = threading.Lock()


def alembic_config(*, connection: Connection | None = None) -> Config:
    """The Alembic configuration; with ``connection``, migrations run on that connection."""
    if not (MIGRATIONS_DIR / "env.py").is_file():
        raise RuntimeError(
            f"Alembic migrations not found in {MIGRATIONS_DIR}; netpol-drift must be installed"
            " from a checkout (pip install -e .) or an image that contains migrations/"
        )
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    if connection is not None:
        config.attributes["connection"] = connection
    return config


@functools.cache
def head_revision() -> str:
    """The newest migration; there must be exactly one."""
    heads = ScriptDirectory.from_config(alembic_config()).get_heads()
    if len(heads) != 1:
        raise RuntimeError(f"migrations must have exactly one head, found {sorted(heads)}")
    return heads[0]


def current_revision(url: str) -> str | None:
    """The revision the database at ``url`` is at; None for an empty database."""
    with _engine(url) as engine:
        return _current(engine)


def upgrade(url: str, revision: str = "head") -> None:
    """Upgrade the database at ``url`` to ``revision`` (default: the newest)."""
    with _engine(url) as engine:
        _locked(engine, lambda config: command.upgrade(config, revision))


def downgrade(url: str, revision: str) -> None:
    """Downgrade the database at ``url`` to ``revision`` ("base" removes every table)."""
    with _engine(url) as engine:
        _locked(engine, lambda config: command.downgrade(config, revision))


def ensure_schema(url: str) -> None:
    """Bring the database at ``url`` to the newest schema; one query when it is there already.

    The embedded default calls this on first use, so a fresh machine needs no
    separate ``db upgrade`` step.
    """
    # One engine for the check and the upgrade: each engine is a new pool (and, on
    # PostgreSQL, a new connection), and this runs at every API and CLI start.
    with _engine(url) as engine:
        if _current(engine) == head_revision():
            return
        _locked(engine, lambda config: command.upgrade(config, "head"))


@contextlib.contextmanager
def _engine(url: str) -> Iterator[Engine]:
    engine = make_engine(url)
    try:
        yield engine
    finally:
        engine.dispose()


def _current(engine: Engine) -> str | None:
    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def _locked(engine: Engine, migrate: Callable[[Config], None]) -> None:
    with _ALEMBIC_IN_USE, engine.connect() as connection:
        # IMMEDIATE takes SQLite's write lock at BEGIN, so a second process waits
        # here and then finds the schema made (Alembic reads the version inside).
        connection.execution_options(**{SQLITE_BEGIN: "IMMEDIATE"})
        with connection.begin():
            if connection.dialect.name == "postgresql":
                connection.execute(
                    text("SELECT pg_advisory_xact_lock(:key)"), {"key": _PG_MIGRATION_LOCK}
                )
            migrate(alembic_config(connection=connection))
