"""The Celery dispatcher: one task per shard on the broker, for workers on any machine.

It sends tasks by name, so whatever sends (a worker, beat, the API) needs the
app's configuration only, not the task code. The in-process dispatcher, its
counterpart for the embedded default, is :class:`service.runs.dispatch.InProcessDispatcher`.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import Any, Final

from sqlalchemy.orm import Session, sessionmaker

from service.runs.backends import default_backends
from service.runs.dispatch import Dispatcher, InProcessDispatcher
from service.runs.kubernetes import backend_from_environment, cleanup_on_close
from service.runs.planning import PlanCache
from workers.config import BROKER_URL_ENV, WorkerSettings, celery_config

__all__ = ["RUN_SHARD_TASK", "CeleryDispatcher", "dispatcher_from_env"]

RUN_SHARD_TASK: Final = "netpol_drift.run_shard"


class CeleryDispatcher:
    """Sends ``run_shard(run_id, shard_key)`` for every shard through ``app``'s broker."""

    def __init__(self, app: Any) -> None:
        self.app = app

    def dispatch(self, run_id: int, shard_keys: Sequence[str]) -> None:
        # One connection from the pool for the whole run rather than one per shard.
        with self.app.producer_or_acquire() as producer:
            for key in shard_keys:
                self.app.send_task(RUN_SHARD_TASK, args=(run_id, key), producer=producer)


def dispatcher_from_env(
    sessions: sessionmaker[Session],
    *,
    plans: PlanCache | None = None,
    environ: Mapping[str, str] | None = None,
) -> Dispatcher:
    """Celery when ``NETPOL_DRIFT_BROKER_URL`` is set, else the in-process thread pool.

    What an adapter that starts runs (the API, ``netpol-drift serve``) calls once at
    start-up; the in-process one must be closed at shutdown. In-process, Kubernetes
    runs go to the clusters the environment names (as on a worker), and every run the
    process closes is cleaned up from its cluster.
    """
    env = os.environ if environ is None else environ
    if not env.get(BROKER_URL_ENV, "").strip():
        kubernetes = backend_from_environment(env)
        if kubernetes is None:
            return InProcessDispatcher(sessions, plans=plans)
        return InProcessDispatcher(
            sessions,
            plans=plans,
            backends=default_backends(kubernetes=kubernetes),
            on_close=cleanup_on_close(kubernetes),
        )
    from workers.app import celery_init_app

    return CeleryDispatcher(celery_init_app(celery_config(WorkerSettings.from_env(env))))
