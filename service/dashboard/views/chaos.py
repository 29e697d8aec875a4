"""Chaos experiments: the list (by scenario, paged back by id, with each step's trend) and
one experiment's timeline, step by step; their downloads (CSV and the timeline as SVG)."""

from __future__ import annotations

from typing import Final

from flask import abort, render_template, url_for
from werkzeug.wrappers import Response

from service.chaos import (
    Observation,
    StoredExperiment,
    list_experiments,
    load_experiment,
    timeline,
)
from service.dashboard.auth import needs
from service.dashboard.blueprint import bp
from service.dashboard.chaos.drawing import experiment_drawing, seconds, step_drawing
from service.dashboard.chaos.figures import experiment_figures, steps_table, windows_table
from service.dashboard.chaos.listing import scenarios_with_experiments, step_trends
from service.dashboard.chaos.palette import (
    DEVIATIONS,
    MATCH,
    NOT_PROBED,
    OBSERVATION_PAINT,
    PHASE_PAINT,
)
from service.dashboard.context import db
from service.dashboard.views.common import csv_download, int_arg, text_arg
from service.store.enums import TokenRole

__all__: list[str] = []

PAGE: Final = 25
# How many experiments a step's trend looks back over.
TREND: Final = 20
_MAX_ID: Final = 2**31 - 1


def _experiment(experiment_id: int) -> StoredExperiment:
    found = load_experiment(db(), experiment_id) if 0 < experiment_id <= _MAX_ID else None
    if found is None:
        abort(404, description=f"there is no chaos experiment {experiment_id}")
    return found


def _helpers() -> dict[str, object]:
    return {
        "secs": seconds,
        "observation_paint": OBSERVATION_PAINT,
        "phase_paint": PHASE_PAINT,
        "deviations": DEVIATIONS,
        "observation": Observation,
        "match_paint": MATCH,
        "not_probed_paint": NOT_PROBED,
    }


@bp.get("/chaos")
@needs(TokenRole.VIEWER)
def chaos_list() -> str:
    session = db()
    scenario = text_arg("scenario") or None
    before = int_arg("before")
    found = list_experiments(session, scenario=scenario, limit=PAGE + 1, before_id=before)
    items = found[:PAGE]
    trends = []
    if scenario is not None and items:
        newest = load_experiment(session, items[0].id)
        if newest is not None:
            names = [s.name for s in newest.result.steps]
            trends = step_trends(session, scenario, names, limit=TREND)
    return render_template(
        "dashboard/chaos_list.html",
        items=items,
        scenario=scenario,
        scenarios=scenarios_with_experiments(session),
        older=items[-1].id if len(found) > PAGE else None,
        paged=before is not None,
        trends=trends,
        trend_size=TREND,
        **_helpers(),
    )


@bp.get("/chaos/<int:experiment_id>")
@needs(TokenRole.VIEWER)
def chaos_page(experiment_id: int) -> str:
    stored = _experiment(experiment_id)
    result = stored.result
    lines = timeline(result)
    figures = experiment_figures(result)
    trends = {
        t.name: t
        for t in step_trends(db(), result.scenario, [s.name for s in result.steps], limit=TREND)
    }
    return render_template(
        "dashboard/chaos_experiment.html",
        stored=stored,
        result=result,
        figures=figures,
        overview=experiment_drawing(result, lines),
        closeups={s.name: step_drawing(result, lines, s) for s in result.steps},
        trends=trends,
        **_helpers(),
    )


@bp.get("/chaos/<int:experiment_id>/steps.csv")
@needs(TokenRole.VIEWER)
def chaos_steps_csv(experiment_id: int) -> Response:
    stored = _experiment(experiment_id)
    return csv_download(steps_table(stored.result), stored.result.scenario, "chaos", stored.id)


@bp.get("/chaos/<int:experiment_id>/windows.csv")
@needs(TokenRole.VIEWER)
def chaos_windows_csv(experiment_id: int) -> Response:
    stored = _experiment(experiment_id)
    return csv_download(
        windows_table(stored.result), stored.result.scenario, "chaos", stored.id, "windows"
    )


@bp.get("/chaos/<int:experiment_id>/timeline.svg")
@needs(TokenRole.VIEWER)
def chaos_timeline_svg(experiment_id: int) -> Response:
    stored = _experiment(experiment_id)
    result = stored.result
    body = render_template(
        "dashboard/chaos_timeline.svg",
        stored=stored,
        result=result,
        drawing=experiment_drawing(result, timeline(result)),
        page=url_for("dashboard.chaos_page", experiment_id=stored.id, _external=True),
        **_helpers(),
    )
    response = Response(body, mimetype="image/svg+xml")
    response.headers["Content-Disposition"] = (
        f'attachment; filename="chaos-{stored.id}-timeline.svg"'
    )
    return response
