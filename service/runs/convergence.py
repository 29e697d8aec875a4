"""Waiting for a version to be enforced before a shard probes, and storing how long it took.

On a real cluster a shard's version was just applied (or was applied moments ago
by another worker of the same run), and Calico programs it some milliseconds to
minutes later. A shard whose backend asks for it (``ReadyCluster.convergence``)
polls the version's canary cells (:func:`service.runner.convergence.await_convergence`)
before probing, unless the version's convergence is stored already: once
``run_versions.applied_at`` is set, the version has converged (or its settle
deadline passed) and later shards probe at once.

The time stored is that of the process that applied the version, measured
from its apply: a worker that found the version in place polls too (it must
not probe a half-programmed dataplane) but does not store, since its clock did
not start at the apply. The UPDATE is conditional (``applied_at IS NULL``), so
one measurement per run and version is stored, whoever finishes first. A
version none of whose cells changes (no canary) stores 0: nothing to wait for.

Canaries come from every cell the run has of the version, not just the shard's,
so all shards of a version wait for the same cells; each version of a stored
run starts from fresh namespaces, so they are the cells the engine expects
blocked ("previous" is no policy at all).
"""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from service.runner.convergence import await_convergence
from service.runner.results import Convergence
from service.runs.backends import ReadyCluster
from service.runs.planning import RunPlan
from service.runs.transactions import updated, writing
from service.scenario.plan import plan_version
from service.store.base import utc_now
from service.store.models import RunVersion

__all__ = ["await_version"]


def await_version(
    sessions: sessionmaker[Session],
    *,
    run_id: int,
    plan: RunPlan,
    version: str,
    ready: ReadyCluster,
) -> Convergence | None:
    """Wait until ``version`` is enforced on ``ready``'s cluster (see the module docstring).

    Returns the measurement when this shard stored it, else None.
    """
    options = ready.convergence
    if options is None:
        return None
    with sessions() as session:
        applied = session.scalar(
            select(RunVersion.applied_at).where(
                RunVersion.run_id == run_id, RunVersion.version == version
            )
        )
    if applied is not None:
        return None
    cluster = ready.cluster
    clock = cluster.clock
    arrived = clock.now()
    cells = tuple(c for c in plan.cells if c.version == version)
    whole = plan_version(replace(plan.matrix, cells=cells), version, addresses=ready.addresses)
    settled = await_convergence(
        cluster=cluster,
        plan=whole,
        previous=None,
        options=options,
        applied_at=ready.applied_at,
    )
    if ready.applied_at is None and settled.canaries:
        return None  # measured from this shard's arrival, not from the apply
    started = ready.applied_at if ready.applied_at is not None else arrived
    applied_at = utc_now() - timedelta(seconds=max(0.0, clock.now() - started))
    milliseconds = None
    if settled.settled and settled.seconds is not None:
        milliseconds = round(settled.seconds * 1000.0, 3)
    with writing(sessions) as session:
        stored = updated(
            session,
            update(RunVersion)
            .where(
                RunVersion.run_id == run_id,
                RunVersion.version == version,
                RunVersion.applied_at.is_(None),
            )
            .values(applied_at=applied_at, convergence_ms=milliseconds),
        )
    return settled if stored == 1 else None
