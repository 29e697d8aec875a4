"""What the route modules share: reply shorthands and lookups that 404."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Any, Final

from flask import Response

from service.api.caching import CachedBody, etag_for, matches, not_modified
from service.api.context import db, services
from service.api.models.common import Page
from service.api.models.requests import RunOptions
from service.api.problems import ApiError, not_found, unprocessable
from service.api.registry import Reply
from service.errors import FieldPath, InvalidInput, Problem
from service.queries.paging import Page as QueryPage
from service.queries.runs import RunState, run_state
from service.runs.settings import RunSettings
from service.store.models import Scenario

__all__ = [
    "CREATED",
    "NO_CONTENT",
    "as_body_problems",
    "json_body",
    "page_json",
    "page_of",
    "require_run",
    "require_scenario",
    "run_answer",
    "run_settings",
    "state_answer",
]

NO_CONTENT: Final = Reply(204, "Done; no content.")
CREATED: Final = ("Location",)


def page_json(page: QueryPage[Any]) -> dict[str, object]:
    return {"items": page.items, "next_cursor": page.next_cursor}


def require_scenario(scenario_id: int) -> Scenario:
    row = db().get(Scenario, scenario_id)
    if row is None:
        raise not_found(f"no scenario {scenario_id}")
    return row


def require_run(run_id: int) -> RunState:
    states = services().run_states
    state = states.get(run_id)
    if state is None:
        state = run_state(db(), run_id)
        if state is None:
            raise not_found(f"no run {run_id}")
        if state.status.finished:
            states.put(run_id, state)
    return state


def page_of(item: object) -> object:
    """The documented type of a page of ``item``."""
    return Page[item]  # type: ignore[valid-type]


_NARROWING: Final = frozenset({"versions", "sources", "targets"})


def _unprefixed(problem: Problem) -> Problem:
    # The core names narrowing options.versions[0]; in a body they are top-level fields.
    parts = problem.path.parts
    if len(parts) >= 2 and parts[0] == "options" and parts[1] in _NARROWING:
        return replace(problem, path=FieldPath(parts[1:]))
    return problem


def as_body_problems(err: InvalidInput) -> ApiError:
    """An InvalidInput of the core about a run's settings, as a 422 about the body."""
    return unprocessable([_unprefixed(p) for p in err.problems])


def run_settings(
    *,
    versions: Sequence[str],
    sources: Sequence[str],
    targets: Sequence[str],
    options: RunOptions | None,
) -> RunSettings:
    """The run settings of a body's narrowing and options; ApiError 422 when they do not fit."""
    data: dict[str, Any] = options.model_dump(mode="json", exclude_none=True) if options else {}
    data.update(versions=list(versions), sources=list(sources), targets=list(targets))
    try:
        return RunSettings.from_json(data)
    except InvalidInput as err:
        raise as_body_problems(err) from err


def run_answer(state: RunState, make: Callable[[], CachedBody]) -> Response:
    """An answer about a run, with its ETag: 304 when the client's copy is current, the
    cached body of a finished run when there is one, else ``make()``."""
    return state_answer(state.token, make, keep=state.status.finished)


def state_answer(state: str, make: Callable[[], CachedBody], *, keep: bool) -> Response:
    """An answer with the ETag of ``state`` (and the request): 304 when the client's copy is
    current, the cached body when there is one, else ``make()``, kept while ``keep``."""
    etag = etag_for(state)
    if matches(etag):
        return not_modified(etag)
    found = services().cache.get_or_make(etag, make, keep=keep)
    response = Response(found.body, mimetype=found.mimetype)
    response.headers["ETag"] = etag
    response.headers["Cache-Control"] = "private, no-cache"
    for name, value in found.headers:
        response.headers[name] = value
    return response


def json_body(data: object) -> CachedBody:
    return CachedBody(
        json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode(), "application/json"
    )
