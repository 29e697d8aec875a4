"""Stored runs on Kubernetes clusters: the backend of the shard seam, and cleaning up after them.

:class:`KubernetesBackend` is the :data:`~service.runs.backends.BackendFactory`
of :attr:`Backend.KUBERNETES <service.store.enums.Backend.KUBERNETES>`: for a
shard it resolves the run's cluster *name* (``options.kubernetes.cluster``) to
a target of this process (:func:`targets_from_environment` on a worker, the
command line's target in ``netpol-drift run``), and hands out a cluster with the
shard's version ready through :class:`~service.cluster.kubernetes.KubernetesShards`:
the shards of a version share its namespaces, whichever worker runs them. It asks
shards to wait for the version to be enforced (``settle_s``) and adds the
cluster's identity to the run's record: target name, API server, cluster id
(the uid of kube-system) and a ``key`` that says which cluster it was, so runs
of one scenario on two clusters are told apart (:mod:`service.runs.history`).
Credentials stay in the files they came from.

When a run closes (finished, failed, cancelled, reaped), :meth:`KubernetesBackend.finish`
deletes the namespaces and Calico objects of all its versions;
:func:`cleanup_on_close` registers that with :mod:`service.runs.lifecycle`. What a
process that died leaves behind, the janitor removes once it expires
(:func:`sweep_clusters`, which beat runs on the workers' clusters).
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager
from datetime import datetime
from pathlib import Path
from typing import Any, Final

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from service.cluster.kubernetes import (
    ENV_CLUSTERS,
    ENV_KUBECONFIG,
    ClusterTarget,
    Connection,
    KubernetesCluster,
    KubernetesOptions,
    KubernetesShards,
    SweepReport,
    connect,
    load_targets,
    sweep_expired,
)
from service.cluster.kubernetes.api import NAMESPACES, KubeApi
from service.cluster.kubernetes.calico_rewrite import calico_problems
from service.cluster.kubernetes.policies import reserved_label_problems
from service.errors import ClusterError, FieldPath, InvalidInput, Problem
from service.policy.calico.model import CalicoEntry
from service.runs.backends import ReadyCluster, ShardTarget, run_key
from service.runs.kubernetes_settings import KubernetesSettings
from service.runs.lifecycle import add_run_closed_hook
from service.runs.settings import RunSettings
from service.scenario.model import PolicyVersion
from service.store.enums import Backend, RunStatus
from service.store.models import Run, RunVersion

__all__ = [
    "CLUSTERS_FILE_ENV",
    "KubernetesBackend",
    "backend_from_environment",
    "cleanup_on_close",
    "cluster_key",
    "kubernetes_problems",
    "sweep_clusters",
    "targets_from_environment",
]

log = logging.getLogger(__name__)

# Where a worker finds its named clusters; NETPOL_DRIFT_CLUSTERS (the command line's) too.
CLUSTERS_FILE_ENV: Final = "NETPOL_DRIFT_CLUSTERS_FILE"


def cluster_key(backend: str, cluster_id: str, server: str) -> str:
    """What tells two clusters apart in run records: the cluster id, else the API server."""
    return f"{backend}:{cluster_id or server}"


def targets_from_environment(environ: Mapping[str, str] | None = None) -> dict[str, ClusterTarget]:
    """The clusters this process may run on, by name: every target of the clusters file
    (``NETPOL_DRIFT_CLUSTERS_FILE``, else ``NETPOL_DRIFT_CLUSTERS``) and the kubeconfig of
    ``NETPOL_DRIFT_KUBECONFIG`` (named by ``NETPOL_DRIFT_CONTEXT``, else ``default``).

    Nothing is read but the clusters file: a kubeconfig is read when a run needs it.
    """
    env = os.environ if environ is None else environ
    targets: dict[str, ClusterTarget] = {}
    from_env = ClusterTarget.from_environment(env)
    if from_env is not None:
        targets[from_env.name] = from_env
    path = (env.get(CLUSTERS_FILE_ENV, "") or env.get(ENV_CLUSTERS, "")).strip()
    if path:
        # The file names its clusters on purpose: on a clash it wins over the variable.
        targets.update(load_targets(Path(path).expanduser()))
    return targets


class KubernetesBackend:
    """Clusters for the shards of stored Kubernetes runs (see the module docstring).

    ``targets``: the clusters this process knows, by name; ``connections``: some of
    them already connected (the command line checks its kubeconfig before storing
    a run); ``base``: this process's own backend knobs, which the run's settings
    override where they say something.
    """

    def __init__(
        self,
        *,
        targets: Mapping[str, ClusterTarget],
        connections: Mapping[str, Connection] | None = None,
        base: KubernetesOptions | None = None,
    ) -> None:
        self.targets = dict(targets)
        self.connections = dict(connections or {})
        self.base = base if base is not None else KubernetesOptions()
        self._shards: dict[tuple[str, KubernetesOptions], KubernetesShards] = {}
        self._lock = threading.Lock()

    def __call__(self, target: ShardTarget) -> AbstractContextManager[ReadyCluster]:
        return self._ready(target)

    @contextlib.contextmanager
    def _ready(self, target: ShardTarget) -> Iterator[ReadyCluster]:
        settings = _settings_of(target.settings)
        shards = self.shards(settings)
        run = target.run_key or str(target.run_id)
        with shards.ready(run=run, layout=target.layout, version=target.policy_version) as (
            cluster,
            addresses,
        ):
            yield ReadyCluster(
                cluster=cluster,
                addresses=addresses,
                applied_at=cluster.applied_at,
                convergence=settings.convergence(),
                record=_identity(cluster),
            )

    def shards(self, settings: KubernetesSettings) -> KubernetesShards:
        """The shard clusters of ``settings``' cluster, one per process and options."""
        options = settings.options(self.base)
        key = (settings.cluster, options)
        with self._lock:
            found = self._shards.get(key)
            if found is None:
                target = self._target(settings.cluster)
                found = KubernetesShards(
                    target=target, options=options, connection=self.connections.get(target.name)
                )
                self._shards[key] = found
            return found

    def finish(self, sessions: sessionmaker[Session], run_id: int) -> SweepReport | None:
        """Delete what run ``run_id`` has on its cluster; None when it is not a Kubernetes run
        or not on a cluster this process knows."""
        with sessions() as session:
            found = session.execute(
                select(Run.backend, Run.options, Run.created_at).where(Run.id == run_id)
            ).first()
            versions = list(
                session.scalars(select(RunVersion.version).where(RunVersion.run_id == run_id))
            )
        if found is None or found.backend is not Backend.KUBERNETES:
            return None
        settings = RunSettings.from_json(found.options).kubernetes
        if settings is None or settings.cluster not in self.targets:
            return None
        return self.shards(settings).finish(
            run=run_key(run_id, found.created_at), versions=versions
        )

    def _target(self, name: str) -> ClusterTarget:
        target = self.targets.get(name)
        if target is None:
            known = ", ".join(sorted(self.targets)) or "none"
            # A ClusterError is retried: another worker, configured for it, may take the shard.
            raise ClusterError(
                f"the run is for cluster {name!r}, which this process does not know (it knows:"
                f" {known}); name it in the clusters file of {CLUSTERS_FILE_ENV}"
            )
        return target


