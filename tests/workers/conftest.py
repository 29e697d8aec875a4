"""Real Celery worker and beat processes on the real Redis and PostgreSQL.

Redis and PostgreSQL are required: when either is not reachable the tests fail
with the reason (CI starts both). The broker is a dedicated database number of
the machine's Redis (``NETPOL_DRIFT_TEST_REDIS_URL``, default db 13), flushed
before and after each test; a test that restarts its broker starts a Redis
server of its own on a free port instead. Every process a test starts is
stopped in a ``finally``, killed if it does not stop.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import redis

from tests.runs.conftest import pg, pg_url
from tests.store.conftest import empty_postgres_url, postgres_database

__all__ = ["empty_postgres_url", "pg", "pg_url", "postgres_database"]

REPO = Path(__file__).resolve().parents[2]
REDIS_URL_ENV = "NETPOL_DRIFT_TEST_REDIS_URL"
REDIS_URL = os.environ.get(REDIS_URL_ENV, "redis://127.0.0.1:6379/13")
READY_TIMEOUT_S = 40.0


def _redis_or_fail(url: str) -> redis.Redis:
    client = redis.Redis.from_url(url, socket_connect_timeout=3)
    try:
        client.ping()
    except redis.exceptions.RedisError as err:
        pytest.fail(
            f"Redis is not reachable at {url}: {err}\n"
            f"The worker tests need it: start it (.ci/run does) or set {REDIS_URL_ENV}.",
            pytrace=False,
        )
    return client


@pytest.fixture
def broker_url() -> Iterator[str]:
    """The test broker: a dedicated Redis database, empty before and after the test."""
    client = _redis_or_fail(REDIS_URL)
    client.flushdb()
    try:
        yield REDIS_URL
    finally:
        client.flushdb()
        client.close()


@dataclass
class Process:
    """A process a test started: in its own session, so it is killed with its children."""

    name: str
    popen: subprocess.Popen[bytes]
    log: Path
    ready_line: str

    def text(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace")

    def tail(self, lines: int = 40) -> str:
        return "\n".join(self.text().splitlines()[-lines:])

    def wait_ready(self, timeout_s: float = READY_TIMEOUT_S) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.ready_line in self.text():
                return
            if self.popen.poll() is not None:
                break
            time.sleep(0.1)
        pytest.fail(f"{self.name} did not become ready:\n{self.tail()}", pytrace=False)

    def kill(self) -> None:
        """SIGKILL to the whole process group: the machine lost power."""
        if self.popen.poll() is None:
            os.killpg(self.popen.pid, signal.SIGKILL)
        self.popen.wait(timeout=10)

    def stop(self) -> None:
        if self.popen.poll() is None:
            os.killpg(self.popen.pid, signal.SIGTERM)
            try:
                self.popen.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(self.popen.pid, signal.SIGKILL)
                self.popen.wait(timeout=10)


@dataclass
class Processes:
    """Starts workers, beat and Redis servers for one test; stops them all at the end."""

    tmp: Path
    env: dict[str, str]
    started: list[Process] = field(default_factory=list)

    def _start(
        self, name: str, argv: list[str], ready_line: str, env: Mapping[str, str]
    ) -> Process:
        log = self.tmp / f"{name}.log"
        handle = log.open("wb")
        try:
            popen = subprocess.Popen(
                argv,
                cwd=REPO,
                env={**self.env, **env},
                stdout=handle,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        finally:
            handle.close()
        process = Process(name, popen, log, ready_line)
        self.started.append(process)
        return process

    def worker(self, name: str, **env: str) -> Process:
        argv = [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "workers.worker",
            "worker",
            "--pool=prefork",
            "--concurrency=1",
            "-n",
            f"{name}@%h",
            "--loglevel=INFO",
            # No chatter between workers: faster start, and each test's workers alone.
            "--without-gossip",
            "--without-mingle",
            "--without-heartbeat",
        ]
        return self._start(name, argv, f"{name}@{socket.gethostname()} ready.", env)

    def beat(self, **env: str) -> Process:
        argv = [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "workers.worker",
            "beat",
            "--loglevel=INFO",
            "-s",
            str(self.tmp / "celerybeat-schedule"),
        ]
        return self._start("beat", argv, "beat: Starting", env)

    def redis_server(self, port: int) -> Process:
        argv = [
            "redis-server",
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--daemonize",
            "no",
        ]
        return self._start(f"redis-{port}-{len(self.started)}", argv, "Ready to accept", {})

    def stop_all(self) -> None:
        for process in reversed(self.started):
            process.stop()

    def logs(self) -> str:
        return "\n".join(f"--- {p.name}\n{p.tail()}" for p in self.started)


@pytest.fixture
def processes(tmp_path: Path, pg_url: str, broker_url: str) -> Iterator[Processes]:
    env = {
        **os.environ,
        "NETPOL_DRIFT_DATABASE_URL": pg_url,
        "NETPOL_DRIFT_BROKER_URL": broker_url,
        "PYTHONPATH": str(REPO),
        # The tests run as root in CI; Celery only warns about it, but say so.
        "C_FORCE_ROOT": "1",
    }
    started = Processes(tmp_path, env)
    try:
        yield started
    finally:
        started.stop_all()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def wait_until(
    condition: Callable[[], bool], *, timeout_s: float, what: str, logs: Callable[[], str]
) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.1)
    pytest.fail(f"timed out after {timeout_s:g} s waiting for {what}\n{logs()}", pytrace=False)
