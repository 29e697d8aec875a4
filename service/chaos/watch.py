"""Which cells an experiment watches.

The scenario's ``watch`` entries select cells of the baseline version (each
entry's fields narrow it; no entries: every cell). Only ordinary cells are
watched: an invalid cell has nothing to probe and a loopback cell's verdict
depends on the CNI, not on the policies. When more cells match than the cap,
the cells whose expected verdict some step changes go first (they are where a
window can open), then the others, each group in plan order; the chosen cells
are probed in plan order.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence

from service.chaos.results import WatchedCell
from service.scenario.cells import Cell, CellKind
from service.scenario.chaos import WatchSpec

__all__ = ["select_watched", "watched_cell"]


def watched_cell(cell: Cell) -> WatchedCell:
    return WatchedCell(cell.pair_key, cell.source_ref, cell.target_ref, cell.probe_label)


def _matches(spec: WatchSpec, cell: Cell) -> bool:
    if spec.source_namespace is not None and cell.source_namespace != spec.source_namespace:
        return False
    if spec.source_labels is not None and cell.source_labels != spec.source_labels:
        return False
    if spec.target is not None and cell.target != spec.target:
        return False
    if spec.protocol is not None and cell.protocol is not spec.protocol:
        return False
    return spec.port is None or spec.port in (cell.port, cell.port_number, cell.port_name)


def select_watched(
    cells: Sequence[Cell],
    specs: Sequence[WatchSpec],
    *,
    limit: int,
    changing: Collection[str],
) -> tuple[tuple[Cell, ...], int]:
    """The watched cells in plan order, and how many matching cells the cap left out.

    ``changing``: pair keys of cells whose expected verdict some step changes.
    """
    matching = [
        c
        for c in cells
        if c.kind is CellKind.PROBE and (not specs or any(_matches(s, c) for s in specs))
    ]
    first = [c for c in matching if c.pair_key in changing]
    rest = [c for c in matching if c.pair_key not in changing]
    chosen = {c.key for c in (first + rest)[:limit]}
    return tuple(c for c in matching if c.key in chosen), max(len(matching) - limit, 0)
