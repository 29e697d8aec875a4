"""A run's results over the API: cells with filters, one cell, a version's matrix,
downloads, ETags and 304, a cell's history."""

from __future__ import annotations

import csv
import io
import xml.etree.ElementTree as ET
from typing import Any

import pytest
from flask.testing import FlaskClient

from service.store.enums import TokenRole
from tests.api.world import TINY_CELLS, YAML, problem, tiny, wait_finished

Auth = dict[TokenRole, dict[str, str]]
# Half the probes lost, one attempt: allowed cells observed blocked are regressions.
LOSSY: dict[str, Any] = {
    "attempts": 1,
    "simulator": {"faults": {"seed": 11, "probe_loss_rate": 0.5}},
}


@pytest.fixture
def finished(client: FlaskClient, auth: Auth) -> dict[str, Any]:
    """A finished lossy run of the tiny scenario (some regressions)."""
    operator = auth[TokenRole.OPERATOR]
    scenario = client.post(
        "/api/v1/scenarios", data=tiny(), headers={**operator, **YAML}
    ).get_json()
    run = client.post(
        "/api/v1/runs", json={"scenario_id": scenario["id"], "options": LOSSY}, headers=operator
    ).get_json()
    done = wait_finished(client, run["id"], operator)
    assert done["regressions"] > 0, "the seed must produce regressions"
    return done


def all_cells(
    client: FlaskClient, auth: Auth, run_id: int, query: str = ""
) -> list[dict[str, Any]]:
    response = client.get(
        f"/api/v1/runs/{run_id}/cells?limit=1000&{query}", headers=auth[TokenRole.VIEWER]
    )
    assert response.status_code == 200, response.get_data(as_text=True)
    body = response.get_json()
    assert body["next_cursor"] is None
    items: list[dict[str, Any]] = body["items"]
    return items


def test_cells_come_in_plan_order_with_what_each_cell_is_and_saw(
    client: FlaskClient, auth: Auth, finished: dict[str, Any]
) -> None:
    cells = all_cells(client, auth, finished["id"])
    assert len(cells) == TINY_CELLS
    assert [c["ordinal"] for c in cells] == sorted(c["ordinal"] for c in cells)
    assert [c["version"] for c in cells] == ["open"] * 8 + ["locked"] * 8
    regressions = [c for c in cells if c["regression"]]
    assert len(regressions) == finished["regressions"]
    assert all(c["observed"] != c["expected"] for c in regressions)
    db = next(
        c
        for c in cells
        if c["target"] == "db" and c["source"] == "client" and c["version"] == "locked"
    )
    assert db["expected"] == "blocked"
    assert db["port"] == 5432
    assert db["port_number"] == 5432
    assert db["protocol"] == "TCP"
    assert db["source_labels"] == {"app": "client"}
    assert "blocked" in db["explanation"]


@pytest.mark.parametrize(
    ("query", "keep"),
    [
        ("regression=true", lambda c: c["regression"]),
        ("regression=false", lambda c: not c["regression"]),
        ("verdict=blocked", lambda c: c["observed"] == "blocked"),
        ("verdict=allowed&verdict=error", lambda c: c["observed"] in ("allowed", "error")),
        ("expected=blocked", lambda c: c["expected"] == "blocked"),
        ("version=locked", lambda c: c["version"] == "locked"),
        ("source=web", lambda c: c["source"] == "web"),
        ("source_namespace=back", lambda c: c["source_namespace"] == "back"),
        ("target=db&version=locked", lambda c: c["target"] == "db" and c["version"] == "locked"),
        ("loopback=true", lambda c: c["loopback"]),
        ("protocol=UDP", lambda c: c["protocol"] == "UDP"),
    ],
)
def test_each_cell_filter_keeps_exactly_the_matching_cells(
    client: FlaskClient, auth: Auth, finished: dict[str, Any], query: str, keep: Any
) -> None:
    everything = all_cells(client, auth, finished["id"])
    filtered = all_cells(client, auth, finished["id"], query)
    assert filtered == [c for c in everything if keep(c)]


def test_one_cell_has_its_attempts_and_history(
    client: FlaskClient, auth: Auth, finished: dict[str, Any]
) -> None:
    viewer = auth[TokenRole.VIEWER]
    cell = all_cells(client, auth, finished["id"], "regression=true")[0]
    detail = client.get(
        f"/api/v1/runs/{finished['id']}/cells/{cell['key']}", headers=viewer
    ).get_json()
    assert detail["key"] == cell["key"]
    assert detail["run_id"] == finished["id"]
    assert detail["expected_by_revision"] == cell["expected"]
    problem(
        client.get(f"/api/v1/runs/{finished['id']}/cells/0123456789abcdef", headers=viewer), 404
    )
    again = client.post(
        "/api/v1/runs",
        json={"scenario_id": finished["scenario_id"]},
        headers=auth[TokenRole.OPERATOR],
    ).get_json()
    wait_finished(client, again["id"], viewer)
    history = client.get(
        f"/api/v1/scenarios/{finished['scenario_id']}/cells/{cell['key']}/history", headers=viewer
    ).get_json()
    assert [p["run_id"] for p in history["items"]] == [again["id"], finished["id"]]
    assert history["items"][1]["observed"] == cell["observed"]
    assert history["items"][0]["observed"] == cell["expected"], "a clean run sees what is expected"
    assert all(p["version_hash"] for p in history["items"])


