"""Executing one shard of a stored run: the one code path of every dispatcher.

Given only (run id, shard key), a process anywhere loads the run and its
revision, rebuilds the scenario from the revision's document, plans the run,
gets a ready cluster from the run's backend, probes the shard's cells through
:func:`service.runner.shard.run_shard`, and stores what it saw in one
transaction with ``INSERT ... ON CONFLICT DO NOTHING``: a shard executed twice
(a redelivered message, a resent shard) stores every cell once. Then it checks
whether the run is complete (:func:`service.runs.lifecycle.finish_if_complete`).

When the backend asks for it, the shard first waits until its version is
enforced, once per run and version (:mod:`service.runs.convergence`).

A shard of a run that is already finished or cancelled is skipped, and so is a
shard whose cells are all stored already (delivered again after it committed).
Errors of the infrastructure (the database, the cluster) propagate: the caller
retries (:data:`INFRASTRUCTURE_ERRORS`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

from sqlalchemy import ColumnElement, String, any_, bindparam, func, literal, select, update
from sqlalchemy.dialects import postgresql
from sqlalchemy.exc import InterfaceError, OperationalError
from sqlalchemy.orm import InstrumentedAttribute, Session, sessionmaker

from service.errors import ClusterError
from service.runner.results import CellResult as CellOutcome
from service.runner.results import Convergence
from service.runner.shard import ProgressCallback, run_shard
from service.runs.backends import Backends, ShardTarget, run_key
from service.runs.convergence import await_version
from service.runs.lifecycle import finish_if_complete
from service.runs.planning import PlanCache, RunPlan
from service.runs.settings import RunSettings
from service.runs.transactions import writing
from service.scenario.model import Verdict
from service.store.base import utc_now
from service.store.enums import Backend, RunStatus
from service.store.models import CellResult, RevisionCell, Run, ScenarioRevision
from service.store.writes import bulk_insert_ignoring_duplicates

__all__ = ["INFRASTRUCTURE_ERRORS", "ShardOutcome", "execute_shard", "result_rows"]

# Worth retrying: the database or the cluster was unreachable or went away.
INFRASTRUCTURE_ERRORS: Final = (OperationalError, InterfaceError, ClusterError)


@dataclass(frozen=True, slots=True)
class ShardOutcome:
    """What executing a shard did. ``skipped`` says why nothing was probed, if so;
    ``stored`` counts the cells this execution inserted; ``finished`` is the run's
    final status when this shard completed it; ``convergence``: the version's
    convergence when this shard measured and stored it."""

    run_id: int
    shard_key: str
    results: tuple[CellOutcome, ...] = ()
    stored: int = 0
    skipped: str = ""
    finished: RunStatus | None = None
    duration_s: float = 0.0
    convergence: Convergence | None = None


@dataclass(frozen=True, slots=True)
class _StoredRun:
    run_id: int
    revision_id: int
    content_hash: str
    document: str
    backend: Backend
    seed: int
    settings: RunSettings
    status: RunStatus
    created_at: datetime


def execute_shard(
    sessions: sessionmaker[Session],
    run_id: int,
    shard_key: str,
    *,
    backends: Backends,
    plans: PlanCache,
    progress: ProgressCallback | None = None,
) -> ShardOutcome:
    """Probe and store one shard of run ``run_id`` (see the module docstring)."""
    stored_run = _load(sessions, run_id)
    if stored_run is None:
        return ShardOutcome(run_id, shard_key, skipped="the run does not exist (deleted?)")
    if stored_run.status.finished:
        return ShardOutcome(run_id, shard_key, skipped=f"the run is {stored_run.status}")
    plan = plans.get(
        revision_id=stored_run.revision_id,
        content_hash=stored_run.content_hash,
        document=stored_run.document,
        settings=stored_run.settings,
    )
    cells = plan.cells_of(shard_key)
    keys = [c.key for c in cells]
    revision_expected = _start(sessions, stored_run, keys)
    if revision_expected is None:
        finished = finish_if_complete(sessions, run_id)
        return ShardOutcome(
            run_id, shard_key, skipped="every cell is stored already", finished=finished
        )
    results, info, duration, converged = _probe(
        sessions, stored_run, plan, shard_key, backends, progress
    )
    rows = result_rows(run_id, results, revision_expected)
    with writing(sessions) as session:
        inserted = bulk_insert_ignoring_duplicates(session, CellResult, rows)
        # One UPDATE: progress now; where it ran, recorded by the first shard stored only.
        session.execute(
            update(Run)
            .where(Run.id == run_id)
            .values(
                progress_at=utc_now(),
                cluster=func.coalesce(Run.cluster, literal(info, Run.cluster.type)),
            )
        )
    finished = finish_if_complete(sessions, run_id)
    return ShardOutcome(
        run_id,
        shard_key,
        results=results,
        stored=inserted,
        finished=finished,
        duration_s=duration,
        convergence=converged,
    )


def result_rows(
    run_id: int, results: Sequence[CellOutcome], revision_expected: dict[str, Verdict]
) -> list[dict[str, Any]]:
    """The ``cell_results`` rows of a shard's results; only what varies per run."""
    rows = []
    for result in results:
        attempts = result.attempts
        clean = not attempts or (len(attempts) == 1 and attempts[0].observed == result.expected)
        stored_expected = revision_expected.get(result.cell.key)
        overridden = stored_expected is not None and stored_expected != result.expected
        rows.append(
            {
                "run_id": run_id,
                "cell_key": result.cell.key,
                "observed": result.observed,
                "raw_outcome": result.raw,
                "latency_ms": result.latency_ms,
                "attempts": len(attempts),
                "attempt_details": None if clean else [a.to_dict() for a in attempts],
                "regression": result.regression,
                "flaky": result.flaky,
                "expected_override": result.expected if overridden else None,
                "explanation_override": (
                    result.explanation.render()
                    if overridden and result.explanation is not None
                    else None
                ),
            }
        )
    return rows


