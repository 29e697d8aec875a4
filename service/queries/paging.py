"""Cursor paging: a page of items and an opaque cursor to the next one.

A cursor is the sort key of the last item of a page, as URL-safe base64 of a
small JSON array, tagged with the list it belongs to. It is opaque to clients
(they pass back what they got) and stable while rows are added: keyset
paging never skips or repeats a row the way an offset would when new runs
arrive between two page requests.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final, Generic, TypeVar

from service.errors import FieldPath, InvalidInput, Problem

__all__ = ["DEFAULT_LIMIT", "MAX_LIMIT", "Page", "bad_cursor", "decode_cursor", "encode_cursor"]

DEFAULT_LIMIT: Final = 100
MAX_LIMIT: Final = 1000
# Cursors are short; anything longer is not one of ours.
_MAX_CURSOR_CHARS: Final = 512
_CURSOR = FieldPath(("cursor",))

T = TypeVar("T")
CursorValue = int | str | float | None


@dataclass(frozen=True, slots=True)
class Page(Generic[T]):
    """One page of a list; ``next_cursor`` is None on the last page."""

    items: list[T]
    next_cursor: str | None


def encode_cursor(kind: str, values: Sequence[CursorValue]) -> str:
    text = json.dumps([kind, *values], separators=(",", ":"))
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def bad_cursor() -> InvalidInput:
    """The error for a cursor that is not one this list made."""
    return InvalidInput(
        Problem("not a cursor of this list: pass back a next_cursor as returned", path=_CURSOR)
    )


def decode_cursor(cursor: str, kind: str, types: Sequence[type]) -> tuple[CursorValue, ...]:
    """The values of a cursor made by :func:`encode_cursor` for list ``kind``.

    ``types`` are the value types expected in order (a bool is never taken for
    an int). Raises InvalidInput naming ``cursor`` for anything else.
    """
    problem = bad_cursor()
    if len(cursor) > _MAX_CURSOR_CHARS:
        raise problem
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        data = json.loads(base64.urlsafe_b64decode(padded.encode("ascii")).decode("utf-8"))
    except (ValueError, UnicodeError, binascii.Error) as err:
        raise problem from err
    if not isinstance(data, list) or len(data) != len(types) + 1 or data[0] != kind:
        raise problem
    values = tuple(data[1:])
    for value, expected in zip(values, types, strict=True):
        if isinstance(value, bool) or not isinstance(value, expected):
            raise problem
    return values
