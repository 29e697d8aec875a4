"""Bad requests get problem+json with field paths, and leave nothing stored."""

from __future__ import annotations

import json
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from service.api.context import services
from service.store.base import Base
from service.store.enums import TokenRole
from tests.api.world import YAML, error_paths, problem, tiny

Auth = dict[TokenRole, dict[str, str]]
JSON = "application/json"
HUGE = "x" * (3 * 1024 * 1024)


def counts(app: Flask) -> dict[str, int]:
    with services(app).sessions() as session:
        return {
            name: int(session.scalar(select(func.count()).select_from(table)) or 0)
            for name, table in Base.metadata.tables.items()
        }


@pytest.fixture
def stored(client: FlaskClient, auth: Auth) -> int:
    response = client.post(
        "/api/v1/scenarios", data=tiny(), headers={**auth[TokenRole.OPERATOR], **YAML}
    )
    return int(response.get_json()["id"])


# (what, method, url, body, content type, status, error paths expected among the errors)
CASES: list[tuple[str, str, str, Any, str, int, list[str]]] = [
    ("yaml syntax", "POST", "/api/v1/scenarios", "name: [unclosed\n", "application/yaml", 400, []),
    ("not utf-8", "POST", "/api/v1/scenarios", b"name: \xff\xfe", "application/yaml", 400, []),
    ("media type", "POST", "/api/v1/scenarios", tiny("x"), "text/plain", 415, []),
    (
        "huge scenario",
        "POST",
        "/api/v1/scenarios",
        "name: x\n#" + HUGE,
        "application/yaml",
        413,
        [],
    ),
    ("empty scenario", "POST", "/api/v1/scenarios", "", "application/yaml", 422, []),
    (
        "scenario wrong type",
        "POST",
        "/api/v1/scenarios",
        tiny("x").replace("name: x", "name: [1, 2]"),
        "application/yaml",
        422,
        ["name"],
    ),
    (
        "scenario unknown field",
        "POST",
        "/api/v1/scenarios",
        tiny("x") + "colour: blue\n",
        "application/yaml",
        422,
        ["colour"],
    ),
    (
        "scenario NUL",
        "POST",
        "/api/v1/scenarios",
        json.dumps(
            {
                "name": "x",
                "description": "a\u0000b",
                "namespaces": {"a": {}},
                "targets": [],
                "matrix": {"sources": {}},
                "versions": [],
            }
        ),
        JSON,
        422,
        ["description"],
    ),
    ("run malformed json", "POST", "/api/v1/runs", '{"scenario_id": 1,', JSON, 400, []),
    ("run body array", "POST", "/api/v1/runs", "[1]", JSON, 422, [""]),
    ("run wrong type", "POST", "/api/v1/runs", {"scenario_id": "1"}, JSON, 422, ["scenario_id"]),
    (
        "run unknown field",
        "POST",
        "/api/v1/runs",
        {"scenario_id": 1, "verisons": ["open"]},
        JSON,
        422,
        ["verisons"],
    ),
    (
        "run option out of range",
        "POST",
        "/api/v1/runs",
        {"scenario_id": 1, "options": {"attempts": 0}},
        JSON,
        422,
        ["options.attempts"],
    ),
    (
        "run NaN",
        "POST",
        "/api/v1/runs",
        '{"scenario_id": 1, "options": {"retry_interval_s": NaN}}',
        JSON,
        422,
        ["options.retry_interval_s"],
    ),
    (
        "run nested unknown field",
        "POST",
        "/api/v1/runs",
        {"scenario_id": 1, "options": {"simulator": {"speed": 2}}},
        JSON,
        422,
        ["options.simulator.speed"],
    ),
    ("run huge", "POST", "/api/v1/runs", {"scenario": HUGE}, JSON, 413, []),
    (
        "run id out of range",
        "POST",
        "/api/v1/runs",
        {"scenario_id": 2**40},
        JSON,
        422,
        ["scenario_id"],
    ),
    (
        "inline scenario invalid yaml",
        "POST",
        "/api/v1/runs",
        {"scenario": "name: [oops"},
        JSON,
        400,
        [],
    ),
    (
        "schedule wrong type",
        "POST",
        "/api/v1/schedules",
        {"scenario_id": 1, "cron": 5},
        JSON,
        422,
        ["cron"],
    ),
    (
        "schedule missing cron",
        "POST",
        "/api/v1/schedules",
        {"scenario_id": 1},
        JSON,
        422,
        ["cron"],
    ),
    (
        "token unknown role",
        "POST",
        "/api/v1/tokens",
        {"name": "x", "role": "root"},
        JSON,
        422,
        ["role"],
    ),
    (
        "token empty name",
        "POST",
        "/api/v1/tokens",
        {"name": "", "role": "viewer"},
        JSON,
        422,
        ["name"],
    ),
    ("bad limit", "GET", "/api/v1/runs?limit=0", None, "", 400, ["limit"]),
    ("limit not a number", "GET", "/api/v1/scenarios?limit=ten", None, "", 400, ["limit"]),
    ("unknown parameter", "GET", "/api/v1/runs?stauts=failed", None, "", 400, ["stauts"]),
    (
        "repeated parameter",
        "GET",
        "/api/v1/runs?scenario_id=1&scenario_id=2",
        None,
        "",
        400,
        ["scenario_id"],
    ),
    ("bad enum", "GET", "/api/v1/runs?status=sleeping", None, "", 400, ["status[0]"]),
    ("bad cursor", "GET", "/api/v1/runs?cursor=bm90LW91cnM", None, "", 400, ["cursor"]),
    ("NUL in a parameter", "GET", "/api/v1/runs?scenario=a%00b", None, "", 400, ["scenario"]),
]


