"""A run's findings compare it with the earlier finished runs on its own cluster.

Real runs of the workshop scenario, interleaved between two clusters
(:mod:`tests.cluster_history`): on staging every run is clean; on production
``deny-all`` fails open, then does not, then fails open again. Measured
across clusters, every production run would drift from the staging run before
it, and ``deny-all``'s cells would flip-flop between the clusters; within a
cluster, staging is stable and production drifts and flakes on its own. On
SQLite and PostgreSQL: the cluster key is read from JSON, which each compiles
differently.
"""

from __future__ import annotations

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from service.notify.findings import Reason, RunFindings, run_findings
from service.runs.history import previous_run_id
from service.runs.transactions import writing
from service.store.models import CellResult
from tests.cluster_history import PAIRS, TIMELINE, place_runs
from tests.dashboard.world import fail_open
from tests.notify.conftest import run_once, workshop

# The store tests' databases, SQLite and PostgreSQL, in place of the notify SQLite file.
from tests.store.conftest import (
    database_url,
    empty_postgres_url,
    engine,
    migrated_url,
    postgres_database,
    sessions,
    sqlite_url,
)

__all__ = [
    "database_url",
    "empty_postgres_url",
    "engine",
    "migrated_url",
    "postgres_database",
    "sessions",
    "sqlite_url",
]


@pytest.fixture(params=sorted(PAIRS))
def interleaved(sessions: sessionmaker[Session], request: pytest.FixtureRequest) -> dict[str, int]:
    """Run ids of the timeline by name."""
    clusters = PAIRS[request.param]
    scenario = workshop()
    runs = {
        name: run_once(sessions, scenario, faults=fail_open("deny-all") if opens else None)
        for name, _, opens in TIMELINE
    }
    with writing(sessions) as session:
        place_runs(session, runs, clusters)
    return runs


def _findings(sessions: sessionmaker[Session], run_id: int) -> RunFindings:
    with sessions() as session:
        found = run_findings(session, run_id, window=10)
    assert found is not None
    return found


def _regression_keys(sessions: sessionmaker[Session], run_id: int) -> frozenset[str]:
    """The cells a run stored as regressions: with deny-all failing open, its blocked cells."""
    with sessions() as session:
        return frozenset(
            session.scalars(
                select(CellResult.cell_key).where(
                    CellResult.run_id == run_id, CellResult.regression.is_(True)
                )
            )
        )


def test_a_run_whose_only_earlier_run_is_on_another_cluster_has_no_drift_and_no_previous_run(
    sessions: sessionmaker[Session], interleaved: dict[str, int]
) -> None:
    found = _findings(sessions, interleaved["production-1"])
    assert found.regressions > 0
    assert found.previous_run_id is None
    assert (found.alarm_drift, found.expected_drift) == (0, 0)
    assert found.reasons == (Reason.REGRESSIONS,)


@pytest.mark.parametrize(
    ("run", "previous", "drifted_by"),
    [
        # Clean after clean on staging, though production failed open in between.
        ("staging-2", "staging-1", None),
        # Production recovered since production-1: its fail-open cells drift back.
        ("production-2", "production-1", "production-1"),
        ("staging-3", "staging-2", None),
        # Production fails open again after its clean run, though staging-3 was clean too.
        ("production-3", "production-2", "production-3"),
    ],
)
def test_drift_is_measured_against_the_previous_finished_run_on_the_same_cluster(
    sessions: sessionmaker[Session],
    interleaved: dict[str, int],
    run: str,
    previous: str,
    drifted_by: str | None,
) -> None:
    found = _findings(sessions, interleaved[run])
    drifted = _regression_keys(sessions, interleaved[drifted_by]) if drifted_by else frozenset()
    assert drifted or drifted_by is None
    with sessions() as session:
        # The run the dashboard, the compare API and /metrics compare it with.
        everywhere_else = previous_run_id(session, interleaved[run])
    assert found.previous_run_id == interleaved[previous] == everywhere_else
    assert found.alarm_drift == len(drifted)
    assert found.expected_drift == 0
    assert (Reason.ALARM_DRIFT in found.reasons) == bool(drifted)


def test_flakes_are_counted_per_cluster(
    sessions: sessionmaker[Session], interleaved: dict[str, int]
) -> None:
    news = {name: _findings(sessions, run_id).new_flakes for name, run_id in interleaved.items()}
    flipped = _regression_keys(sessions, interleaved["production-3"])
    assert flipped
    # deny-all's cells differ between the clusters every time but are stable on staging:
    # no news there. On production they went allowed, blocked, allowed: new at the third.
    assert [name for name, found in news.items() if found] == ["production-3"]
    assert set(news["production-3"]) == flipped
