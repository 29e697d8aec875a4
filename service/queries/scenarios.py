"""Scenarios and their revisions, as lists and details.

A scenario's summary carries what an overview needs in one row: how many
revisions it has, its newest revision and its newest run.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session
from typing_extensions import TypedDict

from service.queries.formats import iso
from service.queries.paging import DEFAULT_LIMIT, Page, decode_cursor, encode_cursor
from service.scenario.document import scenario_from_json
from service.store.models import Run, Scenario, ScenarioRevision, Schedule

__all__ = [
    "LastRun",
    "RevisionDetail",
    "RevisionSummary",
    "ScenarioDetail",
    "ScenarioSummary",
    "get_revision",
    "get_scenario",
    "list_revisions",
    "list_scenarios",
    "newest_revision",
]


class RevisionSummary(TypedDict):
    id: int
    content_hash: str
    created_at: str | None
    runs: int


class VersionInfo(TypedDict):
    name: str
    content_hash: str
    description: str


class RevisionDetail(RevisionSummary):
    scenario_id: int
    source_text: str
    versions: list[VersionInfo]
    sources: list[str]
    targets: list[str]


class LastRun(TypedDict):
    id: int
    status: str
    created_at: str | None
    finished_at: str | None
    regressions: int


class ScenarioSummary(TypedDict):
    id: int
    name: str
    created_at: str | None
    updated_at: str | None
    revisions: int
    latest_revision: RevisionSummary | None
    last_run: LastRun | None


class ScheduleRef(TypedDict):
    id: int
    name: str
    enabled: bool


class ScenarioDetail(ScenarioSummary):
    revision_list: list[RevisionSummary]
    schedules: list[ScheduleRef]


def list_scenarios(
    session: Session,
    *,
    name_contains: str | None = None,
    cursor: str | None = None,
    limit: int = DEFAULT_LIMIT,
) -> Page[ScenarioSummary]:
    """Scenarios by name."""
    query = select(Scenario).order_by(Scenario.name, Scenario.id).limit(limit + 1)
    if name_contains:
        query = query.where(Scenario.name.contains(name_contains, autoescape=True))
    if cursor is not None:
        name, last_id = decode_cursor(cursor, "scenarios", (str, int))
        query = query.where(
            (Scenario.name > name) | ((Scenario.name == name) & (Scenario.id > last_id))
        )
    rows = list(session.scalars(query))
    more = len(rows) > limit
    rows = rows[:limit]
    items = _summaries(session, rows)
    next_cursor = encode_cursor("scenarios", [rows[-1].name, rows[-1].id]) if more else None
    return Page(items, next_cursor)


def get_scenario(session: Session, scenario_id: int) -> ScenarioDetail | None:
    row = session.get(Scenario, scenario_id)
    if row is None:
        return None
    summary = _summaries(session, [row])[0]
    revisions = _revision_summaries(
        session,
        select(ScenarioRevision)
        .where(ScenarioRevision.scenario_id == scenario_id)
        .order_by(ScenarioRevision.created_at.desc(), ScenarioRevision.id.desc()),
    )
    schedules = session.execute(
        select(Schedule.id, Schedule.name, Schedule.enabled)
        .where(Schedule.scenario_id == scenario_id)
        .order_by(Schedule.name)
    ).all()
    return ScenarioDetail(
        **summary,
        revision_list=revisions,
        schedules=[ScheduleRef(id=s.id, name=s.name, enabled=s.enabled) for s in schedules],
    )


def list_revisions(
    session: Session, scenario_id: int, *, cursor: str | None = None, limit: int = DEFAULT_LIMIT
) -> Page[RevisionSummary]:
    """A scenario's revisions, newest first."""
    query = (
        select(ScenarioRevision)
        .where(ScenarioRevision.scenario_id == scenario_id)
        .order_by(ScenarioRevision.id.desc())
        .limit(limit + 1)
    )
    if cursor is not None:
        (last_id,) = decode_cursor(cursor, "revisions", (int,))
        query = query.where(ScenarioRevision.id < last_id)
    items = _revision_summaries(session, query)
    more = len(items) > limit
    items = items[:limit]
    return Page(items, encode_cursor("revisions", [items[-1]["id"]]) if more else None)


