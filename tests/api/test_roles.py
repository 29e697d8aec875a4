"""Every operation against every role: 401 without a token, 403 for a weaker role, 2xx else.

The table has one valid request per operation; a test checks that it covers
every registered operation, so a new endpoint cannot go untested here.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from service.api.context import services
from service.api.registry import OPERATIONS, Operation
from service.auth import role_allows
from service.store.enums import TokenRole
from tests.api.chaos_world import store_workshop_experiment
from tests.api.conftest import issue_tokens, make_app, truncate
from tests.api.world import YAML, bearer, tiny, wait_finished


@dataclass(frozen=True)
class Call:
    method: str
    url: str
    json: Any = None
    data: str | None = None
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class World:
    app: Flask
    client: FlaskClient
    auth: dict[TokenRole, dict[str, str]]
    scenario_id: int = 0
    revision_id: int = 0
    run_id: int = 0
    later_run_id: int = 0
    cell_key: str = ""
    schedule_id: int = 0
    experiment_id: int = 0
    names: Iterator[int] = field(default_factory=itertools.count)

    def admin(self, method: str, url: str, **kwargs: Any) -> Any:
        headers = {**self.auth[TokenRole.ADMIN], **kwargs.pop("headers", {})}
        response = self.client.open(url, method=method, headers=headers, **kwargs)
        assert response.status_code < 300, response.get_data(as_text=True)
        return response.get_json()

    def fresh_name(self, prefix: str) -> str:
        return f"{prefix}-{next(self.names)}"

    def new_scenario(self) -> int:
        body = self.admin(
            "POST", "/api/v1/scenarios", data=tiny(self.fresh_name("s")), headers=YAML
        )
        return int(body["id"])

    def open_run(self) -> int:
        options = {"simulator": {"pace_s": 0.1}, "sources_per_shard": 1}
        body = self.admin(
            "POST", "/api/v1/runs", json={"scenario_id": self.scenario_id, "options": options}
        )
        return int(body["id"])


@pytest.fixture(scope="module")
def world(migrated_database: str) -> Iterator[World]:
    truncate(migrated_database)
    app = make_app(migrated_database)
    world = World(app=app, client=app.test_client(), auth=issue_tokens(app))
    created = world.admin("POST", "/api/v1/scenarios", data=tiny(), headers=YAML)
    world.scenario_id, world.revision_id = created["id"], created["revision_id"]
    for attribute in ("run_id", "later_run_id"):
        run = world.admin("POST", "/api/v1/runs", json={"scenario_id": world.scenario_id})
        wait_finished(world.client, run["id"], world.auth[TokenRole.ADMIN])
        setattr(world, attribute, run["id"])
    cells = world.admin("GET", f"/api/v1/runs/{world.run_id}/cells?limit=1")
    world.cell_key = cells["items"][0]["key"]
    schedule = world.admin(
        "POST", "/api/v1/schedules", json={"scenario_id": world.scenario_id, "cron": "@daily"}
    )
    world.schedule_id = schedule["id"]
    world.experiment_id, _ = store_workshop_experiment(
        services(app).sessions, steps=("churn-to-allow-pod",)
    )
    try:
        yield world
    finally:
        services(app).close()


def _token(w: World) -> int:
    body = w.admin("POST", "/api/v1/tokens", json={"name": w.fresh_name("t"), "role": "viewer"})
    return int(body["id"])


def _schedule(w: World) -> int:
    body = w.admin(
        "POST",
        "/api/v1/schedules",
        json={"scenario_id": w.scenario_id, "name": w.fresh_name("n"), "cron": "@daily"},
    )
    return int(body["id"])


RUN = "/api/v1/runs/{w.run_id}"
CALLS: dict[str, Callable[[World], Call]] = {
    "listScenarios": lambda w: Call("GET", "/api/v1/scenarios"),
    "createScenario": lambda w: Call(
        "POST", "/api/v1/scenarios", data=tiny(w.fresh_name("c")), headers=YAML
    ),
    "validateScenario": lambda w: Call(
        "POST", "/api/v1/scenarios/validate", data=tiny(), headers=YAML
    ),
    "getScenario": lambda w: Call("GET", f"/api/v1/scenarios/{w.scenario_id}"),
    "updateScenario": lambda w: Call(
        "PUT", f"/api/v1/scenarios/{w.scenario_id}", data=tiny(), headers=YAML
    ),
    "deleteScenario": lambda w: Call("DELETE", f"/api/v1/scenarios/{w.new_scenario()}"),
    "listRevisions": lambda w: Call("GET", f"/api/v1/scenarios/{w.scenario_id}/revisions"),
    "getRevision": lambda w: Call(
        "GET", f"/api/v1/scenarios/{w.scenario_id}/revisions/{w.revision_id}"
    ),
    "cellHistory": lambda w: Call(
        "GET", f"/api/v1/scenarios/{w.scenario_id}/cells/{w.cell_key}/history"
    ),
    "scenarioFlakes": lambda w: Call("GET", f"/api/v1/scenarios/{w.scenario_id}/flakes"),
    "mutateScenario": lambda w: Call(
        "POST", f"/api/v1/scenarios/{w.scenario_id}/mutations", json={"suggestions": False}
    ),
    "listRuns": lambda w: Call("GET", "/api/v1/runs"),
    "startRun": lambda w: Call(
        "POST", "/api/v1/runs", json={"scenario_id": w.scenario_id, "versions": ["open"]}
    ),
    "getRun": lambda w: Call("GET", f"/api/v1/runs/{w.run_id}"),
    "cancelRun": lambda w: Call("POST", f"/api/v1/runs/{w.open_run()}/cancel"),
    "listCells": lambda w: Call("GET", f"/api/v1/runs/{w.run_id}/cells"),
    "getCell": lambda w: Call("GET", f"/api/v1/runs/{w.run_id}/cells/{w.cell_key}"),
    "versionMatrix": lambda w: Call("GET", f"/api/v1/runs/{w.run_id}/matrix?version=open"),
    "exportJunit": lambda w: Call("GET", f"/api/v1/runs/{w.run_id}/export/junit"),
    "exportJson": lambda w: Call("GET", f"/api/v1/runs/{w.run_id}/export/json"),
    "exportCsv": lambda w: Call("GET", f"/api/v1/runs/{w.run_id}/export/csv"),
    "listChaosExperiments": lambda w: Call("GET", "/api/v1/chaos/experiments"),
    "getChaosExperiment": lambda w: Call("GET", f"/api/v1/chaos/experiments/{w.experiment_id}"),
    "chaosStepHistory": lambda w: Call(
        "GET", "/api/v1/chaos/steps?scenario=chaos-workshop&step=churn-to-allow-pod"
    ),
    "compareRuns": lambda w: Call(
        "GET", f"/api/v1/compare/runs?head={w.later_run_id}&base={w.run_id}"
    ),
    "compareVersions": lambda w: Call(
        "GET", f"/api/v1/compare/versions?run_id={w.run_id}&ref1=open&ref2=locked"
    ),
    "listSchedules": lambda w: Call("GET", "/api/v1/schedules"),
    "createSchedule": lambda w: Call(
        "POST",
        "/api/v1/schedules",
        json={"scenario_id": w.scenario_id, "name": w.fresh_name("n"), "cron": "@hourly"},
    ),
    "getSchedule": lambda w: Call("GET", f"/api/v1/schedules/{w.schedule_id}"),
    "updateSchedule": lambda w: Call(
        "PATCH", f"/api/v1/schedules/{w.schedule_id}", json={"cron": "@daily"}
    ),
    "enableSchedule": lambda w: Call("POST", f"/api/v1/schedules/{w.schedule_id}/enable"),
    "disableSchedule": lambda w: Call("POST", f"/api/v1/schedules/{_schedule(w)}/disable"),
    "deleteSchedule": lambda w: Call("DELETE", f"/api/v1/schedules/{_schedule(w)}"),
    "listTokens": lambda w: Call("GET", "/api/v1/tokens"),
    "createToken": lambda w: Call(
        "POST", "/api/v1/tokens", json={"name": w.fresh_name("t"), "role": "viewer"}
    ),
    "getToken": lambda w: Call("GET", f"/api/v1/tokens/{_token(w)}"),
    "revokeToken": lambda w: Call("DELETE", f"/api/v1/tokens/{_token(w)}"),
    "health": lambda w: Call("GET", "/api/v1/health"),
    "ready": lambda w: Call("GET", "/api/v1/ready"),
    "metrics": lambda w: Call("GET", "/metrics"),
    "openapi": lambda w: Call("GET", "/api/v1/openapi.json"),
    "docs": lambda w: Call("GET", "/api/v1/docs"),
    "docsAsset": lambda w: Call("GET", "/api/v1/docs/docs.js"),
}
BY_ID = {op.id: op for op in OPERATIONS}
CALLERS: list[TokenRole | None] = [None, *TokenRole]


def test_the_table_covers_every_operation() -> None:
    assert set(CALLS) == set(BY_ID)


def _send(world: World, call: Call, headers: dict[str, str]) -> Any:
    return world.client.open(
        call.url,
        method=call.method,
        json=call.json,
        data=call.data,
        headers={**call.headers, **headers},
    )


def _expected(op: Operation, caller: TokenRole | None) -> str:
    if op.role is None:
        return "2xx"
    if caller is None:
        return "401"
    return "2xx" if role_allows(caller, op.role) else "403"


@pytest.mark.parametrize("caller", CALLERS, ids=lambda r: r.value if r else "anonymous")
@pytest.mark.parametrize("operation_id", sorted(CALLS))
def test_each_role_gets_what_its_rank_allows(
    world: World, operation_id: str, caller: TokenRole | None
) -> None:
    op = BY_ID[operation_id]
    call = CALLS[operation_id](world)
    headers = world.auth[caller] if caller is not None else {}
    response = _send(world, call, headers)
    expected = _expected(op, caller)
    got = "2xx" if 200 <= response.status_code < 300 else str(response.status_code)
    assert got == expected, f"{op.method} {call.url}: {response.get_data(as_text=True)[:300]}"
    if got in ("401", "403"):
        assert response.mimetype == "application/problem+json"
    if got == "401":
        assert response.headers["WWW-Authenticate"].startswith("Bearer")


@pytest.mark.parametrize(
    "header",
    ["Bearer npd_not-a-real-token", "Bearer ", "Basic dXNlcjpwYXNz", "npd_missing-scheme"],
)
def test_a_wrong_token_is_401_even_for_reading(world: World, header: str) -> None:
    response = world.client.get("/api/v1/runs", headers={"Authorization": header})
    assert response.status_code == 401
    assert response.mimetype == "application/problem+json"


def test_a_revoked_token_is_refused(world: World) -> None:
    issued = world.admin(
        "POST", "/api/v1/tokens", json={"name": world.fresh_name("r"), "role": "admin"}
    )
    headers = bearer(issued["token"])
    assert world.client.get("/api/v1/runs", headers=headers).status_code == 200
    world.admin("DELETE", f"/api/v1/tokens/{issued['id']}")
    assert world.client.get("/api/v1/runs", headers=headers).status_code == 401


def test_anonymous_read_lets_reads_through_and_nothing_else(migrated_database: str) -> None:
    truncate(migrated_database)
    app = make_app(migrated_database, anonymous_read=True)
    try:
        client = app.test_client()
        assert client.get("/api/v1/scenarios").status_code == 200
        assert client.get("/metrics").status_code == 200
        assert client.post("/api/v1/scenarios", data=tiny(), headers=YAML).status_code == 401
        assert client.get("/api/v1/tokens").status_code == 401
        assert (
            client.get(
                "/api/v1/scenarios", headers={"Authorization": "Bearer npd_wrong"}
            ).status_code
            == 401
        )
        document = client.get("/api/v1/openapi.json").get_json()
        assert document["paths"]["/api/v1/runs"]["get"]["security"] == [{}, {"bearerAuth": []}]
    finally:
        services(app).close()


def test_anonymous_read_is_off_by_default(world: World) -> None:
    assert world.client.get("/api/v1/scenarios").status_code == 401
    document = world.client.get("/api/v1/openapi.json").get_json()
    assert document["paths"]["/api/v1/runs"]["get"]["security"] == [{"bearerAuth": []}]
