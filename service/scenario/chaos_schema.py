"""The ``chaos`` section of a scenario file, as strict pydantic models.

A chaos section lists steps, each with exactly one action (switch the policy
version, relabel a namespace or a pod, create target pods again, add a
default-deny, restart calico-node), and says how watched cells are probed
while the steps run. Shapes only: that a step has exactly one action, and that
every name it uses is declared, is checked by :mod:`service.scenario.chaos_resolve`.
docs/chaos.md describes the semantics.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from service.policy.syntax import label_key_error
from service.scenario import syntax
from service.scenario.fields import (
    LABEL_RULE,
    LabelsInput,
    NameRule,
    NamespaceName,
    OptionalLabelsInput,
    PortRefInput,
    SourceName,
    StrictModel,
    TargetName,
    VersionName,
    expect_string,
    validator,
)
from service.scenario.syntax import ValueSyntaxError

__all__ = [
    "ACTIONS",
    "ChaosModel",
    "ChaosStepModel",
    "DefaultDenyModel",
    "LabelNamespaceModel",
    "LabelPodModel",
    "RecreatePodsModel",
    "RestartCalicoModel",
    "WatchModel",
]

_STEP = NameRule("step name", syntax.DNS_LABEL, LABEL_RULE)
StepName = Annotated[str, _STEP.validator, _STEP.json_schema]
# A policy name is a DNS subdomain; ours is kept to a label, which every cluster accepts.
_POLICY = NameRule("policy name", syntax.DNS_LABEL, LABEL_RULE)
PolicyName = Annotated[str, _POLICY.validator, _POLICY.json_schema]


def _label_key(value: object) -> str:
    key = expect_string(value, "a label key")
    problem = label_key_error(key)
    if problem is not None:
        raise ValueSyntaxError(f"label key {key!r}: {problem}")
    return key


LabelKey = Annotated[str, validator(_label_key), Field(json_schema_extra={"type": "string"})]
Seconds = Annotated[float, Field(gt=0, le=86400)]


class _LabelEdit(StrictModel):
    set_: LabelsInput | None = Field(
        default=None, alias="set", description="Labels to add or change (mapping or k=v,k=v)."
    )
    remove: list[LabelKey] = Field(default_factory=list, description="Label keys to remove.")


class LabelNamespaceModel(_LabelEdit):
    """Change a namespace's labels; the rollback gives it its labels back."""

    namespace: NamespaceName = Field(description="A declared namespace.")


class LabelPodModel(_LabelEdit):
    """Change a pod's labels: a target's, or the probe pod of a source in a namespace."""

    target: TargetName | None = Field(default=None, description="A target's pod.")
    source: SourceName | None = Field(
        default=None, description="Or the pod probing for this source (with namespace)."
    )
    namespace: NamespaceName | None = Field(
        default=None, description="The source namespace of that probe pod."
    )


class RecreatePodsModel(StrictModel):
    """Delete target pods and create them again (new IPs); probed from the moment they are
    Ready, to catch the window before their isolation is programmed."""

    targets: list[TargetName] = Field(min_length=1)


Direction = Literal["Ingress", "Egress"]


def _ingress_only() -> list[Direction]:
    return ["Ingress"]


class DefaultDenyModel(StrictModel):
    """Add a default-deny NetworkPolicy (podSelector {}, no rules) to namespaces."""

    namespaces: list[NamespaceName] = Field(min_length=1)
    directions: list[Direction] = Field(
        default_factory=_ingress_only,
        min_length=1,
        description="policyTypes of the added policy. Default: Ingress.",
    )
    name: PolicyName = Field(
        default="netpol-drift-chaos-deny", description="The added policy's name."
    )


class RestartCalicoModel(StrictModel):
    """Restart every calico-node pod. Kubernetes only, and only when both the scenario
    (allow_calico_restart) and the command line (--allow-calico-restart) opt in."""


ACTIONS = (
    "switch_version",
    "label_namespace",
    "label_pod",
    "recreate_pods",
    "default_deny",
    "restart_calico",
)


class ChaosStepModel(StrictModel):
    """One step: exactly one action; its rollback always runs after it."""

    name: StepName = Field(description="Unique among the steps.")
    description: str = ""
    timeout: Seconds | None = Field(
        default=None, description="How long to wait for convergence. Default: chaos.timeout."
    )
    switch_version: VersionName | None = Field(
        default=None, description="Apply this policy version (churn)."
    )
    label_namespace: LabelNamespaceModel | None = None
    label_pod: LabelPodModel | None = None
    recreate_pods: RecreatePodsModel | None = None
    default_deny: DefaultDenyModel | None = None
    restart_calico: RestartCalicoModel | None = None


class WatchModel(StrictModel):
    """Cells to watch; every field narrows, none given means every cell."""

    from_: NamespaceName | None = Field(
        default=None, alias="from", description="A source namespace of the matrix."
    )
    source: SourceName | None = Field(default=None, description="A source name of the matrix.")
    labels: OptionalLabelsInput = Field(
        default=None, description="Or the source's labels; must equal a matrix source's labels."
    )
    to: TargetName | None = Field(default=None, description="A target of the matrix.")
    port: PortRefInput | None = Field(default=None, description="A probed port.")


class ChaosModel(StrictModel):
    """Chaos steps and how watched cells are probed while they run."""

    baseline: VersionName | None = Field(
        default=None, description="The version in force before the steps. Default: the first."
    )
    interval: Seconds = Field(default=1.0, description="Seconds between probe rounds.")
    timeout: Seconds = Field(
        default=60.0, description="Per step: how long to wait for observed == expected."
    )
    hold: float = Field(
        default=2.0, ge=0, le=3600, description="How long observed must stay == expected."
    )
    watch: list[WatchModel] | None = Field(
        default=None,
        min_length=1,
        description="The watched cells. Default: every probed cell, up to max_watch.",
    )
    max_watch: int = Field(default=64, ge=1, le=1000, description="At most this many cells.")
    allow_calico_restart: bool = Field(
        default=False,
        description="Allow restart_calico steps (the command line must opt in as well).",
    )
    steps: list[ChaosStepModel] = Field(min_length=1)
