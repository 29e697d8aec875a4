"""Files and folders of Kubernetes manifests -> one ClusterState, or every problem at once.

The loader reads everything before deciding: problems from all files are
collected, each located at file, document and line, and raised together, so
nothing half-loaded is ever returned. Objects of kinds we do not model are
counted in ``skipped``, never dropped silently. Kubernetes and Calico policies
mix freely: projectcalico.org/v3 policies, tiers and network sets, and the
policy.networking.k8s.io admin policies join ``state.policies`` as
:class:`~service.policy.calico.model.CalicoEntry` values.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

from service.errors import FieldPath, InvalidInput, Problem
from service.manifests.source import Document, locate, read_documents
from service.manifests.workloads import WORKLOAD_KINDS, Workload, parse_workload
from service.policy.calico.parse import is_calico_kind, parse_calico_entry
from service.policy.calico.tiers import check_calico
from service.policy.model import (
    NAMESPACE_NAME_LABEL,
    ClusterState,
    Labels,
    Namespace,
    NetworkPolicy,
    Pod,
    Service,
    SourceRef,
    WorkloadRef,
)
from service.policy.parse import (
    parse_namespace,
    parse_network_policy,
    parse_pod,
    parse_service,
)
from service.policy.syntax import describe

__all__ = ["MANIFEST_SUFFIXES", "LoadResult", "load_manifests"]

MANIFEST_SUFFIXES = (".yaml", ".yml", ".json")
_CALICO_GROUP = "projectcalico.org"
_MODELLED_KINDS = frozenset({"Namespace", "Pod", "Service", "NetworkPolicy", *WORKLOAD_KINDS})


@dataclass(frozen=True, slots=True)
class LoadResult:
    """What a set of manifests describes, and what of it was not modelled.

    ``skipped`` counts objects by kind (a modelled kind from another API group,
    such as a NetworkPolicy of the crd.projectcalico.org storage group, is
    counted as ``NetworkPolicy (crd.projectcalico.org/v1)``); ``files`` lists the
    files read, in reading order; ``workloads`` the owners of the pods
    (``ns/name[Kind]``), sorted. Calico's policy kinds and the admin policies
    are read into ``state.policies`` (see :mod:`service.policy.calico`).
    """

    state: ClusterState
    skipped: Mapping[str, int] = field(default_factory=dict)
    files: tuple[str, ...] = ()
    workloads: tuple[WorkloadRef, ...] = ()


def load_manifests(paths: Sequence[Path | str]) -> LoadResult:
    """Read files and folders (recursively: *.yaml, *.yml, *.json, sorted) into a ClusterState.

    Hidden files and folders (``.git``, ``.github``) inside a folder are not read.
    Raises :class:`~service.errors.InvalidInput` with every problem found.
    """
    loader = _Loader()
    for path in _manifest_files(paths, loader.problems):
        loader.add_file(path)
    return loader.result()


def _manifest_files(paths: Sequence[Path | str], problems: list[Problem]) -> list[Path]:
    found: list[Path] = []
    seen: set[Path] = set()
    for given in paths:
        path = Path(given)
        if not path.exists():
            problems.append(Problem("no such file or folder", file=str(path)))
            continue
        if path.is_dir():
            candidates = sorted(
                p
                for p in path.rglob("*")
                if p.suffix.lower() in MANIFEST_SUFFIXES
                and p.is_file()
                and not any(part.startswith(".") for part in p.relative_to(path).parts)
            )
        else:
            candidates = [path]  # named explicitly, so read whatever its extension
        for candidate in candidates:
            key = candidate.resolve()
            if key not in seen:  # the same file through a folder and by name
                seen.add(key)
                found.append(candidate)
    return found


@dataclass(frozen=True, slots=True)
class _Located:
    """One object, and where it sits: its document and its path inside it (a List item)."""

    document: Document
    prefix: FieldPath
    data: Mapping[str, object]

    @property
    def source(self) -> SourceRef:
        doc = self.document
        return SourceRef(doc.file, doc.index, doc.line_of(self.prefix))

    def problems(self, err: InvalidInput) -> list[Problem]:
        seen_from_document = InvalidInput([p.under(self.prefix) for p in err.problems])
        located = locate(seen_from_document, self.document).problems
        # Top to bottom, as the user reads the file; problems without a line go last.
        return sorted(located, key=lambda p: (p.line is None, p.line or 0))

    def problem(self, message: str, path: FieldPath) -> list[Problem]:
        return self.problems(InvalidInput(Problem(message, path=path)))


class _Loader:
    def __init__(self) -> None:
        self.problems: list[Problem] = []
        self.files: list[str] = []
        self.skipped: Counter[str] = Counter()
        self.namespaces: list[Namespace] = []
        self.pods: list[Pod] = []
        self.policies: list[NetworkPolicy] = []
        self.services: list[Service] = []
        self.workloads: dict[WorkloadRef, Workload] = {}
        self.defined: dict[tuple[str, str, str], SourceRef] = {}

    def add_file(self, path: Path) -> None:
        name = str(path)
        self.files.append(name)
        try:
            documents = read_documents(path, display_name=name)
        except InvalidInput as err:
            self.problems.extend(err.problems)
            return
        for document in documents:
            self.add_value(document, FieldPath(), document.data)

    def add_value(self, document: Document, prefix: FieldPath, data: object) -> None:
        if not isinstance(data, Mapping):
            located = _Located(document, prefix, {})
            message = f"expected a mapping (a Kubernetes object), got {describe(data)}"
            self.problems.extend(located.problem(message, FieldPath()))
            return
        item = _Located(document, prefix, data)
        kind, api_version = data.get("kind"), data.get("apiVersion")
        missing = [
            key
            for key, value in (("apiVersion", api_version), ("kind", kind))
            if not isinstance(value, str) or not value
        ]
        for key in missing:
            self.problems.extend(
                item.problem("required: every object needs apiVersion and kind", FieldPath((key,)))
            )
        if not isinstance(kind, str) or not isinstance(api_version, str) or missing:
            return
        if kind == "List" or (kind.endswith("List") and "items" in data):
            self.add_list(item)
        elif is_calico_kind(api_version, kind):
            try:
                self.add_calico(item, kind)
            except InvalidInput as err:
                self.problems.extend(item.problems(err))
        elif api_version.split("/")[0].endswith(_CALICO_GROUP):
            # Calico kinds that hold no policy (IPPool, FelixConfiguration...) or the
            # crd.projectcalico.org storage group: counted, so none vanish silently.
            label = f"{kind} ({api_version})" if kind in _MODELLED_KINDS else kind
            self.skipped[label] += 1
        elif kind in _MODELLED_KINDS:
            try:
                self.add_object(item, kind)
            except InvalidInput as err:
                self.problems.extend(item.problems(err))
        else:
            self.skipped[kind] += 1

    def add_list(self, item: _Located) -> None:
        items = item.data.get("items")
        if items is None:
            return
        if not isinstance(items, list):
            message = f"expected a list of objects, got {describe(items)}"
            self.problems.extend(item.problem(message, FieldPath(("items",))))
            return
        for index, value in enumerate(items):
            self.add_value(item.document, item.prefix / "items" / index, value)

    def add_object(self, item: _Located, kind: str) -> None:
        data = item.data
        if kind == "Namespace":
            namespace = parse_namespace(data)
            self.define(item, kind, "", namespace.name)
            self.namespaces.append(namespace)
        elif kind == "Pod":
            pod = parse_pod(data)
            self.define(item, kind, pod.namespace, pod.name)
            self.pods.append(pod)
        elif kind == "Service":
            service = parse_service(data)
            self.define(item, kind, service.namespace, service.name)
            self.services.append(service)
        elif kind == "NetworkPolicy":
            policy = parse_network_policy(data, source=item.source)
            self.define(item, kind, policy.namespace, policy.name)
            self.policies.append(policy)
        else:
            workload = parse_workload(data, kind=kind)
            self.define(item, kind, workload.ref.namespace, workload.ref.name)
            self.workloads[workload.ref] = workload

    def add_calico(self, item: _Located, kind: str) -> None:
        entry = parse_calico_entry(item.data, source=item.source)
        # The entry carries the object's namespace ("" for a cluster-wide one) and name.
        self.define(item, kind, entry.namespace, entry.name)
        self.policies.append(entry)

    def define(self, item: _Located, kind: str, namespace: str, name: str) -> None:
        key = (kind, namespace, name)
        first = self.defined.get(key)
        if first is None:
            self.defined[key] = item.source
            return
        what = f"{kind} {namespace}/{name}" if namespace else f"{kind} {name}"
        message = f"duplicate {what}: already defined at {first}"
        raise InvalidInput(Problem(message, path=FieldPath(("metadata", "name"))))

    def result(self) -> LoadResult:
        try:
            # Across objects, as the API server would: a policy's tier must exist.
            check_calico(self.policies)
        except InvalidInput as err:
            self.problems.extend(err.problems)
        InvalidInput.collect(self.problems)
        pods = self.resolve_pods()
        # A cluster-wide Calico object carries namespace "": it lives in no namespace.
        used = {p.namespace for p in pods} | {p.namespace for p in self.policies if p.namespace}
        used |= {s.namespace for s in self.services}
        declared = {ns.name: _with_name_label(ns) for ns in self.namespaces}
        for name in used - declared.keys():
            # Objects in a missing namespace are refused by the API server: it is meant to exist.
            declared[name] = Namespace(name, Labels({NAMESPACE_NAME_LABEL: name}))
        state = ClusterState(
            namespaces=tuple(declared[name] for name in sorted(declared)),
            pods=tuple(sorted(pods, key=lambda p: (p.namespace, p.name))),
            policies=tuple(sorted(self.policies, key=lambda p: (p.namespace, p.name))),
            services=tuple(sorted(self.services, key=lambda s: (s.namespace, s.name))),
        )
        return LoadResult(
            state=state,
            skipped=dict(sorted(self.skipped.items())),
            files=tuple(self.files),
            workloads=tuple(sorted({pod.owner for pod in pods})),
        )

    def resolve_pods(self) -> list[Pod]:
        """Real pods, attributed to their top-level owner, plus one pod per other workload.

        A workload whose pods are in the manifests (a dump of a live cluster) is
        represented by them, with their real names and IPs, not by its template.
        A workload owned by a loaded workload (a ReplicaSet of a Deployment) adds
        no pod of its own: its owner's stands for it.
        """
        owners = {ref: w.owner for ref, w in self.workloads.items()}

        def top(ref: WorkloadRef) -> WorkloadRef:
            seen: set[WorkloadRef] = set()
            while (owner := owners.get(ref)) is not None and ref not in seen:
                seen.add(ref)
                ref = owner
            return ref

        pods = [
            pod if pod.workload is None else replace(pod, workload=top(pod.workload))
            for pod in self.pods
        ]
        represented = {pod.workload for pod in pods if pod.workload is not None}
        for ref in sorted(self.workloads):
            owner = top(ref)
            if (owner != ref and owner in self.workloads) or owner in represented:
                continue
            represented.add(owner)
            pods.append(replace(self.workloads[ref].pod, name=owner.name, workload=owner))
        return pods


def _with_name_label(namespace: Namespace) -> Namespace:
    """The namespace as the API server stores it: labelled with its own name."""
    labels = namespace.labels.with_label(NAMESPACE_NAME_LABEL, namespace.name)
    return replace(namespace, labels=labels)
