"""With a broker, webhooks whose tasks were never sent or were lost with Redis are sent by
Celery beat's resume task, once: real worker and beat processes on the real Redis and
PostgreSQL, and a webhook receiver on localhost."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from typing import Any

import pytest
import redis
from sqlalchemy.orm import Session, sessionmaker

from service.notify.senders import RESUME_TASK
from service.runs.create import RunRequest, create_run
from service.runs.settings import RunSettings, SimulatorSettings
from service.store.enums import Trigger
from service.store.notify_models import DeliveryStatus
from tests.dashboard.world import fail_open
from tests.notify.receiver import Receiver, serve_receiver
from tests.notify.watched_workshop import (
    alarming_run,
    deliveries,
    notified,
    statuses,
    watched_workshop,
)
from workers.app import celery_init_app
from workers.config import BROKER_URL_ENV, WorkerSettings, beat_schedule, celery_config
from workers.dispatch import CeleryDispatcher

from .conftest import Processes, wait_until

# Beat resumes every second; a failed POST is tried again after two.
FAST = {"NETPOL_DRIFT_NOTIFY_INTERVAL_S": "1", "NETPOL_DRIFT_WEBHOOK_BACKOFF_S": "2"}


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with serve_receiver() as state:
        yield state


def _resumed(log: str, kind: str) -> set[int]:
    """The run or delivery ids the worker's resume_notifications tasks handed on."""
    lists = re.findall(rf"resume_notifications\[.*'{kind}': \[([\d, ]*)\]", log)
    return {int(i) for found in lists for i in found.split(",") if i.strip()}


def test_beat_resumes_notifications_at_their_interval() -> None:
    env = {BROKER_URL_ENV: "redis://127.0.0.1:6379/13", "NETPOL_DRIFT_NOTIFY_INTERVAL_S": "7"}
    settings = WorkerSettings.from_env(env)
    (entry,) = [e for e in beat_schedule(settings).values() if e["task"] == RESUME_TASK]
    assert entry["schedule"] == 7.0
    # A pass nobody picked up before the next one is dropped, not piled up.
    assert entry["options"] == {"expires": 7.0}
    task = celery_init_app(celery_config(settings)).tasks[RESUME_TASK]
    assert (task.acks_late, task.reject_on_worker_lost) == (True, True)


def test_a_run_whose_notify_task_was_never_sent_is_notified_once_by_beat(
    pg: sessionmaker[Session], processes: Processes, receiver: Receiver
) -> None:
    worker, beat = processes.worker("w1", **FAST), processes.beat(**FAST)
    scenario = watched_workshop(pg, receiver.url("/never-sent"))
    # Closed in this process, where no notifier is installed: no notify_run task was sent,
    # as when a worker dies between closing a run and sending it.
    alarming = alarming_run(pg, scenario)
    for process in (worker, beat):
        process.wait_ready()
    wait_until(
        lambda: notified(receiver) == [alarming],
        timeout_s=30,
        what="beat's resume to notify the run",
        logs=processes.logs,
    )
    time.sleep(3)  # three more passes: nothing is owed, nothing is sent again
    assert statuses(receiver) == [200]
    (delivery,) = deliveries(pg)
    assert (delivery.run_id, delivery.status, delivery.attempts) == (
        alarming,
        DeliveryStatus.DELIVERED,
        1,
    )
    # Beat's resume, not luck, handed the run on.
    assert alarming in _resumed(worker.text(), "runs")


def test_a_retry_lost_with_the_broker_is_sent_once_by_beat(
    pg: sessionmaker[Session],
    processes: Processes,
    receiver: Receiver,
    broker_url: str,
    pg_url: str,
) -> None:
    doomed = processes.worker("w1", **FAST)
    doomed.wait_ready()
    app: Any = celery_init_app(
        celery_config(WorkerSettings(broker_url=broker_url, database_url=pg_url))
    )
    scenario = watched_workshop(pg, receiver.url("/lost"))
    receiver.statuses = [500]
    # Run and closed on the worker, which notifies: the first POST is answered 500, and
    # the retry is a task with a countdown, held by the broker and the worker.
    settings = RunSettings(attempts=1, simulator=SimulatorSettings(faults=fail_open("deny-all")))
    created = create_run(pg, RunRequest(scenario=scenario, trigger=Trigger.API, settings=settings))
    CeleryDispatcher(app).dispatch(created.run_id, created.shard_keys)

    def failed_once() -> bool:
        rows = deliveries(pg)
        return len(rows) == 1 and rows[0].attempts == 1 and rows[0].last_status_code == 500

    wait_until(failed_once, timeout_s=60, what="the first attempt's 500", logs=processes.logs)
    # The worker dies and Redis comes back empty (compose keeps no Redis data): the
    # retry is gone.
    doomed.kill()
    client = redis.Redis.from_url(broker_url)
    try:
        client.flushdb()
    finally:
        client.close()
    time.sleep(3)  # past the backoff: nobody sends it
    assert statuses(receiver) == [500]
    (pending,) = deliveries(pg)
    assert pending.status is DeliveryStatus.PENDING

    worker, beat = processes.worker("w2", **FAST), processes.beat(**FAST)
    for process in (worker, beat):
        process.wait_ready()
    wait_until(
        lambda: notified(receiver) == [created.run_id],
        timeout_s=30,
        what="beat's resume to send the lost retry",
        logs=processes.logs,
    )
    time.sleep(3)  # three more passes: delivered is final
    assert statuses(receiver) == [500, 200]
    (delivered,) = deliveries(pg)
    assert (delivered.status, delivered.attempts) == (DeliveryStatus.DELIVERED, 2)
    assert _resumed(worker.text(), "deliveries") == {delivered.id}
