"""The fake API server holds to the API's rules, as seen through the real kubernetes client."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client
from kubernetes.stream import stream

from service.cluster.kubernetes.api import (
    NAMESPACES,
    NETWORK_POLICIES,
    PODS,
    ConflictError,
    InvalidObjectError,
    KubeApi,
    RefusedError,
    UnreachableError,
)
from service.cluster.kubernetes.config import ClusterTarget, connect
from service.errors import ClusterError
from tests.cluster.kubernetes.fakeapi import Behaviour, FakeApiServer


@pytest.fixture
def api(target: ClusterTarget) -> Iterator[KubeApi]:
    gateway = KubeApi(connect(target))
    yield gateway
    gateway.close()


def _namespace(name: str, **labels: str) -> dict[str, Any]:
    return {"metadata": {"name": name, "labels": labels}}


def _pod(namespace: str, name: str, **labels: str) -> dict[str, Any]:
    return {
        "metadata": {"name": name, "namespace": namespace, "labels": labels},
        "spec": {
            "containers": [
                {
                    "name": "serve",
                    "image": "agnhost",
                    "ports": [{"containerPort": 80, "protocol": "TCP", "name": "http"}],
                }
            ]
        },
    }


def test_namespace_gets_its_name_label_uid_and_resource_version(api: KubeApi) -> None:
    created = api.create(NAMESPACES, _namespace("lab", team="a"))
    meta = created["metadata"]
    assert meta["labels"] == {"team": "a", "kubernetes.io/metadata.name": "lab"}
    assert meta["uid"]
    assert meta["resourceVersion"].isdigit()


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (_namespace("n" * 64), "metadata.name"),
        (_namespace("Not_A_Name"), "metadata.name"),
        ({"metadata": {}}, "metadata.name"),
        (_namespace("lab", **{"bad key!": "v"}), "metadata.labels[bad key!]"),
    ],
)
def test_invalid_namespace_is_rejected_with_422_naming_the_field(
    api: KubeApi, body: dict[str, Any], field: str
) -> None:
    with pytest.raises(InvalidObjectError) as caught:
        api.create(NAMESPACES, body)
    assert field in str(caught.value)


def test_pod_without_containers_is_rejected_with_422(api: KubeApi) -> None:
    api.create(NAMESPACES, _namespace("lab"))
    body = _pod("lab", "a")
    body["spec"]["containers"] = []
    with pytest.raises(InvalidObjectError, match=r"spec\.containers"):
        api.create(PODS, body)


def test_creating_an_existing_object_is_a_409(api: KubeApi) -> None:
    api.create(NAMESPACES, _namespace("lab"))
    with pytest.raises(ConflictError, match="already exists"):
        api.create(NAMESPACES, _namespace("lab"))


def test_objects_in_a_missing_namespace_are_not_found(api: KubeApi) -> None:
    with pytest.raises(ClusterError, match='namespaces "nowhere" not found'):
        api.create(PODS, _pod("nowhere", "a"))
    assert api.read(PODS, "a", "nowhere") is None
    assert api.delete(PODS, "a", "nowhere") is False


def test_replacing_with_a_stale_resource_version_is_a_409(api: KubeApi) -> None:
    api.create(NAMESPACES, _namespace("lab"))
    policy: dict[str, Any] = {
        "metadata": {"name": "p", "namespace": "lab"},
        "spec": {"podSelector": {}, "policyTypes": ["Ingress"]},
    }
    first = api.create(NETWORK_POLICIES, policy)
    policy["metadata"]["resourceVersion"] = first["metadata"]["resourceVersion"]
    second = api.replace(NETWORK_POLICIES, policy)
    assert int(second["metadata"]["resourceVersion"]) > int(first["metadata"]["resourceVersion"])
    with pytest.raises(ConflictError, match="has been modified"):
        api.replace(NETWORK_POLICIES, policy)  # still the first version's resourceVersion


def test_invalid_network_policy_is_rejected_by_the_api_rules(api: KubeApi) -> None:
    api.create(NAMESPACES, _namespace("lab"))
    policy = {
        "metadata": {"name": "p", "namespace": "lab"},
        "spec": {"podSelector": {}, "ingress": [{"ports": [{"port": 70000}]}]},
    }
    with pytest.raises(InvalidObjectError, match=r"spec.ingress\[0\].ports\[0\].port"):
        api.create(NETWORK_POLICIES, policy)


def test_delete_with_another_uid_is_refused_and_keeps_the_object(api: KubeApi) -> None:
    api.create(NAMESPACES, _namespace("lab"))
    with pytest.raises(ConflictError, match="Precondition failed"):
        api.delete(NAMESPACES, "lab", uid="not-its-uid")
    assert api.read(NAMESPACES, "lab") is not None


@pytest.mark.parametrize(
    ("selector", "names"),
    [
        ("team=a", ["a1", "a2"]),
        ("team!=a", ["b1", "none"]),
        ("team in (a,b)", ["a1", "a2", "b1"]),
        ("team notin (a)", ["b1", "none"]),
        ("!team", ["none"]),
        ("team,tier=web", ["a2"]),
    ],
)
def test_lists_filter_by_label_selector(api: KubeApi, selector: str, names: list[str]) -> None:
    api.create(NAMESPACES, _namespace("lab"))
    for name, labels in (
        ("a1", {"team": "a"}),
        ("a2", {"team": "a", "tier": "web"}),
        ("b1", {"team": "b"}),
        ("none", {}),
    ):
        api.create(PODS, _pod("lab", name, **labels))
    found = api.list(PODS, "lab", label_selector=selector)
    assert sorted(p["metadata"]["name"] for p in found) == names


def test_deleting_a_namespace_deletes_its_content_after_it_terminates(
    tmp_path: Path,
) -> None:
    with FakeApiServer(Behaviour(termination_delay_s=0.3)) as fake:
        api = KubeApi(connect(ClusterTarget("f", fake.write_kubeconfig(tmp_path / "kc"))))
        try:
            api.create(NAMESPACES, _namespace("lab"))
            api.create(PODS, _pod("lab", "a"))
            api.delete(NAMESPACES, "lab")
            terminating = api.read(NAMESPACES, "lab")
            assert terminating is not None
            assert terminating["status"]["phase"] == "Terminating"
            with pytest.raises(RefusedError, match="being terminated"):
                api.create(PODS, _pod("lab", "b"))
            fake.stopping.wait(0.4)
            assert api.read(NAMESPACES, "lab") is None
            assert api.read(PODS, "a", "lab") is None
        finally:
            api.close()


def test_typed_client_reads_the_fake_objects(api: KubeApi) -> None:
    api.create(NAMESPACES, _namespace("lab"))
    api.create(PODS, _pod("lab", "a", app="web"))
    with api.connection.new_client() as typed:
        pod = client.CoreV1Api(typed).read_namespaced_pod("a", "lab")
    assert pod.metadata is not None
    assert pod.status is not None
    assert pod.spec is not None
    assert pod.metadata.labels == {"app": "web"}
    assert str(pod.status.pod_ip).startswith("10.244.")
    assert [p.name for p in pod.spec.containers[0].ports or []] == ["http"]


def test_exec_speaks_the_channel_protocol_to_the_real_client(
    fake: FakeApiServer, api: KubeApi
) -> None:
    api.create(NAMESPACES, _namespace("lab"))
    api.create(PODS, _pod("lab", "a"))
    api.create(PODS, _pod("lab", "b"))
    target_ip = api.read(PODS, "b", "lab")["status"]["podIP"]  # type: ignore[index]
    with api.connection.new_client() as typed:
        ws = stream(
            client.CoreV1Api(typed).connect_get_namespaced_pod_exec,
            "a",
            "lab",
            command=["/agnhost", "connect", f"{target_ip}:81", "--timeout=1s", "--protocol=tcp"],
            stderr=True,
            stdin=False,
            stdout=True,
            tty=False,
            _preload_content=False,
        )
        ws.run_forever(timeout=5)
        assert ws.read_stderr().startswith("REFUSED")  # nothing serves 81 on b
        assert ws.returncode == 1
        ws.close()
        ws.sock.shutdown()  # websocket-client leaves the socket open after a server close
    assert fake.exec_calls[-1].command[:2] == ("/agnhost", "connect")


def test_wrong_token_is_401_and_the_error_never_shows_the_token(
    fake: FakeApiServer, tmp_path: Path
) -> None:
    kubeconfig = fake.write_kubeconfig(tmp_path / "kc", token="s3cr3t-wrong-token")
    api = KubeApi(connect(ClusterTarget("f", kubeconfig)))
    with pytest.raises(UnreachableError) as caught:
        api.list(NAMESPACES)
    api.close()
    assert "401" in str(caught.value)
    assert "s3cr3t" not in str(caught.value)
