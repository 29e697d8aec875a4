"""The worker configuration: read from the environment, and what it asks of Celery."""

from __future__ import annotations

from pathlib import Path

import pytest

from service.errors import InvalidInput
from service.runs.dispatch import InProcessDispatcher
from service.store import make_engine, make_session_factory
from workers.app import celery_init_app
from workers.config import BROKER_URL_ENV, WorkerSettings, beat_schedule, celery_config
from workers.dispatch import CeleryDispatcher, dispatcher_from_env
from workers.tasks import RETRYABLE

BROKER = {BROKER_URL_ENV: "redis://127.0.0.1:6379/13", "NETPOL_DRIFT_DATABASE_URL": "sqlite://"}


def test_settings_come_from_the_environment() -> None:
    settings = WorkerSettings.from_env({**BROKER, "NETPOL_DRIFT_VISIBILITY_TIMEOUT_S": "7200"})
    assert settings.broker_url == BROKER[BROKER_URL_ENV]
    assert settings.database_url == "sqlite://"
    assert settings.visibility_timeout_s == 7200.0


@pytest.mark.parametrize(
    ("env", "variable"),
    [
        ({}, BROKER_URL_ENV),
        ({**BROKER, "NETPOL_DRIFT_TICK_INTERVAL_S": "soon"}, "NETPOL_DRIFT_TICK_INTERVAL_S"),
        ({**BROKER, "NETPOL_DRIFT_STALLED_AFTER_S": "-5"}, "NETPOL_DRIFT_STALLED_AFTER_S"),
    ],
)
def test_a_missing_or_bad_variable_is_named(env: dict[str, str], variable: str) -> None:
    with pytest.raises(InvalidInput) as raised:
        WorkerSettings.from_env(env)
    assert [str(p.path) for p in raised.value.problems] == [variable]


def test_shards_are_acknowledged_late_and_redelivered_after_the_visibility_timeout() -> None:
    config = celery_config(WorkerSettings.from_env(BROKER))
    assert config["task_acks_late"] is True
    assert config["task_reject_on_worker_lost"] is True
    assert config["worker_prefetch_multiplier"] == 1
    options = config["broker_transport_options"]
    assert options["visibility_timeout"] == 3600.0
    # Looked for often enough that a dead worker's shard comes back soon after.
    assert options["unacked_restore_interval"] * options["unacked_restore_throttle"] <= 10


def test_every_task_is_late_retried_on_infrastructure_errors_and_beat_sends_three() -> None:
    settings = WorkerSettings.from_env(BROKER)
    app = celery_init_app(celery_config(settings))
    names = [
        "netpol_drift.run_shard",
        "netpol_drift.finish_run",
        "netpol_drift.reap_runs",
        "netpol_drift.tick_schedules",
    ]
    for name in names:
        task = app.tasks[name]
        assert (task.acks_late, task.reject_on_worker_lost) == (True, True)
        assert tuple(task.autoretry_for) == RETRYABLE
        assert task.retry_backoff
    schedule = beat_schedule(settings)
    assert {entry["task"] for entry in schedule.values()} == {
        "netpol_drift.tick_schedules",
        "netpol_drift.reap_runs",
        "netpol_drift.resume_notifications",
    }


def test_without_a_broker_runs_are_dispatched_in_process(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'x.db'}")
    try:
        sessions = make_session_factory(engine)
        local = dispatcher_from_env(sessions, environ={})
        assert isinstance(local, InProcessDispatcher)
        local.close()
        remote = dispatcher_from_env(sessions, environ=BROKER)
        assert isinstance(remote, CeleryDispatcher)
    finally:
        engine.dispose()
