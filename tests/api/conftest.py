"""The API tests run the app through Flask's test client against the real PostgreSQL.

One throw-away database per session (the store tests' fixture), migrated once;
every test starts from empty tables. Runs execute in-process (no broker).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.engine import make_url

from service.api import create_app
from service.api.context import services
from service.auth import issue_token
from service.store import upgrade
from service.store.enums import TokenRole
from tests.api.world import bearer
from tests.store.conftest import postgres_database

__all__ = ["postgres_database"]

TABLES = (
    "cell_results",
    "run_versions",
    "runs",
    "schedules",
    "revision_cells",
    "scenario_revisions",
    "scenarios",
    "api_tokens",
)


@pytest.fixture(scope="session")
def migrated_database(postgres_database: str) -> str:
    upgrade(postgres_database)
    return postgres_database


def truncate(url: str) -> None:
    plain = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(plain, autocommit=True) as connection:
        connection.execute(f"TRUNCATE {', '.join(TABLES)} RESTART IDENTITY CASCADE")


@pytest.fixture
def database(migrated_database: str) -> str:
    """The session's database with every table empty."""
    truncate(migrated_database)
    return migrated_database


def make_app(url: str, **config: Any) -> Flask:
    return create_app({"database_url": url, "broker_url": "", "auto_migrate": False, **config})


@pytest.fixture
def app(database: str) -> Iterator[Flask]:
    app = make_app(database)
    try:
        yield app
    finally:
        services(app).close()


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


def issue_tokens(app: Flask) -> dict[TokenRole, dict[str, str]]:
    headers = {}
    with services(app).sessions.begin() as session:
        for role in TokenRole:
            issued = issue_token(session, name=f"{role.value}-token", role=role)
            headers[role] = bearer(issued.token)
    return headers


@pytest.fixture
def auth(app: Flask) -> dict[TokenRole, dict[str, str]]:
    """Authorization headers by role."""
    return issue_tokens(app)


@pytest.fixture
def admin(auth: dict[TokenRole, dict[str, str]]) -> dict[str, str]:
    return auth[TokenRole.ADMIN]
