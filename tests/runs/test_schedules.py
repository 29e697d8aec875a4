"""Schedules fire once per due time, however many ticks race, on PostgreSQL."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from service.errors import InvalidInput
from service.runs.create import RunRequest, create_run
from service.runs.dispatch import InProcessDispatcher
from service.runs.schedules import (
    ScheduleSpec,
    create_schedule,
    set_schedule_enabled,
    tick_schedules,
)
from service.runs.settings import RunSettings
from service.scenario.load import load_scenario
from service.store import Run, RunStatus, Schedule, Trigger, make_engine, make_session_factory

WORKSHOP = Path(__file__).resolve().parents[2] / "scenarios" / "calico-workshop.yaml"
NIGHTLY = "0 2 * * *"


def at(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 3, day, hour, minute, tzinfo=UTC)


class Recorder:
    def __init__(self) -> None:
        self.sent: list[tuple[int, tuple[str, ...]]] = []
        self._lock = threading.Lock()

    def dispatch(self, run_id: int, shard_keys: Sequence[str]) -> None:
        with self._lock:
            self.sent.append((run_id, tuple(shard_keys)))


def scenario_id(sessions: sessionmaker[Session]) -> int:
    """The workshop stored (through a first, ad-hoc run); its scenario id."""
    created = create_run(
        sessions, RunRequest(scenario=load_scenario(WORKSHOP), trigger=Trigger.CLI)
    )
    with sessions() as session:
        return session.get_one(Run, created.run_id).scenario_id


def add_schedule(
    sessions: sessionmaker[Session], now: datetime, cron: str = NIGHTLY, **fields: object
) -> int:
    spec = ScheduleSpec(scenario_id=scenario_id(sessions), name="nightly", cron=cron, **fields)  # type: ignore[arg-type]
    with sessions.begin() as session:
        return create_schedule(session, spec, now=now).id


def scheduled_runs(sessions: sessionmaker[Session]) -> list[Run]:
    with sessions() as session:
        return list(
            session.scalars(
                select(Run).where(Run.trigger == Trigger.SCHEDULE).order_by(Run.scheduled_for)
            )
        )


def test_a_new_schedule_knows_its_next_due_time(pg: sessionmaker[Session]) -> None:
    schedule_id = add_schedule(pg, at(1, 3), timezone="Europe/Berlin")
    with pg() as session:
        schedule = session.get_one(Schedule, schedule_id)
    # 02:00 in Berlin in March (before DST) is 01:00 UTC, the next day.
    assert schedule.next_fire_at == at(2, 1)


@pytest.mark.parametrize(
    ("cron", "zone", "paths"),
    [
        ("0 25 * * *", "UTC", {"cron"}),
        (NIGHTLY, "Mars/Olympus", {"timezone"}),
        ("0 0 30 feb *", "UTC", {"cron"}),
        ("every night", "Nowhere", {"cron", "timezone"}),
    ],
)
def test_a_bad_schedule_is_refused_naming_each_field(
    pg: sessionmaker[Session], cron: str, zone: str, paths: set[str]
) -> None:
    with pytest.raises(InvalidInput) as raised:
        add_schedule(pg, at(1, 3), cron=cron, timezone=zone)
    assert {str(p.path) for p in raised.value.problems} == paths
    with pg() as session:
        assert session.scalar(select(func.count()).select_from(Schedule)) == 0


def test_a_due_schedule_fires_one_run_and_moves_on(pg: sessionmaker[Session]) -> None:
    add_schedule(pg, at(1, 3))
    with InProcessDispatcher(pg) as dispatcher:
        assert tick_schedules(pg, dispatcher, now=at(2, 1, 59)) == []
        fired = tick_schedules(pg, dispatcher, now=at(2, 2, 0))
        assert len(fired) == 1
        assert tick_schedules(pg, dispatcher, now=at(2, 2, 1)) == []
        dispatcher.wait(fired[0].run_id)
    (run,) = scheduled_runs(pg)
    assert (run.scheduled_for, run.status, run.planned_cells) == (
        at(2, 2),
        RunStatus.SUCCEEDED,
        16,
    )
    with pg() as session:
        schedule = session.scalars(select(Schedule)).one()
    assert (schedule.last_fired_at, schedule.next_fire_at) == (at(2, 2), at(3, 2))


def test_two_ticks_racing_on_each_due_time_fire_it_once(pg_url: str) -> None:
    engines = [make_engine(pg_url) for _ in range(2)]
    try:
        sessions = [make_session_factory(e) for e in engines]
        add_schedule(sessions[0], at(1, 3), cron="*/10 * * * *")
        recorder = Recorder()
        for minute in (10, 20, 30):
            created = _race(sessions, recorder, at(1, 3, minute))
            assert len(created) == 1, f"{len(created)} runs for the due time 03:{minute}"
        runs = scheduled_runs(sessions[0])
        assert [r.scheduled_for for r in runs] == [at(1, 3, m) for m in (10, 20, 30)]
        assert [run_id for run_id, _ in recorder.sent] == [r.id for r in runs]
    finally:
        for engine in engines:
            engine.dispose()


def _race(
    sessions: Sequence[sessionmaker[Session]], recorder: Recorder, now: datetime
) -> list[int]:
    """Tick once from each session factory at the same moment; the runs created."""
    start = threading.Barrier(len(sessions))
    created: list[int] = []

    def tick(s: sessionmaker[Session]) -> None:
        start.wait()
        created.extend(r.run_id for r in tick_schedules(s, recorder, now=now))

    threads = [threading.Thread(target=tick, args=(s,)) for s in sessions]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return created


def test_missed_due_times_fire_once_for_the_latest(pg: sessionmaker[Session]) -> None:
    add_schedule(pg, at(1, 3))
    recorder = Recorder()
    fired = tick_schedules(pg, recorder, now=at(5, 12))
    assert len(fired) == 1
    assert [r.scheduled_for for r in scheduled_runs(pg)] == [at(5, 2)]
    with pg() as session:
        assert session.scalars(select(Schedule.next_fire_at)).one() == at(6, 2)


def test_a_disabled_schedule_does_not_fire_and_enabling_does_not_catch_up(
    pg: sessionmaker[Session],
) -> None:
    schedule_id = add_schedule(pg, at(1, 3), enabled=False)
    recorder = Recorder()
    assert tick_schedules(pg, recorder, now=at(4, 3)) == []
    with pg.begin() as session:
        set_schedule_enabled(session, schedule_id, True, now=at(4, 3))
    assert tick_schedules(pg, recorder, now=at(4, 3, 30)) == []
    assert len(tick_schedules(pg, recorder, now=at(5, 2))) == 1


def test_scheduled_runs_use_the_schedules_settings(pg: sessionmaker[Session]) -> None:
    settings = RunSettings(versions=("deny-all",), attempts=1)
    add_schedule(pg, at(1, 3), settings=settings)
    (created,) = tick_schedules(pg, Recorder(), now=at(2, 2))
    assert created.planned_cells == 4
    (run,) = scheduled_runs(pg)
    assert RunSettings.from_json(run.options) == settings
    assert run.trigger is Trigger.SCHEDULE
    assert run.scheduled_for == at(2, 2) - timedelta(0)
