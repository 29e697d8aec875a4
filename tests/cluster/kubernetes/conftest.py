"""A fake API server per test, a kubeconfig pointing at it (context ``fake``), and fast backend
options; the fake's fixtures are tests/cluster/kubernetes/fake_cluster.py's."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from service.cluster.kubernetes import ClusterTarget, KubernetesCluster, KubernetesOptions
from tests.cluster.kubernetes.fake_cluster import behaviour, fake, kubeconfig

__all__ = ["behaviour", "fake", "kubeconfig"]

# Short deadlines: blocked probes cost the probe timeout, and the fake is local.
FAST = KubernetesOptions(
    run_id="t3st01",
    probe_timeout_s=0.2,
    poll_interval_s=0.02,
    ready_timeout_s=2.0,
    exec_grace_s=3.0,
)

ClusterFactory = Callable[..., KubernetesCluster]


@pytest.fixture
def kubeconfig_context() -> str:
    """The kubeconfig's context is ``fake``, the name a target takes when none is given."""
    return "fake"


@pytest.fixture
def target(kubeconfig: Path) -> ClusterTarget:
    return ClusterTarget(name="fake", kubeconfig=kubeconfig)


@pytest.fixture
def make_cluster(target: ClusterTarget) -> Iterator[ClusterFactory]:
    """Clusters with FAST options (overridable by keyword); each is torn down at the end."""
    made: list[KubernetesCluster] = []

    def make(**changes: object) -> KubernetesCluster:
        cluster = KubernetesCluster(target=target, options=replace(FAST, **changes))  # type: ignore[arg-type]
        made.append(cluster)
        return cluster

    yield make
    for cluster in made:
        cluster.tear_down()
        cluster.close()
