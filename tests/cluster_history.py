"""Runs of one scenario alternating between two clusters, for the tests of history per cluster.

A run's cluster is ``runs.cluster["key"]``, or its backend when it has none
(:mod:`service.runs.history`). The tests' runs execute on the simulator, so
which cluster each ran on is written into its record afterwards
(:func:`place_runs`), as the Kubernetes backend would have written it. The
clusters are called "staging" and "production"; :data:`PAIRS` makes them two
ways. A timeline names the runs in the order they are created; in
:data:`TIMELINE`, staging is clean and production fails open, then does not,
then fails open again. :func:`served_history` stores the workshop scenario's
runs of a timeline and serves them with the dashboard.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from flask import Flask
from sqlalchemy import update
from sqlalchemy.orm import Session

from service.api import create_app
from service.auth import issue_token
from service.dashboard import register_dashboard
from service.runs.dispatch import InProcessDispatcher
from service.runs.transactions import writing
from service.scenario.load import load_scenario
from service.store import make_engine, make_session_factory, upgrade
from service.store.enums import Backend, TokenRole
from service.store.models import Run
from tests.dashboard.world import SCENARIOS, fail_open, stored_run


@dataclass(frozen=True, slots=True)
class Where:
    """Where a run ran: its backend and, for Kubernetes, the record the backend writes."""

    backend: Backend
    record: dict[str, Any] | None = None

    @property
    def identity(self) -> str:
        """How the API and the pages name the cluster: the record's key, else the backend."""
        return str(self.record["key"]) if self.record is not None else self.backend.value


SIMULATOR: Final = Where(Backend.SIMULATED)
STAGING: Final = Where(
    Backend.KUBERNETES, {"key": "kubernetes:0b1c-staging-uid", "context": "staging"}
)
PRODUCTION: Final = Where(
    Backend.KUBERNETES, {"key": "kubernetes:77aa-production-uid", "context": "prod"}
)
TWO_CLUSTERS: Final = {"staging": STAGING, "production": PRODUCTION}
# The "staging" and "production" of a timeline, two ways.
PAIRS: Final = {
    "simulator-and-kubernetes": {"staging": SIMULATOR, "production": PRODUCTION},
    "two-kubernetes-clusters": TWO_CLUSTERS,
}

# A run of a timeline: its name, its cluster, whether the version under test fails open.
Step = tuple[str, str, bool]

TIMELINE: Final[tuple[Step, ...]] = (
    ("staging-1", "staging", False),
    ("production-1", "production", True),
    ("staging-2", "staging", False),
    ("production-2", "production", False),
    ("staging-3", "staging", False),
    ("production-3", "production", True),
)


def runs_on(timeline: Sequence[Step], runs: Mapping[str, int], cluster: str) -> list[int]:
    """The run ids of one cluster, oldest first."""
    return [runs[name] for name, where, _ in timeline if where == cluster]


def place_runs(
    session: Session,
    runs: Mapping[str, int],
    clusters: Mapping[str, Where],
    timeline: Sequence[Step] = TIMELINE,
) -> None:
    """Write where each run of ``timeline`` ran into its record, as its backend would have."""
    for name, cluster, _ in timeline:
        where = clusters[cluster]
        if where.record is not None:
            session.execute(
                update(Run)
                .where(Run.id == runs[name])
                .values(backend=where.backend, cluster=where.record)
            )


@dataclass(frozen=True, slots=True)
class History:
    """The workshop's runs of a timeline, by name, served with the dashboard."""

    app: Flask
    runs: dict[str, int]
    scenario_id: int
    # A viewer's API token.
    token: str


def served_history(
    tmp: Path, timeline: Sequence[Step], clusters: Mapping[str, Where] = TWO_CLUSTERS
) -> History:
    """Run the workshop along ``timeline`` (``deny-all`` failing open where a step says)
    into a SQLite file in ``tmp``; the app serving it is the caller's to close."""
    url = f"sqlite:///{tmp / 'netpol-drift.db'}"
    upgrade(url)
    engine = make_engine(url)
    try:
        sessions = make_session_factory(engine)
        workshop = load_scenario(SCENARIOS / "calico-workshop.yaml")
        runs = {}
        with InProcessDispatcher(sessions) as dispatcher:
            for name, _, opens in timeline:
                faults = fail_open("deny-all") if opens else None
                runs[name] = stored_run(sessions, dispatcher, workshop, faults=faults)
        with writing(sessions) as session:
            place_runs(session, runs, clusters, timeline)
            scenario_id = session.get_one(Run, runs[timeline[0][0]]).scenario_id
            token = issue_token(session, name="viewer", role=TokenRole.VIEWER).token
    finally:
        engine.dispose()
    app = create_app({"database_url": url, "broker_url": ""})
    register_dashboard(app, notifications=False)
    app.config["TESTING"] = True
    return History(app, runs, scenario_id, token)
