"""The scenario page counts flaky cells over the runs on the cluster of its newest run.

Real runs of the workshop scenario, interleaved between two clusters
(:mod:`tests.cluster_history`): staging runs are clean; on production the
dataplane fails open while ``deny-all`` is applied, then does not, then fails
open again. Counted across clusters, ``deny-all``'s cells switch three times
between production and staging; within production they switch twice (allowed,
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
from typing import Final

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select

from service.api.context import services
from service.store.models import CellResult
from tests.cluster_history import TIMELINE, TWO_CLUSTERS, History, runs_on, served_history
from tests.dashboard.conftest import login

# The cluster of the newest run -> the runs, oldest first.
TIMELINES: Final = {
    "production": TIMELINE,
    "staging": (*TIMELINE, ("staging-4", "staging", False)),
}


@dataclass(frozen=True, slots=True)
class Interleaved:
    history: History
    newest: str
    # The cells production-3 found as regressions: deny-all's blocked cells, failed open.
    failed_open: frozenset[str]

    def on(self, cluster: str) -> list[int]:
        """The run ids of one cluster, oldest first."""
        return runs_on(TIMELINES[self.newest], self.history.runs, cluster)


@pytest.fixture(scope="module", params=sorted(TIMELINES))
def interleaved(
    tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest
) -> Iterator[Interleaved]:
    tmp = tmp_path_factory.mktemp(f"newest-{request.param}")
    history = served_history(tmp, TIMELINES[request.param])
    try:
        with services(history.app).sessions() as session:
            failed_open = frozenset(
                session.scalars(
                    select(CellResult.cell_key).where(
                        CellResult.run_id == history.runs["production-3"],
                        CellResult.regression.is_(True),
                    )
                )
            )
        yield Interleaved(history, request.param, failed_open)
    finally:
        services(history.app).close()


@pytest.fixture
def viewer(interleaved: Interleaved) -> FlaskClient:
    client = interleaved.history.app.test_client()
    login(client, interleaved.history.token)
    return client


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
    section = _flakes_section(viewer, interleaved.history.scenario_id)
    heading = re.search(r'data-testid="flakes-heading">(.*?)</h2>', section, re.S)
    assert heading is not None, section
    key = TWO_CLUSTERS[interleaved.newest].identity
    counted = len(interleaved.on(interleaved.newest))
    assert heading.group(1) == f"Flaky cells on <code>{key}</code> (its last {counted} runs)"


def test_the_flakes_are_those_of_the_newest_runs_cluster(
    interleaved: Interleaved, viewer: FlaskClient
) -> None:
    rows = _flakes_csv(viewer, interleaved.history.scenario_id)
    section = _flakes_section(viewer, interleaved.history.scenario_id)
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
        assert row["cluster"] == TWO_CLUSTERS["production"].identity
    points = re.findall(r'title="run (\d+): (\w+)"', section)
    assert {int(run_id) for run_id, _ in points} == set(interleaved.on("production"))
