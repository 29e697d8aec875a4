"""Tables as CSV: RFC 4180, formulas defused, safe file names."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime

import pytest

from service.export.tables import Table, csv_filename, table_csv


def _rows(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text)))


def test_values_are_written_as_people_read_them() -> None:
    at = datetime(2026, 3, 1, 2, 0, tzinfo=UTC)
    text = table_csv(Table(("a", "b", "c", "d", "e"), [(1, -2.5, True, None, at)]))
    assert text.endswith("\r\n")
    assert _rows(text) == [
        ["a", "b", "c", "d", "e"],
        ["1", "-2.5", "true", "", "2026-03-01T02:00:00Z"],
    ]


@pytest.mark.parametrize("value", ["=1+1", "+cmd", "-2+3", "@SUM(A1)", "\tx", "\rx"])
def test_text_that_a_spreadsheet_would_run_is_defused(value: str) -> None:
    (_, row) = _rows(table_csv(Table(("name",), [(value,)])))
    assert row == ["'" + value]


def test_commas_quotes_and_newlines_survive_a_round_trip() -> None:
    value = 'a, "quoted"\nsecond line'
    (_, row) = _rows(table_csv(Table(("x",), [(value,)])))
    assert row == [value]


def test_a_row_of_the_wrong_width_is_refused() -> None:
    with pytest.raises(ValueError, match="row 0 has 1 values for 2 columns"):
        Table(("a", "b"), [(1,)])


def test_file_names_keep_only_safe_characters() -> None:
    assert csv_filename("run", 42, "cells") == "run-42-cells.csv"
    assert csv_filename("../etc/passwd", 'a"b') == "etc_passwd-a_b.csv"
