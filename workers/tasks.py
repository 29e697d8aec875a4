"""The Celery tasks: thin, taking ids, calling the service layer (:mod:`service.runs`).

- ``run_shard(run_id, shard_key)``: execute and store one shard;
- ``finish_run(run_id)``: close a run whose cells are all stored;
- ``reap_runs()``: close runs past their deadline; send again the missing
  shards of runs that made no progress for a while (a broker that lost them);
- ``tick_schedules()``: fire the schedules that are due (beat, every few seconds);
- ``sweep_expired()``: the janitor on the worker's Kubernetes clusters (beat, when
  a Kubernetes target is configured): expired run namespaces and Calico objects.

Every task is acknowledged late and given back when its worker dies, so a
shard runs again elsewhere; storing is idempotent, so it never counts twice.
Errors of the infrastructure (the database or the broker unreachable, the
cluster failing) are retried with exponential backoff; any other error of a
shard fails its run at once, with the error, since trying again cannot help.

The functions are typed; Celery's decorator is not, so they are registered by
calling ``shared_task(...)`` on them rather than by decorating.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any, Final

from celery import shared_task
from kombu.exceptions import OperationalError as BrokerError
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from service.runs.dispatch import resume_stalled_runs
from service.runs.execute import INFRASTRUCTURE_ERRORS, execute_shard
from service.runs.kubernetes import sweep_clusters
from service.runs.lifecycle import fail_run, finish_if_complete, reap_runs
from service.runs.schedules import tick_schedules
from workers.config import SETTINGS_KEY, WorkerSettings
from workers.context import WorkerContext, worker_context
from workers.dispatch import RUN_SHARD_TASK, CeleryDispatcher

__all__ = [
    "RETRYABLE",
    "finish_run_task",
    "reap_runs_task",
    "run_shard_task",
    "sweep_task",
    "tick_task",
]

log = logging.getLogger(__name__)

RETRYABLE: Final = (*INFRASTRUCTURE_ERRORS, BrokerError, RedisConnectionError, RedisTimeoutError)
# Backoff 1, 2, 4 ... 64 s, with jitter: about four minutes of trying before giving up;
# the stalled-run sweep and the reaper take over after that.
_RETRY: Final[dict[str, Any]] = {
    "autoretry_for": RETRYABLE,
    "retry_backoff": 1,
    "retry_backoff_max": 64,
    "retry_jitter": True,
    "max_retries": 8,
}
_LATE: Final[dict[str, Any]] = {"acks_late": True, "reject_on_worker_lost": True}


def _context(task: Any) -> WorkerContext:
    settings = task.app.conf.get(SETTINGS_KEY)
    if not isinstance(settings, WorkerSettings):
        raise RuntimeError(
            f"the Celery app has no {SETTINGS_KEY!r}: create it with workers.app.celery_init_app"
            " and workers.config.celery_config"
        )
    return worker_context(settings)


def run_shard(task: Any, run_id: int, shard_key: str) -> dict[str, Any]:
    context = _context(task)
    try:
        outcome = execute_shard(
            context.sessions, run_id, shard_key, backends=context.backends, plans=context.plans
        )
    except RETRYABLE:
        raise
    except Exception as err:
        log.exception("shard %s of run %s failed", shard_key, run_id)
        fail_run(context.sessions, run_id, f"shard {shard_key} failed: {err}")
        raise
    return {
        "run_id": run_id,
        "shard": shard_key,
        "stored": outcome.stored,
        "skipped": outcome.skipped,
        "finished": str(outcome.finished) if outcome.finished else None,
    }


def finish_run(task: Any, run_id: int) -> str | None:
    status = finish_if_complete(_context(task).sessions, run_id)
    return str(status) if status is not None else None


def reap(task: Any) -> dict[str, Any]:
    context = _context(task)
    reaped = reap_runs(context.sessions)
    resent = resume_stalled_runs(
        context.sessions,
        CeleryDispatcher(task.app),
        plans=context.plans,
        stalled_after=timedelta(seconds=context.settings.stalled_after_s),
    )
    return {"reaped": reaped, "resent": {str(k): list(v) for k, v in resent.items()}}


def tick(task: Any) -> list[int]:
    context = _context(task)
    created = tick_schedules(context.sessions, CeleryDispatcher(task.app), plans=context.plans)
    return [run.run_id for run in created]


def sweep(task: Any) -> dict[str, Any]:
    context = _context(task)
    if context.kubernetes is None:
        return {"skipped": "no Kubernetes target is configured on this worker"}
    reports = sweep_clusters(context.kubernetes.targets)
    for name, report in reports.items():
        for line in report.lines():
            log.info("janitor on %s: %s", name, line)
    return {name: report.lines() for name, report in reports.items()}


run_shard_task = shared_task(name=RUN_SHARD_TASK, bind=True, **_LATE, **_RETRY)(run_shard)
finish_run_task = shared_task(name="netpol_drift.finish_run", bind=True, **_LATE, **_RETRY)(
    finish_run
)
reap_runs_task = shared_task(name="netpol_drift.reap_runs", bind=True, **_LATE, **_RETRY)(reap)
tick_task = shared_task(name="netpol_drift.tick_schedules", bind=True, **_LATE, **_RETRY)(tick)
# Not retried: the next sweep comes soon, and a cluster that cannot be used is reported.
sweep_task = shared_task(name="netpol_drift.sweep_expired", bind=True, **_LATE)(sweep)
