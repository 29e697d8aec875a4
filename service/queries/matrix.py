"""The matrix of one policy version of a run: sources down, target ports across.

Rows are the (source namespace, source) pairs and columns the (target, port,
protocol) triples, both in plan order (the plan numbers cells namespace by
namespace, source by source, target by target, port by port, so first
appearance in ordinal order is plan order).

A 10,000-cell version is a 10,000-position grid, so verdicts travel as one
string per row, a character per column (:data:`SYMBOLS`: ``A`` allowed, ``B``
blocked, ``E`` error, ``I`` invalid, ``.`` no cell: a run narrowed to some
sources and targets), and the rarer flags as the [row, column] positions that
have them. Cell keys (to fetch one cell) come only when asked for.
"""

from __future__ import annotations

from typing import Final

from sqlalchemy import select
from sqlalchemy.orm import Session
from typing_extensions import TypedDict

from service.queries.cells import EXPECTED, PLACE, select_run_cells
from service.queries.formats import labels_object, port_value
from service.scenario.model import Verdict
from service.store.models import CellResult, RevisionCell, RunVersion

__all__ = [
    "ABSENT",
    "SYMBOLS",
    "MatrixColumn",
    "MatrixCounts",
    "MatrixRow",
    "VersionMatrix",
    "version_matrix",
]

SYMBOLS: Final[dict[str, str]] = {
    Verdict.ALLOWED.value: "A",
    Verdict.BLOCKED.value: "B",
    Verdict.ERROR.value: "E",
    Verdict.INVALID.value: "I",
}
ABSENT: Final = "."


class MatrixRow(TypedDict):
    source_namespace: str
    source: str
    source_labels: dict[str, str]


class MatrixColumn(TypedDict):
    target_namespace: str
    target: str
    port: int | str
    port_number: int | None
    protocol: str


class MatrixCounts(TypedDict):
    cells: int
    allowed: int
    blocked: int
    error: int
    invalid: int
    regressions: int
    flaky: int


class VersionMatrix(TypedDict):
    """``observed`` and ``expected``: a string per row, a symbol per column (A allowed,
    B blocked, E error, I invalid, ``.`` no cell). ``regressions``, ``flaky`` and
    ``loopback``: [row, column] of the cells that are. ``keys``: the cell key per
    position (null: no cell), when asked for."""

    run_id: int
    version: str
    content_hash: str
    rows: list[MatrixRow]
    columns: list[MatrixColumn]
    observed: list[str]
    expected: list[str]
    regressions: list[list[int]]
    flaky: list[list[int]]
    loopback: list[list[int]]
    keys: list[list[str | None]] | None
    counts: MatrixCounts


def version_matrix(
    session: Session, run_id: int, revision_id: int, version: str, *, keys: bool = False
) -> VersionMatrix | None:
    """The matrix of ``version`` in run ``run_id``; None when the run did not apply it."""
    content_hash = session.scalar(
        select(RunVersion.content_hash).where(
            RunVersion.run_id == run_id, RunVersion.version == version
        )
    )
    if content_hash is None:
        return None
    found = session.execute(
        select_run_cells(
            run_id,
            revision_id,
            RevisionCell.cell_key,
            *PLACE,
            EXPECTED.label("expected"),
            CellResult.observed,
            CellResult.regression,
            CellResult.flaky,
        )
        .where(RevisionCell.version == version)
        .order_by(RevisionCell.ordinal)
    ).all()
    row_index: dict[tuple[str, str], int] = {}
    column_index: dict[tuple[str, str, str, str], int] = {}
    rows: list[MatrixRow] = []
    columns: list[MatrixColumn] = []
    placed = []
    for r in found:
        source = (r.source_namespace, r.source_name)
        if source not in row_index:
            row_index[source] = len(rows)
            rows.append(
                MatrixRow(
                    source_namespace=r.source_namespace,
                    source=r.source_name,
                    source_labels=labels_object(r.source_labels),
                )
            )
        protocol = str(r.protocol)
        target = (r.target_namespace, r.target_name, r.port, protocol)
        if target not in column_index:
            column_index[target] = len(columns)
            columns.append(
                MatrixColumn(
                    target_namespace=r.target_namespace,
                    target=r.target_name,
                    port=port_value(r.port),
                    port_number=r.resolved_port,
                    protocol=protocol,
                )
            )
        placed.append((row_index[source], column_index[target], r))
    observed = [[ABSENT] * len(columns) for _ in rows]
    expected = [[ABSENT] * len(columns) for _ in rows]
    key_grid: list[list[str | None]] = [[None] * len(columns) for _ in rows]
    regressions: list[list[int]] = []
    flaky: list[list[int]] = []
    loopback: list[list[int]] = []
    tally = dict.fromkeys(SYMBOLS, 0)
    for i, j, r in placed:
        verdict = str(r.observed)
        tally[verdict] += 1
        observed[i][j] = SYMBOLS[verdict]
        expected[i][j] = SYMBOLS[str(r.expected)]
        key_grid[i][j] = r.cell_key
        if r.regression:
            regressions.append([i, j])
        if r.flaky:
            flaky.append([i, j])
        if r.loopback:
            loopback.append([i, j])
    return VersionMatrix(
        run_id=run_id,
        version=version,
        content_hash=content_hash,
        rows=rows,
        columns=columns,
        observed=["".join(row) for row in observed],
        expected=["".join(row) for row in expected],
        regressions=regressions,
        flaky=flaky,
        loopback=loopback,
        keys=key_grid if keys else None,
        counts=MatrixCounts(
            cells=len(placed),
            allowed=tally[Verdict.ALLOWED.value],
            blocked=tally[Verdict.BLOCKED.value],
            error=tally[Verdict.ERROR.value],
            invalid=tally[Verdict.INVALID.value],
            regressions=len(regressions),
            flaky=len(flaky),
        ),
    )
