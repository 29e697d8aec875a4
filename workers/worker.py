"""The entry point of worker and beat processes; configured from the environment.

    NETPOL_DRIFT_BROKER_URL=redis://127.0.0.1:6379/0 \\
    NETPOL_DRIFT_DATABASE_URL=postgresql://netpol@db/netpol \\
        celery -A workers.worker worker --loglevel=INFO
    celery -A workers.worker beat --loglevel=INFO     # exactly one per deployment is
                                                      # enough; two do no harm

Workers on any number of machines point at the same broker and database. Beat
sends three periodic tasks: ``tick_schedules`` (fire due schedules),
``reap_runs`` (close runs past their deadline, resend shards of stalled runs)
and ``resume_notifications`` (send again the webhook notifications whose tasks
were lost: service.notify.tasks), and a fourth when a Kubernetes target is
configured: ``sweep_expired`` (the janitor on those clusters); see
:mod:`workers.config` for their intervals.
"""

from __future__ import annotations

from typing import Any

from celery.signals import worker_process_init

from service.notify.tasks import install_worker_notifications
from workers.app import celery_init_app
from workers.config import WorkerSettings, beat_schedule, celery_config

__all__ = ["app"]


_settings = WorkerSettings.from_env()
app = celery_init_app({**celery_config(_settings), "beat_schedule": beat_schedule(_settings)})


def _install_notifications(**_: Any) -> None:
    # Each pool process notifies about the runs it closes (webhooks, issue 6).
    install_worker_notifications(app)


# Connected by call, not as a decorator: Celery's signals are untyped.
worker_process_init.connect(_install_notifications, weak=False)
