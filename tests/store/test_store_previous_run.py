"""The run a drift is measured from is the previous finished run on the same cluster.

One scenario runs on two Kubernetes clusters (staging and production, told
apart by ``runs.cluster["key"]``) and on the simulator, interleaved in time.
Production sees cell ``k1`` blocked where staging sees it allowed, so a drift
measured across clusters would show a change on every production run; within
a cluster nothing drifts. On SQLite and PostgreSQL (the cluster key is read
from JSON, which each compiles differently).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

import pytest
from sqlalchemy import insert, select
from sqlalchemy.orm import Session, sessionmaker

from service.queries.metrics import DriftCountCache, metrics_snapshot
from service.queries.runs import previous_run_id
from service.runs.history import cluster_identity
from service.scenario.model import Verdict
from service.store import Backend
from service.store.enums import RunStatus, Trigger
from service.store.models import CellResult, RevisionCell, Run, RunVersion
from tests.store.rows import add_run, add_scenario, at, cell_row, revision_cell_row

KEYS: Final = ("k1", "k2", "k3")
STAGING: Final = {"key": "staging-uid", "context": "staging", "calico": "v3.28.0"}
# The same cluster under another context name and Calico version: still one cluster.
STAGING_UPGRADED: Final = {"key": "staging-uid", "context": "stg-admin", "calico": "v3.29.1"}
PRODUCTION: Final = {"key": "production-uid", "context": "production", "calico": "v3.28.0"}


@dataclass(frozen=True, slots=True)
class Timeline:
    """Run ids by name, in the order they were created."""

    ids: dict[str, int]


# name, hour created, backend, cluster record, status, what k1 was observed as
RUNS: Final = [
    ("staging-1", 1, Backend.KUBERNETES, STAGING, RunStatus.SUCCEEDED, Verdict.ALLOWED),
    ("production-1", 2, Backend.KUBERNETES, PRODUCTION, RunStatus.FAILED, Verdict.BLOCKED),
    ("simulated-1", 3, Backend.SIMULATED, None, RunStatus.SUCCEEDED, Verdict.ALLOWED),
    ("staging-2", 4, Backend.KUBERNETES, STAGING_UPGRADED, RunStatus.SUCCEEDED, Verdict.ALLOWED),
    ("production-2", 5, Backend.KUBERNETES, PRODUCTION, RunStatus.FAILED, Verdict.BLOCKED),
    # Still running: never the run a finished one is compared with.
    ("staging-open", 6, Backend.KUBERNETES, STAGING, RunStatus.RUNNING, Verdict.ALLOWED),
    ("production-3", 7, Backend.KUBERNETES, PRODUCTION, RunStatus.FAILED, Verdict.BLOCKED),
]


def _store(session: Session) -> Timeline:
    revision = add_scenario(session)
    session.execute(
        insert(RevisionCell),
        [revision_cell_row(revision.id, key, ordinal=i) for i, key in enumerate(KEYS)],
    )
    ids = {}
    for name, hour, backend, record, status, k1 in RUNS:
        finished = status in (RunStatus.SUCCEEDED, RunStatus.FAILED)
        run = add_run(
            session,
            revision,
            backend=backend,
            cluster=record,
            status=status,
            created_at=at(hour),
            started_at=at(hour, 1),
            finished_at=at(hour, 5) if finished else None,
            planned_cells=len(KEYS),
            regressions=int(k1 is Verdict.BLOCKED),
        )
        session.add(RunVersion(run_id=run.id, version="v1", content_hash="c" * 64))
        session.execute(
            insert(CellResult),
            [
                cell_row(
                    run.id,
                    key,
                    observed=k1 if key == "k1" else Verdict.ALLOWED,
                    regression=key == "k1" and k1 is Verdict.BLOCKED,
                )
                for key in KEYS
            ],
        )
        ids[name] = run.id
    session.commit()
    return Timeline(ids)


@pytest.fixture
def timeline(sessions: sessionmaker[Session]) -> Timeline:
    with sessions() as session:
        return _store(session)


@pytest.mark.parametrize(
    ("run", "same_cluster", "finished_only", "expected"),
    [
        ("staging-1", True, True, None),
        ("production-1", True, True, None),
        # The simulator is a cluster of its own.
        ("simulated-1", True, True, None),
        # Same key, another context and Calico version: the same cluster.
        ("staging-2", True, True, "staging-1"),
        ("production-2", True, True, "production-1"),
        ("production-3", True, True, "production-2"),
        ("production-3", False, True, "production-2"),
        ("staging-2", False, True, "simulated-1"),
        ("production-2", False, True, "staging-2"),
        ("staging-open", True, True, "staging-2"),
        ("staging-open", True, False, "staging-2"),
        ("production-3", False, False, "staging-open"),
    ],
)
def test_previous_run_is_the_newest_earlier_finished_run_on_the_same_cluster(
    sessions: sessionmaker[Session],
    timeline: Timeline,
    run: str,
    same_cluster: bool,
    finished_only: bool,
    expected: str | None,
) -> None:
    with sessions() as session:
        found = previous_run_id(
            session,
            timeline.ids[run],
            same_cluster=same_cluster,
            finished_only=finished_only,
        )
    assert found == (timeline.ids[expected] if expected is not None else None)


def test_previous_run_of_an_unknown_run_is_none(
    sessions: sessionmaker[Session], timeline: Timeline
) -> None:
    with sessions() as session:
        assert previous_run_id(session, max(timeline.ids.values()) + 1) is None


def test_metrics_drift_is_measured_against_the_previous_run_on_the_same_cluster(
    sessions: sessionmaker[Session], timeline: Timeline
) -> None:
    cache = DriftCountCache()
    with sessions() as session:
        (latest,) = metrics_snapshot(session, drift_cache=cache).scenarios
        # Across clusters the same newest run does drift: k1 was allowed on staging.
        across = cache.get(session, timeline.ids["production-3"], timeline.ids["staging-2"])
    assert latest.run_id == timeline.ids["production-3"]
    assert latest.regressions == 1
    assert latest.drift is not None
    assert (latest.drift.alarm, latest.drift.expected) == (0, 0)
    assert across is not None
    assert across.alarm == 1


def test_metrics_has_no_drift_for_a_newest_run_alone_on_its_cluster(
    sessions: sessionmaker[Session],
) -> None:
    with sessions() as session:
        revision = add_scenario(session, "first-on-production")
        session.execute(insert(RevisionCell), [revision_cell_row(revision.id, "k1")])
        for hour, record in ((1, STAGING), (2, PRODUCTION)):
            run = add_run(
                session,
                revision,
                backend=Backend.KUBERNETES,
                cluster=record,
                status=RunStatus.SUCCEEDED,
                created_at=at(hour),
            )
            session.execute(insert(CellResult), [cell_row(run.id, "k1")])
        session.commit()
        (latest,) = metrics_snapshot(session, drift_cache=DriftCountCache()).scenarios
    assert latest.drift is None


def test_a_run_recorded_with_an_empty_cluster_key_is_on_its_backends_cluster(
    sessions: sessionmaker[Session], timeline: Timeline
) -> None:
    # cluster_identity (Python) reads an empty key as no key; the SQL filter must agree.
    with sessions() as session:
        revision_id, scenario_id = session.execute(
            select(Run.revision_id, Run.scenario_id).where(Run.id == timeline.ids["simulated-1"])
        ).one()
        runs = [
            Run(
                scenario_id=scenario_id,
                revision_id=revision_id,
                trigger=Trigger.CLI,
                backend=Backend.SIMULATED,
                cluster=record,
                status=RunStatus.SUCCEEDED,
                created_at=at(hour),
                finished_at=at(hour, 5),
                planned_cells=len(KEYS),
            )
            for hour, record in ((8, {"key": ""}), (9, None))
        ]
        session.add_all(runs)
        session.commit()
        empty_key, plain = runs
        assert cluster_identity(str(empty_key.backend), empty_key.cluster) == "simulated"
        assert previous_run_id(session, plain.id) == empty_key.id
        assert previous_run_id(session, empty_key.id) == timeline.ids["simulated-1"]
