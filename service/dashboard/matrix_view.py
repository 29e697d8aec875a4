"""A version's matrix as the run page shows it: filtered, then a table, or a canvas and groups.

Up to :attr:`~service.dashboard.settings.DashboardSettings.table_cells` cells a
version is an HTML table (one element per cell, coloured by class, its verdicts
in data attributes). Above that a table would be slow to send and to lay out,
so the matrix goes to the page as rows of verdict codes (the
:class:`~service.export.heatmap.Heatmap`, a few bytes per cell) drawn on a
canvas by the page's script, and is summed up as groups: source namespace x
target namespace, each with its counts.

The filter keeps the rows and columns whose labels contain the text (each
dimension on its own; a dimension nothing matches is kept whole, unless
neither matches), and with ``show`` only the rows and columns having a cell
of interest (regressions, mismatches or problems), the other cells dimmed.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Final

from service.dashboard.grid import GridCell, GridCounts, VersionGrid
from service.export.heatmap import Heatmap

__all__ = ["GroupCell", "MatrixFilter", "Show", "TableCell", "VersionPanel", "version_panel"]

VERDICTS: Final = ("allowed", "blocked", "error", "invalid")


class Show(StrEnum):
    ALL = "all"
    REGRESSIONS = "regressions"
    MISMATCHES = "mismatches"
    PROBLEMS = "problems"


@dataclass(frozen=True, slots=True)
class MatrixFilter:
    show: Show = Show.ALL
    text: str = ""
    version: str = ""

    @property
    def active(self) -> bool:
        return self.show is not Show.ALL or bool(self.text)


def _interesting(cell: GridCell, show: Show) -> bool:
    if show is Show.REGRESSIONS:
        return cell.regression
    if show is Show.MISMATCHES:
        return cell.observed != cell.expected
    if show is Show.PROBLEMS:
        return cell.observed in ("error", "invalid")
    return True


@dataclass(frozen=True, slots=True)
class TableCell:
    key: str
    observed: str
    expected: str
    regression: bool
    flaky: bool
    loopback: bool
    dim: bool


@dataclass(frozen=True, slots=True)
class GroupCell:
    """Cells of one source namespace x target namespace: counts by verdict, regressions."""

    source_namespace: str
    target_namespace: str
    counts: tuple[tuple[str, int], ...]
    regressions: int

    @property
    def total(self) -> int:
        return sum(n for _, n in self.counts)


@dataclass(frozen=True, slots=True)
class VersionPanel:
    version: str
    content_hash: str
    counts: GridCounts
    heatmap: Heatmap
    row_index: tuple[int, ...]
    column_index: tuple[int, ...]
    mode: str
    table: tuple[tuple[TableCell | None, ...], ...] = ()
    dim: tuple[str, ...] = ()
    group_rows: tuple[str, ...] = ()
    group_columns: tuple[str, ...] = ()
    groups: tuple[tuple[GroupCell | None, ...], ...] = ()
    hidden: tuple[int, int] = (0, 0)
    description: str = ""
    total_rows: int = 0
    total_columns: int = 0
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def canvas_data(self) -> dict[str, Any]:
        """What the page's script draws: labels, code rows, original positions, dimming."""
        return {
            "version": self.version,
            "rows": list(self.heatmap.rows),
            "columns": list(self.heatmap.columns),
            "codes": list(self.heatmap.codes),
            "rowIndex": list(self.row_index),
            "columnIndex": list(self.column_index),
            "dim": list(self.dim),
        }


def _kept(labels: list[str], text: str) -> tuple[list[int], bool]:
    everything = list(range(len(labels)))
    if not text:
        return everything, True
    needle = text.casefold()
    found = [i for i, label in enumerate(labels) if needle in label.casefold()]
    return (found, True) if found else (everything, False)


