"""Comparisons over the API: run against run (drift) and version against version."""

from __future__ import annotations

from typing import Any

from flask.testing import FlaskClient

from service.store.enums import TokenRole
from tests.api.world import YAML, error_paths, problem, tiny, wait_finished

Auth = dict[TokenRole, dict[str, str]]
LOSSY: dict[str, Any] = {
    "attempts": 1,
    "simulator": {"faults": {"seed": 11, "probe_loss_rate": 0.5}},
}


def scenario(client: FlaskClient, auth: Auth, name: str = "tiny", text: str | None = None) -> int:
    response = client.post(
        "/api/v1/scenarios", data=text or tiny(name), headers={**auth[TokenRole.OPERATOR], **YAML}
    )
    assert response.status_code == 201, response.get_data(as_text=True)
    return int(response.get_json()["id"])


def run(
    client: FlaskClient, auth: Auth, scenario_id: int, options: dict[str, Any] | None = None
) -> int:
    body: dict[str, Any] = {"scenario_id": scenario_id}
    if options is not None:
        body["options"] = options
    response = client.post("/api/v1/runs", json=body, headers=auth[TokenRole.OPERATOR])
    assert response.status_code == 202, response.get_data(as_text=True)
    run_id = int(response.get_json()["id"])
    wait_finished(client, run_id, auth[TokenRole.OPERATOR])
    return run_id


def cells(client: FlaskClient, auth: Auth, run_id: int) -> dict[str, dict[str, Any]]:
    body = client.get(
        f"/api/v1/runs/{run_id}/cells?limit=1000", headers=auth[TokenRole.VIEWER]
    ).get_json()
    return {c["key"]: c for c in body["items"]}


def test_drift_lists_the_cells_whose_verdict_changed_as_alarms(
    client: FlaskClient, auth: Auth
) -> None:
    scenario_id = scenario(client, auth)
    clean = run(client, auth, scenario_id)
    lossy = run(client, auth, scenario_id, LOSSY)
    response = client.get(f"/api/v1/compare/runs?head={lossy}", headers=auth[TokenRole.VIEWER])
    assert response.status_code == 200, response.get_data(as_text=True)
    drift = response.get_json()
    assert drift["base"]["id"] == clean, "the base defaults to the finished run before"
    before, after = cells(client, auth, clean), cells(client, auth, lossy)
    changed = {k for k in after if after[k]["observed"] != before[k]["observed"]}
    assert changed, "the lossy run must differ"
    assert {c["key"] for c in drift["changes"]} == changed
    # Same policies in both runs: every change is the alarm.
    assert {c["mark"] for c in drift["changes"]} == {"alarm"}
    assert drift["counts"]["alarm"] == len(changed)
    assert drift["counts"]["expected"] == 0
    for change in drift["changes"]:
        assert change["before"]["observed"] == before[change["key"]]["observed"]
        assert change["after"]["observed"] == after[change["key"]]["observed"]
    assert drift["scenario_changed"] is False
    only_expected = client.get(
        f"/api/v1/compare/runs?head={lossy}&base={clean}&mark=expected",
        headers=auth[TokenRole.VIEWER],
    ).get_json()
    assert only_expected["changes"] == []


def test_drift_after_a_policy_edit_is_expected(client: FlaskClient, auth: Auth) -> None:
    scenario_id = scenario(client, auth)
    first = run(client, auth, scenario_id)
    # The locked version now lets no one reach the database.
    edited = tiny().replace(
        "          ingress:\n            - from:\n                - namespaceSelector: {}\n"
        "                  podSelector: {matchLabels: {app: web}}\n",
        "          policyTypes: [Ingress]\n",
    )
    response = client.put(
        f"/api/v1/scenarios/{scenario_id}",
        data=edited,
        headers={**auth[TokenRole.OPERATOR], **YAML},
    )
    assert response.get_json()["new_revision"] is True
    second = run(client, auth, scenario_id)
    drift = client.get(
        f"/api/v1/compare/runs?head={second}&base={first}", headers=auth[TokenRole.VIEWER]
    ).get_json()
    assert drift["changes"], "web can no longer reach the database"
    assert {c["mark"] for c in drift["changes"]} == {"expected"}
    assert {(c["group"], c["target"], c["source"]) for c in drift["changes"]} == {
        ("newly-blocked", "db", "web")
    }
    assert [v["name"] for v in drift["versions"]] == ["locked"]
    assert drift["scenario_changed"] is True


