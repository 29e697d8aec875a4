"""Runs over the API: start (stored or inline, narrowed), list with filters, progress, cancel."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote

import yaml
from flask.testing import FlaskClient

from service.store.enums import TokenRole
from tests.api.world import TINY_CELLS, YAML, error_paths, problem, tiny, wait_finished

Auth = dict[TokenRole, dict[str, str]]


def create_scenario(client: FlaskClient, auth: Auth, name: str = "tiny") -> dict[str, Any]:
    response = client.post(
        "/api/v1/scenarios", data=tiny(name), headers={**auth[TokenRole.OPERATOR], **YAML}
    )
    assert response.status_code == 201, response.get_data(as_text=True)
    body: dict[str, Any] = response.get_json()
    return body


def start(client: FlaskClient, auth: Auth, **body: Any) -> dict[str, Any]:
    response = client.post("/api/v1/runs", json=body, headers=auth[TokenRole.OPERATOR])
    assert response.status_code == 202, response.get_data(as_text=True)
    assert response.headers["Location"] == f"/api/v1/runs/{response.get_json()['id']}"
    started: dict[str, Any] = response.get_json()
    return started


def test_a_run_of_a_stored_scenario_stores_every_planned_cell(
    client: FlaskClient, auth: Auth
) -> None:
    scenario = create_scenario(client, auth)
    run = start(client, auth, scenario_id=scenario["id"])
    assert run["status"] in ("queued", "running", "succeeded")
    assert run["trigger"] == "api"
    assert run["planned_cells"] == TINY_CELLS
    done = wait_finished(client, run["id"], auth[TokenRole.VIEWER])
    assert done["status"] == "succeeded"
    assert done["progress"] == {"planned": TINY_CELLS, "stored": TINY_CELLS, "percent": 100.0}
    assert [v["name"] for v in done["versions"]] == ["open", "locked"]
    assert sum(v["cells"] for v in done["versions"]) == TINY_CELLS
    assert done["revision_id"] == scenario["revision_id"]


def test_narrowing_keeps_only_the_named_versions_sources_and_targets(
    client: FlaskClient, auth: Auth
) -> None:
    scenario = create_scenario(client, auth)
    run = start(
        client,
        auth,
        scenario_id=scenario["id"],
        versions=["locked"],
        sources=["web"],
        targets=["db"],
    )
    # 1 version x 2 source namespaces x 1 source x 1 target x 1 port.
    assert run["planned_cells"] == 2
    wait_finished(client, run["id"], auth[TokenRole.VIEWER])
    cells = client.get(f"/api/v1/runs/{run['id']}/cells", headers=auth[TokenRole.VIEWER]).get_json()
    assert {(c["version"], c["source"], c["target"]) for c in cells["items"]} == {
        ("locked", "web", "db")
    }


def test_an_inline_scenario_runs_as_yaml_text_or_as_an_object(
    client: FlaskClient, auth: Auth
) -> None:
    as_text = start(client, auth, scenario=tiny("inline-text"))
    as_object = start(client, auth, scenario=yaml.safe_load(tiny("inline-object")))
    for run, name in ((as_text, "inline-text"), (as_object, "inline-object")):
        assert run["scenario"] == name
        assert wait_finished(client, run["id"], auth[TokenRole.VIEWER])["status"] == "succeeded"
    names = client.get("/api/v1/scenarios", headers=auth[TokenRole.VIEWER]).get_json()["items"]
    assert sorted(s["name"] for s in names) == ["inline-object", "inline-text"]


def test_an_unknown_version_in_the_narrowing_names_its_field_and_starts_nothing(
    client: FlaskClient, auth: Auth
) -> None:
    scenario = create_scenario(client, auth)
    body = problem(
        client.post(
            "/api/v1/runs",
            json={"scenario_id": scenario["id"], "versions": ["open", "lokced"]},
            headers=auth[TokenRole.OPERATOR],
        ),
        422,
    )
    assert error_paths(body) == ["versions[1]"]
    assert "locked" in body["errors"][0]["message"]
    assert client.get("/api/v1/runs", headers=auth[TokenRole.VIEWER]).get_json()["items"] == []


def test_a_run_needs_exactly_one_of_scenario_id_and_scenario(
    client: FlaskClient, auth: Auth
) -> None:
    scenario = create_scenario(client, auth)
    both = problem(
        client.post(
            "/api/v1/runs",
            json={"scenario_id": scenario["id"], "scenario": tiny()},
            headers=auth[TokenRole.OPERATOR],
        ),
        422,
    )
    assert error_paths(both) == ["scenario_id"]
    neither = problem(client.post("/api/v1/runs", json={}, headers=auth[TokenRole.OPERATOR]), 422)
    assert error_paths(neither) == ["scenario_id"]
    missing = problem(
        client.post("/api/v1/runs", json={"scenario_id": 999}, headers=auth[TokenRole.OPERATOR]),
        422,
    )
    assert error_paths(missing) == ["scenario_id"]


def test_an_invalid_inline_scenario_is_reported_under_scenario(
    client: FlaskClient, auth: Auth
) -> None:
    text = tiny().replace("{port: 80, name: http}", "{port: 0, name: http}")
    body = problem(
        client.post("/api/v1/runs", json={"scenario": text}, headers=auth[TokenRole.OPERATOR]), 422
    )
    assert error_paths(body) == ["scenario.targets[0].ports[0].port"]


def test_list_filters_by_scenario_status_trigger_and_time(client: FlaskClient, auth: Auth) -> None:
    viewer = auth[TokenRole.VIEWER]
    one = create_scenario(client, auth, "one")
    two = create_scenario(client, auth, "two")
    first = start(client, auth, scenario_id=one["id"])
    second = start(client, auth, scenario_id=two["id"])
    wait_finished(client, first["id"], viewer)
    wait_finished(client, second["id"], viewer)
    cancelled = start(client, auth, scenario_id=one["id"], options={"simulator": {"pace_s": 0.5}})
    assert (
        client.post(
            f"/api/v1/runs/{cancelled['id']}/cancel", headers=auth[TokenRole.OPERATOR]
        ).status_code
        == 200
    )

    def ids(query: str) -> list[int]:
        response = client.get(f"/api/v1/runs?{query}", headers=viewer)
        assert response.status_code == 200, response.get_data(as_text=True)
        return [r["id"] for r in response.get_json()["items"]]

    assert ids("") == [cancelled["id"], second["id"], first["id"]]
    assert ids(f"scenario_id={one['id']}") == [cancelled["id"], first["id"]]
    assert ids("scenario=two") == [second["id"]]
    assert ids("status=cancelled") == [cancelled["id"]]
    assert ids("status=succeeded&status=cancelled") == [cancelled["id"], second["id"], first["id"]]
    assert ids("trigger=schedule") == []
    assert ids("trigger=api&backend=simulated") == [cancelled["id"], second["id"], first["id"]]
    future = quote((datetime.now(UTC) + timedelta(hours=1)).isoformat())
    past = quote((datetime.now(UTC) - timedelta(hours=1)).isoformat())
    assert ids(f"created_after={future}") == []
    assert ids(f"created_after={past}&created_before={future}") == [
        cancelled["id"],
        second["id"],
        first["id"],
    ]


def test_a_time_filter_without_an_offset_is_a_bad_request(client: FlaskClient, auth: Auth) -> None:
    body = problem(
        client.get(
            "/api/v1/runs?created_after=2025-01-01T00:00:00", headers=auth[TokenRole.VIEWER]
        ),
        400,
    )
    assert error_paths(body) == ["created_after"]


def test_cancel_closes_an_open_run_and_refuses_a_finished_one(
    client: FlaskClient, auth: Auth
) -> None:
    operator = auth[TokenRole.OPERATOR]
    scenario = create_scenario(client, auth)
    slow = start(
        client,
        auth,
        scenario_id=scenario["id"],
        options={"simulator": {"pace_s": 0.5}, "sources_per_shard": 1},
    )
    cancelled = client.post(f"/api/v1/runs/{slow['id']}/cancel", headers=operator)
    assert cancelled.status_code == 200
    assert cancelled.get_json()["status"] == "cancelled"
    assert cancelled.get_json()["progress"]["stored"] < TINY_CELLS
    problem(client.post(f"/api/v1/runs/{slow['id']}/cancel", headers=operator), 409)
    problem(client.post("/api/v1/runs/4242/cancel", headers=operator), 404)


def test_run_detail_reports_progress_while_running(client: FlaskClient, auth: Auth) -> None:
    scenario = create_scenario(client, auth)
    run = start(
        client,
        auth,
        scenario_id=scenario["id"],
        options={"simulator": {"pace_s": 0.2}, "sources_per_shard": 1},
    )
    seen = []
    while True:
        body = client.get(f"/api/v1/runs/{run['id']}", headers=auth[TokenRole.VIEWER]).get_json()
        seen.append(body["progress"]["stored"])
        if body["status"] not in ("queued", "running"):
            break
    assert seen == sorted(seen), "progress only grows"
    assert seen[0] < TINY_CELLS
    assert seen[-1] == TINY_CELLS
