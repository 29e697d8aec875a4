"""Clusters: the one interface for simulated and real runs, and its implementations.

:mod:`service.cluster.base` defines :class:`Cluster`, the seam every run goes
through; :mod:`service.cluster.simulated` answers probes from the engine with
deterministic fault injection (:mod:`service.cluster.faults`). The Kubernetes
backend will live in ``service.cluster.kubernetes``, the only module importing
the kubernetes client, so nothing here imports it.
"""

from service.cluster.base import (
    Cluster,
    ClusterInfo,
    Perturbation,
    ProbeRequest,
    ProbeResult,
    RawOutcome,
)
from service.cluster.clock import Clock, SimulatedClock, SystemClock
from service.cluster.faults import (
    BlackoutMode,
    Delay,
    EnforcementWindow,
    FaultConfig,
    PerturbationFaults,
    WindowMode,
)
from service.cluster.simulated import SimulatedCluster

__all__ = [
    "BlackoutMode",
    "Clock",
    "Cluster",
    "ClusterInfo",
    "Delay",
    "EnforcementWindow",
    "FaultConfig",
    "Perturbation",
    "PerturbationFaults",
    "ProbeRequest",
    "ProbeResult",
    "RawOutcome",
    "SimulatedClock",
    "SimulatedCluster",
    "SystemClock",
    "WindowMode",
]
