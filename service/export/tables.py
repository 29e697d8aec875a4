"""Tables as CSV downloads: every table the dashboard shows can be had as a file.

A :class:`Table` is the columns and the rows as plain values; :func:`table_csv`
writes RFC 4180 CSV (CRLF line ends, quoting as needed). A text cell that a
spreadsheet would run as a formula (it starts with ``=``, ``+``, ``-``, ``@``,
a tab or a carriage return) is written with a leading apostrophe: names and
descriptions come from users, and a CSV is opened in spreadsheets.
Numbers are written as numbers, so negative ones stay negative.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Final

__all__ = ["Cell", "Table", "csv_filename", "table_csv"]

Cell = str | int | float | bool | datetime | None
_FORMULA_START: Final = ("=", "+", "-", "@", "\t", "\r")
_UNSAFE_NAME: Final = re.compile(r"[^A-Za-z0-9._-]+")


@dataclass(frozen=True, slots=True)
class Table:
    columns: tuple[str, ...]
    rows: Sequence[Sequence[Cell]]

    def __post_init__(self) -> None:
        for i, row in enumerate(self.rows):
            if len(row) != len(self.columns):
                raise ValueError(f"row {i} has {len(row)} values for {len(self.columns)} columns")


def _value(value: Cell) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime):
        return value.isoformat().replace("+00:00", "Z")
    if isinstance(value, int | float):
        return str(value)
    return "'" + value if value.startswith(_FORMULA_START) else value


def table_csv(table: Table) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(table.columns)
    for row in table.rows:
        writer.writerow([_value(v) for v in row])
    return out.getvalue()


def csv_filename(*parts: str | int) -> str:
    """A safe download name from parts: ``run-42-cells.csv``."""
    name = "-".join(_UNSAFE_NAME.sub("_", str(p)).strip("._") or "_" for p in parts)
    return f"{name}.csv"
