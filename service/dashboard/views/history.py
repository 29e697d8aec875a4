"""A scenario's history: the timeline of drift events, per-cell strips, flakes; their downloads."""

from __future__ import annotations

from datetime import datetime
from typing import Final

from flask import abort, render_template
from werkzeug.wrappers import Response

from service.chaos import list_experiments
from service.compare import RunColumns
from service.dashboard.auth import needs
from service.dashboard.blueprint import bp
from service.dashboard.context import db, state
from service.dashboard.history import HistoryRun, ScenarioHistory, scenario_history
from service.dashboard.queries import CellPlaceView, cell_places, revision_story, run_clusters
from service.dashboard.views.common import csv_download, int_arg
from service.export.tables import Cell, Table
from service.notify.webhooks import list_webhooks
from service.queries.runs import RunFilter, RunSummary, list_runs
from service.queries.scenarios import ScenarioDetail, get_scenario
from service.store.enums import RunStatus, TokenRole, Trigger

__all__: list[str] = []

_FINISHED: Final = (RunStatus.SUCCEEDED, RunStatus.FAILED)
_MAX_RUNS: Final = 200
# The latest chaos experiments listed on a scenario's page.
_CHAOS_SHOWN: Final = 5


def _scenario(scenario_id: int) -> ScenarioDetail:
    found = get_scenario(db(), scenario_id) if 0 < scenario_id < 2**31 else None
    if found is None:
        abort(404, description=f"there is no scenario {scenario_id}")
    return found


def _history(scenario_id: int, *, strips: int | None) -> ScenarioHistory:
    settings = state().settings
    count = min(int_arg("runs", default=settings.history_runs) or settings.history_runs, _MAX_RUNS)
    session = db()
    listed = list_runs(
        session, RunFilter(scenario_id=scenario_id, status=_FINISHED), limit=count
    ).items
    clusters = run_clusters(session, [summary["id"] for summary in listed])
    runs = []
    for summary in reversed(listed):
        columns = state().columns.get(session, summary["id"], finished=True)
        if columns is not None:
            runs.append(_history_run(summary, columns, clusters.get(summary["id"], "")))
    return scenario_history(runs, flake_window=settings.flake_window, strips=strips)


def _history_run(summary: RunSummary, columns: RunColumns, cluster: str) -> HistoryRun:
    created = summary["created_at"] or ""
    return HistoryRun(
        id=summary["id"],
        status=RunStatus(summary["status"]),
        trigger=Trigger(summary["trigger"]),
        created_at=datetime.fromisoformat(created.replace("Z", "+00:00")),
        regressions=summary["regressions"],
        flaky=summary["flaky"],
        errors=summary["errors"],
        columns=columns,
        cluster=cluster,
    )


def _places(scenario_id: int, history: ScenarioHistory) -> dict[str, CellPlaceView]:
    keys = {s.key for s in history.strips}
    if history.flakes is not None:
        keys |= history.flakes.cell_keys
    return cell_places(db(), scenario_id, sorted(keys))


@bp.get("/scenarios/<int:scenario_id>")
@needs(TokenRole.VIEWER)
def scenario_page(scenario_id: int) -> str:
    scenario = _scenario(scenario_id)
    history = _history(scenario_id, strips=None)
    latest = scenario["latest_revision"]
    story = revision_story(db(), latest["id"]) if latest is not None else None
    open_runs = list_runs(
        db(),
        RunFilter(scenario_id=scenario_id, status=(RunStatus.QUEUED, RunStatus.RUNNING)),
        limit=10,
    ).items
    return render_template(
        "dashboard/scenario.html",
        scenario=scenario,
        story=story,
        history=history,
        strips=history.strips[:40],
        places=_places(scenario_id, history),
        open_runs=open_runs,
        webhooks=list_webhooks(db(), scenario_id=scenario_id),
        max_regressions=max((r.regressions for r in history.runs), default=0),
        max_drift=max((e.alarm + e.expected for e in history.timeline), default=0),
        chaos=list_experiments(db(), scenario=scenario["name"], limit=_CHAOS_SHOWN),
    )


@bp.get("/scenarios/<int:scenario_id>/timeline.csv")
@needs(TokenRole.VIEWER)
def timeline_csv(scenario_id: int) -> Response:
    scenario = _scenario(scenario_id)
    history = _history(scenario_id, strips=0)
    return csv_download(
        Table(
            (
                "run",
                "created_at",
                "status",
                "trigger",
                "regressions",
                "flaky",
                "errors",
                "previous_run",
                "alarm_drift",
                "expected_drift",
                "cells_added",
                "cells_removed",
                "groups",
            ),
            [
                (
                    e.run.id,
                    e.run.created_at,
                    e.run.status.value,
                    e.run.trigger.value,
                    e.run.regressions,
                    e.run.flaky,
                    e.run.errors,
                    e.previous_id,
                    e.alarm,
                    e.expected,
                    e.added,
                    e.removed,
                    "; ".join(f"{g.value} {n}" for g, n in e.groups),
                )
                for e in history.timeline
            ],
        ),
        scenario["name"],
        "timeline",
    )


@bp.get("/scenarios/<int:scenario_id>/cells.csv")
@needs(TokenRole.VIEWER)
def strips_csv(scenario_id: int) -> Response:
    scenario = _scenario(scenario_id)
    history = _history(scenario_id, strips=None)
    places = _places(scenario_id, history)
    run_ids = [f"run_{r.id}" for r in history.runs]
    rows = []
    for strip in history.strips:
        place = places.get(strip.key)
        rows.append(
            (
                strip.key,
                place.version if place else None,
                place.source if place else None,
                place.target if place else None,
                place.probe if place else None,
                strip.changes,
                *strip.verdicts,
            )
        )
    return csv_download(
        Table(("key", "version", "source", "target", "probe", "changes", *run_ids), rows),
        scenario["name"],
        "changing-cells",
    )


@bp.get("/scenarios/<int:scenario_id>/flakes.csv")
@needs(TokenRole.VIEWER)
def flakes_csv(scenario_id: int) -> Response:
    scenario = _scenario(scenario_id)
    history = _history(scenario_id, strips=0)
    places = _places(scenario_id, history)
    rows: list[tuple[Cell, ...]] = []
    if history.flakes is not None:
        for flake in history.flakes.flip_flops:
            place = places.get(flake.cell_key)
            rows.append(
                (
                    flake.cell_key,
                    str(place) if place else None,
                    "flip-flop",
                    flake.switches,
                    " ".join(p.observed.value for p in flake.points),
                    history.flakes_cluster,
                )
            )
        for attempt in history.flakes.within_run:
            place = places.get(attempt.cell_key)
            rows.append(
                (
                    attempt.cell_key,
                    str(place) if place else None,
                    "attempts-disagree",
                    len(attempt.run_ids),
                    " ".join(f"run {i}" for i in attempt.run_ids),
                    history.flakes_cluster,
                )
            )
    return csv_download(
        # The cluster in every row: the flakes were counted over its runs only.
        Table(("key", "cell", "kind", "count", "detail", "cluster"), rows),
        scenario["name"],
        "flakes",
    )
