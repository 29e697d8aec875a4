"""A worker process's context: made once per settings and process, and letting go of the old one.

On the real PostgreSQL: the connections a context holds are seen from the
server's side (``pg_stat_activity``, by application name), and a forked child
is a real ``fork``.
"""

from __future__ import annotations

import os
import uuid
import warnings

import psycopg
from sqlalchemy import text
from sqlalchemy.engine import make_url

from workers.config import WorkerSettings
from workers.context import worker_context

BROKER = "redis://127.0.0.1:6379/13"  # never connected to: the context opens no broker


def _named(url: str, name: str) -> str:
    return (
        make_url(url)
        .update_query_dict({"application_name": name})
        .render_as_string(hide_password=False)
    )


def _connections_named(url: str, name: str) -> int:
    plain = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(plain, autocommit=True) as conn:
        row = conn.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE application_name = %s", (name,)
        ).fetchone()
    assert row is not None
    return int(row[0])


def _backend_pid(settings: WorkerSettings) -> int:
    with worker_context(settings).engine.connect() as conn:
        return int(conn.execute(text("SELECT pg_backend_pid()")).scalar_one())


def test_the_same_settings_get_the_same_context(pg_url: str) -> None:
    settings = WorkerSettings(broker_url=BROKER, database_url=pg_url)
    first = worker_context(settings)
    assert worker_context(settings) is first
    assert worker_context(WorkerSettings(broker_url=BROKER, database_url=pg_url)) is first


def test_a_settings_change_closes_the_old_pool(pg_url: str) -> None:
    old_name, new_name = (f"npd-ctx-{uuid.uuid4().hex[:8]}" for _ in range(2))
    old = WorkerSettings(broker_url=BROKER, database_url=_named(pg_url, old_name))
    _backend_pid(old)  # one idle connection left in the old pool
    assert _connections_named(pg_url, old_name) == 1

    new = WorkerSettings(broker_url=BROKER, database_url=_named(pg_url, new_name))
    _backend_pid(new)
    assert _connections_named(pg_url, new_name) == 1
    assert _connections_named(pg_url, old_name) == 0


def test_a_forked_child_leaves_the_parents_connections_alone(pg_url: str) -> None:
    settings = WorkerSettings(broker_url=BROKER, database_url=pg_url)
    parent_context = worker_context(settings)
    before = _backend_pid(settings)

    with warnings.catch_warnings():
        # Python 3.12+ warns of fork() in a process with threads (other tests may have left
        # some); Celery's prefork pool forks all the same, and this child only talks SQL.
        warnings.simplefilter("ignore", DeprecationWarning)
        child = os.fork()
    if child == 0:  # pragma: no cover - the child's outcome is its exit status
        status = 1
        try:
            mine = worker_context(settings)
            # Its own context, on its own connection, not the parent's.
            status = 0 if mine is not parent_context and _backend_pid(settings) != before else 2
        finally:
            os._exit(status)
    _, status = os.waitpid(child, 0)
    assert os.waitstatus_to_exitcode(status) == 0

    # The parent's pooled connection is the same server process: the child did not close it
    # (pre-ping would have replaced a closed one with a new backend).
    assert worker_context(settings) is parent_context
    assert _backend_pid(settings) == before
