"""Creating a run: store the scenario revision, plan, write the revision's cells, queue the run.

One transaction does it all, so a run is never visible without its revision
and cells. The run starts ``queued`` with ``planned_cells`` set: it finishes
when that many cells are stored (:mod:`service.runs.lifecycle`). What happens
next is a dispatcher's job (:mod:`service.runs.dispatch`, ``workers/``): it is
handed the run id and its shard keys.

A scheduled run names its schedule and due time; the database refuses a second
run for the same pair, and :func:`add_run` then returns None, which is how two
beat processes racing on one due time end with one run.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import Insert
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session, sessionmaker

from service.errors import InvalidInput
from service.runs.kubernetes import kubernetes_problems
from service.runs.planning import PlanCache, RunPlan, plan_run
from service.runs.revisions import store_revision, write_revision_cells
from service.runs.settings import RunSettings
from service.runs.transactions import writing
from service.scenario.model import Scenario as ScenarioValue
from service.store.base import utc_now
from service.store.enums import Backend, RunStatus, Trigger
from service.store.models import Run, RunVersion
from service.store.writes import insert_ignoring_duplicates

__all__ = ["CreatedRun", "RunRequest", "add_run", "create_run"]


@dataclass(frozen=True, slots=True)
class RunRequest:
    """A run to create. ``source_text``: the scenario as the user wrote it, for display."""

    scenario: ScenarioValue
    trigger: Trigger
    backend: Backend = Backend.SIMULATED
    settings: RunSettings = field(default_factory=RunSettings)
    source_text: str | None = None
    schedule_id: int | None = None
    scheduled_for: datetime | None = None


@dataclass(frozen=True, slots=True)
class CreatedRun:
    run_id: int
    revision_id: int
    planned_cells: int
    shard_keys: tuple[str, ...]
    plan: RunPlan = field(compare=False, repr=False)


def create_run(
    sessions: sessionmaker[Session],
    request: RunRequest,
    *,
    plans: PlanCache | None = None,
    now: datetime | None = None,
) -> CreatedRun:
    """Create a queued run; raises InvalidInput (options.*) when the narrowing names nothing known,
    or when a Kubernetes run names no cluster or has policies a shared cluster cannot take.

    With ``plans``, the plan made here is remembered for executing the run in
    this process.
    """
    plan = plan_run(request.scenario, request.settings)
    if request.backend is Backend.KUBERNETES:
        # Refused now (invalid input) rather than as a failed run once a worker tries.
        InvalidInput.collect(kubernetes_problems(plan.matrix.versions, request.settings))
    with writing(sessions) as session:
        created = add_run(session, request, plan, now=now)
    if created is None:
        raise ValueError(
            f"schedule {request.schedule_id} already fired for {request.scheduled_for}"
        )
    if plans is not None:
        plans.put(
            revision_id=created.revision_id,
            content_hash=request.scenario.content_hash,
            plan=plan,
        )
    return created


def add_run(
    session: Session, request: RunRequest, plan: RunPlan, *, now: datetime | None = None
) -> CreatedRun | None:
    """Add the run to the caller's transaction; None when its schedule already fired then."""
    at = now if now is not None else utc_now()
    revision = store_revision(session, request.scenario, source_text=request.source_text)
    write_revision_cells(session, revision.id, request.scenario)
    settings = request.settings
    values = {
        "scenario_id": revision.scenario_id,
        "revision_id": revision.id,
        "trigger": request.trigger,
        "backend": request.backend,
        "status": RunStatus.QUEUED,
        "created_at": at,
        "deadline_at": at + timedelta(seconds=settings.deadline_s),
        "progress_at": at,
        "planned_cells": len(plan.cells),
        "seed": settings.simulator.faults.seed,
        "options": settings.to_json(),
        "schedule_id": request.schedule_id,
        "scheduled_for": request.scheduled_for,
    }
    run_id = session.scalar(_insert_unless_fired(session, values))
    if run_id is None:
        return None
    versions = {c.version for c in plan.cells}
    insert_ignoring_duplicates(
        session,
        RunVersion,
        [
            {"run_id": run_id, "version": v.name, "content_hash": v.content_hash}
            for v in plan.matrix.versions
            if v.name in versions
        ],
    )
    return CreatedRun(
        run_id=run_id,
        revision_id=revision.id,
        planned_cells=len(plan.cells),
        shard_keys=plan.shard_keys,
        plan=plan,
    )


def _insert_unless_fired(session: Session, values: dict[str, object]) -> Insert:
    """INSERT the run, doing nothing on the (schedule, due time) conflict; RETURNING its id."""
    dialect = session.get_bind().dialect.name
    statement: postgresql.Insert | sqlite.Insert
    if dialect == "postgresql":
        statement = postgresql.insert(Run).values(values)
        statement = statement.on_conflict_do_nothing(
            index_elements=["schedule_id", "scheduled_for"]
        )
    elif dialect == "sqlite":
        statement = sqlite.insert(Run).values(values)
        statement = statement.on_conflict_do_nothing(
            index_elements=["schedule_id", "scheduled_for"]
        )
    else:
        raise NotImplementedError(f"no idempotent insert for database {dialect!r}")
    return statement.returning(Run.id)
