"""The run page of a 10,000-cell run: server render time (target <= 500 ms).

    .venv/bin/python -m bench.dashboard_render [--repeat 15] [--versions 1] [--postgres]

A synthetic scenario of 5 namespaces x 20 sources x 50 targets x 2 ports
(10,000 cells per version; ``--versions 5`` spreads the same 10,000 cells
over five versions of 2,000) is run for real on the simulated cluster into a
throw-away SQLite file (the embedded default; ``--postgres``: a throw-away
PostgreSQL database, as in production), twice, and the second run's page
(with its drift since the first) is requested through the Flask test client,
after one warm-up, ``--repeat`` times with every cache emptied first: the
median and the worst are printed, with the page size, and the median with the
run's matrices cached (the page filtered again). The other pages that read
every cell of those runs (compare, the scenario's history, the overview) are
timed the same way, cold.

Baseline, in the same process: the same page with every version drawn as an
HTML table of one element per cell (what the page would cost without the
canvas and the namespace groups). The ratio is baseline / ours.

Before timing, the process's objects so far are frozen out of the garbage
collector's way, as a serving process does once its app is made
(``service.api.heap``); ``--no-freeze`` times without that.
"""

from __future__ import annotations

import argparse
import contextlib
import statistics
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

from flask import Flask

from bench.scenarios import synthetic_scenario
from bench.services import bench_database
from service.api.heap import freeze_startup_objects
from service.cluster.faults import FaultConfig
from service.dashboard import DashboardSettings, register_dashboard
from service.dashboard.context import EXTENSION
from service.runs.create import RunRequest, create_run
from service.runs.dispatch import InProcessDispatcher
from service.runs.settings import RunSettings, SimulatorSettings
from service.store import make_engine, make_session_factory, upgrade
from service.store.enums import Trigger
from service.store.models import Run

TARGET_MS = 500.0


def _app(sessions: object, table_cells: int) -> Flask:
    app = Flask("bench")
    register_dashboard(
        app,
        sessions=sessions,  # type: ignore[arg-type]
        settings=DashboardSettings(anonymous_read=True, table_cells=table_cells),
        notifications=False,
    )
    return app


def _time(app: Flask, path: str, repeat: int, *, cold: bool) -> tuple[list[float], int]:
    """Milliseconds per request; ``cold``: the matrix cache emptied before each."""
    client = app.test_client()
    first = client.get(path)
    if first.status_code != 200:
        raise SystemExit(f"GET {path}: {first.status_code}")
    state = app.extensions[EXTENSION]
    times = []
    for _ in range(repeat):
        if cold:
            state.matrices.clear()
            state.columns.clear()
        start = time.perf_counter()
        response = client.get(path)
        times.append((time.perf_counter() - start) * 1000)
        assert response.status_code == 200
    return times, len(first.data)


@contextlib.contextmanager
def _database(*, postgres: bool) -> Iterator[str]:
    if postgres:
        with bench_database("dashboard") as url:
            yield url
    else:
        with tempfile.TemporaryDirectory() as tmp:
            yield f"sqlite:///{Path(tmp) / 'bench.db'}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeat", type=int, default=15)
    parser.add_argument("--versions", type=int, default=1, choices=(1, 2, 5, 10))
    parser.add_argument("--postgres", action="store_true", help="PostgreSQL instead of SQLite")
    parser.add_argument(
        "--no-freeze", action="store_true", help="leave start-up objects to the collector"
    )
    args = parser.parse_args()
    with _database(postgres=args.postgres) as url:
        upgrade(url)
        engine = make_engine(url)
        sessions = make_session_factory(engine)
        targets = 50 // args.versions
        scenario = synthetic_scenario(
            namespaces=5, sources=20, targets=targets, versions=args.versions
        )
        started = time.perf_counter()
        # Two runs: the page of the second counts its drift since the first, which its
        # lost probes (5% of cells, become errors) give it, so compare has pages to show.
        lossy = SimulatorSettings(faults=FaultConfig(seed=5, probe_loss_rate=0.05))
        runs = []
        with InProcessDispatcher(sessions) as dispatcher:
            for settings in (RunSettings(attempts=1), RunSettings(attempts=1, simulator=lossy)):
                request = RunRequest(scenario=scenario, trigger=Trigger.CLI, settings=settings)
                created = create_run(sessions, request)
                dispatcher.run(created.run_id, created.shard_keys)
                runs.append(created)
        print(
            f"two runs of {created.planned_cells} cells in {args.versions} version(s)"
            f" on {'PostgreSQL' if args.postgres else 'SQLite'},"
            f" executed in {time.perf_counter() - started:.1f} s"
        )
        path = f"/dashboard/runs/{created.run_id}"
        ours_app = _app(sessions, DashboardSettings().table_cells)
        base_app = _app(sessions, 10**9)
        if not args.no_freeze:
            freeze_startup_objects()
        ours, size = _time(ours_app, path, args.repeat, cold=True)
        warm, _ = _time(ours_app, path, args.repeat, cold=False)
        base, base_size = _time(base_app, path, args.repeat, cold=True)
        with sessions() as session:
            scenario_id = session.get_one(Run, created.run_id).scenario_id
        others = {
            name: _time(ours_app, page, args.repeat, cold=True)
            for name, page in (
                ("compare", f"/dashboard/compare?base={runs[0].run_id}&head={runs[1].run_id}"),
                ("history", f"/dashboard/scenarios/{scenario_id}"),
                ("overview", "/dashboard/"),
            )
        }
        engine.dispose()
    median, worst = statistics.median(ours), max(ours)
    base_median = statistics.median(base)
    verdict = "OK" if worst <= TARGET_MS else "OVER TARGET"
    print(
        f"run page, {created.planned_cells} cells, nothing cached: median {median:.0f} ms,"
        f" worst {worst:.0f} ms, {size / 1024:.0f} KiB (target <= {TARGET_MS:.0f} ms: {verdict})"
    )
    warm_median = statistics.median(warm)
    print(f"the same with its matrices cached (filtering again): median {warm_median:.0f} ms")
    print(
        f"baseline (every cell an HTML element, nothing cached): median {base_median:.0f} ms,"
        f" {base_size / 1024:.0f} KiB; ratio baseline/ours {base_median / median:.1f}x"
    )
    for name, (times, page_size) in others.items():
        print(
            f"{name} page, nothing cached: median {statistics.median(times):.0f} ms,"
            f" worst {max(times):.0f} ms, {page_size / 1024:.0f} KiB"
        )


if __name__ == "__main__":
    main()
