"""The cells of one policy version of a run, laid out as a grid: sources down, target ports across.

Rows are the (source namespace, source) pairs and columns the (target, port,
protocol) triples, both in plan order: the plan numbers cells namespace by
namespace, source by source, target by target, port by port, so the first
appearance of each in ordinal order is plan order. A position the run has no
cell for (a run narrowed to some sources and targets) is None.

:func:`~service.dashboard.queries.run_matrices` fills the grids of every
version of a run in one query; :meth:`VersionGrid.heatmap` makes the
:class:`~service.export.heatmap.Heatmap` the page and the exports draw.
"""

from __future__ import annotations

from dataclasses import dataclass

from service.export.heatmap import NONE, Heatmap, code_of, column_label, row_label

__all__ = ["GridCell", "GridColumn", "GridCounts", "GridRow", "VersionGrid"]


@dataclass(frozen=True, slots=True)
class GridRow:
    source_namespace: str
    source: str

    @property
    def label(self) -> str:
        return row_label(self.source_namespace, self.source)


@dataclass(frozen=True, slots=True)
class GridColumn:
    target_namespace: str
    target: str
    port: int | str
    port_number: int | None
    protocol: str

    @property
    def label(self) -> str:
        return column_label(
            self.target_namespace, self.target, self.port, self.port_number, self.protocol
        )


@dataclass(frozen=True, slots=True)
class GridCell:
    key: str
    expected: str
    observed: str
    regression: bool
    flaky: bool
    loopback: bool


@dataclass(frozen=True, slots=True)
class GridCounts:
    cells: int = 0
    allowed: int = 0
    blocked: int = 0
    error: int = 0
    invalid: int = 0
    regressions: int = 0
    flaky: int = 0


@dataclass(frozen=True, slots=True)
class VersionGrid:
    run_id: int
    version: str
    content_hash: str
    rows: tuple[GridRow, ...]
    columns: tuple[GridColumn, ...]
    cells: tuple[tuple[GridCell | None, ...], ...]
    counts: GridCounts

    def heatmap(self, *, title: str, subtitle: str = "") -> Heatmap:
        return Heatmap(
            title=title,
            subtitle=subtitle,
            rows=tuple(r.label for r in self.rows),
            columns=tuple(c.label for c in self.columns),
            codes=tuple(
                "".join(
                    NONE if cell is None else code_of(cell.observed, regression=cell.regression)
                    for cell in line
                )
                for line in self.cells
            ),
        )
