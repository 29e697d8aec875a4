"""Which cluster and which Calico a run ran on, read from the cluster itself."""

from __future__ import annotations

from pathlib import Path

import pytest

from service.cluster.kubernetes.api import KubeApi
from service.cluster.kubernetes.config import ClusterTarget, connect
from service.cluster.kubernetes.identity import calico_version, describe_cluster, image_tag
from tests.cluster.kubernetes.fakeapi import Behaviour, FakeApiServer, Forbid


def _calico(behaviour: Behaviour, tmp_path: Path) -> tuple[str, str]:
    with FakeApiServer(behaviour) as fake:
        api = KubeApi(connect(ClusterTarget("f", fake.write_kubeconfig(tmp_path / "kc"))))
        try:
            return calico_version(api)
        finally:
            api.close()


def test_calico_version_comes_from_cluster_information(tmp_path: Path) -> None:
    behaviour = Behaviour(calico_version="v3.30.2", calico_node_image="calico/node:v3.29.0")
    assert _calico(behaviour, tmp_path) == ("v3.30.2", "ClusterInformation default")


def test_calico_version_falls_back_to_the_calico_node_image(tmp_path: Path) -> None:
    behaviour = Behaviour(calico_version=None, calico_node_image="quay.io/calico/node:v3.28.1")
    assert _calico(behaviour, tmp_path) == ("v3.28.1", "DaemonSet calico-system/calico-node")


def test_forbidden_cluster_information_falls_back_too(tmp_path: Path) -> None:
    behaviour = Behaviour(forbidden=[Forbid("get", "clusterinformations")])
    version, where = _calico(behaviour, tmp_path)
    assert (version, where) == ("v3.29.1", "DaemonSet calico-system/calico-node")


def test_calico_version_is_unknown_with_the_reasons_when_nothing_says(tmp_path: Path) -> None:
    behaviour = Behaviour(
        calico_version=None,
        calico_node_image=None,
        forbidden=[Forbid("get", "daemonsets", "kube-system")],
    )
    version, why = _calico(behaviour, tmp_path)
    assert version == "unknown"
    assert "no ClusterInformation default" in why
    assert "kube-system/calico-node: forbidden" in why


def test_description_names_target_server_and_cluster_id(
    fake: FakeApiServer, target: ClusterTarget
) -> None:
    connection = connect(target)
    api = KubeApi(connection)
    info = describe_cluster(api, target="staging", server=connection.server)
    api.close()
    assert info.backend == "kubernetes"
    assert info.cluster == f"staging ({fake.url}, cluster id 5f0c3c2e-0000-4000-8000-00000000c1d0)"
    assert dict(info.versions) == {
        "kubernetes": "v1.31.2-fake",
        "calico": "v3.29.1",
        "netpol-drift": "0.1.0",
    }


@pytest.mark.parametrize(
    ("image", "tag"),
    [
        ("docker.io/calico/node:v3.29.1", "v3.29.1"),
        ("calico/node:v3.29.1@sha256:abc", "v3.29.1"),
        ("registry.local:5000/calico/node:v3.27.0", "v3.27.0"),
        ("registry.local:5000/calico/node", None),
        ("calico/node@sha256:abc", None),
    ],
)
def test_image_tag(image: str, tag: str | None) -> None:
    assert image_tag(image) == tag
