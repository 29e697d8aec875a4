"""Chaos scenarios for tests, built on the runner's workshop without the YAML loader.

The workshop (tests.runner.builders): backend in development (app=webapp,
role=backend, 80/TCP); sources unlabelled and frontend in development and
production. Under allow-pod-namespace only the development frontend gets in.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from service.cluster.faults import Delay, FaultConfig, PerturbationFaults
from service.cluster.simulated import SimulatedCluster
from service.scenario.chaos import ChaosAction, ChaosSpec, ChaosStep, WatchSpec
from service.scenario.model import Scenario
from tests.runner.builders import workshop

INTERVAL = 0.5


def chaos_workshop(
    *steps: ChaosAction | ChaosStep,
    baseline: str = "allow-pod-namespace",
    interval: float = INTERVAL,
    timeout: float = 30.0,
    hold: float = 1.0,
    watch: Sequence[WatchSpec] = (),
    max_watched: int = 64,
    allow_calico_restart: bool = False,
) -> Scenario:
    chaos_steps = tuple(
        s if isinstance(s, ChaosStep) else ChaosStep(f"step-{i + 1}", s)
        for i, s in enumerate(steps)
    )
    spec = ChaosSpec(
        baseline=baseline,
        steps=chaos_steps,
        interval_s=interval,
        timeout_s=timeout,
        hold_s=hold,
        watch=tuple(watch),
        max_watched=max_watched,
        allow_calico_restart=allow_calico_restart,
    )
    return replace(workshop(), chaos=spec)


def instant_cluster(
    *,
    seed: int = 0,
    programming: Delay | None = None,
    **perturbations: object,
) -> SimulatedCluster:
    """A simulator whose probes take no time: every round samples every cell at the
    round's tick, so measurements can be checked to the probe interval exactly."""
    faults = PerturbationFaults(
        programming=programming or Delay(),
        **perturbations,  # type: ignore[arg-type]
    )
    return SimulatedCluster(
        faults=FaultConfig(seed=seed), perturbations=faults, timeout_ms=0.0, exec_overhead_ms=0.0
    )