def test_the_matrix_of_a_version_places_every_cell(
    client: FlaskClient, auth: Auth, finished: dict[str, Any]
) -> None:
    viewer = auth[TokenRole.VIEWER]
    url = f"/api/v1/runs/{finished['id']}/matrix?version=locked"
    matrix = client.get(url + "&keys=true", headers=viewer).get_json()
    cells = {c["key"]: c for c in all_cells(client, auth, finished["id"], "version=locked")}
    assert [(r["source_namespace"], r["source"]) for r in matrix["rows"]] == [
        ("front", "client"),
        ("front", "web"),
        ("back", "client"),
        ("back", "web"),
    ]
    assert [(c["target"], c["port"]) for c in matrix["columns"]] == [("web", 80), ("db", 5432)]
    symbol = {"allowed": "A", "blocked": "B", "error": "E", "invalid": "I"}
    placed = set()
    for i, row in enumerate(matrix["keys"]):
        for j, key in enumerate(row):
            cell = cells[key]
            placed.add(key)
            assert (cell["source_namespace"], cell["source"]) == (
                matrix["rows"][i]["source_namespace"],
                matrix["rows"][i]["source"],
            )
            assert cell["target"] == matrix["columns"][j]["target"]
            assert matrix["observed"][i][j] == symbol[cell["observed"]]
            assert matrix["expected"][i][j] == symbol[cell["expected"]]
            assert ([i, j] in matrix["regressions"]) is cell["regression"]
            assert ([i, j] in matrix["loopback"]) is cell["loopback"]
    assert placed == set(cells)
    assert matrix["counts"]["cells"] == len(cells)
    assert matrix["counts"]["regressions"] == sum(c["regression"] for c in cells.values())
    without = client.get(url, headers=viewer).get_json()
    assert without["keys"] is None
    assert without["observed"] == matrix["observed"]
    problem(client.get(f"/api/v1/runs/{finished['id']}/matrix?version=nope", headers=viewer), 404)
    problem(client.get(f"/api/v1/runs/{finished['id']}/matrix", headers=viewer), 400)


def test_junit_has_a_suite_per_version_and_a_failure_per_regression(
    client: FlaskClient, auth: Auth, finished: dict[str, Any]
) -> None:
    response = client.get(
        f"/api/v1/runs/{finished['id']}/export/junit", headers=auth[TokenRole.VIEWER]
    )
    assert response.status_code == 200
    assert response.mimetype == "application/xml"
    assert "attachment" in response.headers["Content-Disposition"]
    root = ET.fromstring(response.data)
    assert root.get("tests") == str(TINY_CELLS)
    suites = root.findall("testsuite")
    assert [s.get("name") for s in suites] == ["tiny.open", "tiny.locked"]
    failed = root.findall(".//testcase/failure") + root.findall(".//testcase/error")
    assert len(failed) == finished["regressions"]


def test_csv_and_json_downloads_hold_every_cell(
    client: FlaskClient, auth: Auth, finished: dict[str, Any]
) -> None:
    viewer = auth[TokenRole.VIEWER]
    cells = all_cells(client, auth, finished["id"])
    text = client.get(f"/api/v1/runs/{finished['id']}/export/csv", headers=viewer).get_data(
        as_text=True
    )
    rows = list(csv.DictReader(io.StringIO(text)))
    assert [r["key"] for r in rows] == [c["key"] for c in cells]
    assert [r["observed"] for r in rows] == [c["observed"] for c in cells]
    document = client.get(f"/api/v1/runs/{finished['id']}/export/json", headers=viewer).get_json()
    assert document["run"]["id"] == finished["id"]
    assert document["cells"] == cells
    only = client.get(
        f"/api/v1/runs/{finished['id']}/export/csv?regression=true", headers=viewer
    ).get_data(as_text=True)
    assert len(list(csv.DictReader(io.StringIO(only)))) == finished["regressions"]


@pytest.mark.parametrize(
    "path",
    ["", "/cells?limit=5", "/matrix?version=open", "/export/junit", "/export/csv", "/export/json"],
)
def test_results_carry_an_etag_and_answer_304_while_it_is_current(
    client: FlaskClient, auth: Auth, finished: dict[str, Any], path: str
) -> None:
    viewer = auth[TokenRole.VIEWER]
    url = f"/api/v1/runs/{finished['id']}{path}"
    first = client.get(url, headers=viewer)
    etag = first.headers["ETag"]
    assert etag.startswith('"')
    assert etag.endswith('"')
    again = client.get(url, headers={**viewer, "If-None-Match": etag})
    assert again.status_code == 304
    assert again.data == b""
    assert again.headers["ETag"] == etag
    weak = client.get(url, headers={**viewer, "If-None-Match": f'"other", W/{etag}'})
    assert weak.status_code == 304
    stale = client.get(url, headers={**viewer, "If-None-Match": '"stale"'})
    assert stale.status_code == 200
    assert stale.data == first.data


def test_the_etag_differs_per_query_and_changes_when_the_run_does(
    client: FlaskClient, auth: Auth
) -> None:
    operator = auth[TokenRole.OPERATOR]
    scenario = client.post(
        "/api/v1/scenarios", data=tiny(), headers={**operator, **YAML}
    ).get_json()
    run = client.post(
        "/api/v1/runs",
        json={
            "scenario_id": scenario["id"],
            "options": {"simulator": {"pace_s": 0.2}, "sources_per_shard": 1},
        },
        headers=operator,
    ).get_json()
    url = f"/api/v1/runs/{run['id']}/cells"
    early = client.get(url, headers=operator).headers["ETag"]
    assert client.get(url + "?limit=3", headers=operator).headers["ETag"] != early
    wait_finished(client, run["id"], operator)
    late = client.get(url, headers={**operator, "If-None-Match": early})
    assert late.status_code == 200
    assert late.headers["ETag"] != early
