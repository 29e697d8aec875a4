"""Cluster targets and credentials: from files and the environment, never logged or stored."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest

from service.cluster.kubernetes import KubernetesCluster
from service.cluster.kubernetes.config import (
    ClusterTarget,
    connect,
    load_targets,
    redact,
    resolve_target,
)
from service.errors import InvalidInput
from service.runner import RunOptions, run_scenario
from tests.cluster.kubernetes.conftest import FAST
from tests.cluster.kubernetes.fakeapi import Behaviour, FakeApiServer, Forbid
from tests.runner.builders import workshop

SECRET = "s3cr3t-token-3f9a1c-never-print"


def test_environment_names_the_kubeconfig_and_context() -> None:
    env = {"NETPOL_DRIFT_KUBECONFIG": "/etc/kc", "NETPOL_DRIFT_CONTEXT": "staging"}
    assert ClusterTarget.from_environment(env) == ClusterTarget(
        name="staging", kubeconfig=Path("/etc/kc"), context="staging"
    )
    assert ClusterTarget.from_environment({}) is None


def test_clusters_file_names_targets_with_paths_relative_to_it(tmp_path: Path) -> None:
    path = tmp_path / "clusters.yaml"
    path.write_text(
        "clusters:\n"
        "  staging: {kubeconfig: kube/staging.yaml, context: stg}\n"
        "  production: {kubeconfig: /etc/prod.yaml}\n"
        "  here: {in-cluster: true}\n"
    )
    assert load_targets(path) == {
        "staging": ClusterTarget("staging", tmp_path / "kube" / "staging.yaml", "stg"),
        "production": ClusterTarget("production", Path("/etc/prod.yaml")),
        "here": ClusterTarget("here", in_cluster=True),
    }


def test_bad_clusters_file_lists_every_problem_with_file_and_field(tmp_path: Path) -> None:
    path = tmp_path / "clusters.yaml"
    path.write_text(
        "clusters:\n  a: {kubeconfig: 3}\n  b: {in-cluster: true, context: x}\n  c: {token: abc}\n"
    )
    with pytest.raises(InvalidInput) as caught:
        load_targets(path)
    problems = {str(p.path): p for p in caught.value.problems}
    assert set(problems) == {"clusters.a.kubeconfig", "clusters.b.in-cluster", "clusters.c"}
    assert all(p.file == str(path) for p in problems.values())
    assert "unknown fields token" in problems["clusters.c"].message


def test_named_cluster_comes_from_the_clusters_file(tmp_path: Path) -> None:
    path = tmp_path / "clusters.yaml"
    path.write_text("clusters:\n  staging: {kubeconfig: /k, context: stg}\n")
    assert resolve_target(cluster="staging", clusters_file=path).context == "stg"
    with pytest.raises(InvalidInput, match=r"no cluster 'prod'.*it names: staging"):
        resolve_target(cluster="prod", clusters_file=path)
    with pytest.raises(InvalidInput, match="needs a clusters file"):
        resolve_target(cluster="staging")
    with pytest.raises(InvalidInput, match="either --cluster or"):
        resolve_target(cluster="staging", clusters_file=path, context="x")


def test_kubeconfig_target_is_named_after_its_context(kubeconfig: Path) -> None:
    assert resolve_target(kubeconfig=kubeconfig).name == "fake"  # its current context
    assert resolve_target(kubeconfig=Path("/k/x.yaml"), context="admin@stg").name == "admin-stg"
    assert resolve_target(kubeconfig=Path("/nowhere/x.yaml")).name == "default"
    assert resolve_target(in_cluster=True) == ClusterTarget("in-cluster", in_cluster=True)


def test_missing_kubeconfig_is_invalid_input(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput, match="no kubeconfig file at"):
        connect(ClusterTarget("x", tmp_path / "nope"))


def test_unknown_context_is_invalid_input_naming_the_context(
    fake: FakeApiServer, kubeconfig: Path
) -> None:
    with pytest.raises(InvalidInput) as caught:
        connect(ClusterTarget("x", kubeconfig, context="elsewhere"))
    assert [str(p.path) for p in caught.value.problems] == ["context"]


def test_in_cluster_outside_a_pod_is_invalid_input(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput, match="is this process running in a pod"):
        connect(ClusterTarget("here", in_cluster=True), environ={})


def test_in_cluster_reads_the_service_account_files(tmp_path: Path) -> None:
    token, ca = tmp_path / "token", tmp_path / "ca.crt"
    token.write_text(SECRET)
    ca.write_text("-----BEGIN CERTIFICATE-----\n")
    connection = connect(
        ClusterTarget("here", in_cluster=True),
        environ={"KUBERNETES_SERVICE_HOST": "10.96.0.1", "KUBERNETES_SERVICE_PORT": "443"},
        token_file=str(token),
        ca_file=str(ca),
    )
    assert connection.server == "https://10.96.0.1:443"
    assert SECRET not in repr(connection)


@pytest.mark.parametrize(
    "text",
    [
        f"Authorization: Bearer {SECRET}",
        f'{{"token": "{SECRET}"}}',
        f"password={SECRET}",
        "header eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJl trailer",
    ],
)
def test_redaction_removes_anything_credential_shaped(text: str) -> None:
    redacted = redact(text)
    assert SECRET not in redacted
    assert "eyJzdWIiOiJ4In0" not in redacted
    assert "<redacted>" in redacted


def test_credentials_never_reach_logs_results_or_errors(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    behaviour = Behaviour(token=SECRET, forbidden=[Forbid("create", "pods/exec")])
    with FakeApiServer(behaviour) as fake:
        target = ClusterTarget("fake", fake.write_kubeconfig(tmp_path / "kc"))
        with KubernetesCluster(target=target, options=FAST) as cluster:
            result = run_scenario(workshop(), cluster=cluster, options=RunOptions(attempts=1))
            seen = repr(cluster.connection) + repr(cluster.api.connection.target)
    assert result.counts.errors == result.counts.cells  # every exec was refused
    assert SECRET not in json.dumps(result.to_dict())
    assert SECRET not in caplog.text
    assert SECRET not in seen
