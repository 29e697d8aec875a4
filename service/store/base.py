"""The declarative base, the constraint naming convention and the column types shared by models.

Every constraint and index gets a name from :data:`NAMING_CONVENTION`, so a
migration can refer to it by name and the schema is identical on SQLite and
PostgreSQL (the databases would otherwise invent their own names).
"""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import DateTime, Dialect, Enum, MetaData, TypeDecorator
from sqlalchemy.orm import DeclarativeBase

__all__ = ["NAMING_CONVENTION", "Base", "UTCDateTime", "string_enum", "utc_now"]

NAMING_CONVENTION: dict[str, str] = {
    "pk": "pk_%(table_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


def utc_now() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """A point in time, always timezone-aware UTC in Python.

    PostgreSQL keeps it as ``timestamp with time zone``. SQLite has no time
    zones, so it stores naive UTC and we put the zone back on the way out.
    Naive datetimes are refused on the way in: a naive value is ambiguous and
    would silently shift by the server's offset.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError(f"naive datetime {value.isoformat()} given; use an aware UTC time")
        value = value.astimezone(UTC)
        if dialect.name == "sqlite":
            return value.replace(tzinfo=None)
        return value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


def string_enum(enum: type[StrEnum], *, name: str, length: int) -> Enum:
    """A StrEnum column: its values in a VARCHAR guarded by ``CHECK`` (``ck_<table>_<name>``).

    ``length`` is fixed rather than derived from the longest member so that
    adding a member does not change the column type.
    """
    return Enum(
        enum,
        name=name,
        native_enum=False,
        create_constraint=True,
        length=length,
        values_callable=_values,
        validate_strings=True,
    )


def _values(enum: type[StrEnum]) -> list[str]:
    return [member.value for member in enum]


def json_default_list() -> list[Any]:
    return []


def json_default_dict() -> dict[str, Any]:
    return {}
