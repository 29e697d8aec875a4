"""Webhooks: listed with their URLs redacted, added and removed by operators; deliveries."""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, url_for
from sqlalchemy import select
from werkzeug.wrappers import Response

from service.dashboard.auth import needs
from service.dashboard.blueprint import bp
from service.dashboard.context import db, state
from service.dashboard.queries import recent_deliveries
from service.dashboard.views.common import csv_download
from service.errors import InvalidInput
from service.export.tables import Table
from service.notify.webhooks import (
    WebhookSpec,
    create_webhook,
    delete_webhook,
    list_webhooks,
    set_webhook_enabled,
)
from service.runs.transactions import writing
from service.store.enums import TokenRole
from service.store.models import Scenario, Schedule
from service.store.notify_models import WebhookFormat

__all__: list[str] = []


def _scopes() -> list[tuple[str, str]]:
    """(value, label) of everything a webhook can belong to."""
    session = db()
    out = [
        (f"scenario:{sid}", f"scenario {name}")
        for sid, name in session.execute(select(Scenario.id, Scenario.name).order_by(Scenario.name))
    ]
    out += [
        (f"schedule:{sid}", f"schedule {name} of {scenario}")
        for sid, name, scenario in session.execute(
            select(Schedule.id, Schedule.name, Scenario.name)
            .join(Scenario, Scenario.id == Schedule.scenario_id)
            .order_by(Scenario.name, Schedule.name)
        )
    ]
    return out


def _render(status: int = 200, problems: tuple[str, ...] = ()) -> Response:
    page = render_template(
        "dashboard/webhooks.html",
        webhooks=list_webhooks(db()),
        deliveries=recent_deliveries(db()),
        scopes=_scopes(),
        formats=list(WebhookFormat),
        problems=problems,
        form=request.form if request.method == "POST" else {},
    )
    return Response(page, status=status, mimetype="text/html")


@bp.get("/webhooks")
@needs(TokenRole.VIEWER)
def webhooks_page() -> Response:
    return _render()


def _scope(text: str) -> tuple[int | None, int | None]:
    kind, _, number = text.partition(":")
    if not number.isdigit() or not 0 < int(number) < 2**31:
        return None, None
    if kind == "scenario":
        return int(number), None
    if kind == "schedule":
        return None, int(number)
    return None, None


@bp.post("/webhooks")
@needs(TokenRole.OPERATOR)
def add_webhook() -> Response:
    form = request.form
    scenario_id, schedule_id = _scope(form.get("scope", ""))
    try:
        kind = WebhookFormat(form.get("format", "generic"))
    except ValueError:
        kind = WebhookFormat.GENERIC
    spec = WebhookSpec(
        name=form.get("name", ""),
        url=form.get("url", ""),
        format=kind,
        scenario_id=scenario_id,
        schedule_id=schedule_id,
        on_regressions="on_regressions" in form,
        on_alarm_drift="on_alarm_drift" in form,
        on_new_flakes="on_new_flakes" in form,
    )
    try:
        with writing(state().sessions()) as session:
            created = create_webhook(session, spec)
    except InvalidInput as err:
        return _render(422, tuple(str(p) for p in err.problems))
    flash(f"Webhook {created.name!r} added ({created.url}).", "ok")
    return redirect(url_for("dashboard.webhooks_page"))


@bp.post("/webhooks/<int:webhook_id>/delete")
@needs(TokenRole.OPERATOR)
def remove_webhook(webhook_id: int) -> Response:
    with writing(state().sessions()) as session:
        deleted = delete_webhook(session, webhook_id)
    if not deleted:
        abort(404, description=f"there is no webhook {webhook_id}")
    flash("Webhook removed.", "ok")
    return redirect(url_for("dashboard.webhooks_page"))


@bp.post("/webhooks/<int:webhook_id>/<any(enable, disable):action>")
@needs(TokenRole.OPERATOR)
def switch_webhook(webhook_id: int, action: str) -> Response:
    try:
        with writing(state().sessions()) as session:
            set_webhook_enabled(session, webhook_id, action == "enable")
    except InvalidInput as err:
        abort(404, description=str(err))
    return redirect(url_for("dashboard.webhooks_page"))


@bp.get("/webhooks.csv")
@needs(TokenRole.VIEWER)
def webhooks_csv() -> Response:
    return csv_download(
        Table(
            ("id", "name", "url", "format", "scenario", "schedule", "events", "enabled"),
            [
                (
                    w.id,
                    w.name,
                    w.url,
                    w.format.value,
                    w.scenario,
                    w.schedule,
                    " ".join(w.events),
                    w.enabled,
                )
                for w in list_webhooks(db())
            ],
        ),
        "webhooks",
    )


@bp.get("/deliveries.csv")
@needs(TokenRole.VIEWER)
def deliveries_csv() -> Response:
    return csv_download(
        Table(
            (
                "id",
                "run",
                "scenario",
                "webhook",
                "url",
                "status",
                "reasons",
                "attempts",
                "last_status_code",
                "last_error",
                "created_at",
                "delivered_at",
            ),
            [
                (
                    d.id,
                    d.run_id,
                    d.scenario,
                    d.webhook,
                    d.url,
                    d.status.value,
                    " ".join(d.reasons),
                    d.attempts,
                    d.last_status_code,
                    d.last_error,
                    d.created_at,
                    d.delivered_at,
                )
                for d in recent_deliveries(db(), limit=1000)
            ],
        ),
        "webhook-deliveries",
    )
