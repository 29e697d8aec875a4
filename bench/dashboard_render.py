"""The run page of a 10,000-cell run: server render time (target <= 500 ms).

    .venv/bin/python -m bench.dashboard_render [--repeat 15] [--versions 1]

A synthetic scenario of 5 namespaces x 20 sources x 50 targets x 2 ports
(10,000 cells per version; ``--versions 5`` spreads the same 10,000 cells
over five versions of 2,000) is run for real on the simulated cluster into a
throw-away SQLite file (the embedded default),
twice, and the second run's page (with its drift since the first) is
requested through the Flask test client, after one warm-up, ``--repeat``
times with every cache emptied first: the median and the worst are printed,
with the page size, and the median with the run's matrices cached (the page
filtered again).

Baseline, in the same process: the same page with every version drawn as an
HTML table of one element per cell (what the page would cost without the
canvas and the namespace groups). The ratio is baseline / ours.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from flask import Flask

from bench.scenarios import synthetic_scenario
from service.dashboard import DashboardSettings, register_dashboard
from service.dashboard.context import EXTENSION
from service.runs.create import RunRequest, create_run
from service.runs.dispatch import InProcessDispatcher
from service.runs.settings import RunSettings
from service.store import make_engine, make_session_factory, upgrade
from service.store.enums import Trigger

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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeat", type=int, default=15)
    parser.add_argument("--versions", type=int, default=1, choices=(1, 2, 5, 10))
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{Path(tmp) / 'bench.db'}"
        upgrade(url)
        engine = make_engine(url)
        sessions = make_session_factory(engine)
        targets = 50 // args.versions
        scenario = synthetic_scenario(
            namespaces=5, sources=20, targets=targets, versions=args.versions
        )
        started = time.perf_counter()
        request = RunRequest(
            scenario=scenario, trigger=Trigger.CLI, settings=RunSettings(attempts=1)
        )
        # Two runs: the page of the second counts its drift since the first.
        with InProcessDispatcher(sessions) as dispatcher:
            for _ in range(2):
                created = create_run(sessions, request)
                dispatcher.run(created.run_id, created.shard_keys)
        print(
            f"two runs of {created.planned_cells} cells in {args.versions} version(s),"
            f" executed in {time.perf_counter() - started:.1f} s"
        )
        path = f"/dashboard/runs/{created.run_id}"
        ours_app = _app(sessions, DashboardSettings().table_cells)
        ours, size = _time(ours_app, path, args.repeat, cold=True)
        warm, _ = _time(ours_app, path, args.repeat, cold=False)
        base, base_size = _time(_app(sessions, 10**9), path, args.repeat, cold=True)
        engine.dispose()
    median, worst = statistics.median(ours), max(ours)
    base_median = statistics.median(base)
    verdict = "OK" if median <= TARGET_MS else "OVER TARGET"
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


if __name__ == "__main__":
    main()
