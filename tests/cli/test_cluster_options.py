"""The backend options `netpol-drift run` and `netpol-drift chaos` share: declared once
(`kubernetes_options`), held once (`ClusterArgs`), and reaching the cluster from either
command, stored or not."""

from __future__ import annotations

import json
from dataclasses import asdict, fields
from pathlib import Path
from typing import Any

import click
import pytest
from click.testing import CliRunner

from service.cli import EXIT_OK, cli, main
from service.cli.chaos import chaos_command
from service.cli.cluster_options import KUBERNETES_OPTIONS, ClusterArgs, kubernetes_options
from service.cli.run import run_command
from tests.cluster.kubernetes.fakeapi import FakeApiServer

SCENARIOS = Path(__file__).resolve().parents[2] / "scenarios"
CLUSTER_FIELDS = [f.name for f in fields(ClusterArgs)]


@pytest.fixture(autouse=True)
def _commands() -> None:
    cli.add_command(run_command)
    cli.add_command(chaos_command)


def _declared(command: click.Command) -> dict[str, tuple[Any, ...]]:
    """How each cluster option of ``command`` is spelled, defaulted, typed and explained."""
    return {
        p.name: (p.opts, p.default, p.envvar, getattr(p, "help", None), p.type.name)
        for p in command.params
        if p.name in CLUSTER_FIELDS
    }


def test_run_and_chaos_offer_the_same_cluster_options() -> None:
    run, chaos = _declared(run_command), _declared(chaos_command)
    assert list(run) == CLUSTER_FIELDS
    assert run == chaos


def test_only_backend_and_settle_also_apply_to_the_simulator() -> None:
    assert set(CLUSTER_FIELDS) - set(KUBERNETES_OPTIONS) == {"backend", "settle"}


def test_split_takes_the_cluster_options_and_leaves_the_commands_own() -> None:
    @click.command()
    @click.option("--seed", type=int, default=0)
    @kubernetes_options
    def command(**kwargs: Any) -> None:
        cluster_args, own = ClusterArgs.split(kwargs)
        given = {k: str(v) if isinstance(v, Path) else v for k, v in asdict(cluster_args).items()}
        click.echo(json.dumps({"cluster": given, "own": own}))

    result = CliRunner().invoke(
        command,
        ["--seed", "3", "--kubeconfig", "kc.yaml", "--namespace-prefix", "chx", "--settle", "0"],
    )
    assert result.exit_code == 0, result.output
    parsed = json.loads(result.output)
    assert parsed["own"] == {"seed": 3}
    assert parsed["cluster"] == {
        "backend": None,
        "kubeconfig": "kc.yaml",
        "context": None,
        "in_cluster": False,
        "cluster_name": None,
        "clusters_file": None,
        "probe_mode": "pod-ip",
        "probe_timeout": 1.0,
        "settle": 0.0,
        "namespace_prefix": "chx",
        "agnhost_image": "registry.k8s.io/e2e-test-images/agnhost:2.53",
        "ready_timeout": 180.0,
        "exec_concurrency": 16,
    }


RUN = ("run", str(SCENARIOS / "calico-workshop.yaml"), "--version", "deny-all", "--settle", "2")
CHAOS = (
    "chaos",
    str(SCENARIOS / "chaos-workshop.yaml"),
    "--step",
    "churn-to-allow-pod",
    "--hold",
    "0.2",
    "--interval",
    "0.1",
    "--timeout",
    "10",
)


@pytest.mark.parametrize(
    "command",
    [(*RUN, "--no-store"), RUN, (*CHAOS, "--no-store")],
    ids=["run-unstored", "run-stored", "chaos"],
)
def test_namespace_prefix_and_exec_concurrency_reach_the_cluster(
    capsys: pytest.CaptureFixture[str],
    fake: FakeApiServer,
    kubeconfig: Path,
    command: tuple[str, ...],
) -> None:
    code = main(
        [
            *command,
            "--kubeconfig",
            str(kubeconfig),
            "--probe-timeout",
            "0.2",
            "--ready-timeout",
            "2",
            "--namespace-prefix",
            "chx",
            "--exec-concurrency",
            "1",
        ]
    )
    err = capsys.readouterr().err
    assert code == EXIT_OK, err
    probed_from = {e.namespace for e in fake.exec_calls}
    assert probed_from
    assert all(n.startswith("chx-") for n in probed_from), probed_from
    # The workshop has four source pods: left to the default they are probed at once.
    assert fake.most_execs_at_once() == 1
    assert fake.managed_objects() == []
