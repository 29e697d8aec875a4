"""Where the database is, and SQLite made to behave like a transactional database."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import event, inspect, text
from sqlalchemy.exc import OperationalError

from service.errors import FieldPath, InvalidInput
from service.store import (
    DATABASE_URL_ENV,
    SQLITE_BEGIN,
    default_database_url,
    make_engine,
    make_session_factory,
    parse_database_url,
)


def test_the_database_url_from_the_environment_wins(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(DATABASE_URL_ENV, "postgresql://drift@db:5432/drift")
    assert default_database_url() == "postgresql://drift@db:5432/drift"


def test_without_configuration_the_database_is_a_sqlite_file_in_the_user_data_dir(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv(DATABASE_URL_ENV, raising=False)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path))
    assert default_database_url() == f"sqlite:///{tmp_path}/netpol-drift/netpol-drift.db"


def test_a_bare_postgresql_url_uses_the_installed_psycopg_driver() -> None:
    parsed = parse_database_url("postgresql://drift:secret@db:5432/drift")
    assert parsed.drivername == "postgresql+psycopg"
    assert (parsed.host, parsed.database, parsed.password) == ("db", "drift", "secret")


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("not a url", "not a database URL"),
        ("mysql://drift:secret@db/drift", "unsupported database 'mysql'"),
        ("", "not a database URL"),
    ],
)
def test_bad_database_urls_are_invalid_input_naming_the_field(url: str, expected: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        parse_database_url(url, field="--url")
    (problem,) = caught.value.problems
    assert problem.path == FieldPath(("--url",))
    assert expected in problem.message
    assert "secret" not in str(caught.value)


def test_a_sqlite_file_gets_its_directory_wal_and_foreign_keys(tmp_path: Path) -> None:
    path = tmp_path / "not" / "yet" / "there.db"
    engine = make_engine(f"sqlite:///{path}")
    try:
        with engine.connect() as connection:
            assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
            assert connection.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        assert path.is_file()
    finally:
        engine.dispose()


def test_sqlite_ddl_is_rolled_back_with_its_transaction(tmp_path: Path) -> None:
    # The sqlite3 module alone would commit CREATE TABLE at once: a failed
    # migration would leave half a schema behind.
    engine = make_engine(f"sqlite:///{tmp_path / 'ddl.db'}")
    try:
        with engine.connect() as connection:
            with connection.begin() as transaction:
                connection.execute(text("CREATE TABLE half_done (id INTEGER)"))
                transaction.rollback()
            assert inspect(connection).get_table_names() == []
    finally:
        engine.dispose()


def test_sqlite_begin_immediate_takes_the_write_lock_at_begin(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'lock.db'}")
    try:
        with engine.connect() as writer, engine.connect() as other:
            writer.execution_options(**{SQLITE_BEGIN: "IMMEDIATE"})
            other.exec_driver_sql("PRAGMA busy_timeout = 50")
            other.commit()
            with writer.begin():
                # A deferred transaction may start (and read) while the writer holds the lock ...
                with other.begin():
                    other.exec_driver_sql("SELECT 1")
                # ... but a second IMMEDIATE one must wait, and here gives up.
                other.execution_options(**{SQLITE_BEGIN: "IMMEDIATE"})
                with pytest.raises(OperationalError, match="locked"), other.begin():
                    pass
    finally:
        engine.dispose()


def test_an_unknown_sqlite_begin_mode_is_refused(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'mode.db'}")
    try:
        with engine.connect() as connection:
            connection.execution_options(**{SQLITE_BEGIN: "IMMEDIATE; DROP TABLE x"})
            with pytest.raises(ValueError, match=SQLITE_BEGIN), connection.begin():
                pass
    finally:
        engine.dispose()


def test_a_session_factory_can_ask_sqlite_for_immediate_transactions(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'session.db'}")
    begins: list[str] = []

    def record(*args: object) -> None:
        if str(args[2]).startswith("BEGIN"):
            begins.append(str(args[2]))

    event.listen(engine, "before_cursor_execute", record)
    try:
        writer = make_session_factory(engine.execution_options(**{SQLITE_BEGIN: "IMMEDIATE"}))
        reader = make_session_factory(engine)
        for factory in (writer, reader):
            with factory() as session:
                session.execute(text("SELECT 1"))
                session.commit()
        assert begins == ["BEGIN IMMEDIATE", "BEGIN DEFERRED"]
    finally:
        engine.dispose()
