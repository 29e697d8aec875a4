"""The cells of a run: what each cell is (its revision's) joined with what the run saw.

A run's cells live in two tables (:mod:`service.store.models`): the revision's
``revision_cells`` say what a cell is and what the engine expects, the run's
``cell_results`` what it observed. Every query here joins them on (revision,
cell key), in plan order (the revision's ordinal), and applies a run's own
expected verdict where it overrides the revision's.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import ColumnElement, Row, Select, func, select
from sqlalchemy.orm import Session
from typing_extensions import TypedDict

from service.policy.model import Protocol
from service.queries.formats import iso, labels_object, port_value
from service.queries.paging import DEFAULT_LIMIT, Page, decode_cursor, encode_cursor
from service.scenario.model import Verdict
from service.store.models import CellResult, RevisionCell, Run, RunVersion

__all__ = [
    "EXPECTED",
    "PLACE",
    "CellDetail",
    "CellFilter",
    "CellHistoryPoint",
    "CellView",
    "all_cells",
    "cell_history",
    "get_cell",
    "list_cells",
    "run_cell_columns",
    "select_run_cells",
]


@dataclass(frozen=True, slots=True)
class CellFilter:
    """Cells to list; every field narrows, empty or None means any.

    ``source`` and ``target`` are the scenario's names (a source label set, a
    target); ``observed`` and ``expected`` verdicts.
    """

    observed: tuple[Verdict, ...] = ()
    expected: tuple[Verdict, ...] = ()
    regression: bool | None = None
    flaky: bool | None = None
    loopback: bool | None = None
    versions: tuple[str, ...] = ()
    sources: tuple[str, ...] = ()
    source_namespaces: tuple[str, ...] = ()
    targets: tuple[str, ...] = ()
    target_namespaces: tuple[str, ...] = ()
    protocols: tuple[Protocol, ...] = ()


class CellView(TypedDict):
    key: str
    pair_key: str
    ordinal: int
    version: str
    source_namespace: str
    source: str
    source_labels: dict[str, str]
    target_namespace: str
    target: str
    port: int | str
    port_number: int | None
    protocol: str
    loopback: bool
    expected: str
    observed: str
    raw_outcome: str | None
    latency_ms: float | None
    attempts: int
    regression: bool
    flaky: bool
    explanation: str | None


class CellDetail(CellView):
    run_id: int
    expected_by_revision: str
    attempt_details: list[dict[str, Any]] | None


class CellHistoryPoint(TypedDict):
    run_id: int
    run_created_at: str | None
    run_status: str
    revision_id: int
    version_hash: str | None
    expected: str
    observed: str
    raw_outcome: str | None
    attempts: int
    regression: bool
    flaky: bool


EXPECTED = func.coalesce(CellResult.expected_override, RevisionCell.expected)

# Where a cell is: who probes whom, on which port.
PLACE = (
    RevisionCell.source_namespace,
    RevisionCell.source_name,
    RevisionCell.source_labels,
    RevisionCell.target_namespace,
    RevisionCell.target_name,
    RevisionCell.port,
    RevisionCell.resolved_port,
    RevisionCell.protocol,
    RevisionCell.loopback,
)

_COLUMNS = (
    RevisionCell.cell_key,
    RevisionCell.pair_key,
    RevisionCell.ordinal,
    RevisionCell.version,
    *PLACE,
    EXPECTED.label("expected"),
    CellResult.observed,
    CellResult.raw_outcome,
    CellResult.latency_ms,
    CellResult.attempts,
    CellResult.regression,
    CellResult.flaky,
    func.coalesce(CellResult.explanation_override, RevisionCell.explanation).label("explanation"),
)


def select_run_cells(run_id: int, revision_id: int, *columns: Any) -> Select[*tuple[Any, ...]]:
    """SELECT ``columns`` over run ``run_id``'s cells: each result joined with its
    revision's cell (``revision_id`` is the run's)."""
    return (
        select(*columns)
        .select_from(CellResult)
        .join(
            RevisionCell,
            (RevisionCell.revision_id == revision_id)
            & (RevisionCell.cell_key == CellResult.cell_key),
        )
        .where(CellResult.run_id == run_id)
    )


def run_cell_columns(
    session: Session, run_id: int, revision_id: int, *columns: Any
) -> Sequence[Row[*tuple[Any, ...]]]:
    """``columns`` of every cell of run ``run_id``, in plan order, fetched at once.

    For the reads of a whole run (its grid, its columns for drift and flakes). Core
    rather than ORM execution, and every row fetched in one call: iterating a result
    fetches row by row, 30 ms more per 10,000 rows from psycopg.
    """
    query = select_run_cells(run_id, revision_id, *columns).order_by(RevisionCell.ordinal)
    return session.connection().execute(query).all()


def _in_plan_order(run_id: int, revision_id: int) -> Select[*tuple[Any, ...]]:
    """A run's cells driven from the revision's plan order (for pages: see :func:`list_cells`)."""
    return (
        select(*_COLUMNS)
        .select_from(RevisionCell)
        .join(
            CellResult,
            (CellResult.run_id == run_id) & (CellResult.cell_key == RevisionCell.cell_key),
        )
        .where(RevisionCell.revision_id == revision_id)
    )


def _conditions(f: CellFilter) -> list[ColumnElement[bool]]:
    out: list[ColumnElement[bool]] = []
    if f.observed:
        out.append(CellResult.observed.in_(f.observed))
    if f.expected:
        out.append(EXPECTED.in_([v.value for v in f.expected]))
    if f.regression is not None:
        out.append(CellResult.regression.is_(f.regression))
    if f.flaky is not None:
        out.append(CellResult.flaky.is_(f.flaky))
    if f.loopback is not None:
        out.append(RevisionCell.loopback.is_(f.loopback))
    if f.versions:
        out.append(RevisionCell.version.in_(f.versions))
    if f.sources:
        out.append(RevisionCell.source_name.in_(f.sources))
    if f.source_namespaces:
        out.append(RevisionCell.source_namespace.in_(f.source_namespaces))
    if f.targets:
        out.append(RevisionCell.target_name.in_(f.targets))
    if f.target_namespaces:
        out.append(RevisionCell.target_namespace.in_(f.target_namespaces))
    if f.protocols:
        out.append(RevisionCell.protocol.in_(f.protocols))
    return out


def _view(row: Row[Any]) -> CellView:
    return CellView(
        key=row.cell_key,
        pair_key=row.pair_key,
        ordinal=row.ordinal,
        version=row.version,
        source_namespace=row.source_namespace,
        source=row.source_name,
        source_labels=labels_object(row.source_labels),
        target_namespace=row.target_namespace,
        target=row.target_name,
        port=port_value(row.port),
        port_number=row.resolved_port,
        protocol=str(row.protocol),
        loopback=row.loopback,
        # The coalesced column comes back as the stored string.
        expected=str(row.expected),
        observed=str(row.observed),
        raw_outcome=str(row.raw_outcome) if row.raw_outcome is not None else None,
        latency_ms=row.latency_ms,
        attempts=row.attempts,
        regression=row.regression,
        flaky=row.flaky,
        explanation=row.explanation,
    )


def list_cells(
    session: Session,
    run_id: int,
    revision_id: int,
    cell_filter: CellFilter | None = None,
    *,
    cursor: str | None = None,
    limit: int = DEFAULT_LIMIT,
) -> Page[CellView]:
    """A page of a run's cells in plan order. ``revision_id`` is the run's (the caller has it).

    The page is read in windows of ordinals (the revision's plan order, dense from 0), each
    window a range of ``ix_revision_cells_revision_id_ordinal``, growing fourfold until the
    page is full or the plan ends. One query ordered by ordinal and limited to a page would
    be the obvious form, but a planner that has no statistics for a run just written
    (PostgreSQL before ANALYZE: right when a pipeline fetches a new run's results) joins all
    of the run's cells and sorts them for every page: ~25 ms for 10,000 cells instead of
    under 1 ms, measured. A bounded window cannot cost more than its width, whatever the
    planner believes; an unfiltered page is one window.
    """
    conditions = _conditions(cell_filter if cell_filter is not None else CellFilter())
    after = -1
    if cursor is not None:
        (position,) = decode_cursor(cursor, "cells", (int,))
        # decode_cursor checked the type; a forged negative one starts at the beginning.
        after = max(after, cast(int, position))
    last = session.scalar(
        select(func.max(RevisionCell.ordinal)).where(RevisionCell.revision_id == revision_id)
    )
    rows: list[Row[Any]] = []
    width = limit + 1
    while last is not None and after < last and len(rows) <= limit:
        window = (
            _in_plan_order(run_id, revision_id)
            .where(RevisionCell.ordinal > after, RevisionCell.ordinal <= after + width, *conditions)
            .order_by(RevisionCell.ordinal)
            .limit(limit + 1 - len(rows))
        )
        rows.extend(session.execute(window).all())
        after += width
        width *= 4
    more = len(rows) > limit
    items = [_view(row) for row in rows[:limit]]
    next_cursor = encode_cursor("cells", [items[-1]["ordinal"]]) if more else None
    return Page(items, next_cursor)


def all_cells(
    session: Session, run_id: int, revision_id: int, cell_filter: CellFilter | None = None
) -> list[CellView]:
    """Every cell of the run (matching the filter) in plan order: for downloads."""
    query = select_run_cells(run_id, revision_id, *_COLUMNS).order_by(RevisionCell.ordinal)
    conditions = _conditions(cell_filter if cell_filter is not None else CellFilter())
    if conditions:
        query = query.where(*conditions)
    return [_view(row) for row in session.execute(query).all()]


def get_cell(session: Session, run_id: int, revision_id: int, cell_key: str) -> CellDetail | None:
    row = session.execute(
        select_run_cells(
            run_id,
            revision_id,
            *_COLUMNS,
            CellResult.attempt_details,
            RevisionCell.expected.label("revision_expected"),
        ).where(CellResult.cell_key == cell_key)
    ).first()
    if row is None:
        return None
    return CellDetail(
        **_view(row),
        run_id=run_id,
        expected_by_revision=str(row.revision_expected),
        attempt_details=list(row.attempt_details) if row.attempt_details is not None else None,
    )


def cell_history(
    session: Session,
    scenario_id: int,
    cell_key: str,
    *,
    cursor: str | None = None,
    limit: int = DEFAULT_LIMIT,
) -> Page[CellHistoryPoint]:
    """What each run of the scenario saw of one cell, newest run first."""
    query = (
        select(
            Run.id,
            Run.created_at,
            Run.status,
            Run.revision_id,
            RunVersion.content_hash,
            EXPECTED.label("expected"),
            CellResult.observed,
            CellResult.raw_outcome,
            CellResult.attempts,
            CellResult.regression,
            CellResult.flaky,
        )
        .select_from(CellResult)
        .join(Run, Run.id == CellResult.run_id)
        .join(
            RevisionCell,
            (RevisionCell.revision_id == Run.revision_id)
            & (RevisionCell.cell_key == CellResult.cell_key),
        )
        .outerjoin(
            RunVersion,
            (RunVersion.run_id == Run.id) & (RunVersion.version == RevisionCell.version),
        )
        .where(CellResult.cell_key == cell_key, Run.scenario_id == scenario_id)
        .order_by(Run.id.desc())
        .limit(limit + 1)
    )
    if cursor is not None:
        (before,) = decode_cursor(cursor, "history", (int,))
        query = query.where(Run.id < before)
    rows = session.execute(query).all()
    more = len(rows) > limit
    items = [
        CellHistoryPoint(
            run_id=row[0],
            run_created_at=iso(row[1]),
            run_status=str(row[2]),
            revision_id=row[3],
            version_hash=row[4],
            expected=str(row.expected),
            observed=str(row.observed),
            raw_outcome=str(row.raw_outcome) if row.raw_outcome is not None else None,
            attempts=row.attempts,
            regression=row.regression,
            flaky=row.flaky,
        )
        for row in rows[:limit]
    ]
    next_cursor = encode_cursor("history", [items[-1]["run_id"]]) if more else None
    return Page(items, next_cursor)
