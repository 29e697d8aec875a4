"""Every list pages by cursor: walking pages of one gives the whole list, once, in order."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from flask.testing import FlaskClient

from service.store.enums import TokenRole
from tests.api.world import TINY_CELLS, YAML, problem, tiny, wait_finished

Auth = dict[TokenRole, dict[str, str]]
LOSSY: dict[str, Any] = {
    "attempts": 1,
    "simulator": {"faults": {"seed": 11, "probe_loss_rate": 0.5}},
}


@pytest.fixture
def world(client: FlaskClient, auth: Auth) -> dict[str, Any]:
    admin = auth[TokenRole.ADMIN]
    ids = []
    for name in ("beta", "alpha", "gamma"):
        body = client.post(
            "/api/v1/scenarios", data=tiny(name), headers={**admin, **YAML}
        ).get_json()
        ids.append(body["id"])
    scenario_id = ids[0]
    client.put(
        f"/api/v1/scenarios/{scenario_id}",
        data=tiny("beta", description="v2"),
        headers={**admin, **YAML},
    )
    runs = []
    for options in ({}, LOSSY, {}):
        run = client.post(
            "/api/v1/runs", json={"scenario_id": scenario_id, "options": options}, headers=admin
        )
        runs.append(run.get_json()["id"])
        wait_finished(client, runs[-1], admin)
    for i in range(3):
        client.post(
            "/api/v1/schedules",
            json={"scenario_id": scenario_id, "name": f"s{i}", "cron": "@daily"},
            headers=admin,
        )
    cell = client.get(f"/api/v1/runs/{runs[0]}/cells?limit=1", headers=admin).get_json()["items"][0]
    return {"scenario_id": scenario_id, "runs": runs, "cell": cell["key"]}


def walk(client: FlaskClient, headers: dict[str, str], url: str, key: str) -> tuple[list[Any], int]:
    """Every item of the list at ``url`` one per page; and how many pages it took."""
    sep = "&" if "?" in url else "?"
    seen: list[Any] = []
    cursor = None
    pages = 0
    while True:
        query = f"{sep}limit=1" + (f"&cursor={cursor}" if cursor else "")
        response = client.get(url + query, headers=headers)
        assert response.status_code == 200, response.get_data(as_text=True)
        body = response.get_json()
        items = body.get("items", body.get("changes"))
        assert len(items) <= 1
        seen.extend(item[key] for item in items)
        pages += 1
        cursor = body["next_cursor"]
        if cursor is None:
            return seen, pages


LISTS: dict[str, tuple[Callable[[dict[str, Any]], str], str]] = {
    "scenarios": (lambda w: "/api/v1/scenarios", "name"),
    "revisions": (lambda w: f"/api/v1/scenarios/{w['scenario_id']}/revisions", "id"),
    "runs": (lambda w: "/api/v1/runs", "id"),
    "cells": (lambda w: f"/api/v1/runs/{w['runs'][1]}/cells", "key"),
    "regressions": (lambda w: f"/api/v1/runs/{w['runs'][1]}/cells?regression=true", "key"),
    "history": (
        lambda w: f"/api/v1/scenarios/{w['scenario_id']}/cells/{w['cell']}/history",
        "run_id",
    ),
    "schedules": (lambda w: "/api/v1/schedules", "id"),
    "tokens": (lambda w: "/api/v1/tokens", "id"),
    "drift": (lambda w: f"/api/v1/compare/runs?head={w['runs'][1]}&base={w['runs'][0]}", "key"),
}


@pytest.mark.parametrize("name", sorted(LISTS))
def test_walking_pages_of_one_gives_the_whole_list(
    client: FlaskClient, auth: Auth, world: dict[str, Any], name: str
) -> None:
    make_url, key = LISTS[name]
    url = make_url(world)
    headers = auth[TokenRole.ADMIN]
    sep = "&" if "?" in url else "?"
    whole = client.get(f"{url}{sep}limit=1000", headers=headers).get_json()
    assert whole["next_cursor"] is None
    expected = [item[key] for item in whole.get("items", whole.get("changes"))]
    assert len(expected) >= 2, f"{name}: too few items to page"
    paged, pages = walk(client, headers, url, key)
    assert paged == expected
    assert pages in (len(expected), len(expected) + 1)


def test_a_cursor_of_another_list_is_refused(
    client: FlaskClient, auth: Auth, world: dict[str, Any]
) -> None:
    headers = auth[TokenRole.ADMIN]
    cursor = client.get("/api/v1/scenarios?limit=1", headers=headers).get_json()["next_cursor"]
    body = problem(client.get(f"/api/v1/runs?cursor={cursor}", headers=headers), 400)
    assert body["errors"][0]["path"] == "cursor"


def test_new_runs_do_not_shift_the_pages_being_walked(
    client: FlaskClient, auth: Auth, world: dict[str, Any]
) -> None:
    headers = auth[TokenRole.ADMIN]
    first = client.get("/api/v1/runs?limit=2", headers=headers).get_json()
    newer = client.post(
        "/api/v1/runs", json={"scenario_id": world["scenario_id"]}, headers=headers
    ).get_json()
    wait_finished(client, newer["id"], headers)
    rest = client.get(
        f"/api/v1/runs?limit=2&cursor={first['next_cursor']}", headers=headers
    ).get_json()
    walked = [r["id"] for r in first["items"] + rest["items"]]
    assert walked == sorted(world["runs"], reverse=True)


@pytest.mark.parametrize("limit", [1, 2, 3])
@pytest.mark.parametrize(
    "query", ["", "regression=false", "verdict=blocked", "source=web", "verdict=error"]
)
def test_cell_pages_of_a_narrowed_run_are_its_filtered_cells_in_plan_order(
    client: FlaskClient, auth: Auth, limit: int, query: str
) -> None:
    # A run of one version and one source holds every fourth ordinal of the revision's
    # plan; pages are read in windows of ordinals, so a window can hold none of them.
    headers = auth[TokenRole.ADMIN]
    scenario = client.post("/api/v1/scenarios", data=tiny("sparse"), headers={**headers, **YAML})
    narrowed = client.post(
        "/api/v1/runs",
        json={"scenario_id": scenario.get_json()["id"], "versions": ["locked"]},
        headers=headers,
    ).get_json()
    wait_finished(client, narrowed["id"], headers)
    url = f"/api/v1/runs/{narrowed['id']}/cells?{query}"
    whole = client.get(f"{url}&limit=1000", headers=headers).get_json()["items"]
    every = client.get(f"/api/v1/runs/{narrowed['id']}/cells?limit=1000", headers=headers)
    assert len(every.get_json()["items"]) == TINY_CELLS // 2
    pages: list[list[str]] = []
    cursor = None
    while True:
        response = client.get(
            f"{url}&limit={limit}" + (f"&cursor={cursor}" if cursor else ""), headers=headers
        )
        body = response.get_json()
        pages.append([c["key"] for c in body["items"]])
        cursor = body["next_cursor"]
        if cursor is None:
            break
    assert [key for page in pages for key in page] == [c["key"] for c in whole]
    assert all(len(page) == limit for page in pages[:-1])
    ordinals = [c["ordinal"] for c in whole]
    assert ordinals == sorted(ordinals)
