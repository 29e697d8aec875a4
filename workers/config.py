"""Worker configuration from the environment (12-factor), and the Celery settings it makes.

========================================  ==============================================
``NETPOL_DRIFT_BROKER_URL``               the Redis broker, e.g. redis://redis:6379/0
``NETPOL_DRIFT_DATABASE_URL``             the database (PostgreSQL in production)
``NETPOL_DRIFT_VISIBILITY_TIMEOUT_S``     seconds before an unacknowledged shard is
                                          delivered again (default 3600); keep it above
                                          the longest shard
``NETPOL_DRIFT_TICK_INTERVAL_S``          beat: how often schedules are checked (15)
``NETPOL_DRIFT_REAP_INTERVAL_S``          beat: how often runs are reaped and stalled
                                          runs resumed (60)
``NETPOL_DRIFT_STALLED_AFTER_S``          a run without progress this long gets its
                                          missing shards sent again (900)
``NETPOL_DRIFT_NOTIFY_INTERVAL_S``        beat: how often webhook notifications whose
                                          tasks were lost (runs without deliveries, due
                                          deliveries) are sent again (30)
``NETPOL_DRIFT_KUBECONFIG``               Kubernetes runs: a kubeconfig (and
``NETPOL_DRIFT_CONTEXT``                  its context), the cluster named after the
                                          context (else ``default``)
``NETPOL_DRIFT_CLUSTERS_FILE``            Kubernetes runs: a clusters file of named targets
                                          (``NETPOL_DRIFT_CLUSTERS`` is read too)
``NETPOL_DRIFT_SWEEP_INTERVAL_S``         beat: how often the janitor deletes expired run
                                          namespaces on those clusters (600); only when
                                          a Kubernetes target is configured
========================================  ==============================================

Paths only: the kubeconfigs are read when a Kubernetes shard needs them, and
credentials never leave the process (never stored, never logged).
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from service.errors import FieldPath, InvalidInput, Problem
from service.notify.settings import NOTIFY_INTERVAL_ENV, RESUME_INTERVAL_S
from service.store.engine import DATABASE_URL_ENV, default_database_url

__all__ = ["BROKER_URL_ENV", "SETTINGS_KEY", "WorkerSettings", "beat_schedule", "celery_config"]

BROKER_URL_ENV: Final = "NETPOL_DRIFT_BROKER_URL"
SETTINGS_KEY: Final = "netpol_drift_settings"
_VISIBILITY_ENV: Final = "NETPOL_DRIFT_VISIBILITY_TIMEOUT_S"
_TICK_ENV: Final = "NETPOL_DRIFT_TICK_INTERVAL_S"
_REAP_ENV: Final = "NETPOL_DRIFT_REAP_INTERVAL_S"
_STALLED_ENV: Final = "NETPOL_DRIFT_STALLED_AFTER_S"
_SWEEP_ENV: Final = "NETPOL_DRIFT_SWEEP_INTERVAL_S"
# The environment the Kubernetes targets are read from (service.runs.kubernetes).
_KUBERNETES_ENV: Final = (
    "NETPOL_DRIFT_KUBECONFIG",
    "NETPOL_DRIFT_CONTEXT",
    "NETPOL_DRIFT_CLUSTERS_FILE",
    "NETPOL_DRIFT_CLUSTERS",
)


@dataclass(frozen=True, slots=True)
class WorkerSettings:
    broker_url: str
    database_url: str
    visibility_timeout_s: float = 3600.0
    tick_interval_s: float = 15.0
    reap_interval_s: float = 60.0
    stalled_after_s: float = 900.0
    sweep_interval_s: float = 600.0
    notify_interval_s: float = RESUME_INTERVAL_S
    # The NETPOL_DRIFT_* variables naming Kubernetes targets, as (name, value) pairs.
    kubernetes_env: tuple[tuple[str, str], ...] = ()

    @property
    def kubernetes_configured(self) -> bool:
        """Whether a kubeconfig or a clusters file is named (not whether it works)."""
        names = {"NETPOL_DRIFT_KUBECONFIG", "NETPOL_DRIFT_CLUSTERS_FILE", "NETPOL_DRIFT_CLUSTERS"}
        return any(name in names and value for name, value in self.kubernetes_env)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> WorkerSettings:
        """Read the environment; InvalidInput names each variable that is missing or wrong."""
        env = os.environ if environ is None else environ
        problems: list[Problem] = []
        broker = env.get(BROKER_URL_ENV, "").strip()
        if not broker:
            problems.append(
                Problem(
                    "not set: expected the Redis broker URL, e.g. redis://127.0.0.1:6379/0",
                    path=FieldPath((BROKER_URL_ENV,)),
                )
            )
        database = env.get(DATABASE_URL_ENV, "").strip() or default_database_url()

        def seconds(name: str, default: float) -> float:
            text = env.get(name, "").strip()
            if not text:
                return default
            try:
                value = float(text)
            except ValueError:
                value = math.nan
            if not (math.isfinite(value) and value > 0):
                problems.append(
                    Problem(f"expected seconds > 0, got {text!r}", path=FieldPath((name,)))
                )
                return default
            return value

        settings = cls(
            broker_url=broker,
            database_url=database,
            visibility_timeout_s=seconds(_VISIBILITY_ENV, 3600.0),
            tick_interval_s=seconds(_TICK_ENV, 15.0),
            reap_interval_s=seconds(_REAP_ENV, 60.0),
            stalled_after_s=seconds(_STALLED_ENV, 900.0),
            sweep_interval_s=seconds(_SWEEP_ENV, 600.0),
            notify_interval_s=seconds(NOTIFY_INTERVAL_ENV, RESUME_INTERVAL_S),
            kubernetes_env=tuple(
                (name, env[name].strip()) for name in _KUBERNETES_ENV if env.get(name, "").strip()
            ),
        )
        InvalidInput.collect(problems)
        return settings


def celery_config(settings: WorkerSettings) -> dict[str, Any]:
    """The Celery settings of netpol-drift's app (see workers/app.py)."""
    return {
        "broker_url": settings.broker_url,
        # Counting happens in the database; nobody reads task results.
        "task_ignore_result": True,
        "result_backend": None,
        "task_serializer": "json",
        "accept_content": ["json"],
        # A shard is acknowledged after it ran; a worker that dies mid-shard leaves it
        # to be delivered again (idempotent storing makes that safe).
        "task_acks_late": True,
        "task_reject_on_worker_lost": True,
        # With late acks, a prefetched message is one a dead worker would sit on.
        "worker_prefetch_multiplier": 1,
        # Redis redelivers an unacknowledged message after this long. Kombu looks for
        # such messages every interval x throttle seconds (100 by default): every
        # interval here, so a dead worker's shard comes back soon after the timeout.
        "broker_transport_options": {
            "visibility_timeout": settings.visibility_timeout_s,
            "unacked_restore_interval": _restore_interval(settings.visibility_timeout_s),
            "unacked_restore_throttle": 1,
        },
        "broker_connection_retry_on_startup": True,
        # A shard that lost its broker connection still finishes and stores its cells;
        # its message (if the broker lost it) is resent by the stalled-run sweep.
        "worker_cancel_long_running_tasks_on_connection_loss": False,
        "task_default_queue": "netpol-drift",
        "timezone": "UTC",
        "enable_utc": True,
        # Ours, read by the tasks (database URL, sweep timings).
        SETTINGS_KEY: settings,
    }


