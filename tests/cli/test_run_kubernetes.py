"""`netpol-drift run` on a Kubernetes cluster (the fake API server) and `netpol-drift janitor`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from service.cli import EXIT_INVALID, EXIT_OK, cli, main
from service.cli.janitor import janitor_command
from service.cli.run import run_command, validate_command
from service.cluster.kubernetes.api import NAMESPACES, KubeApi
from service.cluster.kubernetes.config import ClusterTarget, connect
from tests.cluster.kubernetes.fakeapi import Behaviour, FakeApiServer, Forbid

REPO = Path(__file__).resolve().parents[2]
WORKSHOP = REPO / "scenarios" / "calico-workshop.yaml"
FAST = ("--probe-timeout", "0.2", "--settle", "2", "--ready-timeout", "2")


@pytest.fixture(autouse=True)
def _commands() -> None:
    cli.add_command(run_command)
    cli.add_command(validate_command)
    cli.add_command(janitor_command)


def _cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_workshop_runs_on_the_cluster_a_kubeconfig_names(
    capsys: pytest.CaptureFixture[str], fake: FakeApiServer, kubeconfig: Path
) -> None:
    code, out, err = _cli(
        capsys, "run", str(WORKSHOP), "--kubeconfig", str(kubeconfig), "--format", "json", *FAST
    )
    assert code == EXIT_OK, err
    data = json.loads(out)
    assert data["backend"] == "kubernetes"
    assert data["cluster"].startswith("lab (http://127.0.0.1:")
    assert data["backend_versions"]["calico"] == "v3.29.1"
    assert data["versions"][1]["convergence"]["settled"] is True
    assert "deny-all: converged in" in err
    assert fake.managed_objects() == []


def test_environment_kubeconfig_selects_the_cluster(
    capsys: pytest.CaptureFixture[str], kubeconfig: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NETPOL_DRIFT_KUBECONFIG", str(kubeconfig))
    code, out, _ = _cli(
        capsys, "run", str(WORKSHOP), "--format", "json", "--version", "none", *FAST
    )
    assert code == EXIT_OK
    assert json.loads(out)["backend"] == "kubernetes"


def test_backend_simulated_wins_over_the_environment(
    capsys: pytest.CaptureFixture[str], kubeconfig: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NETPOL_DRIFT_KUBECONFIG", str(kubeconfig))
    code, out, _ = _cli(capsys, "run", str(WORKSHOP), "--format", "json", "--backend", "simulated")
    assert code == EXIT_OK
    assert json.loads(out)["backend"] == "simulated"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--probe-loss", "0.1"], "--probe-loss: only applies to the simulator"),
        (["--fail-open", "deny-all"], "--fail-open: only applies to the simulator"),
    ],
)
def test_simulator_faults_on_a_real_cluster_exit_2(
    capsys: pytest.CaptureFixture[str], kubeconfig: Path, args: list[str], message: str
) -> None:
    code, out, err = _cli(capsys, "run", str(WORKSHOP), "--kubeconfig", str(kubeconfig), *args)
    assert code == EXIT_INVALID
    assert out == ""
    assert message in err


def test_cluster_options_on_the_simulator_exit_2(
    capsys: pytest.CaptureFixture[str], kubeconfig: Path
) -> None:
    code, out, err = _cli(
        capsys, "run", str(WORKSHOP), "--backend", "simulated", "--kubeconfig", str(kubeconfig)
    )
    assert code == EXIT_INVALID
    assert out == ""
    assert "--kubeconfig: only applies to a Kubernetes cluster" in err


def test_missing_kubeconfig_exits_2(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code, out, err = _cli(capsys, "run", str(WORKSHOP), "--kubeconfig", str(tmp_path / "nope"))
    assert code == EXIT_INVALID
    assert out == ""
    assert "no kubeconfig file at" in err


def test_missing_permission_exits_2_naming_it(
    capsys: pytest.CaptureFixture[str], behaviour: Behaviour, kubeconfig: Path
) -> None:
    behaviour.forbidden.append(Forbid("create", "namespaces"))
    code, out, err = _cli(capsys, "run", str(WORKSHOP), "--kubeconfig", str(kubeconfig), *FAST)
    assert code == EXIT_INVALID
    assert out == ""
    assert "the cluster could not be used: forbidden" in err
    assert "create namespaces" in err


def test_named_cluster_from_the_clusters_file(
    capsys: pytest.CaptureFixture[str], kubeconfig: Path, tmp_path: Path
) -> None:
    clusters = tmp_path / "clusters.yaml"
    clusters.write_text(f"clusters:\n  staging: {{kubeconfig: {kubeconfig}, context: lab}}\n")
    code, out, err = _cli(
        capsys,
        "run",
        str(WORKSHOP),
        "--cluster",
        "staging",
        "--clusters-file",
        str(clusters),
        "--format",
        "json",
        "--version",
        "none",
        *FAST,
    )
    assert code == EXIT_OK, err
    assert json.loads(out)["cluster"].startswith("staging (")


def test_janitor_deletes_expired_run_namespaces(fake: FakeApiServer, kubeconfig: Path) -> None:
    api = KubeApi(connect(ClusterTarget("lab", kubeconfig)))
    for name, expires in (
        ("npd-dead01-a", "2020-01-01T00:00:00Z"),
        ("npd-live01-a", "2999-01-01T00:00:00Z"),
    ):
        api.create(
            NAMESPACES,
            {
                "metadata": {
                    "name": name,
                    "labels": {"netpol-drift.io/managed-by": "netpol-drift"},
                    "annotations": {"netpol-drift.io/expires-at": expires},
                }
            },
        )
    runner = CliRunner()
    dry = runner.invoke(janitor_command, ["--kubeconfig", str(kubeconfig), "--dry-run"])
    assert dry.exit_code == EXIT_OK
    assert "would have deleted npd-dead01-a" in dry.output
    done = runner.invoke(janitor_command, ["--kubeconfig", str(kubeconfig)])
    assert done.exit_code == EXIT_OK
    assert "deleted npd-dead01-a" in done.output
    assert "kept npd-live01-a (not expired)" in done.output
    assert api.read(NAMESPACES, "npd-dead01-a") is None
    assert api.read(NAMESPACES, "npd-live01-a") is not None
    api.close()
