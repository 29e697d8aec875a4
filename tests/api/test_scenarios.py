"""Scenarios over the API: create and update from YAML or JSON, list, get, validate, delete."""

from __future__ import annotations

import json

import yaml
from flask.testing import FlaskClient

from service.store.enums import TokenRole
from tests.api.world import TINY_CELLS, YAML, error_paths, problem, tiny, wait_finished

Auth = dict[TokenRole, dict[str, str]]


def test_create_from_yaml_stores_a_revision_and_points_to_it(
    client: FlaskClient, auth: Auth
) -> None:
    response = client.post(
        "/api/v1/scenarios", data=tiny(), headers={**auth[TokenRole.OPERATOR], **YAML}
    )
    assert response.status_code == 201, response.get_data(as_text=True)
    body = response.get_json()
    assert response.headers["Location"] == f"/api/v1/scenarios/{body['id']}"
    assert body["name"] == "tiny"
    assert body["new_revision"] is True
    assert [r["id"] for r in body["revision_list"]] == [body["revision_id"]]
    got = client.get(response.headers["Location"], headers=auth[TokenRole.VIEWER]).get_json()
    assert got["revisions"] == 1
    assert got["latest_revision"]["id"] == body["revision_id"]


def test_create_from_json_keeps_the_text_as_given(client: FlaskClient, auth: Auth) -> None:
    document = yaml.safe_load(tiny("from-json"))
    text = json.dumps(document, indent=2)
    response = client.post(
        "/api/v1/scenarios",
        data=text,
        headers={**auth[TokenRole.OPERATOR], "Content-Type": "application/json"},
    )
    assert response.status_code == 201, response.get_data(as_text=True)
    body = response.get_json()
    revision = client.get(
        f"/api/v1/scenarios/{body['id']}/revisions/{body['revision_id']}",
        headers=auth[TokenRole.VIEWER],
    ).get_json()
    assert revision["source_text"] == text
    assert [v["name"] for v in revision["versions"]] == ["open", "locked"]
    assert revision["sources"] == ["client", "web"]
    assert revision["targets"] == ["web", "db"]


def test_a_second_scenario_of_the_same_name_is_a_conflict(client: FlaskClient, auth: Auth) -> None:
    headers = {**auth[TokenRole.OPERATOR], **YAML}
    assert client.post("/api/v1/scenarios", data=tiny(), headers=headers).status_code == 201
    body = problem(
        client.post("/api/v1/scenarios", data=tiny(description="other"), headers=headers), 409
    )
    assert "PUT /api/v1/scenarios/1" in body["detail"]


def test_update_adds_a_revision_only_when_the_content_changes(
    client: FlaskClient, auth: Auth
) -> None:
    headers = {**auth[TokenRole.OPERATOR], **YAML}
    created = client.post("/api/v1/scenarios", data=tiny(), headers=headers).get_json()
    url = f"/api/v1/scenarios/{created['id']}"
    same = client.put(url, data=tiny(), headers=headers)
    assert same.status_code == 200
    assert same.get_json()["new_revision"] is False
    assert same.get_json()["revision_id"] == created["revision_id"]
    changed = client.put(url, data=tiny(description="edited"), headers=headers).get_json()
    assert changed["new_revision"] is True
    assert changed["revisions"] == 2
    # Newest first.
    assert [r["id"] for r in changed["revision_list"]] == [
        changed["revision_id"],
        created["revision_id"],
    ]


def test_update_cannot_rename_a_scenario(client: FlaskClient, auth: Auth) -> None:
    headers = {**auth[TokenRole.OPERATOR], **YAML}
    created = client.post("/api/v1/scenarios", data=tiny(), headers=headers).get_json()
    body = problem(
        client.put(f"/api/v1/scenarios/{created['id']}", data=tiny("renamed"), headers=headers), 422
    )
    assert error_paths(body) == ["name"]
    assert (
        client.get(f"/api/v1/scenarios/{created['id']}", headers=headers).get_json()["revisions"]
        == 1
    )


def test_validate_reports_the_planned_cells_and_stores_nothing(
    client: FlaskClient, auth: Auth
) -> None:
    response = client.post(
        "/api/v1/scenarios/validate", data=tiny(), headers={**auth[TokenRole.VIEWER], **YAML}
    )
    assert response.status_code == 200, response.get_data(as_text=True)
    body = response.get_json()
    assert body["valid"] is True
    assert body["cells"] == TINY_CELLS
    assert [v["name"] for v in body["versions"]] == ["open", "locked"]
    assert client.get("/api/v1/scenarios", headers=auth[TokenRole.VIEWER]).get_json()["items"] == []


