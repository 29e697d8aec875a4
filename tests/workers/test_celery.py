"""Runs on real Celery workers: fan-out, a worker killed mid-run, a broker restart, the reaper."""

from __future__ import annotations

import re
import time
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from service.cluster.faults import FaultConfig
from service.runs.create import CreatedRun, RunRequest, create_run
from service.runs.dispatch import InProcessDispatcher
from service.runs.planning import PlanCache
from service.runs.settings import RunSettings, SimulatorSettings
from service.scenario.load import load_scenario
from service.scenario.model import Scenario
from service.store import CellResult, Run, RunStatus, Trigger
from tests.runs.conftest import cell_values
from workers.app import celery_init_app
from workers.config import WorkerSettings, celery_config
from workers.dispatch import CeleryDispatcher

from .conftest import Processes, free_port, wait_until

# A reap_runs task result that resent shards of some run.
RESENT = re.compile(r"'resent': \{'\d+': \[")
# Runs that must be caught mid-way are paced (real seconds per probe batch) and kept
# to two versions (18 one-source shards), so they last a few seconds.
PACED_VERSIONS = ("deny-all-ingress-x", "allow-from-y")
E2E_MODEL = Path(__file__).resolve().parents[2] / "scenarios" / "e2e-model.yaml"


def e2e_model() -> Scenario:
    return load_scenario(E2E_MODEL)


def settings(*, pace_s: float = 0.0, sources_per_shard: int = 2, **more: Any) -> RunSettings:
    faults = FaultConfig(seed=11, probe_loss_rate=0.15)
    simulator = SimulatorSettings(faults=faults, pace_s=pace_s)
    return RunSettings(simulator=simulator, sources_per_shard=sources_per_shard, **more)


@pytest.fixture
def app(broker_url: str, pg_url: str) -> Any:
    """The sending side: an app configured like the API's, for the test broker."""
    # Not closed afterwards: kombu shares producer pools between apps of one broker URL.
    return celery_init_app(
        celery_config(WorkerSettings(broker_url=broker_url, database_url=pg_url))
    )


def stored(sessions: sessionmaker[Session], run_id: int) -> dict[str, tuple[object, ...]]:
    return cell_values(
        sessions,
        run_id,
        CellResult.observed,
        CellResult.raw_outcome,
        CellResult.latency_ms,
        CellResult.attempts,
        CellResult.attempt_details,
        CellResult.regression,
        CellResult.flaky,
    )


def count(sessions: sessionmaker[Session], run_id: int) -> int:
    with sessions() as session:
        found = session.scalar(
            select(func.count()).select_from(CellResult).where(CellResult.run_id == run_id)
        )
        return int(found or 0)


def status(sessions: sessionmaker[Session], run_id: int) -> RunStatus:
    with sessions() as session:
        return session.get_one(Run, run_id).status


def in_process_reference(
    sessions: sessionmaker[Session], run_settings: RunSettings
) -> dict[str, tuple[object, ...]]:
    """The same run executed by the in-process dispatcher: what the workers must match."""
    plans = PlanCache()
    created = create_run(
        sessions,
        RunRequest(scenario=e2e_model(), trigger=Trigger.CLI, settings=run_settings),
        plans=plans,
    )
    with InProcessDispatcher(sessions, plans=plans, workers=1) as dispatcher:
        dispatcher.run(created.run_id, created.shard_keys)
    return stored(sessions, created.run_id)


def start_run(sessions: sessionmaker[Session], app: Any, run_settings: RunSettings) -> CreatedRun:
    created = create_run(
        sessions, RunRequest(scenario=e2e_model(), trigger=Trigger.API, settings=run_settings)
    )
    CeleryDispatcher(app).dispatch(created.run_id, created.shard_keys)
    return created


def test_a_run_on_two_workers_equals_the_in_process_run_cell_for_cell(
    pg: sessionmaker[Session], app: Any, processes: Processes
) -> None:
    workers = [processes.worker("w1"), processes.worker("w2")]
    for worker in workers:
        worker.wait_ready()
    run_settings = settings()
    created = start_run(pg, app, run_settings)
    wait_until(
        lambda: status(pg, created.run_id).finished,
        timeout_s=60,
        what="the run to finish",
        logs=processes.logs,
    )
    on_workers = stored(pg, created.run_id)
    assert len(on_workers) == created.planned_cells == 1944
    assert on_workers == in_process_reference(pg, run_settings)
    # Both workers took shards: the run really fanned out.
    for worker in workers:
        assert "netpol_drift.run_shard" in worker.text()
        assert "succeeded in" in worker.text()