def beat_schedule(settings: WorkerSettings) -> dict[str, dict[str, Any]]:
    # expires: a tick nobody picked up before the next one is useless, so it is dropped
    # rather than piling up while every worker is down.
    schedule = {
        "tick-schedules": {
            "task": "netpol_drift.tick_schedules",
            "schedule": settings.tick_interval_s,
            "options": {"expires": settings.tick_interval_s},
        },
        "reap-runs": {
            "task": "netpol_drift.reap_runs",
            "schedule": settings.reap_interval_s,
            "options": {"expires": settings.reap_interval_s},
        },
        # Webhooks owed by runs whose notify_run or deliver_webhook task was lost.
        "resume-notifications": {
            "task": "netpol_drift.resume_notifications",
            "schedule": settings.notify_interval_s,
            "options": {"expires": settings.notify_interval_s},
        },
    }
    if settings.kubernetes_configured:
        schedule["sweep-expired"] = {
            "task": "netpol_drift.sweep_expired",
            "schedule": settings.sweep_interval_s,
            "options": {"expires": settings.sweep_interval_s},
        }
    return schedule


def _restore_interval(visibility_timeout_s: float) -> int:
    """Seconds between kombu's sweeps for expired unacknowledged messages (1 to 10)."""
    return max(1, min(10, int(visibility_timeout_s // 3)))