def get_revision(session: Session, scenario_id: int, revision_id: int) -> RevisionDetail | None:
    row = session.get(ScenarioRevision, revision_id)
    if row is None or row.scenario_id != scenario_id:
        return None
    runs = session.scalar(select(func.count()).where(Run.revision_id == revision_id)) or 0
    scenario = scenario_from_json(row.canonical_json)
    return RevisionDetail(
        id=row.id,
        content_hash=row.content_hash,
        created_at=iso(row.created_at),
        runs=runs,
        scenario_id=row.scenario_id,
        source_text=row.source_text,
        versions=[
            VersionInfo(name=v.name, content_hash=v.content_hash, description=v.description)
            for v in scenario.versions
        ],
        sources=[s.name for s in scenario.matrix.sources],
        targets=list(scenario.matrix.targets),
    )


def newest_revision(session: Session, scenario_id: int) -> ScenarioRevision | None:
    """The revision a run of the scenario uses when none is named."""
    return session.scalars(
        select(ScenarioRevision)
        .where(ScenarioRevision.scenario_id == scenario_id)
        .order_by(ScenarioRevision.created_at.desc(), ScenarioRevision.id.desc())
        .limit(1)
    ).first()


def _revision_summaries(session: Session, query: Select[Any]) -> list[RevisionSummary]:
    rows = list(session.scalars(query))
    counts = _run_counts(session, [r.id for r in rows])
    return [
        RevisionSummary(
            id=r.id,
            content_hash=r.content_hash,
            created_at=iso(r.created_at),
            runs=counts.get(r.id, 0),
        )
        for r in rows
    ]


def _run_counts(session: Session, revision_ids: Sequence[int]) -> dict[int, int]:
    if not revision_ids:
        return {}
    rows = session.execute(
        select(Run.revision_id, func.count())
        .where(Run.revision_id.in_(revision_ids))
        .group_by(Run.revision_id)
    ).all()
    return {int(revision_id): int(count) for revision_id, count in rows}


def _summaries(session: Session, rows: Sequence[Scenario]) -> list[ScenarioSummary]:
    ids = [r.id for r in rows]
    if not ids:
        return []
    revision_counts = dict(
        session.execute(
            select(ScenarioRevision.scenario_id, func.count())
            .where(ScenarioRevision.scenario_id.in_(ids))
            .group_by(ScenarioRevision.scenario_id)
        ).all()
    )
    latest: dict[int, ScenarioRevision] = {}
    newest_revision_ids = (
        select(func.max(ScenarioRevision.id))
        .where(ScenarioRevision.scenario_id.in_(ids))
        .group_by(ScenarioRevision.scenario_id)
    )
    for revision in session.scalars(
        select(ScenarioRevision).where(ScenarioRevision.id.in_(newest_revision_ids))
    ):
        latest[revision.scenario_id] = revision
    run_counts = _run_counts(session, [r.id for r in latest.values()])
    newest_run_ids = (
        select(func.max(Run.id)).where(Run.scenario_id.in_(ids)).group_by(Run.scenario_id)
    )
    last_runs = {
        run.scenario_id: run
        for run in session.scalars(select(Run).where(Run.id.in_(newest_run_ids)))
    }
    out = []
    for row in rows:
        newest = latest.get(row.id)
        run = last_runs.get(row.id)
        out.append(
            ScenarioSummary(
                id=row.id,
                name=row.name,
                created_at=iso(row.created_at),
                updated_at=iso(row.updated_at),
                revisions=revision_counts.get(row.id, 0),
                latest_revision=(
                    RevisionSummary(
                        id=newest.id,
                        content_hash=newest.content_hash,
                        created_at=iso(newest.created_at),
                        runs=run_counts.get(newest.id, 0),
                    )
                    if newest is not None
                    else None
                ),
                last_run=(
                    LastRun(
                        id=run.id,
                        status=run.status.value,
                        created_at=iso(run.created_at),
                        finished_at=iso(run.finished_at),
                        regressions=run.regressions,
                    )
                    if run is not None
                    else None
                ),
            )
        )
    return out
