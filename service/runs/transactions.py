"""Write transactions that behave the same on SQLite and PostgreSQL.

Every write in this package reads first (is the run still open? how many cells
are stored?) and then writes. On SQLite a transaction that starts as a reader
and then writes fails at once with "database is locked" when another writer
committed in between, which no busy timeout cures; starting it with ``BEGIN
IMMEDIATE`` makes it wait its turn instead. PostgreSQL ignores the option.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any, cast

from sqlalchemy import CursorResult, Executable
from sqlalchemy.orm import Session, sessionmaker

from service.store.engine import SQLITE_BEGIN

__all__ = ["updated", "writing"]


@contextlib.contextmanager
def writing(sessions: sessionmaker[Session]) -> Iterator[Session]:
    """A session in a write transaction, committed on a clean exit, rolled back on an error."""
    with sessions() as session, session.begin():
        session.connection(execution_options={SQLITE_BEGIN: "IMMEDIATE"})
        yield session


def updated(session: Session, statement: Executable) -> int:
    """Execute an UPDATE; how many rows it changed (a conditional update's "did I win")."""
    result = cast(CursorResult[Any], session.execute(statement))
    return int(result.rowcount)
