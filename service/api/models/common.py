"""Shared field types and bases of the API's models.

Every string that may reach the database is checked to be storable: no NUL
character (PostgreSQL refuses it in text) and no lone surrogate (not
encodable as UTF-8), and bounded in length by the column it is kept in.
Identifiers are bounded by the database's integer range.
"""

from __future__ import annotations

from typing import Annotated, Final, Generic, TypeVar

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints

__all__ = [
    "MAX_ID",
    "Body",
    "Id",
    "Limit",
    "Name",
    "Out",
    "Page",
    "Problem",
    "ProblemError",
    "Query",
    "ShortText",
    "storable",
]

MAX_ID: Final = 2**31 - 1


def storable(value: str) -> str:
    if "\x00" in value:
        raise ValueError("NUL characters are not accepted")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as err:
        raise ValueError("not valid text (a lone surrogate)") from err
    return value


Name = Annotated[str, StringConstraints(min_length=1, max_length=253), AfterValidator(storable)]
ShortText = Annotated[str, StringConstraints(max_length=2000), AfterValidator(storable)]
Id = Annotated[int, Field(ge=1, le=MAX_ID)]
Limit = Annotated[int, Field(ge=1, le=1000, description="Items per page (1 to 1000).")]


class Body(BaseModel):
    """A JSON request body: types as declared (no "1" for 1), no unknown fields."""

    model_config = ConfigDict(strict=True, extra="forbid", allow_inf_nan=False, frozen=True)


class Query(BaseModel):
    """Query parameters: text converted to the declared types, no unknown parameters."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class Out(BaseModel):
    """A response shape (for the document): no properties beyond those declared."""

    model_config = ConfigDict(extra="forbid")


T = TypeVar("T")


class Page(Out, Generic[T]):
    """One page of a list; pass ``next_cursor`` as ``cursor`` for the next (null: last page)."""

    items: list[T]
    next_cursor: str | None


class ProblemError(Out):
    """One thing wrong with the request: where (field path, JSON pointer, line) and what."""

    path: str
    pointer: str
    message: str
    file: str | None
    document: int | None
    line: int | None
    column: int | None


class Problem(BaseModel):
    """An RFC 9457 problem document."""

    model_config = ConfigDict(extra="allow")

    type: str
    title: str
    status: int
    detail: str
    instance: str
    errors: list[ProblemError] | None = Field(default=None)
