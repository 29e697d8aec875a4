"""Schedules over the API: create with next fire times, update, enable, disable, delete."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from flask.testing import FlaskClient

from service.store.enums import TokenRole
from tests.api.world import YAML, error_paths, problem, tiny

Auth = dict[TokenRole, dict[str, str]]


def scenario(client: FlaskClient, auth: Auth, name: str = "tiny") -> int:
    response = client.post(
        "/api/v1/scenarios", data=tiny(name), headers={**auth[TokenRole.OPERATOR], **YAML}
    )
    return int(response.get_json()["id"])


def create(client: FlaskClient, auth: Auth, **body: Any) -> dict[str, Any]:
    response = client.post("/api/v1/schedules", json=body, headers=auth[TokenRole.OPERATOR])
    assert response.status_code == 201, response.get_data(as_text=True)
    created: dict[str, Any] = response.get_json()
    assert response.headers["Location"] == f"/api/v1/schedules/{created['id']}"
    return created


def times(values: list[str]) -> list[datetime]:
    return [datetime.fromisoformat(v) for v in values]


def test_a_schedule_shows_its_next_fire_times_in_its_zone(client: FlaskClient, auth: Auth) -> None:
    created = create(
        client,
        auth,
        scenario_id=scenario(client, auth),
        name="nightly",
        cron="30 2 * * *",
        timezone="Europe/Berlin",
        versions=["locked"],
    )
    upcoming = times(created["upcoming"])
    assert len(upcoming) == 5
    assert upcoming == sorted(upcoming)
    assert len(set(upcoming)) == 5
    assert created["next_fire_at"] == created["upcoming"][0]
    for due in upcoming:
        local = due.astimezone(ZoneInfo("Europe/Berlin"))
        assert (local.hour, local.minute) == (2, 30)
    assert created["options"]["versions"] == ["locked"]
    assert created["enabled"] is True


def test_bad_cron_timezone_or_version_name_their_fields(client: FlaskClient, auth: Auth) -> None:
    scenario_id = scenario(client, auth)
    operator = auth[TokenRole.OPERATOR]
    bad = problem(
        client.post(
            "/api/v1/schedules",
            json={"scenario_id": scenario_id, "cron": "61 * * * *", "timezone": "Mars/Base"},
            headers=operator,
        ),
        422,
    )
    assert sorted(error_paths(bad)) == ["cron", "timezone"]
    version = problem(
        client.post(
            "/api/v1/schedules",
            json={"scenario_id": scenario_id, "cron": "@daily", "versions": ["lockd"]},
            headers=operator,
        ),
        422,
    )
    assert error_paths(version) == ["versions[0]"]
    assert client.get("/api/v1/schedules", headers=operator).get_json()["items"] == []


def test_a_schedule_name_is_unique_per_scenario(client: FlaskClient, auth: Auth) -> None:
    scenario_id = scenario(client, auth)
    create(client, auth, scenario_id=scenario_id, name="nightly", cron="@daily")
    problem(
        client.post(
            "/api/v1/schedules",
            json={"scenario_id": scenario_id, "name": "nightly", "cron": "@hourly"},
            headers=auth[TokenRole.OPERATOR],
        ),
        409,
    )
    create(client, auth, scenario_id=scenario(client, auth, "other"), name="nightly", cron="@daily")


def test_update_moves_the_next_fire_time_with_the_cron(client: FlaskClient, auth: Auth) -> None:
    created = create(client, auth, scenario_id=scenario(client, auth), cron="0 3 * * *")
    url = f"/api/v1/schedules/{created['id']}"
    response = client.patch(
        url, json={"cron": "15 4 * * *", "sources": ["web"]}, headers=auth[TokenRole.OPERATOR]
    )
    assert response.status_code == 200, response.get_data(as_text=True)
    updated = response.get_json()
    assert updated["cron"] == "15 4 * * *"
    assert all((t.hour, t.minute) == (4, 15) for t in times(updated["upcoming"]))
    assert updated["options"]["sources"] == ["web"]
    assert updated["name"] == created["name"], "fields not given stay"
    bad = problem(
        client.patch(url, json={"timezone": "Nowhere/Else"}, headers=auth[TokenRole.OPERATOR]), 422
    )
    assert error_paths(bad) == ["timezone"]
    assert client.get(url, headers=auth[TokenRole.VIEWER]).get_json()["timezone"] == "UTC"


def test_disable_and_enable(client: FlaskClient, auth: Auth) -> None:
    created = create(client, auth, scenario_id=scenario(client, auth), cron="*/5 * * * *")
    operator = auth[TokenRole.OPERATOR]
    disabled = client.post(
        f"/api/v1/schedules/{created['id']}/disable", headers=operator
    ).get_json()
    assert disabled["enabled"] is False
    assert disabled["upcoming"] == []
    assert disabled["next_fire_at"] is None
    enabled = client.post(f"/api/v1/schedules/{created['id']}/enable", headers=operator).get_json()
    assert enabled["enabled"] is True
    assert len(enabled["upcoming"]) == 5
    listed = client.get("/api/v1/schedules?enabled=false", headers=operator).get_json()
    assert listed["items"] == []
    problem(client.post("/api/v1/schedules/777/enable", headers=operator), 404)


def test_delete_a_schedule(client: FlaskClient, auth: Auth) -> None:
    scenario_id = scenario(client, auth)
    created = create(client, auth, scenario_id=scenario_id, cron="@daily")
    operator = auth[TokenRole.OPERATOR]
    assert client.delete(f"/api/v1/schedules/{created['id']}", headers=operator).status_code == 204
    problem(client.get(f"/api/v1/schedules/{created['id']}", headers=operator), 404)
    problem(client.delete(f"/api/v1/schedules/{created['id']}", headers=operator), 404)
    assert (
        client.get(f"/api/v1/scenarios/{scenario_id}", headers=operator).get_json()["schedules"]
        == []
    )


def test_list_filters_by_scenario(client: FlaskClient, auth: Auth) -> None:
    one, two = scenario(client, auth, "one"), scenario(client, auth, "two")
    a = create(client, auth, scenario_id=one, cron="@daily")
    create(client, auth, scenario_id=two, cron="@daily")
    listed = client.get(
        f"/api/v1/schedules?scenario_id={one}", headers=auth[TokenRole.VIEWER]
    ).get_json()
    assert [s["id"] for s in listed["items"]] == [a["id"]]
    assert listed["items"][0]["scenario"] == "one"
