"""`netpol-drift run` on the embedded default: stored, executed by the in-process dispatcher.

The run goes where every run goes (a scenario revision, a queued run, shards
executed through :func:`service.runs.execute.execute_shard`, cells stored,
finished by counting), in the database of ``$NETPOL_DRIFT_DATABASE_URL`` or the
SQLite file in the user's data directory, whose schema is made on first use.
The report is put together from the shards' results, so it is the same report
the command always printed. A run on a Kubernetes cluster goes the same way
(:class:`~service.runs.kubernetes.KubernetesBackend`): each version in its own
namespaces, shards in parallel, the cluster cleaned up when the run closes, and
where it ran read back from the run's record.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker

from service.cluster.faults import FaultConfig
from service.cluster.simulated import SimulatedCluster
from service.errors import FieldPath, InvalidInput, Problem
from service.runner.results import RunResult
from service.runner.shard import ProgressCallback, RunOptions
from service.runs.backends import default_backends
from service.runs.create import RunRequest, create_run
from service.runs.dispatch import InProcessDispatcher
from service.runs.kubernetes import KubernetesBackend, cleanup_on_close
from service.runs.kubernetes_settings import KubernetesSettings
from service.runs.planning import PlanCache
from service.runs.results import assemble_result
from service.runs.settings import RunSettings, SimulatorSettings
from service.scenario.model import Scenario
from service.store.engine import (
    DATABASE_URL_ENV,
    default_database_url,
    make_engine,
    make_session_factory,
    parse_database_url,
)
from service.store.enums import Backend, Trigger
from service.store.migrate import ensure_schema
from service.store.models import Run

__all__ = ["Database", "StoredRun", "open_database", "run_and_store"]


@dataclass(frozen=True, slots=True)
class Database:
    sessions: sessionmaker[Session]
    # Its URL for messages, without a password.
    shown: str


@contextmanager
def open_database() -> Iterator[Database]:
    """The database of ``$NETPOL_DRIFT_DATABASE_URL`` (else the embedded SQLite file).

    Its schema is made on first use; one that cannot be reached is invalid input
    naming the variable, not a traceback. The engine is disposed on leaving.
    """
    url = default_database_url()
    shown = parse_database_url(url, field=DATABASE_URL_ENV).render_as_string(hide_password=True)
    try:
        ensure_schema(url)
    except OperationalError as err:
        raise InvalidInput(
            Problem(
                f"cannot use the database {shown}: {err.orig}", path=FieldPath((DATABASE_URL_ENV,))
            )
        ) from err
    engine = make_engine(url)
    try:
        yield Database(sessions=make_session_factory(engine), shown=shown)
    finally:
        engine.dispose()


@dataclass(frozen=True, slots=True)
class StoredRun:
    result: RunResult
    run_id: int
    # Where it was stored, without a password.
    database: str


def run_and_store(
    scenario: Scenario,
    *,
    versions: tuple[str, ...],
    options: RunOptions,
    faults: FaultConfig,
    source_text: str | None = None,
    progress: ProgressCallback | None = None,
    kubernetes: tuple[KubernetesSettings, KubernetesBackend] | None = None,
) -> StoredRun:
    """Create, execute and store a run of ``scenario``; the report's result.

    On the simulator with ``faults``, or, with ``kubernetes``, on the cluster the
    settings name, through that backend.
    """
    settings = RunSettings(
        versions=versions,
        attempts=options.attempts,
        retry_interval_s=options.retry_interval_s,
        sources_per_shard=options.sources_per_shard,
        simulator=SimulatorSettings(faults=faults),
        kubernetes=kubernetes[0] if kubernetes is not None else None,
    )
    with open_database() as database:
        sessions = database.sessions
        backends = default_backends()
        remove_cleanup = None
        if kubernetes is not None:
            backends = default_backends(kubernetes=kubernetes[1])
            remove_cleanup = cleanup_on_close(kubernetes[1])
        try:
            plans = PlanCache()
            created = create_run(
                sessions,
                RunRequest(
                    scenario=scenario,
                    trigger=Trigger.CLI,
                    backend=Backend.SIMULATED if kubernetes is None else Backend.KUBERNETES,
                    settings=settings,
                    source_text=source_text,
                ),
                plans=plans,
            )
            workers = min(4, os.cpu_count() or 1)
            with InProcessDispatcher(
                sessions,
                backends=backends,
                plans=plans,
                workers=workers,
                progress=_locked(progress),
            ) as dispatcher:
                outcomes = dispatcher.run(created.run_id, created.shard_keys)
            with sessions() as session:
                record: dict[str, Any] = dict(
                    session.scalar(select(Run.cluster).where(Run.id == created.run_id)) or {}
                )
        finally:
            if remove_cleanup is not None:
                remove_cleanup()
    components: tuple[tuple[str, str], ...]
    if kubernetes is None:
        info = SimulatedCluster(faults=faults).describe()
        backend, cluster, components = info.backend, info.cluster, info.versions
    else:
        # Where the shards ran, as they recorded it.
        backend = str(record.get("backend", Backend.KUBERNETES.value))
        cluster = str(record.get("cluster", kubernetes[0].cluster))
        components = tuple((str(k), str(v)) for k, v in (record.get("versions") or {}).items())
    result = assemble_result(
        created.plan,
        outcomes,
        backend=backend,
        cluster=cluster,
        backend_versions=components,
    )
    return StoredRun(result=result, run_id=created.run_id, database=database.shown)


def _locked(progress: ProgressCallback | None) -> ProgressCallback | None:
    """Shards report from several threads; a progress bar is not thread-safe."""
    if progress is None:
        return None
    lock = threading.Lock()

    def report(cells: int) -> None:
        with lock:
            progress(cells)

    return report
