"""What a worker process needs to execute tasks: a database session factory, backends, plans.

Made on first use in each process, never shared across ``fork``: Celery's
prefork pool forks its children from the main process, and a database
connection inherited through a fork is a connection two processes would talk
over at once. The process id tells a child that it has to make its own.

With a Kubernetes target configured (:mod:`workers.config`), the Kubernetes
backend is plugged into the shard seam, and every run this process closes is
cleaned up from its cluster (:func:`service.runs.kubernetes.cleanup_on_close`).
A clusters file that cannot be read leaves the backend unconfigured, logged:
simulated runs go on, Kubernetes shards are refused (and retried elsewhere).
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from service.runs.backends import Backends, default_backends
from service.runs.kubernetes import KubernetesBackend, backend_from_environment, cleanup_on_close
from service.runs.planning import PlanCache
from service.store.engine import make_engine, make_session_factory
from workers.config import WorkerSettings

__all__ = ["WorkerContext", "worker_context"]


@dataclass(frozen=True, slots=True)
class WorkerContext:
    settings: WorkerSettings
    engine: Engine
    sessions: sessionmaker[Session]
    backends: Backends
    plans: PlanCache
    pid: int
    kubernetes: KubernetesBackend | None = None


_lock = threading.Lock()
_current: WorkerContext | None = None
_remove_cleanup: Callable[[], None] | None = None


def worker_context(settings: WorkerSettings) -> WorkerContext:
    """This process's context for ``settings`` (made anew after a fork or a settings change)."""
    global _current, _remove_cleanup
    with _lock:
        current = _current
        if current is not None and current.pid == os.getpid() and current.settings == settings:
            return current
        if current is not None:
            _let_go(current)
        engine = make_engine(settings.database_url)
        kubernetes = _kubernetes(settings)
        if _remove_cleanup is not None:
            _remove_cleanup()
            _remove_cleanup = None
        if kubernetes is not None:
            _remove_cleanup = cleanup_on_close(kubernetes)
        _current = WorkerContext(
            settings=settings,
            engine=engine,
            sessions=make_session_factory(engine),
            backends=(
                default_backends(kubernetes=kubernetes)
                if kubernetes is not None
                else default_backends()
            ),
            plans=PlanCache(),
            pid=os.getpid(),
            kubernetes=kubernetes,
        )
        return _current


def _let_go(old: WorkerContext) -> None:
    """Release the pool of a context this process no longer uses.

    In the process that made it the pool's idle connections are closed (a
    settings change would otherwise leave them open until exit). In a forked
    child they are the parent's: the child only forgets them (``close=False``,
    SQLAlchemy's advice for pools inherited through ``fork``), and the parent
    goes on using them.
    """
    old.engine.dispose(close=old.pid == os.getpid())


def _kubernetes(settings: WorkerSettings) -> KubernetesBackend | None:
    if not settings.kubernetes_configured:
        return None
    return backend_from_environment(dict(settings.kubernetes_env))
