"""200 concurrent clients reading the results of a 10,000-cell run through the REST API.

    .venv/bin/python -m bench.api_load [--clients 200] [--seconds 20] [--workers 2]

A 10,000-cell run (the synthetic scenario: 5 namespaces x 20 sources x 50
targets x 2 ports, one version, a little probe loss so some cells regress) is
executed in-process into a throw-away PostgreSQL database. The API then runs
in gunicorn (gthread workers, its config module) in a subprocess, the way
docker-compose runs it, and a load tool reads the run's results with a viewer
token, each client cycling through what a dashboard or pipeline asks: the run
with its progress, pages of its cells (100 a page, following cursors), its
regressions, and the matrix of its version.

The load tool is wrk (Debian's package) when it is installed, else a Python
client written here (threads with keep-alive connections; it competes with
the server for the same cores, so it understates what the server does).
Printed: p50 and p99 latency and errors for one client (the baseline) and for
200, and their ratio. Target: p99 <= 250 ms with 200 clients and no errors.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from bench.scenarios import synthetic_scenario
from bench.services import REPO, bench_database
from service.auth import issue_token
from service.cluster.faults import FaultConfig
from service.runs.create import RunRequest, create_run
from service.runs.dispatch import InProcessDispatcher
from service.runs.planning import PlanCache
from service.runs.settings import RunSettings, SimulatorSettings
from service.store import Trigger, make_engine, make_session_factory, upgrade
from service.store.enums import TokenRole

TARGET_P99_MS: Final = 250.0
CELLS: Final = 10_000


@dataclass(frozen=True, slots=True)
class Load:
    tool: str
    clients: int
    requests: int
    errors: int
    p50_ms: float
    p99_ms: float
    seconds: float

    @property
    def rate(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _stored_run(url: str) -> tuple[int, str]:
    """A finished 10,000-cell run and a viewer token."""
    upgrade(url)
    engine = make_engine(url)
    try:
        sessions = make_session_factory(engine)
        scenario = synthetic_scenario(namespaces=5, sources=20, targets=50, versions=1)
        settings = RunSettings(
            attempts=1,
            sources_per_shard=10,
            simulator=SimulatorSettings(faults=FaultConfig(seed=3, probe_loss_rate=0.01)),
        )
        plans = PlanCache()
        created = create_run(
            sessions,
            RunRequest(scenario=scenario, trigger=Trigger.API, settings=settings),
            plans=plans,
        )
        if created.planned_cells != CELLS:
            raise RuntimeError(f"expected {CELLS} cells, planned {created.planned_cells}")
        with InProcessDispatcher(sessions, plans=plans, workers=2) as dispatcher:
            dispatcher.run(created.run_id, created.shard_keys)
        with sessions.begin() as session:
            token = issue_token(session, name="bench", role=TokenRole.VIEWER).token
        return created.run_id, token
    finally:
        engine.dispose()


@contextmanager
def _gunicorn(
    url: str, port: int, workers: int, worker_class: str, clients: int, log: Path
) -> Iterator[str]:
    env = {
        **os.environ,
        "NETPOL_DRIFT_DATABASE_URL": url,
        "NETPOL_DRIFT_AUTO_MIGRATE": "false",
    }
    env.pop("NETPOL_DRIFT_BROKER_URL", None)
    command = [
        sys.executable, "-m", "gunicorn",
        "--config", "python:service.api.gunicorn_config",
        "--bind", f"127.0.0.1:{port}",
        "--workers", str(workers),
        "--worker-class", worker_class,
        "--threads", "8",
        # A worker holds the keep-alive connections it accepted: capped at its share, the
        # others take the rest, so no worker serves most of the clients alone.
        "--worker-connections", str(clients // workers + 5),
        "--backlog", "2048",
        "--keep-alive", "30",
        "--log-level", "warning",
        "service.api:create_app()",
    ]  # fmt: skip
    with log.open("wb") as out:
        server = subprocess.Popen(
            command, cwd=REPO, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
        base = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 60
            while True:
                try:
                    with urllib.request.urlopen(f"{base}/api/v1/health", timeout=2):
                        break
                except OSError:
                    if server.poll() is not None or time.monotonic() > deadline:
                        raise RuntimeError(f"gunicorn did not start; see {log}") from None
                    time.sleep(0.2)
            yield base
        finally:
            os.killpg(server.pid, signal.SIGTERM)
            server.wait(timeout=60)


def _paths(base: str, run_id: int, token: str) -> list[str]:
    """What each client reads, in turn: the run, five pages of cells, regressions, the matrix."""
    headers = {"Authorization": f"Bearer {token}"}
    paths = [f"/api/v1/runs/{run_id}"]
    cursor = None
    for _ in range(5):
        page = f"/api/v1/runs/{run_id}/cells?limit=100" + (f"&cursor={cursor}" if cursor else "")
        paths.append(page)
        request = urllib.request.Request(base + page, headers=headers)
        with urllib.request.urlopen(request, timeout=30) as response:
            cursor = json.loads(response.read())["next_cursor"]
    paths.append(f"/api/v1/runs/{run_id}/cells?regression=true&limit=100")
    paths.append(f"/api/v1/runs/{run_id}/matrix?version=v00")
    for path in paths:  # warm up: every answer once per worker
        for _ in range(4):
            with urllib.request.urlopen(urllib.request.Request(base + path, headers=headers)) as r:
                r.read()
    return paths


_WRK_SCRIPT: Final = """
local paths = {%s}
local counter = 0
request = function()
  counter = counter + 1
  return wrk.format("GET", paths[(counter %% #paths) + 1], {["Authorization"] = "Bearer %s"})
end
"""


def _wrk(base: str, paths: Sequence[str], token: str, clients: int, seconds: int) -> Load:
    quoted = ", ".join(json.dumps(p) for p in paths)
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write(_WRK_SCRIPT % (quoted, token))
    try:
        # One thread drives 200 connections easily; the cores are the server's.
        threads = 1
        out = subprocess.run(
            ["wrk", "-t", str(threads), "-c", str(clients), "-d", f"{seconds}s", "--latency",
             "--timeout", "10s", "-s", script.name, base],
            capture_output=True, text=True, check=True,
        ).stdout  # fmt: skip
    finally:
        os.unlink(script.name)
    requests = int(re.search(r"(\d+) requests in", out).group(1))  # type: ignore[union-attr]
    errors = 0
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    if non2xx:
        errors += int(non2xx.group(1))
    socket_errors = re.search(
        r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out
    )
    if socket_errors:
        errors += sum(int(n) for n in socket_errors.groups())
    return Load(
        "wrk", clients, requests, errors, _percentile(out, "50"), _percentile(out, "99"), seconds
    )


def _percentile(out: str, which: str) -> float:
    match = re.search(rf"^\s+{which}%\s+([\d.]+)(us|ms|s)\s*$", out, re.MULTILINE)
    if match is None:
        raise RuntimeError(f"wrk printed no {which}th percentile:\n{out}")
    value, unit = float(match.group(1)), match.group(2)
    return value / 1000 if unit == "us" else value * 1000 if unit == "s" else value


def _python(base: str, paths: Sequence[str], token: str, clients: int, seconds: int) -> Load:
    host, port = base.removeprefix("http://").split(":")
    headers = {"Authorization": f"Bearer {token}"}
    latencies: list[float] = []
    errors = 0
    lock = threading.Lock()
    stop = time.monotonic() + seconds

    def client(offset: int) -> None:
        nonlocal errors
        connection = http.client.HTTPConnection(host, int(port), timeout=10)
        mine: list[float] = []
        failed = 0
        i = offset
        while time.monotonic() < stop:
            started = time.perf_counter()
            try:
                connection.request("GET", paths[i % len(paths)], headers=headers)
                response = connection.getresponse()
                response.read()
                if response.status >= 400:
                    failed += 1
            except (OSError, http.client.HTTPException):
                failed += 1
                connection.close()
                connection = http.client.HTTPConnection(host, int(port), timeout=10)
            mine.append((time.perf_counter() - started) * 1000)
            i += 1
        connection.close()
        with lock:
            latencies.extend(mine)
            errors += failed

    threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    latencies.sort()
    p99 = latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))]
    return Load(
        "python threads",
        clients,
        len(latencies),
        errors,
        statistics.median(latencies),
        p99,
        seconds,
    )


def _line(label: str, load: Load) -> None:
    print(
        f"{label}: {load.clients} client(s), {load.tool}: {load.requests} requests in"
        f" {load.seconds} s ({load.rate:,.0f}/s), p50 {load.p50_ms:.1f} ms,"
        f" p99 {load.p99_ms:.1f} ms, errors {load.errors}"
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--clients", type=int, default=200)
    parser.add_argument("--seconds", type=int, default=20)
    parser.add_argument("--workers", type=int, default=2, help="gunicorn worker processes")
    parser.add_argument(
        "--worker-class", default="gthread", choices=("sync", "gthread"), help="gunicorn workers"
    )
    parser.add_argument("--python-client", action="store_true", help="do not use wrk")
    args = parser.parse_args(argv)
    drive = _wrk if shutil.which("wrk") and not args.python_client else _python
    with bench_database("api") as url, tempfile.TemporaryDirectory() as logs:
        started = time.perf_counter()
        run_id, token = _stored_run(url)
        print(f"setup: a {CELLS}-cell run stored in {time.perf_counter() - started:.1f} s")
        log = Path(logs) / "gunicorn.log"
        with _gunicorn(
            url, _free_port(), args.workers, args.worker_class, args.clients, log
        ) as base:
            paths = _paths(base, run_id, token)
            baseline = drive(base, paths, token, 1, max(5, args.seconds // 4))
            loaded = drive(base, paths, token, args.clients, args.seconds)
    _line("baseline", baseline)
    _line("load", loaded)
    print(
        f"ratio load/baseline: p50 x{loaded.p50_ms / baseline.p50_ms:.1f},"
        f" p99 x{loaded.p99_ms / baseline.p99_ms:.1f};"
        f" throughput x{loaded.rate / baseline.rate:.1f}"
    )
    met = loaded.p99_ms <= TARGET_P99_MS and loaded.errors == 0
    print(
        f"target p99 <= {TARGET_P99_MS:g} ms with {args.clients} clients and no errors:"
        f" {'met' if met else 'MISSED'} (p99 {loaded.p99_ms:.1f} ms, {loaded.errors} errors)"
    )
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main())
