"""Webhooks in the store: created, listed (URLs redacted), switched, deleted.

Every function runs in the caller's session and transaction; the caller
commits. A webhook's URL never leaves here whole: :class:`WebhookView`
carries its redacted form only.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from service.errors import FieldPath, InvalidInput, Problem
from service.notify.urls import check_webhook_url, redact_url
from service.store.models import Run, Scenario, Schedule
from service.store.notify_models import Webhook, WebhookFormat

__all__ = [
    "WebhookSpec",
    "WebhookView",
    "create_webhook",
    "delete_webhook",
    "list_webhooks",
    "set_webhook_enabled",
    "webhooks_for_run",
]

_NAME_MAX: Final = 253


@dataclass(frozen=True, slots=True)
class WebhookSpec:
    """A webhook to create: for a scenario or a schedule (exactly one of the two)."""

    name: str
    url: str
    format: WebhookFormat = WebhookFormat.GENERIC
    scenario_id: int | None = None
    schedule_id: int | None = None
    on_regressions: bool = True
    on_alarm_drift: bool = True
    on_new_flakes: bool = True
    enabled: bool = True


@dataclass(frozen=True, slots=True)
class WebhookView:
    """A webhook as it may be shown: ``url`` is redacted."""

    id: int
    name: str
    url: str
    format: WebhookFormat
    scenario_id: int | None
    scenario: str | None
    schedule_id: int | None
    schedule: str | None
    on_regressions: bool
    on_alarm_drift: bool
    on_new_flakes: bool
    enabled: bool
    created_at: datetime

    @property
    def events(self) -> tuple[str, ...]:
        return tuple(
            name
            for name, on in (
                ("regressions", self.on_regressions),
                ("alarm-drift", self.on_alarm_drift),
                ("new-flakes", self.on_new_flakes),
            )
            if on
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "url": self.url,
            "format": self.format.value,
            "scenario_id": self.scenario_id,
            "scenario": self.scenario,
            "schedule_id": self.schedule_id,
            "schedule": self.schedule,
            "events": list(self.events),
            "enabled": self.enabled,
            "created_at": self.created_at.isoformat().replace("+00:00", "Z"),
        }


def _view(row: Webhook, scenario: str | None, schedule: str | None) -> WebhookView:
    return WebhookView(
        id=row.id,
        name=row.name,
        url=redact_url(row.url),
        format=row.format,
        scenario_id=row.scenario_id,
        scenario=scenario,
        schedule_id=row.schedule_id,
        schedule=schedule,
        on_regressions=row.on_regressions,
        on_alarm_drift=row.on_alarm_drift,
        on_new_flakes=row.on_new_flakes,
        enabled=row.enabled,
        created_at=row.created_at,
    )


def create_webhook(session: Session, spec: WebhookSpec) -> WebhookView:
    """Add a webhook; InvalidInput names every field that does not fit (never quoting the URL)."""
    problems: list[Problem] = []
    name = spec.name.strip()
    if not name:
        problems.append(Problem("expected a non-empty name", path=FieldPath(("name",))))
    elif len(name) > _NAME_MAX:
        problems.append(
            Problem(
                f"expected at most {_NAME_MAX} characters, got {len(name)}",
                path=FieldPath(("name",)),
            )
        )
    url = spec.url
    try:
        url = check_webhook_url(spec.url, path=FieldPath(("url",)))
    except InvalidInput as err:
        problems.extend(err.problems)
    if (spec.scenario_id is None) == (spec.schedule_id is None):
        problems.append(
            Problem(
                "expected exactly one of scenario_id and schedule_id",
                path=FieldPath(("scenario_id",)),
            )
        )
    elif spec.scenario_id is not None and session.get(Scenario, spec.scenario_id) is None:
        problems.append(
            Problem(f"no scenario {spec.scenario_id}", path=FieldPath(("scenario_id",)))
        )
    elif spec.schedule_id is not None and session.get(Schedule, spec.schedule_id) is None:
        problems.append(
            Problem(f"no schedule {spec.schedule_id}", path=FieldPath(("schedule_id",)))
        )
    if not (spec.on_regressions or spec.on_alarm_drift or spec.on_new_flakes):
        problems.append(
            Problem(
                "expected at least one event: regressions, alarm drift or new flakes",
                path=FieldPath(("events",)),
            )
        )
    InvalidInput.collect(problems)
    row = Webhook(
        name=name,
        url=url,
        format=spec.format,
        scenario_id=spec.scenario_id,
        schedule_id=spec.schedule_id,
        on_regressions=spec.on_regressions,
        on_alarm_drift=spec.on_alarm_drift,
        on_new_flakes=spec.on_new_flakes,
        enabled=spec.enabled,
    )
    session.add(row)
    session.flush()
    return _one(session, row.id)


def _query() -> Any:
    return (
        select(Webhook, Scenario.name, Schedule.name)
        .outerjoin(Scenario, Scenario.id == Webhook.scenario_id)
        .outerjoin(Schedule, Schedule.id == Webhook.schedule_id)
        .order_by(Webhook.id)
    )


def _one(session: Session, webhook_id: int) -> WebhookView:
    row, scenario, schedule = session.execute(_query().where(Webhook.id == webhook_id)).one()
    return _view(row, scenario, schedule)


def list_webhooks(session: Session, *, scenario_id: int | None = None) -> list[WebhookView]:
    """Every webhook by id; with ``scenario_id``, those of the scenario and of its schedules."""
    query = _query()
    if scenario_id is not None:
        query = query.where(
            or_(Webhook.scenario_id == scenario_id, Schedule.scenario_id == scenario_id)
        )
    return [_view(row, scenario, schedule) for row, scenario, schedule in session.execute(query)]


def set_webhook_enabled(session: Session, webhook_id: int, enabled: bool) -> WebhookView:
    row = session.get(Webhook, webhook_id)
    if row is None:
        raise InvalidInput(Problem(f"no webhook {webhook_id}", path=FieldPath(("id",))))
    row.enabled = enabled
    session.flush()
    return _one(session, webhook_id)


def delete_webhook(session: Session, webhook_id: int) -> bool:
    """Delete a webhook and its deliveries; False when there was none."""
    row = session.get(Webhook, webhook_id)
    if row is None:
        return False
    session.delete(row)
    session.flush()
    return True


def webhooks_for_run(session: Session, run_id: int) -> list[Webhook]:
    """The enabled webhooks a run notifies: its scenario's and its schedule's."""
    run = session.get(Run, run_id)
    if run is None:
        return []
    scopes = [Webhook.scenario_id == run.scenario_id]
    if run.schedule_id is not None:
        scopes.append(Webhook.schedule_id == run.schedule_id)
    return list(
        session.scalars(
            select(Webhook).where(Webhook.enabled.is_(True), or_(*scopes)).order_by(Webhook.id)
        )
    )
