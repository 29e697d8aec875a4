"""Deliveries: one per webhook and run, to the webhooks that listen, sent with retries."""

from __future__ import annotations

import json
from datetime import datetime, timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from service.notify.deliveries import (
    PostResult,
    attempt_delivery,
    due_deliveries,
    prepare_deliveries,
)
from service.notify.settings import NotifySettings
from service.notify.webhooks import WebhookSpec, create_webhook, set_webhook_enabled
from service.runs.schedules import ScheduleSpec, create_schedule
from service.runs.transactions import writing
from service.store.base import utc_now
from service.store.models import Scenario
from service.store.notify_models import DeliveryStatus, WebhookDelivery, WebhookFormat
from tests.dashboard.world import fail_open
from tests.notify.conftest import run_once, workshop

SETTINGS = NotifySettings(base_url="https://netpol.example.com", attempts=3, backoff_s=2.0)
SECRET_URL = "https://hooks.example.com/services/T0SECRET/B0SECRET/tokenTOKENtoken"


def _scenario_id(sessions: sessionmaker[Session]) -> int:
    with sessions() as session:
        found = session.scalar(select(Scenario.id).where(Scenario.name == "calico-workshop"))
    assert found is not None
    return found


def _hook(sessions: sessionmaker[Session], **fields: object) -> int:
    spec = WebhookSpec(name="hook", url=SECRET_URL, **fields)  # type: ignore[arg-type]
    with writing(sessions) as session:
        return create_webhook(session, spec).id


def _alarming_run(sessions: sessionmaker[Session]) -> int:
    scenario = workshop()
    run_once(sessions, scenario)
    return run_once(sessions, scenario, faults=fail_open("deny-all"))


def _deliveries(sessions: sessionmaker[Session]) -> list[WebhookDelivery]:
    with sessions() as session:
        return list(session.scalars(select(WebhookDelivery).order_by(WebhookDelivery.id)))


def test_an_alarming_run_makes_one_delivery_per_webhook_however_often_it_is_prepared(
    sessions: sessionmaker[Session],
) -> None:
    run_once(sessions, workshop())
    scenario_id = _scenario_id(sessions)
    generic = _hook(sessions, scenario_id=scenario_id)
    slack = _hook(sessions, scenario_id=scenario_id, format=WebhookFormat.SLACK)
    run_id = _alarming_run(sessions)
    first = prepare_deliveries(sessions, run_id, SETTINGS)
    again = prepare_deliveries(sessions, run_id, SETTINGS)
    assert len(first) == 2
    assert again == []
    stored = _deliveries(sessions)
    assert [(d.webhook_id, d.run_id) for d in stored] == [(generic, run_id), (slack, run_id)]
    assert stored[0].reasons == ["regressions", "alarm-drift"]
    body = json.loads(stored[0].body)
    assert body["run"]["url"] == f"https://netpol.example.com/dashboard/runs/{run_id}"
    assert body["reasons"] == ["regressions", "alarm-drift"]
    assert "blocks" in json.loads(stored[1].body)


def test_a_clean_run_makes_no_delivery(sessions: sessionmaker[Session]) -> None:
    scenario = workshop()
    run_once(sessions, scenario)
    _hook(sessions, scenario_id=_scenario_id(sessions))
    clean = run_once(sessions, scenario)
    assert prepare_deliveries(sessions, clean, SETTINGS) == []
    assert _deliveries(sessions) == []


def test_webhooks_hear_only_the_reasons_they_listen_for_and_only_when_enabled(
    sessions: sessionmaker[Session],
) -> None:
    run_once(sessions, workshop())
    scenario_id = _scenario_id(sessions)
    flakes_only = _hook(
        sessions, scenario_id=scenario_id, on_regressions=False, on_alarm_drift=False
    )
    drift_only = _hook(sessions, scenario_id=scenario_id, on_regressions=False, on_new_flakes=False)
    disabled = _hook(sessions, scenario_id=scenario_id)
    with writing(sessions) as session:
        set_webhook_enabled(session, disabled, False)
    run_id = _alarming_run(sessions)
    prepare_deliveries(sessions, run_id, SETTINGS)
    stored = _deliveries(sessions)
    assert [d.webhook_id for d in stored] == [drift_only]
    assert stored[0].reasons == ["alarm-drift"]
    assert flakes_only not in [d.webhook_id for d in stored]


def test_a_schedules_webhook_hears_only_the_runs_that_schedule_started(
    sessions: sessionmaker[Session],
) -> None:
    scenario = workshop()
    run_once(sessions, scenario)
    with writing(sessions) as session:
        schedule = create_schedule(
            session,
            ScheduleSpec(scenario_id=_scenario_id(sessions), name="nightly", cron="0 2 * * *"),
        )
        schedule_id = schedule.id
    hook = _hook(sessions, schedule_id=schedule_id)
    unscheduled = run_once(sessions, scenario, faults=fail_open("deny-all"))
    assert prepare_deliveries(sessions, unscheduled, SETTINGS) == []
    scheduled = run_once(sessions, scenario, faults=fail_open("allow-pod"), schedule_id=schedule_id)
    assert len(prepare_deliveries(sessions, scheduled, SETTINGS)) == 1
    assert [d.webhook_id for d in _deliveries(sessions)] == [hook]