def _load(sessions: sessionmaker[Session], run_id: int) -> _StoredRun | None:
    with sessions() as session:
        found = session.execute(
            select(Run, ScenarioRevision)
            .join(ScenarioRevision, ScenarioRevision.id == Run.revision_id)
            .where(Run.id == run_id)
        ).first()
        if found is None:
            return None
        run, revision = found
        return _StoredRun(
            run_id=run.id,
            revision_id=revision.id,
            content_hash=revision.content_hash,
            document=revision.canonical_json,
            backend=run.backend,
            seed=run.seed or 0,
            settings=RunSettings.from_json(run.options),
            status=run.status,
            created_at=run.created_at,
        )


def _start(
    sessions: sessionmaker[Session], stored_run: _StoredRun, keys: list[str]
) -> dict[str, Verdict] | None:
    """Mark the run running; the revision's expected verdicts of ``keys``, or None when
    every one of them is stored already."""
    with writing(sessions) as session:
        done = session.scalar(
            select(func.count())
            .select_from(CellResult)
            .where(
                CellResult.run_id == stored_run.run_id, _among(session, CellResult.cell_key, keys)
            )
        )
        if done == len(keys):
            return None
        session.execute(
            update(Run)
            .where(Run.id == stored_run.run_id, Run.status == RunStatus.QUEUED)
            .values(status=RunStatus.RUNNING, started_at=utc_now())
        )
        rows = session.execute(
            select(RevisionCell.cell_key, RevisionCell.expected).where(
                RevisionCell.revision_id == stored_run.revision_id,
                _among(session, RevisionCell.cell_key, keys),
            )
        ).all()
        return {row.cell_key: row.expected for row in rows}


def _among(
    session: Session, column: InstrumentedAttribute[str], keys: list[str]
) -> ColumnElement[bool]:
    """``column IN keys``; on PostgreSQL as ``= ANY(array)``: one parameter, not thousands."""
    if session.get_bind().dialect.name == "postgresql":
        return column == any_(bindparam("keys", keys, type_=postgresql.ARRAY(String)))
    return column.in_(keys)


def _probe(
    sessions: sessionmaker[Session],
    stored_run: _StoredRun,
    plan: RunPlan,
    shard_key: str,
    backends: Backends,
    progress: ProgressCallback | None,
) -> tuple[tuple[CellOutcome, ...], dict[str, Any], float, Convergence | None]:
    shard = plan.shard(shard_key)
    factory = backends[stored_run.backend]
    target = ShardTarget(
        run_id=stored_run.run_id,
        seed=stored_run.seed,
        settings=stored_run.settings,
        layout=plan.matrix.layout,
        versions=plan.matrix.versions,
        version=shard.version,
        run_key=run_key(stored_run.run_id, stored_run.created_at),
    )
    with factory(target) as ready:
        cluster = ready.cluster
        converged = await_version(
            sessions, run_id=stored_run.run_id, plan=plan, version=shard.version, ready=ready
        )
        started = cluster.clock.now()
        version_plan = plan.version_plan(shard_key, addresses=ready.addresses)
        results = run_shard(
            cluster=cluster,
            plan=version_plan,
            shard=shard,
            options=stored_run.settings.run_options(),
            epoch_s=started,
            progress=progress,
        )
        described = cluster.describe()
        duration = cluster.clock.now() - started
        record = dict(ready.record)
    info = {
        "backend": described.backend,
        "cluster": described.cluster,
        "versions": dict(described.versions),
        **record,
    }
    return results, info, duration, converged
