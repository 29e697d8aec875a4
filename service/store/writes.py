"""Writes that must be safe to repeat.

A Celery shard may be delivered twice (a worker died after writing but before
acknowledging); two beat processes may both decide a schedule is due. Both
write with ``INSERT ... ON CONFLICT DO NOTHING`` so the second write is a no-op
instead of a duplicate or an error.

:func:`bulk_insert_ignoring_duplicates` is the same for the large writes (a
shard's cells, a revision's cells): on PostgreSQL it sends each column as one
array and inserts ``SELECT * FROM unnest(...)``, one short statement however
many rows, where a multi-row VALUES statement of thousands of rows costs more
to build and parse than to execute.
"""

from __future__ import annotations

import enum
import json
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Connection,
    DateTime,
    Float,
    Integer,
    SmallInteger,
    Table,
    TypeDecorator,
    bindparam,
    text,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session
from sqlalchemy.types import TypeEngine

from service.store.base import Base

__all__ = ["bulk_insert_ignoring_duplicates", "insert_ignoring_duplicates"]

# For TypeDecorators' bind processing of array elements (SQLAlchemy leaves it untyped).
_PG_DIALECT = postgresql.dialect()  # type: ignore[no-untyped-call]


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


def bulk_insert_ignoring_duplicates(
    target: Connection | Session,
    model: type[Base],
    rows: Sequence[Mapping[str, Any]],
) -> int:
    """:func:`insert_ignoring_duplicates` for many rows that name every column of the table.

    Column defaults are not applied: each row must give every column (None for
    NULL). Returns how many rows were inserted; runs in the caller's transaction.
    """
    if not rows:
        return 0
    table = model.__table__
    if not isinstance(table, Table):  # pragma: no cover - every model here maps a Table
        raise TypeError(f"{model.__name__} is not mapped to a table")
    columns = list(table.columns)
    names = [c.name for c in columns]
    every = set(names)
    for row in rows:
        if row.keys() != every:
            missing = sorted(every - set(row))
            extra = sorted(set(row) - every)
            raise ValueError(f"rows of {table.name} must name every column: {missing=} {extra=}")
    connection = target.connection() if isinstance(target, Session) else target
    if connection.dialect.name != "postgresql":
        return insert_ignoring_duplicates(connection, model, rows)
    arrays = []
    params: dict[str, list[Any]] = {}
    for i, column in enumerate(columns):
        array_type, convert = _pg_array(column.type)
        values = [row[column.name] for row in rows]
        params[f"c{i}"] = [None if v is None else convert(v) for v in values]
        arrays.append(f"CAST(:c{i} AS {array_type}[])")
    quoted = ", ".join(f'"{name}"' for name in names)
    selected = ", ".join(
        f"CAST(u.c{i} AS json)" if _is_json(c.type) else f"u.c{i}" for i, c in enumerate(columns)
    )
    aliases = ", ".join(f"c{i}" for i in range(len(columns)))
    primary = ", ".join(f'"{c.name}"' for c in table.primary_key.columns)
    statement = text(
        f'INSERT INTO "{table.name}" ({quoted}) SELECT {selected}'
        f" FROM unnest({', '.join(arrays)}) AS u({aliases})"
        f" ON CONFLICT DO NOTHING RETURNING {primary}"
    ).bindparams(*(bindparam(f"c{i}") for i in range(len(columns))))
    return len(connection.execute(statement, params).all())


def _is_json(type_: TypeEngine[Any]) -> bool:
    impl = type_.impl if isinstance(type_, TypeDecorator) else type_
    return isinstance(impl, JSON)


def _pg_array(type_: TypeEngine[Any]) -> tuple[str, Callable[[Any], Any]]:
    """The PostgreSQL element type an array of this column is sent as, and a value converter."""
    if isinstance(type_, TypeDecorator):
        decorator: Any = type_
        inner_type, inner = _pg_array(type_.impl_instance)

        def bound(value: Any) -> Any:
            processed = decorator.process_bind_param(value, _PG_DIALECT)
            return None if processed is None else inner(processed)

        return inner_type, bound
    if _is_json(type_):
        # Sent as text, cast to json per element (json[] is not castable from text[]).
        return "text", lambda v: json.dumps(v, separators=(",", ":"))
    if isinstance(type_, Boolean):
        return "boolean", bool
    if isinstance(type_, SmallInteger):
        return "smallint", int
    if isinstance(type_, BigInteger):
        return "bigint", int
    if isinstance(type_, Integer):
        return "integer", int
    if isinstance(type_, Float):
        return "double precision", float
    if isinstance(type_, DateTime):
        return "timestamptz", lambda v: v
    # Strings, texts and string enums (VARCHAR with a CHECK).
    return "text", lambda v: v.value if isinstance(v, enum.Enum) else str(v)
