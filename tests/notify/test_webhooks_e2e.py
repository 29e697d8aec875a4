"""Runs notify a webhook receiver on localhost: hooked where runs close, sent by the in-process
sender over real HTTP, retried on 500, once per alarming run and never for a clean one."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from service.notify.hooks import Notifications, install_notifications
from service.notify.senders import InProcessSender
from service.notify.settings import NotifySettings
from service.notify.webhooks import WebhookSpec, create_webhook
from service.runs.lifecycle import add_run_closed_hook
from service.runs.transactions import writing
from service.store import make_engine, make_session_factory, upgrade
from service.store.enums import RunStatus
from service.store.models import Run, Scenario
from service.store.notify_models import WebhookFormat
from tests.dashboard.world import fail_open
from tests.notify.conftest import Receiver, run_once, workshop

SECRET_PATH = "/hooks/T0SECRET/B0SECRET/tokenTOKENtoken"
FAST = NotifySettings(base_url="http://dash.example", backoff_s=0.05, attempts=4, timeout_s=5)


@pytest.fixture
def notified(sessions: sessionmaker[Session]) -> Iterator[tuple[Notifications, InProcessSender]]:
    sender = InProcessSender(sessions, FAST)
    notifications = install_notifications(sessions, sender)
    try:
        yield notifications, sender
    finally:
        notifications.uninstall()
        sender.close()


def _webhook(
    sessions: sessionmaker[Session], url: str, kind: WebhookFormat = WebhookFormat.GENERIC
) -> None:
    with sessions() as session:
        scenario_id = session.scalar(select(Scenario.id).where(Scenario.name == "calico-workshop"))
    assert scenario_id is not None
    with writing(sessions) as session:
        create_webhook(
            session, WebhookSpec(name="team", url=url, format=kind, scenario_id=scenario_id)
        )


def test_each_alarming_run_notifies_once_and_a_clean_run_never(
    sessions: sessionmaker[Session],
    receiver: Receiver,
    notified: tuple[Notifications, InProcessSender],
    caplog: pytest.LogCaptureFixture,
) -> None:
    _, sender = notified
    scenario = workshop()
    first = run_once(sessions, scenario)
    _webhook(sessions, receiver.url(SECRET_PATH))
    receiver.statuses = [500]
    with caplog.at_level("INFO", logger="service.notify"):
        clean = run_once(sessions, scenario)
        assert sender.idle(10)
        assert receiver.received == []

        alarming = run_once(sessions, scenario, faults=fail_open("deny-all"))
        assert sender.idle(10)
        again = run_once(sessions, scenario, faults=fail_open("allow-pod"))
        assert sender.idle(10)

    delivered = receiver.delivered()
    assert [body["run"]["id"] for body in delivered] == [alarming, again]  # type: ignore[index]
    # The first POST was answered 500 and sent again: two requests, one notification.
    assert [status for _, status, _ in receiver.received] == [500, 200, 200]
    assert all(path == SECRET_PATH for path, _, _ in receiver.received)
    body = delivered[0]
    assert body["event"] == "run.alarming"
    assert body["reasons"] == ["regressions", "alarm-drift"]
    assert body["run"]["url"] == f"http://dash.example/dashboard/runs/{alarming}"  # type: ignore[index]
    assert body["run"]["previous_run_id"] == clean  # type: ignore[index]
    assert first < clean
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert "delivered" in logged
    assert "SECRET" not in logged
    assert "TOKEN" not in logged


def test_a_slack_webhook_gets_a_slack_message_with_names_escaped(
    sessions: sessionmaker[Session],
    receiver: Receiver,
    notified: tuple[Notifications, InProcessSender],
) -> None:
    _, sender = notified
    scenario = workshop()
    run_once(sessions, scenario)
    _webhook(sessions, receiver.url("/slack"), WebhookFormat.SLACK)
    alarming = run_once(sessions, scenario, faults=fail_open("deny-all"))
    assert sender.idle(10)
    (message,) = receiver.delivered()
    link = f"http://dash.example/dashboard/runs/{alarming}"
    assert link in str(message["text"])
    blocks = message["blocks"]
    assert isinstance(blocks, list)
    assert f"<{link}|run {alarming}>" in blocks[0]["text"]["text"]
    assert "regression" in blocks[0]["text"]["text"]
    # The cells' arrows are text in Slack: escaped, so they make no link.
    assert "-&gt;" in blocks[1]["text"]["text"]


def test_deliveries_left_pending_by_a_stopped_process_are_sent_by_the_next(
    sessions: sessionmaker[Session], receiver: Receiver
) -> None:
    scenario = workshop()
    run_once(sessions, scenario)
    _webhook(sessions, receiver.url("/later"))
    # No notifier installed: the run closes, nobody sends. Then a process starts.
    alarming = run_once(sessions, scenario, faults=fail_open("deny-all"))
    from service.notify.deliveries import prepare_deliveries

    prepare_deliveries(sessions, alarming, FAST)
    sender = InProcessSender(sessions, FAST)
    notifications = install_notifications(sessions, sender)
    try:
        assert sender.idle(10)
        assert [b["run"]["id"] for b in receiver.delivered()] == [alarming]  # type: ignore[index]
    finally:
        notifications.uninstall()
        sender.close()


def test_a_notifier_answers_only_for_runs_of_its_own_database(
    sessions: sessionmaker[Session], receiver: Receiver, tmp_path: Path
) -> None:
    other_url = f"sqlite:///{tmp_path / 'other.db'}"
    upgrade(other_url)
    other_engine = make_engine(other_url)
    other = make_session_factory(other_engine)
    sender = InProcessSender(other, FAST)
    notifications = install_notifications(other, sender)
    try:
        scenario = workshop()
        run_once(sessions, scenario)
        _webhook(sessions, receiver.url("/x"))
        run_once(sessions, scenario, faults=fail_open("deny-all"))
        assert sender.idle(10)
        assert receiver.received == []
    finally:
        notifications.uninstall()
        sender.close()
        other_engine.dispose()


def test_a_failing_hook_does_not_stop_a_run_from_closing(sessions: sessionmaker[Session]) -> None:
    calls: list[tuple[int, RunStatus]] = []

    def broken(_sessions: sessionmaker[Session], run_id: int, status: RunStatus) -> None:
        calls.append((run_id, status))
        raise RuntimeError("hook failed")

    remove = add_run_closed_hook(broken)
    try:
        run_id = run_once(sessions, workshop())
    finally:
        remove()
    with sessions() as session:
        status = session.scalar(select(Run.status).where(Run.id == run_id))
    assert status is RunStatus.SUCCEEDED
    assert calls == [(run_id, RunStatus.SUCCEEDED)]
