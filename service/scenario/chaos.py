"""A scenario's chaos section as resolved values: steps, their actions, what is watched.

Loaded from the ``chaos`` section of a scenario file
(:mod:`service.scenario.chaos_schema`, checked by
:mod:`service.scenario.chaos_resolve`) and executed by :mod:`service.chaos`.
Actions name things the way the scenario does (namespace, target and source
names); which pod that is on a cluster is the planner's and the backend's job.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from service.policy.model import Direction, Labels, LabelSelector, NetworkPolicy, Protocol

__all__ = [
    "DEFAULT_DENY_NAME",
    "ChaosAction",
    "ChaosSpec",
    "ChaosStep",
    "DefaultDeny",
    "LabelEdit",
    "LabelNamespace",
    "LabelPod",
    "RecreatePods",
    "RestartCalico",
    "StepKind",
    "SwitchVersion",
    "WatchSpec",
]

DEFAULT_DENY_NAME = "netpol-drift-chaos-deny"


class StepKind(StrEnum):
    SWITCH_VERSION = "switch_version"
    LABEL_NAMESPACE = "label_namespace"
    LABEL_POD = "label_pod"
    RECREATE_PODS = "recreate_pods"
    DEFAULT_DENY = "default_deny"
    RESTART_CALICO = "restart_calico"


@dataclass(frozen=True, slots=True)
class LabelEdit:
    """Labels to set (add or change) and keys to remove."""

    set: Labels = field(default_factory=Labels)
    remove: frozenset[str] = frozenset()

    def applied_to(self, labels: Labels) -> Labels:
        kept = {k: v for k, v in labels.items() if k not in self.remove}
        return Labels({**kept, **self.set})

    def __str__(self) -> str:
        parts = [f"{k}={v}" for k, v in self.set.items()]
        parts.extend(f"-{k}" for k in sorted(self.remove))
        return ",".join(parts)


@dataclass(frozen=True, slots=True)
class SwitchVersion:
    """Apply another policy version (churn); the rollback applies the one before."""

    version: str

    @property
    def kind(self) -> StepKind:
        return StepKind.SWITCH_VERSION

    def __str__(self) -> str:
        return f"switch to version {self.version}"


@dataclass(frozen=True, slots=True)
class LabelNamespace:
    namespace: str
    edit: LabelEdit

    @property
    def kind(self) -> StepKind:
        return StepKind.LABEL_NAMESPACE

    def __str__(self) -> str:
        return f"relabel namespace {self.namespace} ({self.edit})"


@dataclass(frozen=True, slots=True)
class LabelPod:
    """A target's pod (``target``), or the pod probing for ``source`` in ``namespace``."""

    edit: LabelEdit
    target: str | None = None
    source: str | None = None
    namespace: str | None = None

    @property
    def kind(self) -> StepKind:
        return StepKind.LABEL_POD

    @property
    def subject(self) -> str:
        return f"target {self.target}" if self.target else f"source {self.namespace}/{self.source}"

    def __str__(self) -> str:
        return f"relabel the pod of {self.subject} ({self.edit})"


@dataclass(frozen=True, slots=True)
class RecreatePods:
    targets: tuple[str, ...]

    @property
    def kind(self) -> StepKind:
        return StepKind.RECREATE_PODS

    def __str__(self) -> str:
        return f"delete and recreate the pods of {', '.join(self.targets)}"


@dataclass(frozen=True, slots=True)
class DefaultDeny:
    namespaces: tuple[str, ...]
    directions: frozenset[Direction] = frozenset({Direction.INGRESS})
    name: str = DEFAULT_DENY_NAME

    @property
    def kind(self) -> StepKind:
        return StepKind.DEFAULT_DENY

    def policies(self) -> tuple[NetworkPolicy, ...]:
        """One NetworkPolicy per namespace: every pod, the listed types, no rules."""
        return tuple(
            NetworkPolicy(
                namespace=namespace,
                name=self.name,
                pod_selector=LabelSelector(),
                policy_types=self.directions,
            )
            for namespace in self.namespaces
        )

    def __str__(self) -> str:
        types = "+".join(d.value for d in Direction if d in self.directions)
        return f"default-deny {types} in {', '.join(self.namespaces)}"


@dataclass(frozen=True, slots=True)
class RestartCalico:
    @property
    def kind(self) -> StepKind:
        return StepKind.RESTART_CALICO

    def __str__(self) -> str:
        return "restart calico-node"


ChaosAction = SwitchVersion | LabelNamespace | LabelPod | RecreatePods | DefaultDeny | RestartCalico


@dataclass(frozen=True, slots=True)
class ChaosStep:
    """``timeout_s`` None: the section's timeout."""

    name: str
    action: ChaosAction
    description: str = ""
    timeout_s: float | None = None

    @property
    def kind(self) -> StepKind:
        return self.action.kind


@dataclass(frozen=True, slots=True)
class WatchSpec:
    """A selection of cells: each field that is set narrows it (None: any)."""

    source_namespace: str | None = None
    source_labels: Labels | None = None
    target: str | None = None
    port: int | str | None = None
    protocol: Protocol | None = None


@dataclass(frozen=True, slots=True)
class ChaosSpec:
    """The chaos section. ``watch`` empty: every probed cell, up to ``max_watched``."""

    baseline: str
    steps: tuple[ChaosStep, ...]
    interval_s: float = 1.0
    timeout_s: float = 60.0
    hold_s: float = 2.0
    watch: tuple[WatchSpec, ...] = ()
    max_watched: int = 64
    allow_calico_restart: bool = False

    def step(self, name: str) -> ChaosStep:
        for step in self.steps:
            if step.name == name:
                return step
        raise KeyError(name)
