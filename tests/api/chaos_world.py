"""Chaos experiments stored for the API tests: run on the simulator with known delays and
stored as ``netpol-drift chaos`` stores them (service.chaos.store_experiment).

The simulator answers probes instantly (tests.chaos.builders.instant_cluster), so
every round samples every cell at its tick and measured times are within one
probe interval of the injected truth.
"""

from __future__ import annotations

from pathlib import Path
from typing import Final

from sqlalchemy.orm import Session, sessionmaker

from service.chaos import ChaosOptions, ExperimentResult, run_experiment, store_experiment
from service.cluster.faults import Delay, DelayKind
from service.scenario.load import load_scenario
from service.scenario.model import Scenario
from tests.chaos.builders import instant_cluster

__all__ = [
    "ISOLATION_S",
    "POD_START_S",
    "PROGRAMMING_S",
    "WORKSHOP",
    "store_workshop_experiment",
    "workshop",
]

WORKSHOP: Final = Path(__file__).resolve().parents[2] / "scenarios" / "chaos-workshop.yaml"
PROGRAMMING_S: Final = 1.0
POD_START_S: Final = 2.0
ISOLATION_S: Final = 1.5


def workshop() -> Scenario:
    return load_scenario(WORKSHOP)


def store_workshop_experiment(
    sessions: sessionmaker[Session],
    *,
    scenario: Scenario | None = None,
    steps: tuple[str, ...] = (),
) -> tuple[int, ExperimentResult]:
    """An experiment of the chaos workshop (or ``scenario``) with known delays: policy
    changes programmed after PROGRAMMING_S, a recreated pod Ready after POD_START_S and
    isolated ISOLATION_S later. Its id and result."""
    chosen = scenario if scenario is not None else workshop()
    cluster = instant_cluster(
        programming=Delay(DelayKind.CONSTANT, PROGRAMMING_S),
        pod_start=Delay(DelayKind.CONSTANT, POD_START_S),
        isolation=Delay(DelayKind.CONSTANT, ISOLATION_S),
    )
    result = run_experiment(chosen, cluster=cluster, options=ChaosOptions(steps=steps))
    stored = store_experiment(sessions, result, scenario=chosen, options={"steps": list(steps)})
    return stored, result
