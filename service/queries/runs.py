"""Runs: a filtered, cursor-paged list, and one run with its progress.

Lists are newest first (creation time, then id). A run's progress counts its
stored cells against its planned ones; per policy version, its counts of
stored cells, regressions, errors, flaky and invalid cells.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session
from typing_extensions import TypedDict

from service.queries.formats import iso
from service.queries.paging import (
    DEFAULT_LIMIT,
    Page,
    bad_cursor,
    decode_cursor,
    encode_cursor,
)
from service.runs import history
from service.scenario.model import Verdict
from service.store.enums import Backend, RunStatus, Trigger
from service.store.models import CellResult, RevisionCell, Run, RunVersion, Scenario

__all__ = [
    "RunDetail",
    "RunFilter",
    "RunState",
    "RunSummary",
    "get_run",
    "list_runs",
    "previous_run_id",
    "run_and_scenario_name",
    "run_state",
]


@dataclass(frozen=True, slots=True)
class RunFilter:
    """Runs to list; every field narrows, empty means any."""

    scenario_id: int | None = None
    scenario: str | None = None
    status: tuple[RunStatus, ...] = ()
    trigger: tuple[Trigger, ...] = ()
    backend: tuple[Backend, ...] = ()
    schedule_id: int | None = None
    created_after: datetime | None = None
    created_before: datetime | None = None


class RunSummary(TypedDict):
    id: int
    scenario_id: int
    scenario: str
    revision_id: int
    trigger: str
    backend: str
    status: str
    created_at: str | None
    started_at: str | None
    finished_at: str | None
    duration_s: float | None
    planned_cells: int
    regressions: int
    flaky: int
    errors: int
    invalid: int
    error: str | None
    schedule_id: int | None
    scheduled_for: str | None


class Progress(TypedDict):
    planned: int
    stored: int
    percent: float


class VersionProgress(TypedDict):
    name: str
    content_hash: str
    convergence_ms: float | None
    applied_at: str | None
    cells: int
    regressions: int
    errors: int
    flaky: int
    invalid: int


class RunDetail(RunSummary):
    revision_hash: str
    progress: Progress
    versions: list[VersionProgress]
    options: dict[str, Any]
    cluster: dict[str, Any] | None
    seed: int | None
    deadline_at: str | None
    progress_at: str | None


@dataclass(frozen=True, slots=True)
class RunState:
    """What changes whenever a run's results change: the basis of their ETags.

    Every stored shard moves ``progress_at`` in the transaction that stores its
    cells, and closing a run sets ``finished_at`` and ``status``.
    """

    id: int
    scenario_id: int
    revision_id: int
    status: RunStatus
    progress_at: datetime | None
    finished_at: datetime | None

    @property
    def token(self) -> str:
        return f"{self.id}:{self.status}:{iso(self.progress_at)}:{iso(self.finished_at)}"


def list_runs(
    session: Session,
    run_filter: RunFilter | None = None,
    *,
    cursor: str | None = None,
    limit: int = DEFAULT_LIMIT,
) -> Page[RunSummary]:
    f = run_filter if run_filter is not None else RunFilter()
    query = (
        select(Run, Scenario.name)
        .join(Scenario, Scenario.id == Run.scenario_id)
        .order_by(Run.created_at.desc(), Run.id.desc())
        .limit(limit + 1)
    )
    if f.scenario_id is not None:
        query = query.where(Run.scenario_id == f.scenario_id)
    if f.scenario is not None:
        query = query.where(Scenario.name == f.scenario)
    if f.status:
        query = query.where(Run.status.in_(f.status))
    if f.trigger:
        query = query.where(Run.trigger.in_(f.trigger))
    if f.backend:
        query = query.where(Run.backend.in_(f.backend))
    if f.schedule_id is not None:
        query = query.where(Run.schedule_id == f.schedule_id)
    if f.created_after is not None:
        query = query.where(Run.created_at >= f.created_after)
    if f.created_before is not None:
        query = query.where(Run.created_at < f.created_before)
    if cursor is not None:
        at_text, last_id = decode_cursor(cursor, "runs", (str, int))
        try:
            at = datetime.fromisoformat(str(at_text))
        except ValueError as err:
            raise bad_cursor() from err
        if at.tzinfo is None:
            raise bad_cursor()
        query = query.where((Run.created_at < at) | ((Run.created_at == at) & (Run.id < last_id)))
    rows = session.execute(query).all()
    more = len(rows) > limit
    rows = rows[:limit]
    items = [_summary(run, name) for run, name in rows]
    next_cursor = None
    if more:
        last = rows[-1][0]
        next_cursor = encode_cursor("runs", [last.created_at.isoformat(), last.id])
    return Page(items, next_cursor)


def run_and_scenario_name(session: Session, run_id: int) -> tuple[Run, str] | None:
    """The run and the name of its scenario, in one query; None when there is no such run."""
    found = session.execute(
        select(Run, Scenario.name)
        .join(Scenario, Scenario.id == Run.scenario_id)
        .where(Run.id == run_id)
    ).first()
    return (found[0], found[1]) if found is not None else None


def get_run(session: Session, run_id: int) -> RunDetail | None:
    found = run_and_scenario_name(session, run_id)
    if found is None:
        return None
    run, name = found
    per_version = _version_counts(session, run)
    stored = sum(counts[0] for counts in per_version.values())
    versions = session.scalars(select(RunVersion).where(RunVersion.run_id == run_id)).all()
    order = _version_order(session, run.revision_id, [v.version for v in versions])
    planned = run.planned_cells
    return RunDetail(
        **_summary(run, name),
        revision_hash=run.revision.content_hash,
        progress=Progress(
            planned=planned,
            stored=stored,
            percent=round(100.0 * stored / planned, 2) if planned else 100.0,
        ),
        versions=[
            _version(v, per_version.get(v.version, (0, 0, 0, 0, 0)))
            for v in sorted(versions, key=lambda v: (order.get(v.version, -1), v.version))
        ],
        options=dict(run.options or {}),
        cluster=dict(run.cluster) if run.cluster is not None else None,
        seed=run.seed,
        deadline_at=iso(run.deadline_at),
        progress_at=iso(run.progress_at),
    )


def run_state(session: Session, run_id: int) -> RunState | None:
    row = session.execute(
        select(
            Run.id,
            Run.scenario_id,
            Run.revision_id,
            Run.status,
            Run.progress_at,
            Run.finished_at,
        ).where(Run.id == run_id)
    ).first()
    return RunState(*row) if row is not None else None


def previous_run_id(
    session: Session, run_id: int, *, same_cluster: bool = True, finished_only: bool = True
) -> int | None:
    """The run of the same scenario created just before ``run_id``; None if none.

    On the same cluster unless ``same_cluster`` is False: drift between a
    production run and the staging run just before it would mostly be the
    difference between the clusters (:mod:`service.runs.history` has the rule).
    """
    return history.previous_run_id(
        session, run_id, same_cluster=same_cluster, finished_only=finished_only
    )


def _summary(run: Run, scenario: str) -> RunSummary:
    duration = None
    if run.started_at is not None and run.finished_at is not None:
        duration = round((run.finished_at - run.started_at).total_seconds(), 3)
    return RunSummary(
        id=run.id,
        scenario_id=run.scenario_id,
        scenario=scenario,
        revision_id=run.revision_id,
        trigger=run.trigger.value,
        backend=run.backend.value,
        status=run.status.value,
        created_at=iso(run.created_at),
        started_at=iso(run.started_at),
        finished_at=iso(run.finished_at),
        duration_s=duration,
        planned_cells=run.planned_cells,
        regressions=run.regressions,
        flaky=run.flaky,
        errors=run.errors,
        invalid=run.invalid,
        error=run.error,
        schedule_id=run.schedule_id,
        scheduled_for=iso(run.scheduled_for),
    )


def _version_counts(session: Session, run: Run) -> dict[str, tuple[int, int, int, int, int]]:
    """Per version: (stored, regressions, errors, flaky, invalid) of the run's cells."""

    def total(condition: Any) -> Any:
        return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)

    rows = session.execute(
        select(
            RevisionCell.version,
            func.count(),
            total(CellResult.regression.is_(True)),
            total(CellResult.observed == Verdict.ERROR),
            total(CellResult.flaky.is_(True)),
            total(CellResult.observed == Verdict.INVALID),
        )
        .select_from(CellResult)
        .join(
            RevisionCell,
            (RevisionCell.revision_id == run.revision_id)
            & (RevisionCell.cell_key == CellResult.cell_key),
        )
        .where(CellResult.run_id == run.id)
        .group_by(RevisionCell.version)
    ).all()
    out: dict[str, tuple[int, int, int, int, int]] = {}
    for version, stored, regressions, errors, flaky, invalid in rows:
        out[version] = (int(stored), int(regressions), int(errors), int(flaky), int(invalid))
    return out


def _version_order(session: Session, revision_id: int, names: Sequence[str]) -> dict[str, int]:
    """Versions in scenario order: the plan numbers a revision's cells version by version."""
    if not names:
        return {}
    rows = session.execute(
        select(RevisionCell.version, func.min(RevisionCell.ordinal))
        .where(RevisionCell.revision_id == revision_id, RevisionCell.version.in_(names))
        .group_by(RevisionCell.version)
    ).all()
    return {version: int(first) for version, first in rows}


def _version(v: RunVersion, counts: Sequence[int]) -> VersionProgress:
    stored, regressions, errors, flaky, invalid = counts
    return VersionProgress(
        name=v.version,
        content_hash=v.content_hash,
        convergence_ms=v.convergence_ms,
        applied_at=iso(v.applied_at),
        cells=stored,
        regressions=regressions,
        errors=errors,
        flaky=flaky,
        invalid=invalid,
    )