@pytest.mark.parametrize(
    ("method", "url", "body", "media", "status", "paths"),
    [case[1:] for case in CASES],
    ids=[case[0] for case in CASES],
)
def test_a_bad_request_is_a_problem_and_stores_nothing(
    app: Flask,
    client: FlaskClient,
    auth: Auth,
    stored: int,
    method: str,
    url: str,
    body: Any,
    media: str,
    status: int,
    paths: list[str],
) -> None:
    before = counts(app)
    headers = dict(auth[TokenRole.ADMIN])
    if media:
        headers["Content-Type"] = media
    data = json.dumps(body) if isinstance(body, dict) else body
    response = client.open(url, method=method, data=data, headers=headers)
    found = problem(response, status)
    for path in paths:
        assert path in error_paths(found), found
    assert counts(app) == before


def test_every_problem_of_a_body_is_reported_at_once(
    client: FlaskClient, auth: Auth, stored: int
) -> None:
    body = {
        "scenario_id": stored,
        "options": {"attempts": -1, "sources_per_shard": "8"},
        "colour": 1,
    }
    found = problem(client.post("/api/v1/runs", json=body, headers=auth[TokenRole.OPERATOR]), 422)
    assert sorted(error_paths(found)) == ["colour", "options.attempts", "options.sources_per_shard"]
    for error in found["errors"]:
        assert error["pointer"] == "/" + error["path"].replace(".", "/")


def test_unknown_paths_and_methods_are_problems(client: FlaskClient, auth: Auth) -> None:
    problem(client.get("/api/v1/nothing-here", headers=auth[TokenRole.VIEWER]), 404)
    problem(client.get("/api/v1/runs/0", headers=auth[TokenRole.VIEWER]), 404)
    problem(client.get(f"/api/v1/runs/{2**31}", headers=auth[TokenRole.VIEWER]), 404)
    wrong = client.delete("/api/v1/runs", headers=auth[TokenRole.ADMIN])
    problem(wrong, 405)
    assert set(wrong.headers["Allow"].split(", ")) >= {"GET", "POST"}
