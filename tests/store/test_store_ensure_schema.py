"""The embedded default makes its own schema on first use, once, however many start at once."""

from __future__ import annotations

import subprocess
import sys
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import Engine, event, func, select

from service.store import (
    Base,
    Scenario,
    current_revision,
    ensure_schema,
    head_revision,
    make_engine,
    make_session_factory,
)

STARTUP_TIMEOUT_S = 120

WRITES = ("CREATE", "ALTER", "DROP", "INSERT", "UPDATE", "DELETE")


@pytest.fixture
def statements() -> Iterator[list[str]]:
    """Every SQL statement any engine in this process runs while the test runs."""
    seen: list[str] = []

    def record(*args: Any) -> None:
        seen.append(str(args[2]))

    event.listen(Engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(Engine, "before_cursor_execute", record)


def _scenario_names(url: str) -> list[str]:
    engine = make_engine(url)
    try:
        with make_session_factory(engine)() as session:
            return list(session.scalars(select(Scenario.name)))
    finally:
        engine.dispose()


def test_ensure_schema_makes_an_empty_database_and_keeps_data_when_called_again(
    database_url: str,
) -> None:
    ensure_schema(database_url)
    assert current_revision(database_url) == head_revision()

    engine = make_engine(database_url)
    try:
        with make_session_factory(engine)() as session:
            session.add(Scenario(name="workshop"))
            session.commit()
    finally:
        engine.dispose()

    ensure_schema(database_url)
    assert current_revision(database_url) == head_revision()
    assert _scenario_names(database_url) == ["workshop"]


def test_ensure_schema_at_head_only_reads(migrated_url: str, statements: list[str]) -> None:
    ensure_schema(migrated_url)
    writes = [s for s in statements if s.lstrip().upper().startswith(WRITES)]
    assert writes == []
    # The version is read; no migration script ran, no model table was touched.
    assert any("alembic_version" in s for s in statements)
    assert [s for s in statements for table in Base.metadata.tables if table in s] == []


def _assert_made_once(url: str) -> None:
    assert current_revision(url) == head_revision()
    engine = make_engine(url)
    try:
        with make_session_factory(engine)() as session:
            assert session.scalar(select(func.count()).select_from(Scenario)) == 0
    finally:
        engine.dispose()


def test_threads_starting_at_once_on_a_fresh_database_make_the_schema_once(
    database_url: str,
) -> None:
    starters = 4
    gate = threading.Barrier(starters)
    failures: list[BaseException] = []

    def start() -> None:
        try:
            gate.wait()
            ensure_schema(database_url)
        except BaseException as err:  # handed to the test thread below
            failures.append(err)

    # Daemon threads joined with a timeout: a deadlock fails the test instead of hanging it.
    threads = [threading.Thread(target=start, daemon=True) for _ in range(starters)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=STARTUP_TIMEOUT_S)
    assert not any(thread.is_alive() for thread in threads), "ensure_schema deadlocked"
    assert failures == []
    _assert_made_once(database_url)


_START = "import sys; from service.store import ensure_schema; ensure_schema(sys.argv[1])"


def test_processes_starting_at_once_on_a_fresh_database_make_the_schema_once(
    database_url: str,
) -> None:
    # Separate processes, as an API server and workers starting together: only
    # the database lock orders them.
    starters = [
        subprocess.Popen(
            [sys.executable, "-c", _START, database_url],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(3)
    ]
    results = [starter.communicate(timeout=STARTUP_TIMEOUT_S) for starter in starters]
    errors = [err for (_out, err), s in zip(results, starters, strict=True) if s.returncode]
    assert errors == []
    _assert_made_once(database_url)
