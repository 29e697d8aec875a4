"""The scenario page counts flaky cells over the runs on the cluster of its newest run.

Real runs of the workshop scenario, interleaved between two clusters: staging
runs are clean; on production the dataplane fails open while ``deny-all`` is
applied, then does not, then fails open again. The runs execute on the
simulator, so which cluster each ran on is written into its record afterwards,
as the Kubernetes backend would have written it (``runs.cluster["key"]``).
Counted across clusters, ``deny-all``'s cells switch three times between
production and staging; within production they switch twice (allowed,
blocked, allowed), and on staging never. With production newest the page
shows production's flakes; one more clean staging run makes staging newest,
and the page shows none.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select, update

from service.api import create_app
from service.api.context import services
from service.auth import issue_token
from service.dashboard import register_dashboard
from service.runs.dispatch import InProcessDispatcher
from service.runs.transactions import writing
from service.scenario.load import load_scenario
from service.store import make_engine, make_session_factory, upgrade
from service.store.enums import TokenRole
from service.store.models import CellResult, Run
from tests.dashboard.conftest import login
from tests.dashboard.world import SCENARIOS, _run, fail_open

CLUSTERS: Final = {
    "staging": {"key": "0b1c-staging-uid", "context": "staging"},
    "production": {"key": "77aa-production-uid", "context": "prod"},
}
# In the order the runs are created: name, cluster, whether deny-all fails open.
TIMELINE: Final = (
    ("staging-1", "staging", False),
    ("production-1", "production", True),
    ("staging-2", "staging", False),
    ("production-2", "production", False),
    ("staging-3", "staging", False),
    ("production-3", "production", True),
)
# The cluster of the newest run -> the runs, oldest first.
TIMELINES: Final = {
    "production": TIMELINE,
    "staging": (*TIMELINE, ("staging-4", "staging", False)),
}


@dataclass(frozen=True, slots=True)
class Interleaved:
    app: Flask
    newest: str
    runs: dict[str, int]
    scenario_id: int
    token: str
    # The cells production-3 found as regressions: deny-all's blocked cells, failed open.
    failed_open: frozenset[str]


def _build(tmp: Path, newest: str) -> Interleaved:
    url = f"sqlite:///{tmp / 'netpol-drift.db'}"
    upgrade(url)
    engine = make_engine(url)
    try:
        sessions = make_session_factory(engine)
        workshop = load_scenario(SCENARIOS / "calico-workshop.yaml")
        runs = {}
        with InProcessDispatcher(sessions) as dispatcher:
            for name, _, opens in TIMELINES[newest]:
                faults = fail_open("deny-all") if opens else None
                runs[name] = _run(sessions, dispatcher, workshop, faults=faults)
        with writing(sessions) as session:
            for name, cluster, _ in TIMELINES[newest]:
                record = CLUSTERS[cluster]
                session.execute(update(Run).where(Run.id == runs[name]).values(cluster=record))
            scenario_id = session.get_one(Run, runs["staging-1"]).scenario_id
            token = issue_token(session, name="viewer", role=TokenRole.VIEWER).token
            failed_open = frozenset(
                session.scalars(
                    select(CellResult.cell_key).where(
                        CellResult.run_id == runs["production-3"],
                        CellResult.regression.is_(True),
                    )
                )
            )
    finally:
        engine.dispose()
    app = create_app({"database_url": url, "broker_url": ""})
    register_dashboard(app, notifications=False)
    app.config["TESTING"] = True
    return Interleaved(app, newest, runs, scenario_id, token, failed_open)


@pytest.fixture(scope="module", params=sorted(TIMELINES))
def interleaved(
    tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest
) -> Iterator[Interleaved]:
    world = _build(tmp_path_factory.mktemp(f"newest-{request.param}"), request.param)
    try:
        yield world
    finally:
        services(world.app).close()


@pytest.fixture
def viewer(interleaved: Interleaved) -> FlaskClient:
    client = interleaved.app.test_client()
    login(client, interleaved.token)
    return client


def _runs_on(interleaved: Interleaved, cluster: str) -> list[int]:
    return [interleaved.runs[n] for n, c, _ in TIMELINES[interleaved.newest] if c == cluster]


def _flakes_section(viewer: FlaskClient, scenario_id: int) -> str:
    response = viewer.get(f"/dashboard/scenarios/{scenario_id}")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    section = re.search(r'<section class="card" id="flakes">(.*?)</section>', html, re.S)
    assert section is not None, html
    return section.group(1)


def _flakes_csv(viewer: FlaskClient, scenario_id: int) -> list[dict[str, str]]:
    response = viewer.get(f"/dashboard/scenarios/{scenario_id}/flakes.csv")
    assert response.status_code == 200, response.get_data(as_text=True)
    return list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))


def test_deny_all_fails_open_on_production(interleaved: Interleaved) -> None:
    # The premise: the cells differ between the clusters, so counting across them would
    # find flip-flops on either.
    assert interleaved.failed_open


def test_the_heading_names_the_cluster_of_the_newest_run_and_its_runs_counted(
    interleaved: Interleaved, viewer: FlaskClient
) -> None:
    section = _flakes_section(viewer, interleaved.scenario_id)
    heading = re.search(r'data-testid="flakes-heading">(.*?)</h2>', section, re.S)
    assert heading is not None, section
    key = CLUSTERS[interleaved.newest]["key"]
    counted = len(_runs_on(interleaved, interleaved.newest))
    assert heading.group(1) == f"Flaky cells on <code>{key}</code> (its last {counted} runs)"


def test_the_flakes_are_those_of_the_newest_runs_cluster(
    interleaved: Interleaved, viewer: FlaskClient
) -> None:
    rows = _flakes_csv(viewer, interleaved.scenario_id)
    section = _flakes_section(viewer, interleaved.scenario_id)
    if interleaved.newest == "staging":
        # Clean on every staging run: what differs from production is no flake here.
        assert rows == []
        assert "No flaky cell." in section
        return
    assert {r["key"] for r in rows} == interleaved.failed_open
    for row in rows:
        assert row["kind"] == "flip-flop"
        # Production's three runs: allowed, blocked, allowed; the staging runs left out.
        assert row["count"] == "2"
        assert row["detail"] == "allowed blocked allowed"
        assert row["cluster"] == CLUSTERS["production"]["key"]
    points = re.findall(r'title="run (\d+): (\w+)"', section)
    assert {int(run_id) for run_id, _ in points} == set(_runs_on(interleaved, "production"))
