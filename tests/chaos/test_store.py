"""Stored experiments come back whole; the read API sums them up and follows a step."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from service.chaos import (
    Observation,
    Phase,
    StepStatus,
    list_experiments,
    load_experiment,
    run_experiment,
    step_history,
    store_experiment,
    timeline,
)
from service.chaos.results import ExperimentResult
from service.cluster.faults import Delay, DelayKind
from service.scenario.chaos import ChaosStep, RecreatePods, StepKind, SwitchVersion
from service.scenario.model import Scenario
from service.store import (
    ChaosExperiment,
    ChaosPhase,
    ensure_schema,
    make_engine,
    make_session_factory,
)
from service.store import ChaosStep as StepRow
from service.store import Scenario as ScenarioRow
from service.store.chaos_models import PHASES, STEP_KINDS, STEP_STATUSES
from tests.chaos.builders import chaos_workshop, instant_cluster

STEPS = (
    ChaosStep("churn", SwitchVersion("allow-pod")),
    ChaosStep("reschedule", RecreatePods(("backend",))),
)


@pytest.fixture
def sessions(store_url: str) -> Iterator[sessionmaker[Session]]:
    ensure_schema(store_url)
    engine = make_engine(store_url)
    yield make_session_factory(engine)
    engine.dispose()


def _experiment(scenario: Scenario, delay: float = 1.0) -> ExperimentResult:
    cluster = instant_cluster(
        programming=Delay(DelayKind.CONSTANT, delay),
        isolation=Delay(DelayKind.CONSTANT, delay),
    )
    return run_experiment(scenario, cluster=cluster)


def test_the_words_the_store_checks_are_the_chaos_packages() -> None:
    assert tuple(str(k) for k in StepKind) == STEP_KINDS
    assert tuple(str(s) for s in StepStatus) == STEP_STATUSES
    assert tuple(str(p) for p in Phase) == PHASES


def test_a_stored_experiment_comes_back_as_it_was(sessions: sessionmaker[Session]) -> None:
    scenario = chaos_workshop(*STEPS)
    result = _experiment(scenario)
    experiment_id = store_experiment(
        sessions, result, scenario=scenario, options={"seed": 3, "steps": []}
    )
    with sessions() as session:
        stored = load_experiment(session, experiment_id)
        assert load_experiment(session, experiment_id + 1) is None
    assert stored is not None
    assert stored.options == {"seed": 3, "steps": []}
    assert stored.result.to_dict() == result.to_dict()
    # what the dashboard draws is the same from the store as from the run
    assert timeline(stored.result).to_dict() == timeline(result).to_dict()


def test_phases_keep_their_figures_as_columns(sessions: sessionmaker[Session]) -> None:
    scenario = chaos_workshop(*STEPS)
    result = _experiment(scenario)
    experiment_id = store_experiment(sessions, result, scenario=scenario)
    reschedule = result.step("reschedule").change
    assert reschedule is not None
    with sessions() as session:
        row = session.get(ChaosPhase, (experiment_id, 1, "action"))
        baseline = session.get(ChaosPhase, (experiment_id, -1, "baseline"))
        rows = session.scalar(select(func.count()).select_from(ChaosPhase))
    assert row is not None
    assert row.fail_open_s == reschedule.window(Observation.FAIL_OPEN).seconds > 0
    assert row.convergence_s == reschedule.convergence_s
    assert baseline is not None
    assert rows == 1 + 3 * len(STEPS)


def test_the_list_sums_up_the_latest_experiments_first(sessions: sessionmaker[Session]) -> None:
    scenario = chaos_workshop(*STEPS)
    other = replace(chaos_workshop(STEPS[0]), name="other")
    first = store_experiment(sessions, _experiment(scenario), scenario=scenario)
    second = store_experiment(sessions, _experiment(scenario, 2.0), scenario=scenario)
    with sessions() as session:
        latest = list_experiments(session, scenario="calico-workshop", limit=2)
        paged = list_experiments(session, scenario="calico-workshop", before_id=second)
    store_experiment(sessions, _experiment(other), scenario=other)
    with sessions() as session:
        everything = list_experiments(session, limit=10)
        others = list_experiments(session, scenario="other")
    assert [s.id for s in latest] == [second, first]
    assert [s.id for s in paged] == [first]
    assert len(everything) == 3
    assert [s.scenario for s in others] == ["other"]
    summary = latest[0]
    assert (summary.steps, summary.steps_not_held, summary.ok) == (2, 1, False)
    # the rescheduled backend is open until its isolation is programmed, 2 s after Ready
    assert 2.0 <= summary.worst_fail_open_s < 2.5
    assert summary.worst_fail_closed_s == 0


def test_a_steps_history_follows_it_across_experiments(sessions: sessionmaker[Session]) -> None:
    scenario = chaos_workshop(*STEPS)
    for delay in (1.0, 2.0, 3.0):
        store_experiment(sessions, _experiment(scenario, delay), scenario=scenario)
    with sessions() as session:
        points = step_history(session, scenario="calico-workshop", step="churn")
        last_two = step_history(session, scenario="calico-workshop", step="churn", limit=2)
    times = [p.convergence_s for p in points]
    assert all(t is not None for t in times)
    assert [round(t or 0.0) for t in times] == [1, 2, 3]
    assert [p.experiment_id for p in last_two] == [p.experiment_id for p in points[1:]]


def test_deleting_the_scenario_deletes_its_experiments(sessions: sessionmaker[Session]) -> None:
    scenario = chaos_workshop(*STEPS)
    store_experiment(sessions, _experiment(scenario), scenario=scenario)
    with sessions() as session, session.begin():
        session.execute(ScenarioRow.__table__.delete())
    with sessions() as session:
        for table in (ChaosExperiment, StepRow, ChaosPhase):
            assert session.scalar(select(func.count()).select_from(table)) == 0
