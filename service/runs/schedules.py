"""Schedules in the database and the beat tick that fires them.

A schedule is a cron expression in a time zone for one scenario, with the
backend and run settings of the runs it starts, and an enabled flag. It keeps
``next_fire_at``, its next due time in UTC. The tick (every few seconds, from
the Celery beat process, or any number of them) fires each enabled schedule
whose ``next_fire_at`` has come: it creates one run for the latest due time, of
the scenario's newest revision, and moves ``next_fire_at`` on.

Exactly once per due time, however many ticks race: the run carries
(schedule id, due time), which the database keeps unique; the loser of a race
inserts nothing and creates nothing. A schedule that missed several due times
(nothing ticked for a while) fires once, for the latest.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from service.errors import FieldPath, InvalidInput, Problem
from service.runs.create import CreatedRun, RunRequest, add_run
from service.runs.cron import CronSchedule
from service.runs.dispatch import Dispatcher
from service.runs.planning import PlanCache, plan_run
from service.runs.revisions import load_revision
from service.runs.settings import RunSettings
from service.runs.transactions import updated, writing
from service.store.base import utc_now
from service.store.enums import Backend, Trigger
from service.store.models import Scenario, ScenarioRevision, Schedule

__all__ = ["ScheduleSpec", "create_schedule", "set_schedule_enabled", "tick_schedules"]


@dataclass(frozen=True, slots=True)
class ScheduleSpec:
    scenario_id: int
    name: str
    cron: str
    timezone: str = "UTC"
    enabled: bool = True
    backend: Backend = Backend.SIMULATED
    settings: RunSettings = field(default_factory=RunSettings)


def create_schedule(
    session: Session, spec: ScheduleSpec, *, now: datetime | None = None
) -> Schedule:
    """Add a schedule to the caller's transaction; InvalidInput names cron, timezone, name."""
    problems: list[Problem] = []
    if not spec.name.strip():
        problems.append(Problem("expected a non-empty name", path=FieldPath(("name",))))
    try:
        cron = CronSchedule.parse(spec.cron, spec.timezone)
    except InvalidInput as err:
        problems.extend(err.problems)
        InvalidInput.collect(problems)
        raise
    at = now if now is not None else utc_now()
    next_fire = cron.next_after(at)
    if next_fire is None:
        problems.append(
            Problem(f"cron {spec.cron!r} is never due (no such date)", path=FieldPath(("cron",)))
        )
    if session.get(Scenario, spec.scenario_id) is None:
        problems.append(
            Problem(f"no scenario {spec.scenario_id}", path=FieldPath(("scenario_id",)))
        )
    InvalidInput.collect(problems)
    schedule = Schedule(
        scenario_id=spec.scenario_id,
        name=spec.name,
        cron=cron.expression,
        timezone=spec.timezone,
        enabled=spec.enabled,
        backend=spec.backend,
        options=spec.settings.to_json(),
        next_fire_at=next_fire,
    )
    session.add(schedule)
    session.flush()
    return schedule


def set_schedule_enabled(
    session: Session, schedule_id: int, enabled: bool, *, now: datetime | None = None
) -> Schedule:
    """Enable or disable; enabling computes the next due time from now (no catching up)."""
    schedule = session.get(Schedule, schedule_id)
    if schedule is None:
        raise InvalidInput(Problem(f"no schedule {schedule_id}", path=FieldPath(("id",))))
    schedule.enabled = enabled
    if enabled:
        at = now if now is not None else utc_now()
        schedule.next_fire_at = CronSchedule.parse(schedule.cron, schedule.timezone).next_after(at)
    session.flush()
    return schedule


def tick_schedules(
    sessions: sessionmaker[Session],
    dispatcher: Dispatcher,
    *,
    plans: PlanCache | None = None,
    now: datetime | None = None,
) -> list[CreatedRun]:
    """Fire every due schedule once; the runs this call created (and dispatched)."""
    at = now if now is not None else utc_now()
    with sessions() as session:
        due = (
            session.execute(
                select(Schedule.id).where(Schedule.enabled.is_(True), Schedule.next_fire_at <= at)
            )
            .scalars()
            .all()
        )
    created = []
    for schedule_id in due:
        run = _fire(sessions, schedule_id, at, plans)
        if run is not None:
            dispatcher.dispatch(run.run_id, run.shard_keys)
            created.append(run)
    return created


def _fire(
    sessions: sessionmaker[Session], schedule_id: int, now: datetime, plans: PlanCache | None
) -> CreatedRun | None:
    with writing(sessions) as session:
        schedule = session.get(Schedule, schedule_id)
        if schedule is None or not schedule.enabled or schedule.next_fire_at is None:
            return None
        if schedule.next_fire_at > now:
            return None
        cron = CronSchedule.parse(schedule.cron, schedule.timezone)
        scheduled_for = cron.latest_due(schedule.next_fire_at, now)
        revision = session.scalars(
            select(ScenarioRevision)
            .where(ScenarioRevision.scenario_id == schedule.scenario_id)
            .order_by(ScenarioRevision.created_at.desc(), ScenarioRevision.id.desc())
            .limit(1)
        ).first()
        # Move on first, conditionally: a racing tick that already moved it fires nothing.
        moved = updated(
            session,
            update(Schedule)
            .where(Schedule.id == schedule_id, Schedule.next_fire_at == schedule.next_fire_at)
            .values(next_fire_at=cron.next_after(now), last_fired_at=scheduled_for),
        )
        if moved != 1 or revision is None:
            return None
        scenario = load_revision(revision)
        settings = RunSettings.from_json(_options(schedule.options))
        plan = plan_run(scenario, settings)
        run = add_run(
            session,
            RunRequest(
                scenario=scenario,
                trigger=Trigger.SCHEDULE,
                backend=schedule.backend,
                settings=settings,
                source_text=revision.source_text,
                schedule_id=schedule_id,
                scheduled_for=scheduled_for,
            ),
            plan,
            now=now,
        )
        if run is None:
            return None
    if plans is not None:
        plans.put(revision_id=run.revision_id, content_hash=scenario.content_hash, plan=plan)
    return run


def _options(value: Mapping[str, Any] | None) -> Mapping[str, Any]:
    return value if value is not None else {}