def _settings_of(settings: RunSettings) -> KubernetesSettings:
    if settings.kubernetes is None:
        raise InvalidInput(
            Problem(
                "a Kubernetes run needs the cluster it runs on",
                FieldPath(("options", "kubernetes")),
            )
        )
    return settings.kubernetes


def _identity(cluster: KubernetesCluster) -> dict[str, Any]:
    """Which cluster, for ``runs.cluster``: never a credential, only names and the id."""
    found = cluster.api.read(NAMESPACES, "kube-system")
    uid = str(((found or {}).get("metadata") or {}).get("uid") or "")
    server = cluster.connection.server
    return {
        "target": cluster.connection.target.name,
        "server": server,
        "id": uid,
        "key": cluster_key(Backend.KUBERNETES.value, uid, server),
    }


def cleanup_on_close(backend: KubernetesBackend) -> Callable[[], None]:
    """Have every run this process closes cleaned up from its cluster; returns the undo."""

    def cleanup(sessions: sessionmaker[Session], run_id: int, status: RunStatus) -> None:
        report = backend.finish(sessions, run_id)
        if report is None:
            return
        log.info("run %s %s: deleted %s", run_id, status, ", ".join(report.deleted) or "nothing")
        for name, why in report.skipped:
            log.warning("run %s: not deleted %s: %s", run_id, name, why)

    return add_run_closed_hook(cleanup)


def sweep_clusters(
    targets: Mapping[str, ClusterTarget], *, now: datetime | None = None
) -> dict[str, SweepReport]:
    """The janitor on every cluster of ``targets``: expired run namespaces and Calico objects
    deleted. A cluster that cannot be used is reported (skipped, with why), not raised."""
    reports: dict[str, SweepReport] = {}
    for name, target in sorted(targets.items()):
        try:
            api = KubeApi(connect(target))
        except (InvalidInput, ClusterError) as err:
            reports[name] = SweepReport(skipped=((name, f"cannot use the cluster: {err}"),))
            continue
        try:
            reports[name] = sweep_expired(api, now=now)
        except ClusterError as err:
            reports[name] = SweepReport(skipped=((name, f"cannot sweep: {err}"),))
        finally:
            api.close()
    return reports


def kubernetes_problems(versions: Sequence[PolicyVersion], settings: RunSettings) -> list[Problem]:
    """Why a Kubernetes run of ``versions`` cannot be created: no cluster named, or policies
    a shared cluster cannot take (ownership labels selected, unsafe Calico objects)."""
    problems: list[Problem] = []
    if settings.kubernetes is None:
        problems.append(
            Problem(
                "required for a Kubernetes run: an object naming its cluster, e.g."
                ' {"cluster": "staging"}',
                FieldPath(("options", "kubernetes")),
            )
        )
    for version in versions:
        kubernetes = [p for p in version.policies if not isinstance(p, CalicoEntry)]
        problems += reserved_label_problems(kubernetes, version=version.name)
        problems += calico_problems(version.policies, version=version.name)
    return problems


def backend_from_environment(environ: Mapping[str, str] | None = None) -> KubernetesBackend | None:
    """The Kubernetes backend of a process configured by the environment, or None when no
    target is named. A clusters file that cannot be read is logged and leaves it None:
    simulated runs go on, Kubernetes shards are refused (another process may take them)."""
    env = os.environ if environ is None else environ
    if not any(
        env.get(name, "").strip() for name in (ENV_KUBECONFIG, ENV_CLUSTERS, CLUSTERS_FILE_ENV)
    ):
        return None
    try:
        targets = targets_from_environment(env)
    except InvalidInput as err:
        log.error("Kubernetes runs are not available in this process: %s", err)
        return None
    log.info("Kubernetes clusters of this process: %s", ", ".join(sorted(targets)) or "none")
    return KubernetesBackend(targets=targets)
