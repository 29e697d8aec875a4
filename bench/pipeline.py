"""The run pipeline at scale: a 100,000-cell simulated run through Redis, two workers, PostgreSQL.

    .venv/bin/python -m bench.pipeline [--versions 10] [--sources-per-shard 10]

End to end: from creating the run (planning it, storing it) to the moment the
database says it is finished, with two Celery worker processes executing its
shards and storing its cells. Target: <= 20 s. Printed: cells/s, and bytes
stored per cell (PostgreSQL's size of the tables and their indexes, divided by
their rows).

Baseline, in the same process: the same run executed by the in-process
dispatcher (two threads, the embedded default's code path) against the same
database; the ratio says what fanning out to worker processes buys.

The scenario's revision and its cells (written once per revision, not per run)
are stored first and timed on their own.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import redis
from sqlalchemy import func, select, text
from sqlalchemy.orm import Session, sessionmaker

from bench.scenarios import synthetic_scenario
from bench.services import REDIS_URL, bench_database, worker_processes
from service.cluster.faults import FaultConfig
from service.runs.create import RunRequest, create_run
from service.runs.dispatch import InProcessDispatcher
from service.runs.planning import PlanCache
from service.runs.revisions import store_revision, write_revision_cells
from service.runs.settings import RunSettings, SimulatorSettings
from service.scenario.model import Scenario
from service.store import CellResult, Run, Trigger, make_engine, make_session_factory, upgrade
from workers.app import celery_init_app
from workers.config import WorkerSettings, celery_config
from workers.dispatch import CeleryDispatcher

TARGET_S = 20.0


def _wait_finished(sessions: sessionmaker[Session], run_id: int, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        with sessions() as session:
            if session.get_one(Run, run_id).status.finished:
                return
        time.sleep(0.05)
    raise RuntimeError(f"run {run_id} did not finish within {timeout_s:g} s")


def _bytes_per_row(sessions: sessionmaker[Session], table: str) -> tuple[int, float]:
    with sessions() as session:
        rows = int(session.scalar(text(f"SELECT count(*) FROM {table}")) or 0)
        size = int(session.scalar(text(f"SELECT pg_total_relation_size('{table}')")) or 0)
    return rows, size / max(rows, 1)


def _request(scenario: Scenario, settings: RunSettings) -> RunRequest:
    return RunRequest(scenario=scenario, trigger=Trigger.API, settings=settings)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--versions", type=int, default=10, help="10 versions: 100,000 cells")
    parser.add_argument("--sources-per-shard", type=int, default=10)
    args = parser.parse_args()

    scenario = synthetic_scenario(versions=args.versions)
    faults = FaultConfig(seed=1, probe_loss_rate=0.01)
    settings = RunSettings(
        sources_per_shard=args.sources_per_shard,
        retry_interval_s=0.5,
        simulator=SimulatorSettings(faults=faults),
    )
    broker = redis.Redis.from_url(REDIS_URL)
    broker.flushdb()
    with bench_database("pipeline") as url, tempfile.TemporaryDirectory() as logs:
        upgrade(url)
        engine = make_engine(url)
        sessions = make_session_factory(engine)
        try:
            started = time.perf_counter()
            with sessions.begin() as session:
                revision = store_revision(session, scenario)
                written = write_revision_cells(session, revision.id, scenario)
            revision_s = time.perf_counter() - started
            print(f"revision cells: {written} written once per revision in {revision_s:.2f} s")

            app = celery_init_app(
                celery_config(WorkerSettings(broker_url=REDIS_URL, database_url=url))
            )
            with worker_processes(2, database_url=url, broker_url=REDIS_URL, log_dir=Path(logs)):
                started = time.perf_counter()
                created = create_run(sessions, _request(scenario, settings))
                CeleryDispatcher(app).dispatch(created.run_id, created.shard_keys)
                _wait_finished(sessions, created.run_id, timeout_s=300)
                celery_s = time.perf_counter() - started
            with sessions() as session:
                stored = session.scalar(
                    select(func.count())
                    .select_from(CellResult)
                    .where(CellResult.run_id == created.run_id)
                )
            assert stored == created.planned_cells, (stored, created.planned_cells)
            results, per_result = _bytes_per_row(sessions, "cell_results")
            cells, per_cell = _bytes_per_row(sessions, "revision_cells")

            plans = PlanCache()
            started = time.perf_counter()
            baseline = create_run(sessions, _request(scenario, settings), plans=plans)
            with InProcessDispatcher(sessions, plans=plans, workers=2) as dispatcher:
                dispatcher.run(baseline.run_id, baseline.shard_keys)
            baseline_s = time.perf_counter() - started
        finally:
            engine.dispose()
            broker.flushdb()

    cells_total = created.planned_cells
    print(
        f"celery: {cells_total} cells in {len(created.shard_keys)} shards on 2 worker processes:"
        f" {celery_s:.2f} s end to end, {cells_total / celery_s:,.0f} cells/s"
        f" (target <= {TARGET_S:g} s: {'met' if celery_s <= TARGET_S else 'MISSED'})"
    )
    print(
        f"stored per run: {per_result:.0f} bytes per cell result ({results} rows, indexes"
        f" included); once per revision: {per_cell:.0f} bytes per revision cell ({cells} rows)"
    )
    print(
        f"baseline, in-process dispatcher (2 threads): {baseline_s:.2f} s,"
        f" {cells_total / baseline_s:,.0f} cells/s; ratio baseline/celery = "
        f"{baseline_s / celery_s:.2f}"
    )


if __name__ == "__main__":
    main()
