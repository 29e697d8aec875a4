"""Chaos experiments (read only): list them newest first with cursor paging, get one with
its steps, phases, windows and timeline, and follow one step across experiments.

Experiments are stored by ``netpol-drift chaos`` (docs/chaos.md); the read API
is :mod:`service.chaos`.
"""

from __future__ import annotations

from typing import Final

from flask import Blueprint, Response

from service.api.context import db
from service.api.models.chaos import (
    ExperimentListQuery,
    ExperimentSummaryView,
    ExperimentView,
    StepHistoryQuery,
    StepHistoryView,
)
from service.api.models.common import Page
from service.api.problems import not_found
from service.api.registry import PREFIX, Reply, json_response, operation
from service.chaos import list_experiments, load_experiment, step_history, timeline
from service.queries.paging import decode_cursor, encode_cursor
from service.store.enums import TokenRole
from service.store.models import Scenario

__all__ = ["blueprint"]

blueprint = Blueprint("chaos", __name__)

TAG: Final = "chaos"
# The cursor names the list it belongs to; a cursor of another list is refused.
_CURSOR: Final = "chaos-experiments"


@operation(
    blueprint,
    "GET",
    f"{PREFIX}/chaos/experiments",
    id="listChaosExperiments",
    summary="List chaos experiments, newest first, optionally of one scenario",
    description=(
        "Each experiment in a line: whether every step held, how many did not, the longest"
        " fail-open and fail-closed windows and the slowest convergence over its steps."
    ),
    tag=TAG,
    role=TokenRole.VIEWER,
    query=ExperimentListQuery,
    replies=(Reply(200, "A page of experiments.", Page[ExperimentSummaryView]),),
)
def list_view(query: ExperimentListQuery) -> Response:
    session = db()
    before: int | None = None
    if query.cursor is not None:
        (last,) = decode_cursor(query.cursor, _CURSOR, (int,))
        assert isinstance(last, int)
        before = last
    name = query.scenario
    if query.scenario_id is not None:
        row = session.get(Scenario, query.scenario_id)
        if row is None or (name is not None and row.name != name):
            return json_response({"items": [], "next_cursor": None})
        name = row.name
    found = list_experiments(session, scenario=name, limit=query.limit + 1, before_id=before)
    items = found[: query.limit]
    more = len(found) > query.limit
    return json_response(
        {
            "items": [e.to_dict() for e in items],
            "next_cursor": encode_cursor(_CURSOR, [items[-1].id]) if more else None,
        }
    )


@operation(
    blueprint,
    "GET",
    f"{PREFIX}/chaos/experiments/<id:experiment_id>",
    id="getChaosExperiment",
    summary="A chaos experiment: its steps, their phases and windows, and its timeline",
    description=(
        "Times in a phase are seconds since its action began; the timeline's are seconds"
        " since the experiment started. Per step: convergence of the action and of the"
        " rollback, every window (fail-open, stale-open, fail-closed, stale-closed,"
        " unavailable) with the cells in it, and whether the step held."
    ),
    tag=TAG,
    role=TokenRole.VIEWER,
    replies=(Reply(200, "The experiment.", ExperimentView),),
)
def get_view(experiment_id: int) -> Response:
    stored = load_experiment(db(), experiment_id)
    if stored is None:
        raise not_found(f"no chaos experiment {experiment_id}")
    body = stored.to_dict()
    body["timeline"] = timeline(stored.result).to_dict()
    return json_response(body)


@operation(
    blueprint,
    "GET",
    f"{PREFIX}/chaos/steps",
    id="chaosStepHistory",
    summary="One step of a scenario across its latest chaos experiments, oldest first",
    tag=TAG,
    role=TokenRole.VIEWER,
    query=StepHistoryQuery,
    replies=(Reply(200, "The step's figures per experiment.", StepHistoryView),),
)
def step_view(query: StepHistoryQuery) -> Response:
    points = step_history(db(), scenario=query.scenario, step=query.step, limit=query.limit)
    return json_response(
        {
            "scenario": query.scenario,
            "step": query.step,
            "points": [p.to_dict() for p in points],
        }
    )