def test_drift_refuses_runs_of_other_scenarios_or_in_the_wrong_order(
    client: FlaskClient, auth: Auth
) -> None:
    viewer = auth[TokenRole.VIEWER]
    one = scenario(client, auth, "one")
    two = scenario(client, auth, "two")
    first = run(client, auth, one)
    other = run(client, auth, two)
    later = run(client, auth, one)
    wrong_order = problem(
        client.get(f"/api/v1/compare/runs?head={first}&base={later}", headers=viewer), 422
    )
    assert error_paths(wrong_order) == ["base.created_at"]
    other_scenario = problem(
        client.get(f"/api/v1/compare/runs?head={later}&base={other}", headers=viewer), 422
    )
    assert error_paths(other_scenario) == ["base.scenario"]
    problem(client.get(f"/api/v1/compare/runs?head={first}", headers=viewer), 404)
    problem(client.get("/api/v1/compare/runs?head=9999", headers=viewer), 404)


def test_version_diff_of_a_run_and_of_a_scenario_agree(client: FlaskClient, auth: Auth) -> None:
    viewer = auth[TokenRole.VIEWER]
    scenario_id = scenario(client, auth)
    run_id = run(client, auth, scenario_id)
    of_run = client.get(
        f"/api/v1/compare/versions?run_id={run_id}&ref1=open&ref2=locked", headers=viewer
    ).get_json()
    of_scenario = client.get(
        f"/api/v1/compare/versions?scenario_id={scenario_id}&ref1=open&ref2=locked", headers=viewer
    ).get_json()
    # Locking the database removes the client's connections to it (from both namespaces).
    removed = [
        (c["source"], c["destination"]) for c in of_run["changes"] if c["diff_type"] == "removed"
    ]
    assert len(removed) == 2
    assert all(d == "back/db" for _, d in removed)
    assert of_run["changes"] == of_scenario["changes"]
    assert of_run["basis"] == "run-expected"
    assert of_scenario["basis"] == "engine-probed"
    observed = client.get(
        f"/api/v1/compare/versions?run_id={run_id}&ref1=open&ref2=locked&side=observed",
        headers=viewer,
    ).get_json()
    assert observed["changes"] == of_run["changes"], "a clean run observes what is expected"
    every_port = client.get(
        f"/api/v1/compare/versions?scenario_id={scenario_id}&ref1=open&ref2=locked&all_ports=true",
        headers=viewer,
    )
    assert every_port.status_code == 200
    assert every_port.get_json()["basis"] == "engine-all-ports"
    unknown = problem(
        client.get(f"/api/v1/compare/versions?run_id={run_id}&ref1=open&ref2=nope", headers=viewer),
        422,
    )
    assert error_paths(unknown) == ["ref2"]
    problem(client.get("/api/v1/compare/versions?ref1=open&ref2=locked", headers=viewer), 400)


def test_flakes_are_the_cells_that_switched_twice_at_one_policy(
    client: FlaskClient, auth: Auth
) -> None:
    scenario_id = scenario(client, auth)
    runs = [run(client, auth, scenario_id, options) for options in ({}, LOSSY, {}, LOSSY)]
    seen = [cells(client, auth, run_id) for run_id in runs]
    switching = {
        key
        for key in seen[0]
        if sum(seen[i][key]["observed"] != seen[i + 1][key]["observed"] for i in range(3)) >= 2
    }
    assert switching, "lost probes must flip some cells back and forth"
    response = client.get(
        f"/api/v1/scenarios/{scenario_id}/flakes?window=4", headers=auth[TokenRole.VIEWER]
    )
    assert response.status_code == 200, response.get_data(as_text=True)
    report = response.get_json()
    assert report["run_ids"] == runs
    assert {f["key"] for f in report["flip_flops"]} == switching
    for flake in report["flip_flops"]:
        assert [p["run_id"] for p in flake["points"]] == runs