def test_an_invalid_scenario_names_each_problem_with_its_line(
    client: FlaskClient, auth: Auth
) -> None:
    text = tiny().replace("ports: [{port: 80, name: http}]", "ports: [{port: 99999, name: http}]")
    body = problem(
        client.post(
            "/api/v1/scenarios/validate", data=text, headers={**auth[TokenRole.VIEWER], **YAML}
        ),
        422,
    )
    (error,) = body["errors"]
    assert error["path"] == "targets[0].ports[0].port"
    assert error["pointer"] == "/targets/0/ports/0/port"
    lines = text.splitlines()
    assert error["line"] == next(i for i, line in enumerate(lines, 1) if "99999" in line)


def test_a_policy_given_by_path_is_refused_without_reading_the_disk(
    client: FlaskClient, auth: Auth
) -> None:
    text = tiny().replace(
        "    description: no policy\n", "    description: no policy\n    policies: [/etc/passwd]\n"
    )
    body = problem(
        client.post("/api/v1/scenarios", data=text, headers={**auth[TokenRole.OPERATOR], **YAML}),
        422,
    )
    assert error_paths(body) == ["versions[0].policies[0]"]
    assert "inline" in body["errors"][0]["message"]
    assert body["errors"][0]["line"] is not None


def test_list_pages_by_name(client: FlaskClient, auth: Auth) -> None:
    headers = {**auth[TokenRole.OPERATOR], **YAML}
    for name in ("c-three", "a-one", "b-two"):
        assert client.post("/api/v1/scenarios", data=tiny(name), headers=headers).status_code == 201
    first = client.get("/api/v1/scenarios?limit=2", headers=headers).get_json()
    assert [s["name"] for s in first["items"]] == ["a-one", "b-two"]
    second = client.get(
        f"/api/v1/scenarios?limit=2&cursor={first['next_cursor']}", headers=headers
    ).get_json()
    assert [s["name"] for s in second["items"]] == ["c-three"]
    assert second["next_cursor"] is None
    filtered = client.get("/api/v1/scenarios?name=two", headers=headers).get_json()
    assert [s["name"] for s in filtered["items"]] == ["b-two"]


def test_delete_removes_the_scenario_with_its_runs(client: FlaskClient, auth: Auth) -> None:
    operator = auth[TokenRole.OPERATOR]
    created = client.post("/api/v1/scenarios", data=tiny(), headers={**operator, **YAML}).get_json()
    run = client.post(
        "/api/v1/runs", json={"scenario_id": created["id"]}, headers=operator
    ).get_json()
    wait_finished(client, run["id"], operator)
    response = client.delete(f"/api/v1/scenarios/{created['id']}", headers=auth[TokenRole.ADMIN])
    assert response.status_code == 204
    problem(client.get(f"/api/v1/scenarios/{created['id']}", headers=operator), 404)
    problem(client.get(f"/api/v1/runs/{run['id']}", headers=operator), 404)


def test_delete_refuses_while_a_run_is_open_unless_forced(client: FlaskClient, auth: Auth) -> None:
    operator = auth[TokenRole.OPERATOR]
    admin = auth[TokenRole.ADMIN]
    created = client.post("/api/v1/scenarios", data=tiny(), headers={**operator, **YAML}).get_json()
    slow = {"simulator": {"pace_s": 0.5}, "sources_per_shard": 1}
    run = client.post(
        "/api/v1/runs", json={"scenario_id": created["id"], "options": slow}, headers=operator
    ).get_json()
    problem(client.delete(f"/api/v1/scenarios/{created['id']}", headers=admin), 409)
    assert client.post(f"/api/v1/runs/{run['id']}/cancel", headers=operator).status_code == 200
    assert client.delete(f"/api/v1/scenarios/{created['id']}", headers=admin).status_code == 204


def test_mutation_analysis_scores_the_stored_scenario(client: FlaskClient, auth: Auth) -> None:
    operator = auth[TokenRole.OPERATOR]
    created = client.post("/api/v1/scenarios", data=tiny(), headers={**operator, **YAML}).get_json()
    response = client.post(
        f"/api/v1/scenarios/{created['id']}/mutations",
        json={"suggestions": False},
        headers=operator,
    )
    assert response.status_code == 200, response.get_data(as_text=True)
    report = response.get_json()
    assert report["scenario"] == "tiny"
    assert report["killed"] + report["survived"] + report["equivalent"] == len(report["mutations"])
    assert report["mutations"], "the locked version's policy has mutations"
    unknown = problem(
        client.post(
            f"/api/v1/scenarios/{created['id']}/mutations",
            json={"versions": ["nope"]},
            headers=operator,
        ),
        422,
    )
    assert unknown["errors"]