def test_a_worker_killed_mid_run_still_leaves_every_cell_stored_once(
    pg: sessionmaker[Session], app: Any, processes: Processes
) -> None:
    # Redelivery after this long: above any shard of this run (a fraction of a second).
    fast = {"NETPOL_DRIFT_VISIBILITY_TIMEOUT_S": "3"}
    doomed, survivor = processes.worker("w1", **fast), processes.worker("w2", **fast)
    doomed.wait_ready()
    survivor.wait_ready()
    run_settings = settings(pace_s=0.1, sources_per_shard=1, versions=PACED_VERSIONS)
    created = start_run(pg, app, run_settings)
    wait_until(
        lambda: count(pg, created.run_id) >= created.planned_cells // 5,
        timeout_s=30,
        what="a fifth of the cells",
        logs=processes.logs,
    )
    doomed.kill()
    assert count(pg, created.run_id) < created.planned_cells, "the kill came too late"
    wait_until(
        lambda: status(pg, created.run_id).finished,
        timeout_s=60,
        what="the run to finish without the killed worker",
        logs=processes.logs,
    )
    cells = stored(pg, created.run_id)
    assert set(cells) == {c.key for c in created.plan.cells}
    assert count(pg, created.run_id) == created.planned_cells
    assert cells == in_process_reference(pg, run_settings)


def test_a_run_survives_a_broker_restart_mid_run(
    pg: sessionmaker[Session], processes: Processes, pg_url: str
) -> None:
    port = free_port()
    broker = f"redis://127.0.0.1:{port}/0"
    redis_server = processes.redis_server(port)
    redis_server.wait_ready()
    env = {
        "NETPOL_DRIFT_BROKER_URL": broker,
        # Beat sweeps every second and resends the shards of a run idle for two.
        "NETPOL_DRIFT_REAP_INTERVAL_S": "1",
        "NETPOL_DRIFT_STALLED_AFTER_S": "2",
    }
    workers = [processes.worker("w1", **env), processes.worker("w2", **env)]
    beat = processes.beat(**env)
    for process in (*workers, beat):
        process.wait_ready()
    sender = celery_init_app(celery_config(WorkerSettings(broker_url=broker, database_url=pg_url)))
    run_settings = settings(pace_s=0.1, sources_per_shard=1, versions=PACED_VERSIONS)
    created = start_run(pg, sender, run_settings)
    wait_until(
        lambda: count(pg, created.run_id) >= created.planned_cells // 5,
        timeout_s=30,
        what="a fifth of the cells",
        logs=processes.logs,
    )
    # The broker restarts empty: every queued shard is gone with it.
    redis_server.kill()
    assert count(pg, created.run_id) < created.planned_cells, "the restart came too late"
    processes.redis_server(port).wait_ready()
    wait_until(
        lambda: status(pg, created.run_id).finished,
        timeout_s=60,
        what="the run to finish after the broker restart",
        logs=processes.logs,
    )
    assert count(pg, created.run_id) == created.planned_cells
    assert stored(pg, created.run_id) == in_process_reference(pg, run_settings)
    # The sweep, not luck, brought the lost shards back.
    assert any(RESENT.search(w.text()) for w in workers)


def test_the_reaper_task_closes_a_run_whose_shards_never_ran(
    pg: sessionmaker[Session], app: Any, processes: Processes
) -> None:
    worker = processes.worker("w1")
    worker.wait_ready()
    # Queued with a deadline a moment away, and never dispatched: its workers "died".
    created = create_run(
        pg,
        RunRequest(scenario=e2e_model(), trigger=Trigger.API, settings=settings(deadline_s=0.5)),
    )
    time.sleep(0.6)
    app.send_task("netpol_drift.reap_runs")
    wait_until(
        lambda: status(pg, created.run_id) is RunStatus.FAILED,
        timeout_s=30,
        what="the reaper to fail the run",
        logs=processes.logs,
    )
    with pg() as session:
        run = session.get_one(Run, created.run_id)
    assert run.error is not None
    assert "did not finish by its deadline" in run.error
    assert f"0 of {created.planned_cells} cells were stored" in run.error
