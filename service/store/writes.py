"""Writes that must be safe to repeat.

A Celery shard may be delivered twice (a worker died after writing but before
acknowledging); two beat processes may both decide a schedule is due. Both
write with ``INSERT ... ON CONFLICT DO NOTHING`` so the second write is a no-op
instead of a duplicate or an error.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import Connection, Table
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from service.store.base import Base

__all__ = ["insert_ignoring_duplicates"]


def insert_ignoring_duplicates(
    target: Connection | Session,
    model: type[Base],
    rows: Sequence[Mapping[str, Any]],
) -> int:
    """Insert ``rows`` into ``model``'s table, skipping each row that collides on a unique key.

    Returns how many rows were inserted. Runs in the caller's transaction; the
    caller commits. Rows must all name the same columns (one executemany).
    """
    if not rows:
        return 0
    connection = target.connection() if isinstance(target, Session) else target
    table = model.__table__
    if not isinstance(table, Table):  # pragma: no cover - every model here maps a Table
        raise TypeError(f"{model.__name__} is not mapped to a table")
    dialect = connection.dialect.name
    statement: postgresql.Insert | sqlite.Insert
    if dialect == "postgresql":
        statement = postgresql.insert(table).on_conflict_do_nothing()
    elif dialect == "sqlite":
        statement = sqlite.insert(table).on_conflict_do_nothing()
    else:
        raise NotImplementedError(f"no idempotent insert for database {dialect!r}")
    # RETURNING only yields the rows that went in, which is the count we want;
    # rowcount is not reliable across drivers for a batched executemany.
    returning = statement.returning(*table.primary_key.columns)
    return len(connection.execute(returning, [dict(row) for row in rows]).all())
