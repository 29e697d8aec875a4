"""Drift is measured against the previous finished run on the same cluster, wherever it shows:
the run page, the overview, the scenario timeline, the API's compare default and /metrics.

Real runs of the workshop scenario, interleaved between two clusters
(:mod:`tests.cluster_history`): staging runs are clean; on production the
dataplane fails open while ``deny-all`` is applied, every time. Within a
cluster nothing drifts; a production run compared with the staging run just
before it would show alarm drift (the policy did not change, the verdicts did).
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator
from typing import Final

import pytest
from flask.testing import FlaskClient

from service.api.context import services
from tests.cluster_history import History, Step, served_history
from tests.dashboard.conftest import login

# Production fails open every time: its runs agree with each other, not with staging's.
ALWAYS_OPEN: Final[tuple[Step, ...]] = (
    ("staging-1", "staging", False),
    ("production-1", "production", True),
    ("staging-2", "staging", False),
    ("production-2", "production", True),
)


@pytest.fixture(scope="module")
def interleaved(tmp_path_factory: pytest.TempPathFactory) -> Iterator[History]:
    history = served_history(tmp_path_factory.mktemp("clusters"), ALWAYS_OPEN)
    try:
        yield history
    finally:
        services(history.app).close()


@pytest.fixture
def viewer(interleaved: History) -> FlaskClient:
    client = interleaved.app.test_client()
    login(client, interleaved.token)
    return client


def _csv(client: FlaskClient, path: str) -> list[dict[str, str]]:
    response = client.get(path)
    assert response.status_code == 200, response.get_data(as_text=True)
    return list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))


def test_production_fails_open_where_staging_does_not(interleaved: History) -> None:
    # The premise: across clusters the verdicts differ, so a cross-cluster drift would show.
    client = interleaved.app.test_client()
    headers = {"Authorization": f"Bearer {interleaved.token}"}
    response = client.get(
        "/api/v1/compare/runs",
        query_string={
            "head": interleaved.runs["staging-2"],
            "base": interleaved.runs["production-1"],
        },
        headers=headers,
    )
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.get_json()["counts"]["alarm"] > 0


@pytest.mark.parametrize(
    ("run", "previous"),
    [("staging-2", "staging-1"), ("production-2", "production-1")],
)
def test_the_run_page_shows_drift_since_the_previous_run_on_its_cluster(
    interleaved: History, viewer: FlaskClient, run: str, previous: str
) -> None:
    html = viewer.get(f"/dashboard/runs/{interleaved.runs[run]}").get_data(as_text=True)
    since = re.search(r'Drift since <a href="/dashboard/runs/(\d+)">run', html)
    assert since is not None, html
    assert int(since.group(1)) == interleaved.runs[previous]
    drift = re.search(r'data-testid="drift">(\d+) alarm · (\d+) expected', html)
    assert drift is not None
    assert drift.groups() == ("0", "0")


@pytest.mark.parametrize("run", ["staging-1", "production-1"])
def test_the_first_run_on_a_cluster_has_no_previous_run(
    interleaved: History, viewer: FlaskClient, run: str
) -> None:
    html = viewer.get(f"/dashboard/runs/{interleaved.runs[run]}").get_data(as_text=True)
    assert "Drift since the previous run" in html
    assert 'data-testid="drift"' not in html


def test_the_overview_measures_drift_within_the_cluster_of_the_latest_run(
    interleaved: History, viewer: FlaskClient
) -> None:
    (row,) = _csv(viewer, "/dashboard/overview.csv")
    assert int(row["last_finished_run"]) == interleaved.runs["production-2"]
    assert (row["alarm_drift"], row["expected_drift"]) == ("0", "0")
    html = viewer.get("/dashboard/").get_data(as_text=True)
    base = interleaved.runs["production-1"]
    assert f"/dashboard/compare?base={base}&amp;head={interleaved.runs['production-2']}" in html


def test_the_timeline_compares_each_run_with_the_one_before_on_its_cluster(
    interleaved: History, viewer: FlaskClient
) -> None:
    rows = _csv(viewer, f"/dashboard/scenarios/{interleaved.scenario_id}/timeline.csv")
    ids = {run_id: name for name, run_id in interleaved.runs.items()}
    previous = {ids[int(r["run"])]: ids.get(int(r["previous_run"] or 0)) for r in rows}
    assert previous == {
        "staging-1": None,
        "production-1": None,
        "staging-2": "staging-1",
        "production-2": "production-1",
    }
    assert all((r["alarm_drift"], r["expected_drift"]) == ("0", "0") for r in rows)


def test_the_api_compares_with_the_previous_run_on_the_same_cluster_by_default(
    interleaved: History,
) -> None:
    client = interleaved.app.test_client()
    headers = {"Authorization": f"Bearer {interleaved.token}"}
    for run, previous in (("production-2", "production-1"), ("staging-2", "staging-1")):
        response = client.get(
            "/api/v1/compare/runs", query_string={"head": interleaved.runs[run]}, headers=headers
        )
        assert response.status_code == 200, response.get_data(as_text=True)
        body = response.get_json()
        assert body["base"]["id"] == interleaved.runs[previous]
        assert body["counts"]["alarm"] == 0
    alone = client.get(
        "/api/v1/compare/runs",
        query_string={"head": interleaved.runs["production-1"]},
        headers=headers,
    )
    assert alone.status_code == 404


def test_metrics_report_no_drift_within_the_cluster(interleaved: History) -> None:
    client = interleaved.app.test_client()
    text = client.get(
        "/metrics", headers={"Authorization": f"Bearer {interleaved.token}"}
    ).get_data(as_text=True)
    assert 'netpol_drift_drifted_cells{scenario="calico-workshop",mark="alarm"} 0' in text
