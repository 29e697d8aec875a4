"""Databases for the store tests: a SQLite file per test and one throw-away PostgreSQL database.

PostgreSQL is required, not optional: when it is not reachable every test that
needs it fails with the reason (CI starts it; locally, start it or point
NETPOL_DRIFT_TEST_POSTGRES_URL at one where we may create databases).
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from psycopg import sql
from sqlalchemy import Engine
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from service.store import make_engine, make_session_factory, upgrade

POSTGRES_URL_ENV = "NETPOL_DRIFT_TEST_POSTGRES_URL"
POSTGRES_ADMIN_URL = os.environ.get(
    POSTGRES_URL_ENV, "postgresql://postgres@127.0.0.1:5432/postgres"
)

DIALECTS = ["sqlite", "postgresql"]


def _admin_connect() -> psycopg.Connection[Any]:
    try:
        return psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True, connect_timeout=5)
    except psycopg.OperationalError as err:
        reason = str(err)
    pytest.fail(
        f"PostgreSQL is not reachable at {POSTGRES_ADMIN_URL}: {reason}\n"
        f"The store tests need it: start it (.ci/run does) or set {POSTGRES_URL_ENV}.",
        pytrace=False,
    )


@pytest.fixture(scope="session")
def postgres_database() -> Iterator[str]:
    """A uniquely named database for this test session, dropped at the end."""
    name = f"netpol_drift_test_{uuid.uuid4().hex[:12]}"
    with _admin_connect() as admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    url = make_url(POSTGRES_ADMIN_URL).set(drivername="postgresql+psycopg", database=name)
    try:
        yield url.render_as_string(hide_password=False)
    finally:
        with _admin_connect() as admin:
            admin.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )


@pytest.fixture
def empty_postgres_url(postgres_database: str) -> str:
    """The session's PostgreSQL database, emptied (whatever the previous test left)."""
    plain = make_url(postgres_database).set(drivername="postgresql")
    with psycopg.connect(plain.render_as_string(hide_password=False), autocommit=True) as conn:
        conn.execute("DROP SCHEMA public CASCADE")
        conn.execute("CREATE SCHEMA public")
    return postgres_database


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'data' / 'netpol-drift.db'}"


@pytest.fixture(params=DIALECTS)
def database_url(request: pytest.FixtureRequest) -> str:
    """An empty database of each kind."""
    if request.param == "sqlite":
        return str(request.getfixturevalue("sqlite_url"))
    return str(request.getfixturevalue("empty_postgres_url"))


@pytest.fixture
def migrated_url(database_url: str) -> str:
    upgrade(database_url)
    return database_url


@pytest.fixture
def engine(migrated_url: str) -> Iterator[Engine]:
    engine = make_engine(migrated_url)
    try:
        yield engine
    finally:
        engine.dispose()


@pytest.fixture
def sessions(engine: Engine) -> sessionmaker[Session]:
    return make_session_factory(engine)
