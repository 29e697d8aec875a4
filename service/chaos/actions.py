"""Each kind of chaos action: what it changes (for the engine) and doing and undoing it.

:func:`predict` is pure: the engine state after an action, used to choose the
watched cells and as the new expected matrix. :func:`perform` makes the change
on the cluster and returns the state it left (a pod created again has a new
IP, known only then); :func:`undo` restores the state from before the action.
Undoing is idempotent, so it runs even when the action failed half way:
applying the previous policies again, giving labels back, or (for pods created
again and a calico-node restart) nothing but waiting for the dust to settle.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace

from service.chaos.state import EngineState
from service.cluster.base import Cluster, Perturbation
from service.scenario.chaos import (
    ChaosAction,
    DefaultDeny,
    LabelNamespace,
    LabelPod,
    RecreatePods,
    RestartCalico,
    SwitchVersion,
)
from service.scenario.model import Scenario

__all__ = ["Done", "Subjects", "needs", "perform", "predict", "undo"]


@dataclass(frozen=True, slots=True)
class Subjects:
    """How scenario names map to the layout: the pod probing for (source, namespace)."""

    scenario: Scenario
    prober: Mapping[tuple[str, str], str]

    def pod_of(self, action: LabelPod) -> str:
        if action.target is not None:
            return self.scenario.target(action.target).ref
        # Resolving the scenario made sure a pod is named by target or by source and namespace.
        assert action.source is not None
        assert action.namespace is not None
        return self.prober[(action.source, action.namespace)]

    def target_pods(self, action: RecreatePods) -> tuple[str, ...]:
        return tuple(self.scenario.target(name).ref for name in action.targets)


@dataclass(frozen=True, slots=True)
class Done:
    """What an action or its undoing left: the engine state, a note for the report, and,
    when the cluster is still busy (calico-node restarting), how to tell it is done."""

    state: EngineState
    note: str = ""
    settled: Callable[[], bool] | None = None


def needs(action: ChaosAction) -> Perturbation | None:
    """The backend capability an action needs; None for plain policy changes."""
    match action:
        case LabelNamespace():
            return Perturbation.NAMESPACE_LABELS
        case LabelPod():
            return Perturbation.POD_LABELS
        case RecreatePods():
            return Perturbation.RECREATE_PODS
        case RestartCalico():
            return Perturbation.RESTART_CALICO
        case SwitchVersion() | DefaultDeny():
            return None


def predict(action: ChaosAction, state: EngineState, subjects: Subjects) -> EngineState:
    """The engine state the action leads to (new pod addresses are not known before)."""
    match action:
        case SwitchVersion(version=name):
            return replace(state, version=subjects.scenario.version(name))
        case LabelNamespace(namespace=namespace, edit=edit):
            labels = edit.applied_to(state.namespace_labels(namespace))
            return state.with_namespace_labels(namespace, labels)
        case LabelPod(edit=edit):
            ref = subjects.pod_of(action)
            return state.with_pod_labels(ref, edit.applied_to(state.pod_labels(ref)))
        case DefaultDeny():
            return replace(state, added=(*state.added, *action.policies()))
        case RecreatePods() | RestartCalico():
            return state


def perform(
    action: ChaosAction, *, cluster: Cluster, state: EngineState, subjects: Subjects
) -> Done:
    """Make the change on ``cluster``; raises ClusterError when it could not."""
    after = predict(action, state, subjects)
    match action:
        case SwitchVersion() | DefaultDeny():
            cluster.apply_version(version=after.applied)
            return Done(after, f"applied {after.applied.name}")
        case LabelNamespace(namespace=namespace):
            labels = after.namespace_labels(namespace)
            cluster.set_namespace_labels(namespace=namespace, labels=labels)
            return Done(after, f"namespace {namespace} labels: {labels or '(none)'}")
        case LabelPod():
            ref = subjects.pod_of(action)
            labels = after.pod_labels(ref)
            cluster.set_pod_labels(pod=ref, labels=labels)
            return Done(after, f"pod {ref} labels: {labels or '(none)'}")
        case RecreatePods():
            refs = subjects.target_pods(action)
            addresses = cluster.recreate_pods(pods=refs)
            moved = [f"{ref} {state.addresses.get(ref)} -> {addresses.get(ref)}" for ref in refs]
            return Done(after.with_addresses(addresses), "new IPs: " + ", ".join(moved))
        case RestartCalico():
            pods = cluster.restart_calico()
            return Done(after, f"restarted {', '.join(pods)}", settled=cluster.calico_ready)


def undo(
    action: ChaosAction,
    *,
    cluster: Cluster,
    before: EngineState,
    after: EngineState,
    subjects: Subjects,
) -> Done:
    """Restore ``before`` as far as it can be; raises ClusterError when it could not."""
    match action:
        case SwitchVersion() | DefaultDeny():
            cluster.apply_version(version=before.applied)
            return Done(replace(after, version=before.version, added=before.added))
        case LabelNamespace(namespace=namespace):
            labels = before.namespace_labels(namespace)
            cluster.set_namespace_labels(namespace=namespace, labels=labels)
            return Done(after.with_namespace_labels(namespace, labels))
        case LabelPod():
            ref = subjects.pod_of(action)
            labels = before.pod_labels(ref)
            cluster.set_pod_labels(pod=ref, labels=labels)
            return Done(after.with_pod_labels(ref, labels))
        case RecreatePods():
            return Done(after, "nothing to undo: the pods are back, with new IPs")
        case RestartCalico():
            return Done(after, "nothing to undo", settled=cluster.calico_ready)
