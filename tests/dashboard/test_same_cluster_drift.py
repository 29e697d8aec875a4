"""Drift is measured against the previous finished run on the same cluster, wherever it shows:
the run page, the overview, the scenario timeline, the API's compare default and /metrics.

Real runs of the workshop scenario, interleaved between two clusters: staging
runs are clean; on production the dataplane fails open while ``deny-all`` is
applied, every time. Within a cluster nothing drifts; a production run
compared with the staging run just before it would show alarm drift (the
policy did not change, the verdicts did). The runs execute on the simulator,
so which cluster each ran on is written into its record afterwards, as the
Kubernetes backend would have written it (``runs.cluster["key"]``, the
cluster's id).
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import update

from service.api import create_app
from service.api.context import services
from service.auth import issue_token
from service.dashboard import register_dashboard
from service.runs.dispatch import InProcessDispatcher
from service.runs.transactions import writing
from service.scenario.load import load_scenario
from service.store import make_engine, make_session_factory, upgrade
from service.store.enums import TokenRole
from service.store.models import Run
from tests.dashboard.conftest import login
from tests.dashboard.world import SCENARIOS, _run, fail_open

# In the order the runs are created.
ORDER = ("staging-1", "production-1", "staging-2", "production-2")
CLUSTERS = {
    "staging": {"key": "0b1c-staging-uid", "context": "staging", "calico": "v3.28.0"},
    "production": {"key": "77aa-production-uid", "context": "prod", "calico": "v3.28.0"},
}


@dataclass(frozen=True, slots=True)
class Interleaved:
    app: Flask
    runs: dict[str, int]
    scenario_id: int
    token: str


@pytest.fixture(scope="module")
def interleaved(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Interleaved]:
    url = f"sqlite:///{tmp_path_factory.mktemp('clusters') / 'netpol-drift.db'}"
    upgrade(url)
    engine = make_engine(url)
    try:
        sessions = make_session_factory(engine)
        workshop = load_scenario(SCENARIOS / "calico-workshop.yaml")
        runs = {}
        with InProcessDispatcher(sessions) as dispatcher:
            for name in ORDER:
                faults = fail_open("deny-all") if name.startswith("production") else None
                runs[name] = _run(sessions, dispatcher, workshop, faults=faults)
        with writing(sessions) as session:
            for name, run_id in runs.items():
                record = CLUSTERS[name.split("-")[0]]
                session.execute(update(Run).where(Run.id == run_id).values(cluster=record))
            scenario_id = session.get_one(Run, runs["staging-1"]).scenario_id
            token = issue_token(session, name="viewer", role=TokenRole.VIEWER).token
    finally:
        engine.dispose()
    app = create_app({"database_url": url, "broker_url": ""})
    register_dashboard(app, notifications=False)
    app.config["TESTING"] = True
    try:
        yield Interleaved(app, runs, scenario_id, token)
    finally:
        services(app).close()


@pytest.fixture
def viewer(interleaved: Interleaved) -> FlaskClient:
    client = interleaved.app.test_client()
    login(client, interleaved.token)
    return client


def _csv(client: FlaskClient, path: str) -> list[dict[str, str]]:
    response = client.get(path)
    assert response.status_code == 200, response.get_data(as_text=True)
    return list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))


def test_production_fails_open_where_staging_does_not(interleaved: Interleaved) -> None:
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
    interleaved: Interleaved, viewer: FlaskClient, run: str, previous: str
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
    interleaved: Interleaved, viewer: FlaskClient, run: str
) -> None:
    html = viewer.get(f"/dashboard/runs/{interleaved.runs[run]}").get_data(as_text=True)
    assert "Drift since the previous run" in html
    assert 'data-testid="drift"' not in html


def test_the_overview_measures_drift_within_the_cluster_of_the_latest_run(
    interleaved: Interleaved, viewer: FlaskClient
) -> None:
    (row,) = _csv(viewer, "/dashboard/overview.csv")
    assert int(row["last_finished_run"]) == interleaved.runs["production-2"]
    assert (row["alarm_drift"], row["expected_drift"]) == ("0", "0")
    html = viewer.get("/dashboard/").get_data(as_text=True)
    base = interleaved.runs["production-1"]
    assert f"/dashboard/compare?base={base}&amp;head={interleaved.runs['production-2']}" in html


def test_the_timeline_compares_each_run_with_the_one_before_on_its_cluster(
    interleaved: Interleaved, viewer: FlaskClient
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
    interleaved: Interleaved,
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


def test_metrics_report_no_drift_within_the_cluster(interleaved: Interleaved) -> None:
    client = interleaved.app.test_client()
    text = client.get(
        "/metrics", headers={"Authorization": f"Bearer {interleaved.token}"}
    ).get_data(as_text=True)
    assert 'netpol_drift_drifted_cells{scenario="calico-workshop",mark="alarm"} 0' in text
