"""Which earlier run a run is compared with: by default, the previous one on the same cluster.

The same scenario runs on staging and production, or on one cluster before and
after a Calico upgrade; drift between a production run and the staging run
just before it would mostly be the difference between the clusters. So the
run a drift comparison starts from is the newest earlier run of the same
scenario **on the same cluster**, unless the caller asks across clusters.

A run's cluster is ``runs.cluster["key"]`` (:func:`service.runs.kubernetes.cluster_key`:
the Kubernetes cluster's id, which stays the same across kubeconfigs, contexts
and Calico upgrades), or its backend when it has none: every simulated run is
one "cluster". A run that has not started has no record yet; it is compared
with runs of its backend.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, String, func, select
from sqlalchemy.orm import Session

from service.store.enums import RunStatus
from service.store.models import Run

__all__ = ["cluster_identity", "on_cluster", "previous_run_id", "same_cluster_as"]

_COMPARABLE = (RunStatus.SUCCEEDED, RunStatus.FAILED)


def cluster_identity(backend: str, record: dict[str, Any] | None) -> str:
    """The cluster a run ran on, as :func:`same_cluster_as` compares it."""
    key = (record or {}).get("key")
    return key if isinstance(key, str) and key else backend


def _identity_column() -> ColumnElement[str]:
    # JSON access compiles to ->> on PostgreSQL and JSON_EXTRACT on SQLite; an empty key
    # is no key, as in cluster_identity.
    key = func.nullif(Run.cluster["key"].as_string(), "")
    return func.coalesce(key, func.cast(Run.backend, String))


def on_cluster(identity: str) -> ColumnElement[bool]:
    """A WHERE clause: runs whose :func:`cluster_identity` is ``identity``."""
    return _identity_column() == identity


def same_cluster_as(backend: str, record: dict[str, Any] | None) -> ColumnElement[bool]:
    """A WHERE clause: runs on the cluster of a run with this backend and record."""
    return on_cluster(cluster_identity(backend, record))


def previous_run_id(
    session: Session,
    run_id: int,
    *,
    same_cluster: bool = True,
    finished_only: bool = True,
) -> int | None:
    """The run of the same scenario created just before ``run_id`` (on the same cluster
    unless ``same_cluster`` is False; finished ones only unless ``finished_only`` is False)."""
    current = session.execute(
        select(Run.scenario_id, Run.created_at, Run.backend, Run.cluster).where(Run.id == run_id)
    ).first()
    if current is None:
        return None
    scenario_id, created_at, backend, record = current
    query = (
        select(Run.id)
        .where(
            Run.scenario_id == scenario_id,
            (Run.created_at < created_at) | ((Run.created_at == created_at) & (Run.id < run_id)),
        )
        .order_by(Run.created_at.desc(), Run.id.desc())
        .limit(1)
    )
    if same_cluster:
        query = query.where(same_cluster_as(str(backend), record))
    if finished_only:
        query = query.where(Run.status.in_(_COMPARABLE))
    return session.scalar(query)