def version_panel(
    matrix: VersionGrid,
    *,
    title: str,
    description: str = "",
    matrix_filter: MatrixFilter | None = None,
    table_cells: int = 1500,
) -> VersionPanel:
    f = matrix_filter if matrix_filter is not None else MatrixFilter()
    row_labels = [r.label for r in matrix.rows]
    column_labels = [c.label for c in matrix.columns]
    rows, rows_matched = _kept(row_labels, f.text)
    columns, columns_matched = _kept(column_labels, f.text)
    if f.text and not rows_matched and not columns_matched:
        rows, columns = [], []
    grid = matrix.cells
    if f.show is not Show.ALL:
        hits = [
            (r, c)
            for r in rows
            for c in columns
            if (cell := grid[r][c]) is not None and _interesting(cell, f.show)
        ]
        hit_rows = {r for r, _ in hits}
        hit_columns = {c for _, c in hits}
        rows = [r for r in rows if r in hit_rows]
        columns = [c for c in columns if c in hit_columns]
    full = matrix.heatmap(title=title)
    heatmap = Heatmap(
        title=title,
        rows=tuple(full.rows[r] for r in rows),
        columns=tuple(full.columns[c] for c in columns),
        codes=tuple("".join(full.codes[r][c] for c in columns) for r in rows),
    )
    shown = len(rows) * len(columns)
    common: dict[str, Any] = {
        "version": matrix.version,
        "content_hash": matrix.content_hash,
        "counts": matrix.counts,
        "heatmap": heatmap,
        "row_index": tuple(rows),
        "column_index": tuple(columns),
        "hidden": (len(row_labels) - len(rows), len(column_labels) - len(columns)),
        "description": description,
        "total_rows": len(row_labels),
        "total_columns": len(column_labels),
    }
    if not shown:
        return VersionPanel(mode="empty", **common)
    if shown <= table_cells:
        table = tuple(tuple(_table_cell(grid[r][c], f.show) for c in columns) for r in rows)
        return VersionPanel(mode="table", table=table, **common)
    dim: tuple[str, ...] = ()
    if f.show is not Show.ALL:
        dim = tuple(
            "".join(
                "0" if (cell := grid[r][c]) is not None and _interesting(cell, f.show) else "1"
                for c in columns
            )
            for r in rows
        )
    group_rows, group_columns, groups = _groups(matrix, rows, columns)
    return VersionPanel(
        mode="canvas",
        dim=dim,
        group_rows=group_rows,
        group_columns=group_columns,
        groups=groups,
        **common,
    )


def _table_cell(cell: GridCell | None, show: Show) -> TableCell | None:
    if cell is None:
        return None
    return TableCell(
        key=cell.key,
        observed=cell.observed,
        expected=cell.expected,
        regression=cell.regression,
        flaky=cell.flaky,
        loopback=cell.loopback,
        dim=show is not Show.ALL and not _interesting(cell, show),
    )


def _groups(
    matrix: VersionGrid, rows: list[int], columns: list[int]
) -> tuple[tuple[str, ...], tuple[str, ...], tuple[tuple[GroupCell | None, ...], ...]]:
    row_ns = [matrix.rows[r].source_namespace for r in rows]
    column_ns = [matrix.columns[c].target_namespace for c in columns]
    sources = tuple(dict.fromkeys(row_ns))
    targets = tuple(dict.fromkeys(column_ns))
    verdicts: dict[tuple[str, str], Counter[str]] = {}
    regressions: Counter[tuple[str, str]] = Counter()
    grid = matrix.cells
    for r, source in zip(rows, row_ns, strict=True):
        line = grid[r]
        for c, target in zip(columns, column_ns, strict=True):
            cell = line[c]
            if cell is None:
                continue
            key = (source, target)
            verdicts.setdefault(key, Counter())[cell.observed] += 1
            if cell.regression:
                regressions[key] += 1
    out = tuple(
        tuple(
            GroupCell(
                source_namespace=s,
                target_namespace=t,
                counts=tuple((v, verdicts[(s, t)][v]) for v in VERDICTS),
                regressions=regressions[(s, t)],
            )
            if (s, t) in verdicts
            else None
            for t in targets
        )
        for s in sources
    )
    return sources, targets, out
