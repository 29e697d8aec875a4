"""`netpol-drift run` on a Kubernetes cluster stores its run, and prints what it always printed."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from service.cli import EXIT_OK, EXIT_REGRESSION, cli, main
from service.cli.run import run_command
from service.store import (
    Backend,
    CellResult,
    Run,
    RunStatus,
    RunVersion,
    Trigger,
    make_engine,
    make_session_factory,
)
from tests.cluster.kubernetes.fakeapi import FakeApiServer

SCENARIOS = Path(__file__).resolve().parents[2] / "scenarios"
FAST = ("--probe-timeout", "0.2", "--settle", "2", "--ready-timeout", "2")
STORED = re.compile(r"stored as run (\d+) in (\S+)")


@pytest.fixture(autouse=True)
def _commands() -> None:
    cli.add_command(run_command)


def _cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def _stored(database: Path, run_id: int) -> tuple[Run, int, dict[str, RunVersion]]:
    engine = make_engine(f"sqlite:///{database}")
    try:
        with make_session_factory(engine)() as session:
            cells = len(
                list(session.scalars(select(CellResult).where(CellResult.run_id == run_id)))
            )
            versions = session.scalars(select(RunVersion).where(RunVersion.run_id == run_id))
            return session.get_one(Run, run_id), cells, {v.version: v for v in versions}
    finally:
        engine.dispose()


def _verdicts(report: dict[str, Any]) -> list[tuple[str, str, str]]:
    return [
        (version["version"], cell["key"], cell["observed"])
        for version in report["versions"]
        for cell in version["cells"]
    ]


def test_a_kubernetes_run_is_stored_naming_its_cluster(
    capsys: pytest.CaptureFixture[str],
    fake: FakeApiServer,
    kubeconfig: Path,
    store_database: Path,
) -> None:
    scenario = SCENARIOS / "calico-workshop-v3.yaml"
    code, out, err = _cli(
        capsys, "run", str(scenario), "--kubeconfig", str(kubeconfig), "--format", "json", *FAST
    )
    assert code == EXIT_OK, err
    found = STORED.search(err)
    assert found is not None, err
    run, cells, versions = _stored(store_database, int(found.group(1)))
    assert (run.backend, run.trigger, run.status) == (
        Backend.KUBERNETES,
        Trigger.CLI,
        RunStatus.SUCCEEDED,
    )
    assert cells == run.planned_cells > 0
    assert run.options["kubernetes"]["cluster"] == "lab"
    assert str(kubeconfig) not in json.dumps(run.options)
    assert run.cluster is not None
    assert run.cluster["target"] == "lab"
    assert all(v.convergence_ms is not None for v in versions.values())
    assert "deny-all: converged in" in err
    report = json.loads(out)
    assert report["cluster"].startswith("lab (http://127.0.0.1:")
    assert report["backend_versions"]["calico"] == "v3.29.1"
    assert fake.managed_objects() == []


@pytest.mark.parametrize("break_expectation", [False, True], ids=["holds", "regresses"])
def test_stored_and_unstored_runs_print_the_same_report_and_exit_code(
    capsys: pytest.CaptureFixture[str],
    kubeconfig: Path,
    tmp_path: Path,
    break_expectation: bool,
) -> None:
    folder = tmp_path / "scenarios"
    shutil.copytree(SCENARIOS / "calico-workshop", folder / "calico-workshop")
    text = (SCENARIOS / "calico-workshop.yaml").read_text(encoding="utf-8")
    if break_expectation:
        # 1.3 says the unlabelled pod gets through without a policy; claim it does not.
        text = text.replace("expect: allowed", "expect: blocked", 1)
    scenario = folder / "calico-workshop.yaml"
    scenario.write_text(text, encoding="utf-8")
    common = ("run", str(scenario), "--kubeconfig", str(kubeconfig), "--format", "json", *FAST)
    stored_code, stored_out, stored_err = _cli(capsys, *common)
    plain_code, plain_out, plain_err = _cli(capsys, *common, "--no-store")
    assert STORED.search(stored_err) is not None
    assert STORED.search(plain_err) is None
    want = EXIT_REGRESSION if break_expectation else EXIT_OK
    assert (stored_code, plain_code) == (want, want)
    stored, plain = json.loads(stored_out), json.loads(plain_out)
    assert _verdicts(stored) == _verdicts(plain)
    assert stored["ok"] == plain["ok"]
    assert stored["summary"] == plain["summary"]
    assert stored["cluster"] == plain["cluster"]