class Answers:
    """The HTTP seam: answers POSTs from a script and records what was sent."""

    def __init__(self, *results: PostResult) -> None:
        self.results = list(results)
        self.sent: list[tuple[str, bytes]] = []

    def __call__(self, url: str, body: bytes, timeout_s: float) -> PostResult:
        self.sent.append((url, body))
        return self.results.pop(0)


def _prepared(sessions: sessionmaker[Session]) -> int:
    run_once(sessions, workshop())
    _hook(sessions, scenario_id=_scenario_id(sessions))
    (delivery_id,) = prepare_deliveries(sessions, _alarming_run(sessions), SETTINGS)
    return delivery_id


class Clock:
    """The time as attempts see it: from now (a delivery is due when it is made), moved by hand."""

    def __init__(self) -> None:
        self.at = utc_now()

    def __call__(self) -> datetime:
        return self.at

    def wait(self, seconds: float | None) -> None:
        self.at += timedelta(seconds=seconds or 0.0)


def test_a_failed_attempt_is_retried_after_a_doubling_backoff_until_it_is_delivered(
    sessions: sessionmaker[Session],
) -> None:
    delivery_id = _prepared(sessions)
    answers = Answers(PostResult(500, "HTTP 500"), PostResult(503, "HTTP 503"), PostResult(204))
    clock = Clock()
    outcomes = []
    for _ in range(3):
        outcomes.append(attempt_delivery(sessions, delivery_id, SETTINGS, post=answers, now=clock))
        clock.wait(outcomes[-1].retry_in_s)
    assert [o.status for o in outcomes] == [
        DeliveryStatus.PENDING,
        DeliveryStatus.PENDING,
        DeliveryStatus.DELIVERED,
    ]
    assert [o.retry_in_s for o in outcomes] == [2.0, 4.0, None]
    assert [o.attempt for o in outcomes] == [1, 2, 3]
    assert len({body for _, body in answers.sent}) == 1
    (stored,) = _deliveries(sessions)
    assert stored.status is DeliveryStatus.DELIVERED
    assert stored.attempts == 3
    assert stored.last_status_code == 204
    # Delivered is final: nothing is sent again.
    assert attempt_delivery(sessions, delivery_id, SETTINGS, post=answers).skipped


def test_an_attempt_is_not_sent_again_before_its_backoff_is_over(
    sessions: sessionmaker[Session],
) -> None:
    delivery_id = _prepared(sessions)
    answers = Answers(PostResult(500, "HTTP 500"), PostResult(204))
    clock = Clock()
    failed = attempt_delivery(sessions, delivery_id, SETTINGS, post=answers, now=clock)
    assert failed.retry_in_s == 2.0
    clock.wait(1.9)
    early = attempt_delivery(sessions, delivery_id, SETTINGS, post=answers, now=clock)
    assert (early.status, early.attempt) == (None, 1)
    assert early.skipped.startswith("not due until")
    assert len(answers.sent) == 1
    clock.wait(0.1)
    sent = attempt_delivery(sessions, delivery_id, SETTINGS, post=answers, now=clock)
    assert (sent.status, sent.attempt) == (DeliveryStatus.DELIVERED, 2)


def test_a_delivery_is_given_up_after_its_last_attempt(sessions: sessionmaker[Session]) -> None:
    delivery_id = _prepared(sessions)
    answers = Answers(*(PostResult(500, "HTTP 500") for _ in range(3)))
    clock = Clock()
    statuses = []
    for _ in range(3):
        outcome = attempt_delivery(sessions, delivery_id, SETTINGS, post=answers, now=clock)
        statuses.append(outcome.status)
        clock.wait(outcome.retry_in_s)
    assert statuses == [DeliveryStatus.PENDING, DeliveryStatus.PENDING, DeliveryStatus.FAILED]
    (stored,) = _deliveries(sessions)
    assert stored.next_attempt_at is None
    assert stored.last_error == "HTTP 500"


def test_an_error_quoting_the_url_is_stored_without_its_secrets(
    sessions: sessionmaker[Session], caplog: pytest.LogCaptureFixture
) -> None:
    delivery_id = _prepared(sessions)
    answers = Answers(PostResult(None, f"URLError: cannot reach {SECRET_URL}"))
    with caplog.at_level("INFO", logger="service.notify"):
        attempt_delivery(sessions, delivery_id, SETTINGS, post=answers)
    (stored,) = _deliveries(sessions)
    assert stored.last_error is not None
    assert "SECRET" not in stored.last_error
    assert "TOKEN" not in stored.last_error
    assert "hooks.example.com/services/***/***/***" in stored.last_error
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert "hooks.example.com" in logged
    assert "SECRET" not in logged


def test_a_pending_delivery_is_due_again_after_its_backoff(sessions: sessionmaker[Session]) -> None:
    delivery_id = _prepared(sessions)
    clock = Clock()
    attempt_delivery(sessions, delivery_id, SETTINGS, post=Answers(PostResult(500)), now=clock)
    assert due_deliveries(sessions, now=clock.at + timedelta(seconds=1)) == []
    assert due_deliveries(sessions, now=clock.at + timedelta(seconds=2)) == [delivery_id]
