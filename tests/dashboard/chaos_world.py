"""Chaos experiments for the dashboard's tests and screenshots, stored the way people store them:
``netpol-drift chaos`` (the command, in this process) on the simulator, into a database.

- the workshop (scenarios/chaos-workshop.yaml) with the delays docs/chaos.md
  rehearses: a 2 s pod start and up to 3 s before a new pod's isolation is
  programmed, so rescheduling the backend opens a fail-open window;
- the same workshop on a quiet simulator (every step holds), earlier, so the
  scenario has a history;
- ``chaos-xss``: the workshop renamed, its first step described with HTML and
  script, to be shown as text;
- ``chaos-broken``: the workshop renamed, run where the first step's change and
  its rollback both take effect and then fail (the answer lost): the step fails,
  the cluster is in doubt and every later step is skipped. The command cannot
  inject that, so this one is run and stored the way the command does it.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from click.testing import CliRunner

from service.chaos import run_experiment, store_experiment
from service.cli.chaos import SIMULATED_EXEC_MS, SIMULATED_PROBE_TIMEOUT_MS, chaos_command
from service.cluster.faults import FaultConfig, PerturbationFaults
from service.cluster.simulated import SimulatedCluster
from service.scenario.load import load_scenario
from service.store import make_engine, make_session_factory
from service.store.engine import DATABASE_URL_ENV
from tests.dashboard.world import BOLD, SCENARIOS, SCRIPT

__all__ = ["DELAYS", "POD_START_S", "WORKSHOP", "ChaosWorld", "add_chaos", "run_chaos"]

WORKSHOP: Final = SCENARIOS / "chaos-workshop.yaml"
POD_START_S: Final = 2.0
DELAYS: Final = (
    "--programming-delay",
    "lognormal:1.5,0.5",
    "--isolation-delay",
    "uniform:0.5,3",
    "--pod-start",
    str(POD_START_S),
)
XSS_DESCRIPTION: Final = f"{SCRIPT} {BOLD}"
_STORED: Final = re.compile(r"stored as chaos experiment (\d+) in ")


@dataclass(frozen=True, slots=True)
class ChaosWorld:
    """Experiment ids (``xss`` and ``broken`` 0 when not stored)."""

    quiet: int
    delayed: int
    xss: int
    broken: int


def run_chaos(url: str, scenario: Path, *args: str) -> int:
    """Run ``netpol-drift chaos SCENARIO ARGS`` storing into ``url``; the experiment's id."""
    result = CliRunner().invoke(
        chaos_command, [str(scenario), *args], env={DATABASE_URL_ENV: url}, catch_exceptions=False
    )
    assert result.exit_code in (0, 1), result.output
    found = _STORED.search(result.stderr)
    assert found is not None, result.stderr
    return int(found.group(1))


def _renamed(tmp: Path, name: str, text: str) -> Path:
    """The workshop's text as scenario ``name``, next to a copy of its policies."""
    text = text.replace("name: chaos-workshop", f"name: {name}", 1)
    path = tmp / f"{name}.yaml"
    path.write_text(text, encoding="utf-8")
    (tmp / "calico-workshop").mkdir(exist_ok=True)
    for policy in (SCENARIOS / "calico-workshop").iterdir():
        (tmp / "calico-workshop" / policy.name).write_bytes(policy.read_bytes())
    return path


def xss_scenario(tmp: Path) -> Path:
    text = WORKSHOP.read_text(encoding="utf-8")
    old = "      description: Roll the previous policy out again; its rollback tightens it back."
    assert old in text
    # A JSON string is a YAML double-quoted scalar.
    text = text.replace(old, f"      description: {json.dumps(XSS_DESCRIPTION)}", 1)
    return _renamed(tmp, "chaos-xss", text)


def store_broken(url: str, tmp: Path) -> int:
    """``chaos-broken``: change 2 (the first step's apply) and 3 (its rollback) fail."""
    path = _renamed(tmp, "chaos-broken", WORKSHOP.read_text(encoding="utf-8"))
    scenario = load_scenario(path)
    cluster = SimulatedCluster(
        faults=FaultConfig(seed=0),
        perturbations=PerturbationFaults(failing_changes=frozenset({2, 3})),
        timeout_ms=SIMULATED_PROBE_TIMEOUT_MS,
        exec_overhead_ms=SIMULATED_EXEC_MS,
    )
    result = run_experiment(scenario, cluster=cluster)
    engine = make_engine(url)
    try:
        return store_experiment(
            make_session_factory(engine),
            result,
            scenario=scenario,
            source_text=path.read_text(encoding="utf-8"),
            options={"seed": 0, "perturbations": str(cluster.perturbation_faults)},
        )
    finally:
        engine.dispose()


def add_chaos(url: str, tmp: Path, *, odd: bool = True) -> ChaosWorld:
    """The experiments, stored into ``url``; without ``odd`` (screenshots), only the
    workshop's."""
    quiet = run_chaos(url, WORKSHOP)
    delayed = run_chaos(url, WORKSHOP, *DELAYS)
    if not odd:
        return ChaosWorld(quiet=quiet, delayed=delayed, xss=0, broken=0)
    xss = run_chaos(url, xss_scenario(tmp), "--step", "churn-to-allow-pod")
    return ChaosWorld(quiet=quiet, delayed=delayed, xss=xss, broken=store_broken(url, tmp))
