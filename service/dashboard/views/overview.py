"""The overview (every scenario at a glance), and logging in and out."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Final

from flask import flash, redirect, render_template, request, url_for
from werkzeug.wrappers import Response

from service.compare import DriftCounts
from service.dashboard.auth import current_viewer, log_in, log_out, needs, safe_next
from service.dashboard.blueprint import bp
from service.dashboard.chaos.listing import latest_by_scenario
from service.dashboard.context import db, state
from service.dashboard.queries import SparkRun, next_fires, recent_runs
from service.dashboard.views.common import csv_download
from service.export.tables import Table
from service.queries.paging import MAX_LIMIT
from service.queries.runs import previous_run_id
from service.queries.scenarios import ScenarioSummary, list_scenarios
from service.store.enums import RunStatus, TokenRole

__all__ = ["ScenarioRow", "overview_rows"]

SPARK_RUNS: Final = 30
_FINISHED: Final = (RunStatus.SUCCEEDED, RunStatus.FAILED)


@dataclass(frozen=True, slots=True)
class ScenarioRow:
    scenario: ScenarioSummary
    runs: tuple[SparkRun, ...]
    latest: SparkRun | None
    latest_finished: SparkRun | None
    # The finished run before latest_finished on the same cluster: what drift is since.
    previous_finished_id: int | None
    drift: DriftCounts | None
    next_fire: datetime | None

    @property
    def id(self) -> int:
        return self.scenario["id"]

    @property
    def name(self) -> str:
        return self.scenario["name"]

    @property
    def alarming(self) -> bool:
        finished = self.latest_finished
        return (finished is not None and finished.regressions > 0) or (
            self.drift is not None and self.drift.alarm > 0
        )


def overview_rows() -> list[ScenarioRow]:
    session = db()
    scenarios = list_scenarios(session, limit=MAX_LIMIT).items
    ids = [s["id"] for s in scenarios]
    runs = recent_runs(session, ids, limit=SPARK_RUNS)
    fires = next_fires(session, ids)
    cache = state().columns
    rows = []
    for scenario in scenarios:
        history = runs.get(scenario["id"], [])
        finished = [r for r in history if r.status in _FINISHED]
        latest_finished = finished[-1] if finished else None
        # Not simply the finished run before it: that may be another cluster's
        # (service.runs.history), and may be older than the sparkline's runs.
        previous = (
            previous_run_id(session, latest_finished.id) if latest_finished is not None else None
        )
        drift = (
            cache.drift(session, latest_finished.id, previous)
            if latest_finished is not None and previous is not None
            else None
        )
        rows.append(
            ScenarioRow(
                scenario=scenario,
                runs=tuple(history),
                latest=history[-1] if history else None,
                latest_finished=latest_finished,
                previous_finished_id=previous,
                drift=drift,
                next_fire=fires.get(scenario["id"]),
            )
        )
    return rows


@bp.get("/")
@needs(TokenRole.VIEWER)
def overview() -> str:
    rows = overview_rows()
    return render_template(
        "dashboard/overview.html",
        rows=rows,
        spark_runs=SPARK_RUNS,
        failing=sum(1 for r in rows if r.latest_finished and r.latest_finished.regressions),
        alarms=sum(1 for r in rows if r.drift is not None and r.drift.alarm),
        next_fire=min((r.next_fire for r in rows if r.next_fire is not None), default=None),
        chaos=latest_by_scenario(db()),
    )


@bp.get("/overview.csv")
@needs(TokenRole.VIEWER)
def overview_csv() -> Response:
    rows = overview_rows()
    return csv_download(
        Table(
            columns=(
                "scenario",
                "last_run",
                "last_status",
                "last_finished_run",
                "regressions",
                "alarm_drift",
                "expected_drift",
                "flaky",
                "next_run_at",
            ),
            rows=[
                (
                    r.name,
                    r.latest.id if r.latest else None,
                    r.latest.status.value if r.latest else None,
                    r.latest_finished.id if r.latest_finished else None,
                    r.latest_finished.regressions if r.latest_finished else None,
                    r.drift.alarm if r.drift else None,
                    r.drift.expected if r.drift else None,
                    r.latest_finished.flaky if r.latest_finished else None,
                    r.next_fire,
                )
                for r in rows
            ],
        ),
        "overview",
    )


@bp.route("/login", methods=["GET", "POST"])
def login() -> Response | str:
    target = safe_next(request.values.get("next"))
    if request.method == "POST":
        info = log_in(request.form.get("token", ""))
        if info is not None:
            return redirect(target)
        flash("That token is not valid (unknown or revoked).", "error")
        return Response(
            render_template("dashboard/login.html", next=target), status=401, mimetype="text/html"
        )
    if current_viewer().token is not None:
        return redirect(target)
    return render_template("dashboard/login.html", next=target)


@bp.post("/logout")
def logout() -> Response:
    log_out()
    return redirect(url_for("dashboard.login"))
