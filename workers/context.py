"""What a worker process needs to execute tasks: a database session factory, backends, plans.

Made on first use in each process, never shared across ``fork``: Celery's
prefork pool forks its children from the main process, and a database
connection inherited through a fork is a connection two processes would talk
over at once. The process id tells a child that it has to make its own.
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from service.runs.backends import Backends, default_backends
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


_lock = threading.Lock()
_current: WorkerContext | None = None


def worker_context(settings: WorkerSettings) -> WorkerContext:
    """This process's context for ``settings`` (made anew after a fork or a settings change)."""
    global _current
    with _lock:
        current = _current
        if current is not None and current.pid == os.getpid() and current.settings == settings:
            return current
        engine = make_engine(settings.database_url)
        _current = WorkerContext(
            settings=settings,
            engine=engine,
            sessions=make_session_factory(engine),
            backends=default_backends(),
            plans=PlanCache(),
            pid=os.getpid(),
        )
        return _current
