"""The chaos endpoints through the app, against PostgreSQL, on experiments run on the simulator
with known delays (tests.api.chaos_world).

What each experiment should show is the injected truth: a policy change is
programmed PROGRAMMING_S after it is made, a recreated backend is Ready after
POD_START_S and isolated ISOLATION_S later; measured times are within one probe
interval of it. Which cells open is read off the scenario by hand: under
allow-pod-namespace only the development frontend may reach the backend.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import jsonschema
import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from service.api.context import services
from service.queries.paging import encode_cursor
from service.scenario.chaos import ChaosStep, SwitchVersion
from service.store.enums import TokenRole
from service.store.models import Scenario
from tests.api.chaos_world import (
    ISOLATION_S,
    POD_START_S,
    PROGRAMMING_S,
    store_workshop_experiment,
)
from tests.api.conftest import issue_tokens, make_app, truncate
from tests.api.world import error_paths, problem
from tests.chaos.builders import chaos_workshop

EXPERIMENTS = "/api/v1/chaos/experiments"
INTERVAL = 0.5  # the workshop's chaos.interval
# Under allow-pod-namespace every source but the development frontend is blocked.
BLOCKED_SOURCES = {"development/unlabelled", "production/unlabelled", "production/frontend"}


@dataclass
class ChaosApi:
    app: Flask
    client: FlaskClient
    viewer: dict[str, str]
    full: int
    rescheduled: int
    other: int
    churned: int

    def get(self, url: str) -> Any:
        response = self.client.get(url, headers=self.viewer)
        assert response.status_code == 200, response.get_data(as_text=True)
        return response.get_json()

    def scenario_id(self, name: str) -> int:
        with services(self.app).sessions() as session:
            return int(session.scalars(select(Scenario.id).where(Scenario.name == name)).one())


@pytest.fixture(scope="module")
def api(migrated_database: str) -> Iterator[ChaosApi]:
    truncate(migrated_database)
    app = make_app(migrated_database)
    sessions = services(app).sessions
    full, _ = store_workshop_experiment(sessions)
    rescheduled, _ = store_workshop_experiment(sessions, steps=("backend-rescheduled",))
    other_scenario = chaos_workshop(ChaosStep("churn", SwitchVersion("allow-pod")))
    other, _ = store_workshop_experiment(sessions, scenario=other_scenario)
    churned, _ = store_workshop_experiment(sessions, steps=("churn-to-allow-pod",))
    try:
        yield ChaosApi(
            app=app,
            client=app.test_client(),
            viewer=issue_tokens(app)[TokenRole.VIEWER],
            full=full,
            rescheduled=rescheduled,
            other=other,
            churned=churned,
        )
    finally:
        services(app).close()


def _ids(body: dict[str, Any]) -> list[int]:
    return [item["id"] for item in body["items"]]


def _step(body: dict[str, Any], name: str) -> dict[str, Any]:
    (found,) = [s for s in body["steps"] if s["name"] == name]
    return found


def _phase(step: dict[str, Any], phase: str) -> dict[str, Any]:
    (found,) = [p for p in step["phases"] if p["phase"] == phase]
    return found


def _sources(body: dict[str, Any], keys: list[str]) -> set[str]:
    by_key = {c["key"]: c["source"] for c in body["watched"]}
    return {by_key[k] for k in keys}


def test_experiments_are_listed_newest_first_a_page_at_a_time(api: ChaosApi) -> None:
    first = api.get(f"{EXPERIMENTS}?limit=2")
    assert _ids(first) == [api.churned, api.other]
    assert first["next_cursor"] is not None
    second = api.get(f"{EXPERIMENTS}?limit=2&cursor={first['next_cursor']}")
    assert _ids(second) == [api.rescheduled, api.full]
    assert second["next_cursor"] is None


def test_the_list_narrows_to_a_scenario_by_name_or_by_id(api: ChaosApi) -> None:
    workshop = [api.churned, api.rescheduled, api.full]
    assert _ids(api.get(f"{EXPERIMENTS}?scenario=chaos-workshop")) == workshop
    workshop_id = api.scenario_id("chaos-workshop")
    assert _ids(api.get(f"{EXPERIMENTS}?scenario_id={workshop_id}")) == workshop
    other_id = api.scenario_id("calico-workshop")
    assert _ids(api.get(f"{EXPERIMENTS}?scenario_id={other_id}")) == [api.other]
    # Both given and naming different scenarios: nothing matches both.
    mixed = api.get(f"{EXPERIMENTS}?scenario_id={other_id}&scenario=chaos-workshop")
    assert mixed == {"items": [], "next_cursor": None}
    assert api.get(f"{EXPERIMENTS}?scenario_id=99999")["items"] == []


@pytest.mark.parametrize(
    "cursor",
    [encode_cursor("runs", [10]), "not-a-cursor", encode_cursor("chaos-experiments", ["x"])],
)
def test_a_cursor_this_list_did_not_make_is_a_bad_request_naming_the_cursor(
    api: ChaosApi, cursor: str
) -> None:
    response = api.client.get(f"{EXPERIMENTS}?cursor={cursor}", headers=api.viewer)
    assert error_paths(problem(response, 400)) == ["cursor"]


@pytest.mark.parametrize("query", ["limit=0", "limit=201", "scenario_id=0", "colour=red"])
def test_bad_query_parameters_are_named_in_a_bad_request(api: ChaosApi, query: str) -> None:
    response = api.client.get(f"{EXPERIMENTS}?{query}", headers=api.viewer)
    assert error_paths(problem(response, 400)) == [query.split("=")[0]]


def test_a_summary_counts_the_steps_that_did_not_hold_and_the_worst_windows(
    api: ChaosApi,
) -> None:
    (summary,) = [e for e in api.get(EXPERIMENTS)["items"] if e["id"] == api.full]
    assert summary["scenario"] == "chaos-workshop"
    assert summary["ok"] is False
    assert (summary["steps"], summary["steps_not_held"]) == (5, 1)
    assert summary["worst_fail_open_s"] == pytest.approx(ISOLATION_S, abs=INTERVAL)
    assert summary["worst_fail_closed_s"] == 0
    assert summary["slowest_convergence_s"] == pytest.approx(
        POD_START_S + ISOLATION_S, abs=INTERVAL
    )


def test_the_rescheduled_backend_opens_for_its_isolation_delay_to_the_sources_it_blocks(
    api: ChaosApi,
) -> None:
    body = api.get(f"{EXPERIMENTS}/{api.full}")
    step = _step(body, "backend-rescheduled")
    assert (step["status"], step["ok"]) == ("completed", False)
    action = _phase(step, "action")
    assert action["action_s"] == pytest.approx(POD_START_S, abs=0.01)
    window = action["windows"]["fail-open"]
    assert window["seconds"] == pytest.approx(ISOLATION_S, abs=INTERVAL)
    assert POD_START_S - 0.01 <= window["start_s"] <= POD_START_S + INTERVAL
    assert _sources(body, [c["key"] for c in window["cells"]]) == BLOCKED_SOURCES
    assert action["windows"]["fail-closed"]["cells"] == []
    assert action["converged"] is True
    assert action["convergence_s"] == pytest.approx(POD_START_S + ISOLATION_S, abs=INTERVAL)
    # Every other step held: only the rescheduling opened a window no state allows.
    assert [s["name"] for s in body["steps"] if not s["ok"]] == ["backend-rescheduled"]


def test_a_policy_switch_converges_after_the_programming_delay_both_ways(api: ChaosApi) -> None:
    body = api.get(f"{EXPERIMENTS}/{api.full}")
    step = _step(body, "churn-to-allow-pod")
    assert step["ok"] is True
    action, rollback = _phase(step, "action"), _phase(step, "rollback")
    for phase, kind in ((action, "stale-closed"), (rollback, "stale-open")):
        assert phase["convergence_s"] == pytest.approx(PROGRAMMING_S, abs=INTERVAL)
        window = phase["windows"][kind]
        assert window["seconds"] == pytest.approx(PROGRAMMING_S, abs=INTERVAL)
        # allow-pod also lets the production frontend in: only it changes.
        assert _sources(body, [c["key"] for c in window["cells"]]) == {"production/frontend"}


def test_the_timeline_has_a_lane_per_watched_cell_with_its_deviations_as_bands(
    api: ChaosApi,
) -> None:
    body = api.get(f"{EXPERIMENTS}/{api.full}")
    lines = body["timeline"]
    assert [lane["key"] for lane in lines["lanes"]] == ["steps"] + [
        c["key"] for c in body["watched"]
    ]
    action = _phase(_step(body, "backend-rescheduled"), "action")
    opened = [b for b in lines["bands"] if b["state"] == "fail-open"]
    assert {b["step"] for b in opened} == {"backend-rescheduled"}
    for cell in action["windows"]["fail-open"]["cells"]:
        (band,) = [b for b in opened if b["lane"] == cell["key"]]
        assert band["end_s"] - band["start_s"] == pytest.approx(cell["seconds"], abs=1e-5)
        assert band["start_s"] >= action["started_s"] + POD_START_S - 0.01
    actions = [m for m in lines["markers"] if m["kind"] == "action"]
    # The baseline's apply, then each step's action and rollback.
    assert len(actions) == 1 + 2 * len(body["steps"])
    assert lines["duration_s"] == pytest.approx(body["duration_s"], abs=1e-5)


def test_one_step_is_followed_across_experiments_oldest_first(api: ChaosApi) -> None:
    def points(step: str) -> list[dict[str, Any]]:
        body = api.get(f"/api/v1/chaos/steps?scenario=chaos-workshop&step={step}")
        assert (body["scenario"], body["step"]) == ("chaos-workshop", step)
        found: list[dict[str, Any]] = body["points"]
        return found

    rescheduled = points("backend-rescheduled")
    assert [p["experiment_id"] for p in rescheduled] == [api.full, api.rescheduled]
    for p in rescheduled:
        assert p["ok"] is False
        assert p["fail_open_s"] == pytest.approx(ISOLATION_S, abs=INTERVAL)
    assert [p["experiment_id"] for p in points("churn-to-allow-pod")] == [api.full, api.churned]
    assert points("no-such-step") == []


def _document(api: ChaosApi) -> dict[str, Any]:
    found: dict[str, Any] = api.get("/api/v1/openapi.json")
    return found


def _schema(document: dict[str, Any], path: str) -> dict[str, Any]:
    reply = document["paths"][path]["get"]["responses"]["200"]
    schema = reply["content"]["application/json"]["schema"]
    return {**schema, "components": document["components"]}


@pytest.mark.parametrize(
    ("path", "url"),
    [
        ("/api/v1/chaos/experiments", "/api/v1/chaos/experiments?limit=3"),
        ("/api/v1/chaos/experiments/{experiment_id}", "/api/v1/chaos/experiments/{full}"),
        ("/api/v1/chaos/experiments/{experiment_id}", "/api/v1/chaos/experiments/{other}"),
        (
            "/api/v1/chaos/steps",
            "/api/v1/chaos/steps?scenario=chaos-workshop&step=churn-to-allow-pod",
        ),
    ],
)
def test_answers_are_what_the_openapi_document_says(api: ChaosApi, path: str, url: str) -> None:
    body = api.get(url.format(full=api.full, other=api.other))
    jsonschema.Draft202012Validator(_schema(_document(api), path)).validate(body)


def test_the_document_says_reading_experiments_needs_a_viewer(api: ChaosApi) -> None:
    paths = _document(api)["paths"]
    for path in (EXPERIMENTS, f"{EXPERIMENTS}/{{experiment_id}}", "/api/v1/chaos/steps"):
        assert paths[path]["get"]["x-required-role"] == "viewer"


def test_a_missing_experiment_is_a_404_problem(api: ChaosApi) -> None:
    response = api.client.get(f"{EXPERIMENTS}/99999", headers=api.viewer)
    assert "99999" in problem(response, 404)["detail"]
