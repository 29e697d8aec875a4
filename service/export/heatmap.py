"""A run's heatmap of one policy version: sources down, target ports across, one code per cell.

The same value feeds the dashboard (HTML table or canvas) and the exports
(SVG, PNG), so they cannot disagree. A row is a string with one character
per column, compact enough for 10,000 cells:

    a allowed   b blocked   e error   i invalid   . no cell at this position

in upper case when the cell is a regression (drawn outlined).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Final

from service.errors import FieldPath, InvalidInput, Problem

__all__ = [
    "CODE_OF",
    "NONE",
    "VERDICT_OF",
    "Heatmap",
    "code_of",
    "column_label",
    "row_label",
]

CODE_OF: Final = {"allowed": "a", "blocked": "b", "error": "e", "invalid": "i"}
VERDICT_OF: Final = {code: verdict for verdict, code in CODE_OF.items()}
NONE: Final = "."
_CODES: Final = frozenset(CODE_OF.values()) | {c.upper() for c in CODE_OF.values()} | {NONE}


@dataclass(frozen=True, slots=True)
class Heatmap:
    """``codes[r][c]`` is the cell of row ``r`` and column ``c`` (see the module docstring)."""

    title: str
    rows: tuple[str, ...]
    columns: tuple[str, ...]
    codes: tuple[str, ...]
    subtitle: str = ""
    counts: Counter[str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        problems = []
        if len(self.codes) != len(self.rows):
            problems.append(
                Problem(
                    f"expected one code row per row ({len(self.rows)}), got {len(self.codes)}",
                    path=FieldPath(("codes",)),
                )
            )
        for i, line in enumerate(self.codes):
            if len(line) != len(self.columns):
                problems.append(
                    Problem(
                        f"expected {len(self.columns)} codes, got {len(line)}",
                        path=FieldPath(("codes", i)),
                    )
                )
            elif not set(line) <= _CODES:
                problems.append(
                    Problem(
                        f"expected codes from {''.join(sorted(_CODES))}",
                        path=FieldPath(("codes", i)),
                    )
                )
        InvalidInput.collect(problems)
        counts: Counter[str] = Counter()
        for line in self.codes:
            counts.update(line)
        object.__setattr__(self, "counts", counts)

    @property
    def cells(self) -> int:
        return sum(n for code, n in self.counts.items() if code != NONE)

    @property
    def regressions(self) -> int:
        return sum(n for code, n in self.counts.items() if code.isupper())

    def verdict_count(self, verdict: str) -> int:
        code = CODE_OF[verdict]
        return self.counts[code] + self.counts[code.upper()]

    def at(self, row: int, column: int) -> tuple[str | None, bool]:
        """(verdict or None, regression) of a position."""
        code = self.codes[row][column]
        if code == NONE:
            return None, False
        return VERDICT_OF[code.lower()], code.isupper()


def row_label(source_namespace: str, source: str) -> str:
    """``dev/frontend``: a source label set by name, in its namespace."""
    return f"{source_namespace}/{source}"


def column_label(
    target_namespace: str, target: str, port: int | str, port_number: int | None, protocol: str
) -> str:
    """``api/backend 80/TCP``; a named port shows its number: ``api/backend http(8080)/TCP``."""
    shown = f"{port}({port_number})" if isinstance(port, str) and port_number is not None else port
    return f"{target_namespace}/{target} {shown}/{protocol}"


def code_of(observed: str, *, regression: bool) -> str:
    """The code of a cell (see the module docstring)."""
    code = CODE_OF[observed]
    return code.upper() if regression else code
