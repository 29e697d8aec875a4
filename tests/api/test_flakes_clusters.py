"""The flakes of a scenario are counted over its runs on one cluster.

Real runs of the tiny scenario through the API, interleaved between two
clusters (:mod:`tests.cluster_history`): on staging every run is clean; on
production the dataplane fails open while ``locked`` is applied, then does
not, then fails open again. Counted across clusters, ``locked``'s fail-open
cells would also flip-flop between production and staging; within a cluster
staging has no flake, and production's are the cells that failed open.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

import pytest
from flask import Flask
from flask.testing import FlaskClient

from service.api.context import services
from service.store.enums import TokenRole
from tests.api.test_compare import Auth, run, scenario
from tests.cluster_history import PAIRS, TIMELINE, Where, place_runs, runs_on

FAIL_OPEN: Final[dict[str, Any]] = {
    "attempts": 1,
    "simulator": {"faults": {"windows": [{"version": "locked", "mode": "fail-open"}]}},
}


@dataclass(frozen=True, slots=True)
class Interleaved:
    scenario_id: int
    runs: dict[str, int]
    clusters: dict[str, Where]

    def on(self, cluster: str) -> list[int]:
        """The run ids of one cluster, oldest first."""
        return runs_on(TIMELINE, self.runs, cluster)


@pytest.fixture(params=sorted(PAIRS))
def interleaved(
    app: Flask, client: FlaskClient, auth: Auth, request: pytest.FixtureRequest
) -> Interleaved:
    clusters = PAIRS[request.param]
    scenario_id = scenario(client, auth)
    runs = {
        name: run(client, auth, scenario_id, FAIL_OPEN if opens else {"attempts": 1})
        for name, _, opens in TIMELINE
    }
    with services(app).sessions.begin() as session:
        place_runs(session, runs, clusters)
    return Interleaved(scenario_id, runs, clusters)


def _flakes(client: FlaskClient, auth: Auth, scenario_id: int, **query: Any) -> dict[str, Any]:
    response = client.get(
        f"/api/v1/scenarios/{scenario_id}/flakes",
        query_string=query,
        headers=auth[TokenRole.VIEWER],
    )
    assert response.status_code == 200, response.get_data(as_text=True)
    body: dict[str, Any] = response.get_json()
    return body


def _regression_keys(client: FlaskClient, auth: Auth, run_id: int) -> set[str]:
    """The cells a run found as regressions: with locked failing open, its blocked cells."""
    body = client.get(
        f"/api/v1/runs/{run_id}/cells?regression=true&limit=1000", headers=auth[TokenRole.VIEWER]
    ).get_json()
    return {c["key"] for c in body["items"]}


def test_flakes_default_to_the_cluster_of_the_newest_finished_run(
    client: FlaskClient, auth: Auth, interleaved: Interleaved
) -> None:
    failed_open = _regression_keys(client, auth, interleaved.runs["production-3"])
    assert failed_open, "locked failing open must turn blocked cells into regressions"
    report = _flakes(client, auth, interleaved.scenario_id)
    assert report["cluster"] == interleaved.clusters["production"].identity
    assert report["run_ids"] == interleaved.on("production")
    # Allowed, blocked, allowed: two switches at one policy content.
    assert {f["key"] for f in report["flip_flops"]} == failed_open
    for flake in report["flip_flops"]:
        assert [p["run_id"] for p in flake["points"]] == interleaved.on("production")
        assert flake["switches"] == 2


def test_a_cluster_whose_cells_held_has_no_flakes_though_they_differ_from_another_cluster(
    client: FlaskClient, auth: Auth, interleaved: Interleaved
) -> None:
    staging = interleaved.clusters["staging"].identity
    report = _flakes(client, auth, interleaved.scenario_id, cluster=staging)
    assert report["cluster"] == staging
    assert report["run_ids"] == interleaved.on("staging")
    assert report["flip_flops"] == []
    assert report["within_run"] == []


def test_the_window_is_the_last_runs_on_the_cluster(
    client: FlaskClient, auth: Auth, interleaved: Interleaved
) -> None:
    report = _flakes(client, auth, interleaved.scenario_id, window=2)
    assert report["run_ids"] == interleaved.on("production")[-2:]
    # Blocked, then allowed: one switch is not a flake.
    assert report["flip_flops"] == []


def test_a_cluster_the_scenario_never_ran_on_has_no_runs_to_count(
    client: FlaskClient, auth: Auth, interleaved: Interleaved
) -> None:
    report = _flakes(client, auth, interleaved.scenario_id, cluster="kubernetes:elsewhere")
    assert report["cluster"] == "kubernetes:elsewhere"
    assert report["run_ids"] == []
    assert report["flip_flops"] == []


def test_a_scenario_without_finished_runs_names_no_cluster(client: FlaskClient, auth: Auth) -> None:
    scenario_id = scenario(client, auth, "never-run")
    report = _flakes(client, auth, scenario_id)
    assert report["cluster"] is None
    assert report["run_ids"] == []
