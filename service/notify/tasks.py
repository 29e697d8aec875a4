"""The Celery tasks of notifications, for deployments with a broker.

- ``netpol_drift.notify_run(run_id)``: prepare a closed run's deliveries and
  send a delivery task for each;
- ``netpol_drift.deliver_webhook(delivery_id)``: one attempt; a failed
  attempt sends the task again with the backoff as its countdown (the
  attempt count lives in the database, so a redelivered task neither skips
  nor repeats an attempt: :func:`~service.notify.deliveries.attempt_delivery`
  claims each one);
- ``netpol_drift.resume_notifications()``: sent by Celery beat every
  ``NETPOL_DRIFT_NOTIFY_INTERVAL_S`` (:func:`workers.config.beat_schedule`):
  sends ``notify_run`` for every closed run whose deliveries were never made
  and ``deliver_webhook`` for every pending delivery that is due
  (:func:`~service.notify.resume.resume_notifications`). That is how a task
  lost with the broker (Redis restarted empty: compose keeps no Redis data)
  or never sent (a worker that died between closing a run and sending) is
  made good. Those tasks expire after one interval, when the next pass sends
  again what is still owed.

Imported by the worker processes (``workers.app`` must import this module so
the tasks are registered), which also install the hook that sends
``notify_run``: :func:`install_worker_notifications`.
"""

from __future__ import annotations

from typing import Any

from celery import shared_task

from service.notify.deliveries import attempt_delivery, prepare_deliveries
from service.notify.hooks import Notifications, install_notifications
from service.notify.resume import resume_notifications
from service.notify.senders import DELIVER_TASK, NOTIFY_RUN_TASK, RESUME_TASK, CelerySender
from service.notify.settings import NotifySettings
from service.store.notify_models import DeliveryStatus
from workers.config import SETTINGS_KEY, WorkerSettings
from workers.context import worker_context

__all__ = ["deliver_task", "install_worker_notifications", "notify_run_task", "resume_task"]


def _settings(app: Any) -> WorkerSettings:
    settings = app.conf.get(SETTINGS_KEY)
    if not isinstance(settings, WorkerSettings):
        raise RuntimeError(f"the Celery app has no {SETTINGS_KEY!r} (see workers.app)")
    return settings


def _sessions(task: Any) -> Any:
    return worker_context(_settings(task.app)).sessions


def notify_run(task: Any, run_id: int) -> list[int]:
    sessions = _sessions(task)
    sender = CelerySender(task.app)
    delivery_ids = prepare_deliveries(sessions, run_id, NotifySettings.from_env())
    for delivery_id in delivery_ids:
        sender.deliver(delivery_id)
    return delivery_ids


def deliver(task: Any, delivery_id: int) -> str | None:
    outcome = attempt_delivery(_sessions(task), delivery_id, NotifySettings.from_env())
    if outcome.status is DeliveryStatus.PENDING and outcome.retry_in_s is not None:
        CelerySender(task.app).deliver(delivery_id, delay_s=outcome.retry_in_s)
    return str(outcome.status) if outcome.status is not None else None


def resume(task: Any) -> dict[str, list[int]]:
    settings = _settings(task.app)
    sender = CelerySender(task.app, expires_s=settings.notify_interval_s)
    resumed = resume_notifications(worker_context(settings).sessions, sender)
    return {"runs": list(resumed.runs), "deliveries": list(resumed.deliveries)}


def install_worker_notifications(app: Any) -> Notifications:
    """In a worker process: notify through Celery about the runs this worker closes."""
    settings = _settings(app)
    # Resuming is the beat's job (resume_notifications, below): every worker process
    # doing it at start as well would only send each owed task once more.
    return install_notifications(worker_context(settings).sessions, CelerySender(app), resume=False)


_LATE: dict[str, Any] = {"acks_late": True, "reject_on_worker_lost": True}
notify_run_task = shared_task(name=NOTIFY_RUN_TASK, bind=True, **_LATE)(notify_run)
deliver_task = shared_task(name=DELIVER_TASK, bind=True, **_LATE)(deliver)
# Not retried: the next pass comes within one interval and sends what is still owed.
resume_task = shared_task(name=RESUME_TASK, bind=True, **_LATE)(resume)
