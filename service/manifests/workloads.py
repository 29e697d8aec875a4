"""Workload kinds (Deployment, Job, ...) as the one representative pod each stands for.

Every replica of a workload carries the template's labels and ports, so for a
policy they are all alike: one pod, named after the workload, represents them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from service.errors import FieldPath, InvalidInput
from service.policy.model import Labels, LabelSelector, Pod, WorkloadRef
from service.policy.parse import parse_label_selector
from service.policy.parse_objects import (
    DEFAULT_NAMESPACE,
    parse_pod_template,
    read_object_meta,
    read_required_mapping,
    read_root,
)
from service.policy.syntax import Problems

__all__ = ["WORKLOAD_KINDS", "Workload", "WorkloadKind", "parse_workload"]


@dataclass(frozen=True, slots=True)
class WorkloadKind:
    api_version: str
    template: tuple[str, ...]  # where the pod template is, from the object's root
    # How spec.selector is written: a LabelSelector (apps/v1, required), a plain
    # label map (ReplicationController, optional), or not checked (batch/v1 sets its own).
    selector: str


WORKLOAD_KINDS: Mapping[str, WorkloadKind] = {
    "Deployment": WorkloadKind("apps/v1", ("spec", "template"), "label-selector"),
    "ReplicaSet": WorkloadKind("apps/v1", ("spec", "template"), "label-selector"),
    "StatefulSet": WorkloadKind("apps/v1", ("spec", "template"), "label-selector"),
    "DaemonSet": WorkloadKind("apps/v1", ("spec", "template"), "label-selector"),
    "ReplicationController": WorkloadKind("v1", ("spec", "template"), "label-map"),
    "Job": WorkloadKind("batch/v1", ("spec", "template"), "none"),
    "CronJob": WorkloadKind("batch/v1", ("spec", "jobTemplate", "spec", "template"), "none"),
}


@dataclass(frozen=True, slots=True)
class Workload:
    """A workload object: who it is, who owns it, and the pod its template describes."""

    ref: WorkloadRef
    owner: WorkloadRef | None
    pod: Pod


def parse_workload(
    obj: Mapping[str, object], *, kind: str, default_namespace: str = DEFAULT_NAMESPACE
) -> Workload:
    """The workload ``obj`` of ``kind`` (a key of :data:`WORKLOAD_KINDS`), validated.

    Without ``metadata.namespace`` it is in ``default_namespace`` ("default"), as with kubectl.
    """
    spec_of = WORKLOAD_KINDS[kind]
    problems = Problems()
    root = read_root(obj, problems, kind=kind, api_version=spec_of.api_version)
    meta = read_object_meta(root, problems, namespaced=True, default_namespace=default_namespace)
    namespace = meta.namespace or default_namespace
    ref = WorkloadRef(namespace, meta.name, kind)
    read_required_mapping(root, "spec", problems)
    template_path = FieldPath(spec_of.template)
    reached, template = _walk(root, spec_of.template, problems)
    pod = Pod(namespace=namespace, name=meta.name, workload=ref)
    try:
        if reached:
            pod = parse_pod_template(
                template, template_path, namespace=namespace, name=meta.name, workload=ref
            )
    except InvalidInput as err:
        problems.extend(err)
    spec = root.get("spec")
    if isinstance(spec, Mapping):
        _check_selector(spec, spec_of.selector, pod.labels, template_path, problems)
    problems.raise_any()
    return Workload(ref=ref, owner=meta.owner, pod=pod)


def _walk(
    root: Mapping[str, object], keys: tuple[str, ...], problems: Problems
) -> tuple[bool, object]:
    """Whether the parent of ``keys`` exists, and the value there.

    A missing or wrong-typed step on the way is reported once, at that step.
    """
    node: object = root
    for depth, key in enumerate(keys):
        if not isinstance(node, Mapping):
            return False, None  # already reported by whoever read the parent
        value = node.get(key)
        if depth == len(keys) - 1:
            return True, value
        step = FieldPath(keys[: depth + 1])
        if value is None:
            if depth > 0:  # the first step (spec) is checked with the object's top level
                problems.add(step, "required")
            return False, None
        if not isinstance(value, Mapping):
            if depth > 0:
                problems.expect(value, "a mapping", step)
            return False, None
        node = value
    return False, None


def _check_selector(
    spec: Mapping[str, object],
    style: str,
    labels: Labels,
    template_path: FieldPath,
    problems: Problems,
) -> None:
    path = FieldPath(("spec", "selector"))
    raw = spec.get("selector")
    selector: LabelSelector | None = None
    if style == "label-selector":
        if raw is None:
            problems.add(path, "required: a label selector matching the template's labels")
            return
        try:
            selector = parse_label_selector(raw, path)
        except InvalidInput as err:
            problems.extend(err)
            return
        if selector.is_empty:
            problems.add(path, "must not be empty: it would select every pod of the namespace")
            return
    elif style == "label-map" and raw is not None:
        selector = LabelSelector(match_labels=problems.labels(raw, path))
    if selector is not None and not selector.matches(labels):
        problems.add(
            template_path / "metadata" / "labels",
            f"the template's labels ({labels or 'none'}) do not match spec.selector ({selector})",
        )
