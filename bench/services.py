"""Throw-away PostgreSQL databases and Celery worker processes for the benchmarks.

Both benchmarks create their own database (dropped at the end, whatever
happens) and, for the pipeline, start real worker processes in their own
process groups (stopped at the end). PostgreSQL and Redis come from
``NETPOL_DRIFT_BENCH_POSTGRES_URL`` (an admin connection that may create
databases) and ``NETPOL_DRIFT_BENCH_REDIS_URL`` (a database number the
benchmark may flush).
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
from psycopg import sql
from sqlalchemy.engine import make_url

__all__ = ["REDIS_URL", "bench_database", "worker_processes"]

REPO = Path(__file__).resolve().parents[1]
POSTGRES_URL = os.environ.get(
    "NETPOL_DRIFT_BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)
REDIS_URL = os.environ.get("NETPOL_DRIFT_BENCH_REDIS_URL", "redis://127.0.0.1:6379/12")


@contextlib.contextmanager
def bench_database(label: str) -> Iterator[str]:
    """A new, empty PostgreSQL database (its SQLAlchemy URL), dropped on the way out."""
    name = f"netpol_drift_bench_{label}_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(POSTGRES_URL, autocommit=True) as admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    url = make_url(POSTGRES_URL).set(drivername="postgresql+psycopg", database=name)
    try:
        yield url.render_as_string(hide_password=False)
    finally:
        with psycopg.connect(POSTGRES_URL, autocommit=True) as admin:
            admin.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )


@contextlib.contextmanager
def worker_processes(
    count: int, *, database_url: str, broker_url: str, log_dir: Path
) -> Iterator[list[subprocess.Popen[bytes]]]:
    """``count`` Celery workers (prefork, one process each), ready; stopped on the way out."""
    env = {
        **os.environ,
        "NETPOL_DRIFT_DATABASE_URL": database_url,
        "NETPOL_DRIFT_BROKER_URL": broker_url,
        "PYTHONPATH": str(REPO),
        "C_FORCE_ROOT": "1",
    }
    started: list[subprocess.Popen[bytes]] = []
    logs: list[Path] = []
    try:
        for i in range(count):
            log = log_dir / f"bench-worker-{i}.log"
            logs.append(log)
            with log.open("wb") as handle:
                started.append(
                    subprocess.Popen(
                        [
                            sys.executable,
                            "-m",
                            "celery",
                            "-A",
                            "workers.worker",
                            "worker",
                            "--pool=prefork",
                            "--concurrency=1",
                            "-n",
                            f"bench{i}@%h",
                            "--loglevel=WARNING",
                            "--without-gossip",
                            "--without-mingle",
                            "--without-heartbeat",
                        ],
                        cwd=REPO,
                        env=env,
                        stdout=handle,
                        stderr=subprocess.STDOUT,
                        stdin=subprocess.DEVNULL,
                        start_new_session=True,
                    )
                )
        names = [f"bench{i}@{socket.gethostname()}" for i in range(count)]
        _wait_ready(started, logs, names, broker_url)
        yield started
    finally:
        for process in started:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
        for process in started:
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()


def _wait_ready(
    processes: list[subprocess.Popen[bytes]], logs: list[Path], names: list[str], broker_url: str
) -> None:
    """Ready when the worker answers a ping; at WARNING level it logs nothing to wait for."""
    from celery import Celery

    probe = Celery(broker=broker_url)
    deadline = time.monotonic() + 60
    try:
        while time.monotonic() < deadline:
            for process, log in zip(processes, logs, strict=True):
                if process.poll() is not None:
                    raise RuntimeError(f"a worker exited:\n{log.read_text()[-3000:]}")
            replies = probe.control.ping(destination=names, timeout=0.5) or []
            if {name for reply in replies for name in reply} >= set(names):
                return
        raise RuntimeError("the workers did not answer a ping within 60 s")
    finally:
        probe.close()
