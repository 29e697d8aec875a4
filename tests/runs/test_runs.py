"""Runs end to end in one process on PostgreSQL: create, execute shards, store once, finish."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session, sessionmaker

from service.cluster.faults import EnforcementWindow, FaultConfig, WindowMode
from service.cluster.simulated import SimulatedCluster
from service.errors import InvalidInput
from service.runner import run_scenario
from service.runs.backends import default_backends
from service.runs.create import CreatedRun, RunRequest, create_run
from service.runs.dispatch import InProcessDispatcher, resume_stalled_runs
from service.runs.execute import execute_shard, result_rows
from service.runs.lifecycle import cancel_run, finish_if_complete, reap_runs
from service.runs.planning import PlanCache
from service.runs.settings import RunSettings, SimulatorSettings
from service.scenario.load import load_scenario
from service.scenario.model import Scenario, Verdict
from service.store import (
    CellResult,
    RevisionCell,
    Run,
    RunStatus,
    RunVersion,
    ScenarioRevision,
    Trigger,
    utc_now,
)
from service.store.models import Scenario as StoredScenario

SCENARIOS = Path(__file__).resolve().parents[2] / "scenarios"


def e2e_model() -> Scenario:
    return load_scenario(SCENARIOS / "e2e-model.yaml")


def workshop() -> Scenario:
    return load_scenario(SCENARIOS / "calico-workshop.yaml")


def lossy(seed: int = 3, **settings: object) -> RunSettings:
    faults = FaultConfig(seed=seed, probe_loss_rate=0.2)
    return RunSettings(simulator=SimulatorSettings(faults=faults), **settings)  # type: ignore[arg-type]


def create(
    sessions: sessionmaker[Session],
    scenario: Scenario,
    settings: RunSettings | None = None,
    plans: PlanCache | None = None,
) -> CreatedRun:
    request = RunRequest(scenario=scenario, trigger=Trigger.API, settings=settings or RunSettings())
    return create_run(sessions, request, plans=plans)


def stored_cells(sessions: sessionmaker[Session], run_id: int) -> dict[str, CellResult]:
    with sessions() as session:
        rows = session.scalars(select(CellResult).where(CellResult.run_id == run_id))
        return {row.cell_key: row for row in rows}


def run_row(sessions: sessionmaker[Session], run_id: int) -> Run:
    with sessions() as session:
        return session.get_one(Run, run_id)


class Recorder:
    """A dispatcher that only writes down what it was asked to send."""

    def __init__(self) -> None:
        self.sent: list[tuple[int, tuple[str, ...]]] = []

    def dispatch(self, run_id: int, shard_keys: Sequence[str]) -> None:
        self.sent.append((run_id, tuple(shard_keys)))


# --- creating -------------------------------------------------------------------------------


def test_a_new_run_is_queued_with_its_planned_cells_and_its_revision_cells(
    pg: sessionmaker[Session],
) -> None:
    created = create(pg, e2e_model())
    run = run_row(pg, created.run_id)
    assert (run.status, run.trigger, run.planned_cells) == (RunStatus.QUEUED, Trigger.API, 1944)
    assert run.deadline_at is not None
    assert run.deadline_at - run.created_at == timedelta(seconds=RunSettings().deadline_s)
    with pg() as session:
        cells = session.scalar(select(func.count()).select_from(RevisionCell))
        versions = session.scalars(select(RunVersion.version).where(RunVersion.run_id == run.id))
        assert set(versions) == {v.name for v in e2e_model().versions}
    assert cells == 1944
    assert created.planned_cells == len(set(created.plan.cells)) == 1944


def test_the_same_content_is_one_revision_and_its_cells_are_written_once(
    pg: sessionmaker[Session],
) -> None:
    first = create(pg, e2e_model())
    second = create(pg, e2e_model(), RunSettings(versions=("none",)))
    assert first.revision_id == second.revision_id
    with pg() as session:
        counts = [
            session.scalar(select(func.count()).select_from(model))
            for model in (StoredScenario, ScenarioRevision, RevisionCell, Run)
        ]
    assert counts == [1, 1, 1944, 2]


def test_a_run_narrowed_to_a_version_source_and_target_plans_only_those_cells(
    pg: sessionmaker[Session],
) -> None:
    settings = RunSettings(versions=("deny-all-ingress-x",), sources=("a",), targets=("x-b",))
    created = create(pg, e2e_model(), settings)
    cells = created.plan.cells
    assert {(c.version, c.source, c.target) for c in cells} == {("deny-all-ingress-x", "a", "x-b")}
    assert len(cells) == 3 * 4  # three source namespaces x four ports
    # The revision still holds the whole matrix: a later full run needs no new cells.
    with pg() as session:
        assert session.scalar(select(func.count()).select_from(RevisionCell)) == 1944


def test_unknown_names_in_the_narrowing_are_refused_with_their_option_path(
    pg: sessionmaker[Session],
) -> None:
    settings = RunSettings(versions=("nope",), sources=("a", "zz"), targets=("x-q",))
    with pytest.raises(InvalidInput) as raised:
        create(pg, e2e_model(), settings)
    paths = sorted(str(p.path) for p in raised.value.problems)
    assert paths == ["options.sources[1]", "options.targets[0]", "options.versions[0]"]
    with pg() as session:
        assert session.scalar(select(func.count()).select_from(Run)) == 0


# --- executing --------------------------------------------------------------------------------


def test_the_in_process_dispatcher_stores_what_the_single_cluster_runner_sees(
    pg: sessionmaker[Session],
) -> None:
    settings = lossy()
    plans = PlanCache()
    created = create(pg, e2e_model(), settings, plans)
    with InProcessDispatcher(pg, plans=plans, workers=2) as dispatcher:
        outcomes = dispatcher.run(created.run_id, created.shard_keys)
    assert sum(o.stored for o in outcomes) == created.planned_cells
    # Probe loss depends on the seed, the version, the cell and its attempt only, so
    # shard by shard on fresh clusters sees what one cluster for the whole run sees.
    legacy = run_scenario(
        e2e_model(),
        cluster=SimulatedCluster(faults=settings.simulator.faults),
        options=settings.run_options(),
    )
    stored = stored_cells(pg, created.run_id)
    assert len(stored) == len(legacy.cells) == created.planned_cells
    assert legacy.counts.flaky > 0
    for result in legacy.cells:
        row = stored[result.cell.key]
        assert (row.observed, row.raw_outcome, row.attempts) == (
            result.observed,
            result.raw,
            len(result.attempts),
        )
        assert (row.regression, row.flaky, row.latency_ms) == (
            result.regression,
            result.flaky,
            result.latency_ms,
        )
    run = run_row(pg, created.run_id)
    assert run.status is (RunStatus.SUCCEEDED if legacy.ok else RunStatus.FAILED)
    assert (run.regressions, run.flaky, run.errors) == (
        legacy.counts.regressions,
        legacy.counts.flaky,
        legacy.counts.errors,
    )
    assert run.started_at is not None
    assert run.finished_at is not None
    assert run.cluster is not None
    assert run.cluster["backend"] == "simulated"


def test_attempt_details_are_kept_only_for_cells_that_needed_more_than_a_clean_probe(
    pg: sessionmaker[Session],
) -> None:
    plans = PlanCache()
    created = create(pg, e2e_model(), lossy(), plans)
    with InProcessDispatcher(pg, plans=plans) as dispatcher:
        dispatcher.run(created.run_id, created.shard_keys)
    with pg() as session:
        clean_with_details = session.scalar(
            select(func.count())
            .select_from(CellResult)
            .where(CellResult.attempts == 1, CellResult.attempt_details.is_not(None))
        )
        flaky = session.scalars(select(CellResult).where(CellResult.flaky.is_(True))).all()
    assert clean_with_details == 0
    assert flaky
    for row in flaky:
        assert row.attempt_details is not None
        assert [a["number"] for a in row.attempt_details] == list(range(1, row.attempts + 1))
        assert {a["raw"] for a in row.attempt_details} >= {"timeout", "connected"}


def test_a_shard_executed_again_stores_nothing_twice(pg: sessionmaker[Session]) -> None:
    plans = PlanCache()
    created = create(pg, e2e_model(), lossy(), plans)
    key = created.shard_keys[0]
    first = execute_shard(pg, created.run_id, key, backends=default_backends(), plans=plans)
    again = execute_shard(pg, created.run_id, key, backends=default_backends(), plans=plans)
    assert first.stored == len(created.plan.cells_of(key)) > 0
    assert (again.stored, again.skipped) == (0, "every cell is stored already")
    # Half of it lost (as if the first delivery committed only part): only that part is stored.
    lost = [c.key for c in created.plan.cells_of(key)][::2]
    with pg.begin() as session:
        session.execute(
            delete(CellResult).where(
                CellResult.run_id == created.run_id, CellResult.cell_key.in_(lost)
            )
        )
    before = stored_cells(pg, created.run_id)
    redelivered = execute_shard(pg, created.run_id, key, backends=default_backends(), plans=plans)
    after = stored_cells(pg, created.run_id)
    assert redelivered.stored == len(lost)
    assert set(after) == set(before) | set(lost)
    assert all(after[k].observed == before[k].observed for k in before)


@pytest.mark.parametrize("database", ["pg", "lite"])
def test_each_stored_shard_marks_progress_and_the_first_records_where_the_run_ran(
    request: pytest.FixtureRequest, database: str
) -> None:
    sessions: sessionmaker[Session] = request.getfixturevalue(database)
    plans = PlanCache()
    created = create(sessions, workshop(), RunSettings(sources_per_shard=1), plans)
    first, second, *_ = created.shard_keys
    assert run_row(sessions, created.run_id).cluster is None
    execute_shard(sessions, created.run_id, first, backends=default_backends(), plans=plans)
    after_first = run_row(sessions, created.run_id)
    assert after_first.cluster is not None
    assert after_first.cluster["backend"] == "simulated"
    assert after_first.progress_at is not None
    # A record unlike any a shard makes: a later shard must leave it as it is.
    recorded = {"backend": "recorded-by-the-first-shard"}
    with sessions.begin() as session:
        session.get_one(Run, created.run_id).cluster = recorded
    execute_shard(sessions, created.run_id, second, backends=default_backends(), plans=plans)
    after_second = run_row(sessions, created.run_id)
    assert after_second.cluster == recorded
    assert after_second.progress_at is not None
    assert after_second.progress_at > after_first.progress_at


def test_a_run_is_finished_only_when_every_planned_cell_is_stored(
    pg: sessionmaker[Session],
) -> None:
    plans = PlanCache()
    created = create(pg, workshop(), RunSettings(sources_per_shard=1), plans)
    *first, last = created.shard_keys
    for key in first:
        outcome = execute_shard(pg, created.run_id, key, backends=default_backends(), plans=plans)
        assert outcome.finished is None
        assert run_row(pg, created.run_id).status is RunStatus.RUNNING
    outcome = execute_shard(pg, created.run_id, last, backends=default_backends(), plans=plans)
    assert outcome.finished is RunStatus.SUCCEEDED
    assert finish_if_complete(pg, created.run_id) is None  # closed once, not again


def test_a_complete_run_with_regressions_fails_with_its_counts_and_no_error(
    pg: sessionmaker[Session],
) -> None:
    window = EnforcementWindow("deny-all", WindowMode.FAIL_OPEN)
    settings = RunSettings(simulator=SimulatorSettings(faults=FaultConfig(windows=(window,))))
    plans = PlanCache()
    created = create(pg, workshop(), settings, plans)
    with InProcessDispatcher(pg, plans=plans) as dispatcher:
        dispatcher.run(created.run_id, created.shard_keys)
    run = run_row(pg, created.run_id)
    assert (run.status, run.regressions, run.error) == (RunStatus.FAILED, 4, None)
    with pg() as session:
        regressions = session.execute(
            select(RevisionCell.version, CellResult.observed)
            .join(
                RevisionCell,
                (RevisionCell.cell_key == CellResult.cell_key)
                & (RevisionCell.revision_id == created.revision_id),
            )
            .where(CellResult.run_id == created.run_id, CellResult.regression.is_(True))
        ).all()
    assert {(r.version, r.observed) for r in regressions} == {("deny-all", Verdict.ALLOWED)}


def test_a_cancelled_run_skips_the_shards_not_yet_started(pg: sessionmaker[Session]) -> None:
    plans = PlanCache()
    created = create(pg, workshop(), RunSettings(sources_per_shard=1), plans)
    execute_shard(
        pg, created.run_id, created.shard_keys[0], backends=default_backends(), plans=plans
    )
    assert cancel_run(pg, created.run_id)
    assert not cancel_run(pg, created.run_id)
    later = execute_shard(
        pg, created.run_id, created.shard_keys[1], backends=default_backends(), plans=plans
    )
    assert later.skipped == "the run is cancelled"
    run = run_row(pg, created.run_id)
    assert (run.status, run.error) == (RunStatus.CANCELLED, "cancelled")


def test_the_reaper_fails_a_run_past_its_deadline_and_says_why(pg: sessionmaker[Session]) -> None:
    plans = PlanCache()
    created = create(pg, workshop(), RunSettings(sources_per_shard=1, deadline_s=60), plans)
    execute_shard(
        pg, created.run_id, created.shard_keys[0], backends=default_backends(), plans=plans
    )
    assert reap_runs(pg) == []  # not due yet
    reaped = reap_runs(pg, now=utc_now() + timedelta(minutes=2))
    assert reaped == [created.run_id]
    run = run_row(pg, created.run_id)
    assert run.status is RunStatus.FAILED
    assert run.error is not None
    assert "did not finish by its deadline" in run.error
    first = len(created.plan.cells_of(created.shard_keys[0]))
    assert f"{first} of 16 cells were stored" in run.error
    assert len(stored_cells(pg, created.run_id)) == first  # kept
    assert reap_runs(pg, now=utc_now() + timedelta(minutes=3)) == []


def test_the_reaper_finishes_a_run_whose_cells_are_all_stored(pg: sessionmaker[Session]) -> None:
    plans = PlanCache()
    created = create(pg, workshop(), RunSettings(deadline_s=60), plans)
    rows = []
    for key in created.shard_keys:
        outcome = execute_shard(pg, created.run_id, key, backends=default_backends(), plans=plans)
        rows.extend(result_rows(created.run_id, outcome.results, {}))
    # As if the last shard's worker died between storing and closing the run.
    with pg.begin() as session:
        session.execute(
            update(Run)
            .where(Run.id == created.run_id)
            .values(status=RunStatus.RUNNING, finished_at=None)
        )
    assert reap_runs(pg, now=utc_now() + timedelta(minutes=2)) == []
    assert run_row(pg, created.run_id).status is RunStatus.SUCCEEDED


def test_a_stalled_run_gets_its_missing_shards_sent_again_once(pg: sessionmaker[Session]) -> None:
    plans = PlanCache()
    created = create(pg, workshop(), RunSettings(sources_per_shard=1), plans)
    done = created.shard_keys[:2]
    for key in done:
        execute_shard(pg, created.run_id, key, backends=default_backends(), plans=plans)
    recorder = Recorder()
    soon = resume_stalled_runs(pg, recorder, plans=plans, stalled_after=timedelta(minutes=5))
    assert soon == {}
    later = utc_now() + timedelta(minutes=10)
    sent = resume_stalled_runs(
        pg, recorder, plans=plans, stalled_after=timedelta(minutes=5), now=later
    )
    assert sent == {created.run_id: tuple(created.shard_keys[2:])}
    # The run counts as progressing now: a second sweep at the same time sends nothing.
    again = resume_stalled_runs(
        pg, recorder, plans=plans, stalled_after=timedelta(minutes=5), now=later
    )
    assert again == {}
    assert recorder.sent == [(created.run_id, tuple(created.shard_keys[2:]))]


def test_the_embedded_default_runs_on_sqlite_with_threads(lite: sessionmaker[Session]) -> None:
    plans = PlanCache()
    created = create(lite, e2e_model(), lossy(seed=5, sources_per_shard=1), plans)
    with InProcessDispatcher(lite, plans=plans, workers=4) as dispatcher:
        outcomes = dispatcher.run(created.run_id, created.shard_keys)
    assert len(outcomes) == len(created.shard_keys)
    assert len(stored_cells(lite, created.run_id)) == created.planned_cells
    assert run_row(lite, created.run_id).status.finished


def test_an_expected_verdict_that_differs_from_the_revisions_is_stored_with_the_run(
    pg: sessionmaker[Session],
) -> None:
    plans = PlanCache()
    created = create(pg, workshop(), RunSettings(), plans)
    outcome = execute_shard(
        pg, created.run_id, created.shard_keys[0], backends=default_backends(), plans=plans
    )
    revision_expected = {r.cell.key: r.expected for r in outcome.results}
    assert (
        result_rows(created.run_id, outcome.results, revision_expected)[0]["expected_override"]
        is None
    )
    first = outcome.results[0]
    flipped = Verdict.BLOCKED if first.expected is Verdict.ALLOWED else Verdict.ALLOWED
    rows = result_rows(created.run_id, outcome.results, {first.cell.key: flipped})
    assert rows[0]["expected_override"] is first.expected
    assert rows[0]["explanation_override"] == first.explanation.render()  # type: ignore[union-attr]
    assert all(r["expected_override"] is None for r in rows[1:])
