"""The Calico workshop, run for real on the cluster NETPOL_DRIFT_KUBECONFIG names.

Opt in with ``NETPOL_DRIFT_KUBECONFIG=~/.kube/config .venv/bin/pytest -m e2e``
(``NETPOL_DRIFT_CONTEXT`` picks a context). The cluster needs Calico (or any
CNI enforcing NetworkPolicy), nodes that can pull the agnhost image (or
``NETPOL_DRIFT_AGNHOST_IMAGE`` naming a mirror), and the permissions of
deploy/rbac.yaml. Each test creates its own run namespaces and removes them.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from service.cluster.kubernetes import (
    ClusterTarget,
    Images,
    KubernetesCluster,
    KubernetesOptions,
    ProbeMode,
    sweep_expired,
)
from service.cluster.kubernetes.api import NAMESPACES, KubeApi
from service.cluster.kubernetes.config import connect
from service.cluster.kubernetes.options import DEFAULT_AGNHOST
from service.runner import ConvergenceOptions, RunOptions, run_scenario
from service.scenario.load import load_scenario

REPO = Path(__file__).resolve().parents[2]
TARGET = ClusterTarget.from_environment()

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(TARGET is None, reason="set NETPOL_DRIFT_KUBECONFIG to run on a cluster"),
]


@pytest.fixture
def target() -> ClusterTarget:
    assert TARGET is not None
    return TARGET


@pytest.fixture
def api(target: ClusterTarget) -> Iterator[KubeApi]:
    gateway = KubeApi(connect(target))
    yield gateway
    gateway.close()


def _options(mode: ProbeMode) -> KubernetesOptions:
    image = os.environ.get("NETPOL_DRIFT_AGNHOST_IMAGE", DEFAULT_AGNHOST)
    return KubernetesOptions(probe_mode=mode, images=Images(agnhost=image), ttl_s=3600.0)


def _wait_gone(api: KubeApi, run_id: str, seconds: float = 180.0) -> list[str]:
    deadline = time.monotonic() + seconds
    left: list[str] = []
    while time.monotonic() < deadline:
        left = [
            ns["metadata"]["name"]
            for ns in api.list(NAMESPACES, label_selector=f"netpol-drift.io/run={run_id}")
        ]
        if not left:
            break
        time.sleep(2)
    return left


@pytest.mark.parametrize("mode", [ProbeMode.POD_IP, ProbeMode.SERVICE_NAME])
def test_workshop_holds_on_the_cluster(
    target: ClusterTarget, api: KubeApi, mode: ProbeMode
) -> None:
    scenario = load_scenario(REPO / "scenarios" / "calico-workshop.yaml")
    with KubernetesCluster(target=target, options=_options(mode)) as cluster:
        run_id = cluster.run_id
        result = run_scenario(
            scenario,
            cluster=cluster,
            options=RunOptions(attempts=3, retry_interval_s=1.0),
            convergence=ConvergenceOptions(settle_s=90.0),
        )
    failures = [
        f"{r.cell}: expected {r.expected}, saw {r.observed} ({r.detail})"
        for r in result.cells
        if r.regression
    ]
    assert result.ok, "\n".join(failures)
    checks = [c for r in result.cells for c in r.checks]
    assert len(checks) == 7
    assert all(c.held for c in checks)
    versions = dict(result.backend_versions)
    assert versions["calico"] != "", versions
    for version in result.versions[1:]:
        assert version.convergence is not None, version.version
        assert version.convergence.settled, (version.version, version.convergence.note)
    assert _wait_gone(api, run_id) == []


def test_janitor_finds_nothing_of_ours_expired(api: KubeApi) -> None:
    report = sweep_expired(api, dry_run=True)
    for name, why in report.skipped:
        assert name
        assert why
