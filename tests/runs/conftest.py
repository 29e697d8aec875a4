"""The runs tests run against the real PostgreSQL (a throw-away database per session).

The database fixtures are the store tests'; PostgreSQL is required, and when it
is not reachable every test that needs it fails with the reason.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import InstrumentedAttribute, Session, sessionmaker

from service.store import CellResult, make_engine, make_session_factory, upgrade
from tests.store.conftest import empty_postgres_url, postgres_database, sqlite_url

__all__ = ["cell_values", "empty_postgres_url", "postgres_database", "sqlite_url"]


@pytest.fixture
def pg_url(empty_postgres_url: str) -> str:
    """The session's PostgreSQL database, emptied and migrated to the newest schema."""
    upgrade(empty_postgres_url)
    return empty_postgres_url


@pytest.fixture
def pg(pg_url: str) -> Iterator[sessionmaker[Session]]:
    engine = make_engine(pg_url)
    try:
        yield make_session_factory(engine)
    finally:
        engine.dispose()


@pytest.fixture
def lite(sqlite_url: str) -> Iterator[sessionmaker[Session]]:
    """A migrated SQLite file: the embedded default."""
    upgrade(sqlite_url)
    engine = make_engine(sqlite_url)
    try:
        yield make_session_factory(engine)
    finally:
        engine.dispose()


def cell_values(
    sessions: sessionmaker[Session], run_id: int, *columns: InstrumentedAttribute[Any]
) -> dict[str, tuple[object, ...]]:
    """The stored ``columns`` of each cell of run ``run_id``, by cell key: what runs compare."""
    with sessions() as session:
        rows = session.execute(
            select(CellResult.cell_key, *columns).where(CellResult.run_id == run_id)
        )
        return {key: tuple(values) for key, *values in rows}
