"""Cursors: opaque, tied to their list, refused when tampered with."""

from __future__ import annotations

import base64

import pytest

from service.errors import InvalidInput
from service.queries.paging import decode_cursor, encode_cursor


@pytest.mark.parametrize(
    ("kind", "values", "types"),
    [
        ("runs", ["2025-01-01T00:00:00+00:00", 7], (str, int)),
        ("cells", [0], (int,)),
        ("scenarios", ["name with spaces, and ünïcode", 3], (str, int)),
    ],
)
def test_a_cursor_decodes_to_the_values_it_was_made_of(
    kind: str, values: list[object], types: tuple[type, ...]
) -> None:
    cursor = encode_cursor(kind, values)  # type: ignore[arg-type]
    assert "=" not in cursor
    assert list(decode_cursor(cursor, kind, types)) == values


@pytest.mark.parametrize(
    "cursor",
    [
        encode_cursor("scenarios", ["a", 1]),  # another list's
        encode_cursor("cells", ["1"]),  # a string where an int belongs
        encode_cursor("cells", [True]),  # a bool is not an int
        encode_cursor("cells", [1, 2]),  # too many values
        "not base64 at all!",
        base64.urlsafe_b64encode(b"{not json").decode(),
        base64.urlsafe_b64encode(b'{"kind": "cells"}').decode(),
        "x" * 600,
    ],
)
def test_a_cursor_not_made_for_this_list_is_refused_naming_cursor(cursor: str) -> None:
    with pytest.raises(InvalidInput) as raised:
        decode_cursor(cursor, "cells", (int,))
    assert [str(p.path) for p in raised.value.problems] == ["cursor"]
