"""Clusters for the shards of a stored run, executed by workers anywhere.

A distributed run sends each shard (one version x some source pods) to a
worker. On a real cluster the shards of one version share one set of run
namespaces, and each version gets its own, so versions are probed in parallel
without replacing each other's policies. The namespaces' run id is a pure
function of the run and the version (:func:`shard_run_id`), so any worker finds
them: the first to arrive creates the namespaces, pods, Services and policies,
the others adopt what carries the same run id (creates are idempotent, the
policy apply skips what is already in place). A shard's teardown deletes
nothing, since other shards may still be probing; :meth:`KubernetesShards.finish`
deletes every namespace of the run once it is done, and the janitor removes
what a dead run left once it expires. Calico objects follow the same rules:
shared per version, kept by a shard's teardown, deleted by ``finish``.

Each version starts from fresh namespaces, not from the previous version's
policies as in an in-process run: its convergence time is that of a first
apply.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import replace

from service.cluster.kubernetes.cluster import KubernetesCluster
from service.cluster.kubernetes.config import ClusterTarget, Connection, connect
from service.cluster.kubernetes.janitor import SweepReport, delete_run
from service.cluster.kubernetes.naming import RunNaming
from service.cluster.kubernetes.options import KubernetesOptions
from service.policy.model import IPAddress
from service.scenario.model import PolicyVersion
from service.scenario.plan import Layout

__all__ = ["KubernetesShards", "shard_run_id"]

SHARD_RUN_ID_LENGTH = 10


def shard_run_id(run: str, version: str) -> str:
    """The run id of ``version``'s namespaces in stored run ``run``; the same on every worker."""
    digest = hashlib.sha256(f"{run}\x1f{version}".encode()).hexdigest()
    return digest[:SHARD_RUN_ID_LENGTH]


class KubernetesShards:
    """Hands out ready clusters for shards of stored runs on one cluster target."""

    def __init__(
        self,
        *,
        target: ClusterTarget,
        options: KubernetesOptions | None = None,
        connection: Connection | None = None,
    ) -> None:
        """``connection``: ``target`` already connected (else on first use)."""
        self.target = target
        self.options = options if options is not None else KubernetesOptions()
        self._connection = connection

    def _connect(self) -> Connection:
        if self._connection is None:
            self._connection = connect(self.target)
        return self._connection

    def _cluster(self, run: str, version: str) -> KubernetesCluster:
        options = replace(self.options, run_id=shard_run_id(run, version), keep_objects=True)
        return KubernetesCluster(connection=self._connect(), options=options)

    @contextmanager
    def ready(
        self, *, run: str, layout: Layout, version: PolicyVersion
    ) -> Iterator[tuple[KubernetesCluster, Mapping[str, IPAddress]]]:
        """A cluster with ``layout`` set up and ``version`` applied, and the pod addresses."""
        cluster = self._cluster(run, version.name)
        with cluster:
            addresses = cluster.set_up(layout=layout)
            cluster.apply_version(version=version)
            yield cluster, addresses

    def finish(self, *, run: str, versions: Sequence[str]) -> SweepReport:
        """Delete the namespaces of every version of ``run``."""
        deleted: list[str] = []
        skipped: list[tuple[str, str]] = []
        cluster = self._cluster(run, versions[0]) if versions else None
        if cluster is None:
            return SweepReport()
        try:
            for version in versions:
                naming = RunNaming(self.options.namespace_prefix, shard_run_id(run, version))
                report = delete_run(cluster.api, naming=naming)
                deleted += report.deleted
                skipped += report.skipped
        finally:
            cluster.close()
        return SweepReport(deleted=tuple(deleted), skipped=tuple(skipped))
