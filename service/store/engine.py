"""Where the database is and how we connect to it.

The embedded default is a SQLite file in the user's data directory; production
points ``NETPOL_DRIFT_DATABASE_URL`` at PostgreSQL. Both go through
:func:`make_engine`, which makes SQLite behave like a real transactional
database (foreign keys enforced, proper ``BEGIN``, write-ahead log).
"""

from __future__ import annotations

import os
import sqlite3
import time
from pathlib import Path
from typing import Any, Final

import platformdirs
from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError
from sqlalchemy.orm import Session, sessionmaker

from service.errors import FieldPath, InvalidInput, Problem

__all__ = [
    "DATABASE_URL_ENV",
    "SQLITE_BEGIN",
    "default_database_url",
    "make_engine",
    "make_session_factory",
    "parse_database_url",
]

DATABASE_URL_ENV: Final = "NETPOL_DRIFT_DATABASE_URL"
APP_NAME: Final = "netpol-drift"
SQLITE_FILE: Final = "netpol-drift.db"

# Execution option choosing how SQLite begins a transaction: "DEFERRED" (the
# default), "IMMEDIATE" or "EXCLUSIVE". A transaction that reads and then writes
# should ask for IMMEDIATE: a deferred one that finds another writer committed
# in between fails at once with "database is locked", which no busy timeout
# cures. Other databases ignore the option.
SQLITE_BEGIN: Final = "sqlite_begin"
_SQLITE_BEGIN_MODES: Final = frozenset({"DEFERRED", "IMMEDIATE", "EXCLUSIVE"})

# Seconds a SQLite connection waits for another writer before giving up.
_SQLITE_BUSY_TIMEOUT_S: Final = 30.0
_WAL_SWITCH_RETRY_S: Final = 0.01

_SUPPORTED = ("sqlite", "postgresql")


def default_database_url() -> str:
    """``$NETPOL_DRIFT_DATABASE_URL``, else a SQLite file in the user's data directory."""
    configured = os.environ.get(DATABASE_URL_ENV, "").strip()
    if configured:
        return configured
    path = Path(platformdirs.user_data_dir(APP_NAME)) / SQLITE_FILE
    return URL.create("sqlite", database=str(path)).render_as_string()


def parse_database_url(url: str, *, field: str = "database_url") -> URL:
    """Parse and check a database URL; ``field`` names where it came from in errors.

    A bare ``postgresql://`` gets the psycopg 3 driver, the one we install
    (SQLAlchemy would otherwise look for psycopg2).
    """
    path = FieldPath((field,))
    try:
        parsed = make_url(url)
    except ArgumentError as err:
        # The URL itself is not echoed: it may carry a password.
        raise InvalidInput(
            Problem(
                "not a database URL; expected e.g. sqlite:///path/to/netpol-drift.db"
                " or postgresql://user@host:5432/dbname",
                path=path,
            )
        ) from err
    backend = parsed.get_backend_name()
    if backend not in _SUPPORTED:
        raise InvalidInput(
            Problem(
                f"unsupported database {backend!r}; expected one of: {', '.join(_SUPPORTED)}",
                path=path,
            )
        )
    if parsed.drivername == "postgresql":
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed


def make_engine(url: str) -> Engine:
    """An engine for ``url``; for a SQLite file, the file's directory is created if missing."""
    parsed = parse_database_url(url)
    if parsed.get_backend_name() == "sqlite":
        return _sqlite_engine(parsed)
    # pre_ping: a PostgreSQL restart must cost a reconnect, not a failed shard.
    return create_engine(parsed, pool_pre_ping=True)


def make_session_factory(engine: Engine) -> sessionmaker[Session]:
    # expire_on_commit off: callers hand committed rows to serialisers after the session ends.
    return sessionmaker(bind=engine, expire_on_commit=False)


def _is_file_database(url: URL) -> bool:
    database = url.database
    if not database or database == ":memory:":
        return False
    return url.query.get("mode") != "memory" and not database.startswith("file:")


def _use_write_ahead_log(cursor: sqlite3.Cursor) -> None:
    # The journal mode is kept in the file: once WAL, every later connection finds it so.
    if cursor.execute("PRAGMA journal_mode").fetchone()[0] == "wal":
        return
    # Switching needs the file to itself for a moment, and SQLite does not call the busy
    # handler for it: with another connection on a new file (threads or processes
    # starting together), it fails at once with "database is locked" (1 start in 10,
    # measured with four threads). So it is retried for as long as a busy wait would be.
    deadline = time.monotonic() + _SQLITE_BUSY_TIMEOUT_S
    while True:
        try:
            cursor.execute("PRAGMA journal_mode = WAL")
            return
        except sqlite3.OperationalError as err:
            if "locked" not in str(err) or time.monotonic() > deadline:
                raise
            time.sleep(_WAL_SWITCH_RETRY_S)


def _sqlite_engine(url: URL) -> Engine:
    file_database = _is_file_database(url)
    if file_database and url.database is not None:
        Path(url.database).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(url, connect_args={"timeout": _SQLITE_BUSY_TIMEOUT_S})

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Take BEGIN away from the sqlite3 module: it skips BEGIN before DDL and
        # SELECT, which breaks transactional migrations and repeatable reads.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        try:
            # Off by default in SQLite; our ON DELETE CASCADE relies on it.
            cursor.execute("PRAGMA foreign_keys = ON")
            if file_database:
                # Readers (API, dashboard) no longer block the writer (shards).
                _use_write_ahead_log(cursor)
                # Durable at checkpoints, which is what WAL needs; FULL would fsync per commit.
                cursor.execute("PRAGMA synchronous = NORMAL")
        finally:
            cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Connection) -> None:
        mode = str(connection.get_execution_options().get(SQLITE_BEGIN, "DEFERRED")).upper()
        if mode not in _SQLITE_BEGIN_MODES:
            raise ValueError(
                f"{SQLITE_BEGIN}={mode!r}; expected one of {sorted(_SQLITE_BEGIN_MODES)}"
            )
        connection.exec_driver_sql(f"BEGIN {mode}")

    return engine
