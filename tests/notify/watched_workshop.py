"""The workshop scenario watched by a webhook, and what the webhook's receiver was sent.

The notifications-resume tests set this up the same way whichever notifier
sends (one in this process, or Celery beat's task): one clean run stores the
scenario, then a webhook on it; the next run where ``deny-all`` fails open
(:func:`alarming_run`) has findings to send.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from service.notify.webhooks import WebhookSpec, create_webhook
from service.runs.transactions import writing
from service.scenario.model import Scenario
from service.store.models import Scenario as ScenarioRow
from service.store.notify_models import WebhookDelivery
from tests.dashboard.world import fail_open
from tests.notify.conftest import run_once, workshop
from tests.notify.receiver import Receiver


def watched_workshop(sessions: sessionmaker[Session], url: str) -> Scenario:
    """The workshop, stored by a clean run (not notified: no webhook yet), then watched by
    a webhook posting to ``url``."""
    scenario = workshop()
    run_once(sessions, scenario)
    with sessions() as session:
        scenario_id = session.scalar(
            select(ScenarioRow.id).where(ScenarioRow.name == scenario.name)
        )
    assert scenario_id is not None
    with writing(sessions) as session:
        create_webhook(session, WebhookSpec(name="team", url=url, scenario_id=scenario_id))
    return scenario


def alarming_run(sessions: sessionmaker[Session], scenario: Scenario) -> int:
    """A run, closed in this process, where ``deny-all`` fails open: regressions to send."""
    return run_once(sessions, scenario, faults=fail_open("deny-all"))


def deliveries(sessions: sessionmaker[Session]) -> list[WebhookDelivery]:
    with sessions() as session:
        return list(session.scalars(select(WebhookDelivery).order_by(WebhookDelivery.id)))


def notified(receiver: Receiver) -> list[object]:
    """The run of each body the receiver answered with a 2xx, in the order they came."""
    return [body["run"]["id"] for body in receiver.delivered()]  # type: ignore[index]


def statuses(receiver: Receiver) -> list[int]:
    """What the receiver answered each POST, in order."""
    with receiver.lock:
        return [status for _, status, _ in receiver.received]
