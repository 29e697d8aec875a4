"""Matrix planning: from a Scenario to the pods a run needs and the cells it probes.

Planning is pure and deterministic: the same scenario always gives the same
layout, the same cells in the same order, and the same keys, so any process (the
CLI, a Celery worker executing one shard) can re-plan a run and agree with every
other.

The layout
    Every scenario namespace with its labels; one pod per target, serving the
    target's ports under their names; a Service per target that asks for one;
    and one probe pod per (source label set, source namespace), labelled with
    exactly the source's labels (nothing of ours is added: a label of ours
    could change which policies select the pod).

Loopback
    When a target in a source namespace carries exactly the source's labels, a
    separate probe pod would be indistinguishable from the target to every
    selector, so the target pod itself is the probing pod (as in the upstream
    e2e model, where pods a, b, c probe each other). Only those cells, from the
    target pod to itself, are loopback: truly one pod. Two targets with the same
    labels: the first by name probes.

Invalid cells
    A probe asking for a port name the target lacks, or a port/protocol it does
    not serve, has nothing to connect to; it is planned as ``invalid`` and never
    probed.

Expected verdicts come from the engine per policy version
(:func:`plan_version`), after the cluster has assigned pod IPs, since an ipBlock
may match pod IPs.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace

from service.errors import FieldPath, InvalidInput, Problem
from service.policy.evaluate import Evaluator
from service.policy.model import (
    ClusterState,
    ContainerPort,
    IPAddress,
    Labels,
    Namespace,
    NetworkPolicy,
    Pod,
    Service,
    ServicePort,
)
from service.policy.verdict import Explanation
from service.scenario.cells import Cell, CellKind, expand_cells
from service.scenario.model import (
    Expectation,
    PolicyVersion,
    Scenario,
    ServiceSpec,
    SourceSpec,
    TargetSpec,
    Verdict,
)

__all__ = [
    "Expected",
    "Layout",
    "Matrix",
    "PodSpec",
    "VersionPlan",
    "build_layout",
    "plan_matrix",
    "plan_version",
]

PROBE_POD_PREFIX = "probe-"


@dataclass(frozen=True, slots=True)
class PodSpec:
    """A pod the run needs. ``target`` names the target it serves (None: a probe pod only);
    ``probes`` says whether cells are probed from it (it needs the probe tool)."""

    namespace: str
    name: str
    labels: Labels
    ports: tuple[ContainerPort, ...] = ()
    target: str | None = None
    probes: bool = False

    @property
    def ref(self) -> str:
        return f"{self.namespace}/{self.name}"


@dataclass(frozen=True, slots=True)
class Layout:
    """What a cluster backend creates for a run; pods sorted by namespace and name."""

    namespaces: tuple[Namespace, ...]
    pods: tuple[PodSpec, ...]
    services: tuple[Service, ...] = ()

    def pod(self, ref: str) -> PodSpec:
        for pod in self.pods:
            if pod.ref == ref:
                return pod
        raise KeyError(ref)

    @property
    def probe_pods(self) -> tuple[PodSpec, ...]:
        return tuple(p for p in self.pods if p.probes)

    def cluster_state(
        self,
        *,
        policies: Sequence[NetworkPolicy] = (),
        addresses: Mapping[str, IPAddress] | None = None,
    ) -> ClusterState:
        """The engine's view of this layout under ``policies``; ``addresses`` by pod ref."""
        ips = addresses or {}
        namespaces = list(self.namespaces)
        known = {ns.name for ns in namespaces}
        # A policy may live in a namespace the scenario does not lay out; the engine
        # wants every namespace it meets (with only its name label).
        for policy in policies:
            if policy.namespace not in known:
                known.add(policy.namespace)
                namespaces.append(Namespace(policy.namespace))
        pods = tuple(
            Pod(
                namespace=p.namespace,
                name=p.name,
                labels=p.labels,
                ports=p.ports,
                ip=ips.get(p.ref),
            )
            for p in self.pods
        )
        return ClusterState(
            namespaces=tuple(namespaces),
            pods=pods,
            policies=tuple(policies),
            services=self.services,
        )


@dataclass(frozen=True, slots=True)
class Matrix:
    """A planned run: the layout, the selected versions and their cells in plan order.

    ``expectations`` maps (version name, cell key) to the explicit expectations
    that apply to that cell (the key already names the version; the pair keeps
    lookups by version cheap).
    """

    scenario: str
    layout: Layout
    versions: tuple[PolicyVersion, ...]
    cells: tuple[Cell, ...]
    expectations: Mapping[tuple[str, str], tuple[Expectation, ...]] = field(default_factory=dict)

    def cells_of(self, version: str) -> tuple[Cell, ...]:
        return tuple(c for c in self.cells if c.version == version)

    def version(self, name: str) -> PolicyVersion:
        for v in self.versions:
            if v.name == name:
                return v
        raise KeyError(name)

    @property
    def invalid_cells(self) -> tuple[Cell, ...]:
        return tuple(c for c in self.cells if c.kind is CellKind.INVALID)


@dataclass(frozen=True, slots=True)
class Expected:
    """The engine's verdict for a cell and why; no explanation for an invalid cell."""

    verdict: Verdict
    explanation: Explanation | None = None


@dataclass(frozen=True, slots=True)
class VersionPlan:
    """Everything needed to execute one version: its cells, expected verdicts by cell
    key, and the explicit expectations by cell key."""

    version: PolicyVersion
    cells: tuple[Cell, ...]
    expected: Mapping[str, Expected]
    expectations: Mapping[str, tuple[Expectation, ...]]

    def cell(self, key: str) -> Cell:
        for c in self.cells:
            if c.key == key:
                return c
        raise KeyError(key)


def build_layout(scenario: Scenario) -> tuple[Layout, dict[tuple[str, str], str]]:
    """The layout and, per (source name, namespace), the ref of the pod that probes for it."""
    problems: list[Problem] = []
    declared = {ns.name for ns in scenario.namespaces}
    pods: dict[str, PodSpec] = {}
    targets_by_ns: dict[str, list[TargetSpec]] = {}
    services: list[Service] = []
    for i, target in enumerate(scenario.targets):
        if target.namespace not in declared:
            problems.append(
                _problem(
                    scenario,
                    FieldPath(("targets", i, "namespace")),
                    f"namespace {target.namespace!r} is not declared in namespaces",
                )
            )
        pod = PodSpec(
            namespace=target.namespace,
            name=target.name,
            labels=target.labels,
            ports=tuple(ContainerPort(p.port, p.protocol, p.name) for p in target.ports),
            target=target.name,
        )
        pods[pod.ref] = pod
        targets_by_ns.setdefault(target.namespace, []).append(target)
        if target.service is not None:
            services.append(_service(target, target.service))

    prober: dict[tuple[str, str], str] = {}
    for ns_index, namespace in enumerate(scenario.matrix.namespaces):
        if namespace not in declared:
            problems.append(
                _problem(
                    scenario,
                    FieldPath(("matrix", "namespaces", ns_index)),
                    f"namespace {namespace!r} is not declared in namespaces",
                )
            )
        for s_index, source in enumerate(scenario.matrix.sources):
            twins = sorted(
                (t for t in targets_by_ns.get(namespace, []) if t.labels == source.labels),
                key=lambda t: t.name,
            )
            if twins:
                ref = f"{namespace}/{twins[0].name}"
                pods[ref] = replace(pods[ref], probes=True)
            else:
                ref = f"{namespace}/{PROBE_POD_PREFIX}{source.name}"
                if ref in pods:
                    problems.append(
                        _problem(
                            scenario,
                            FieldPath(("matrix", "sources", s_index, "name")),
                            f"the probe pod {ref} for source {source.name!r} would clash with "
                            f"a target of the same name; rename the source or the target",
                        )
                    )
                    continue
                pods[ref] = PodSpec(
                    namespace=namespace,
                    name=ref.split("/", 1)[1],
                    labels=source.labels,
                    probes=True,
                )
            prober[(source.name, namespace)] = ref
    InvalidInput.collect(problems)
    layout = Layout(
        namespaces=tuple(Namespace(ns.name, ns.labels) for ns in scenario.namespaces),
        pods=tuple(sorted(pods.values(), key=lambda p: (p.namespace, p.name))),
        services=tuple(services),
    )
    return layout, prober


def plan_matrix(scenario: Scenario, *, versions: Sequence[str] | None = None) -> Matrix:
    """Plan every cell of the selected versions (all, in scenario order, by default).

    Raises InvalidInput, with every problem found, for an unknown version or
    target, two sources with the same labels, a cell planned twice, or an
    explicit expectation that matches no cell of the matrix.
    """
    problems: list[Problem] = []
    selected = _select_versions(scenario, versions, problems)
    problems.extend(_duplicate_sources(scenario))
    targets: list[TargetSpec] = []
    for i, name in enumerate(scenario.matrix.targets):
        try:
            targets.append(scenario.target(name))
        except KeyError:
            known = ", ".join(t.name for t in scenario.targets) or "none"
            problems.append(
                _problem(
                    scenario,
                    FieldPath(("matrix", "targets", i)),
                    f"unknown target {name!r}; targets are: {known}",
                )
            )
    InvalidInput.collect(problems)
    layout, prober = build_layout(scenario)

    template = expand_cells(scenario, targets, prober, version="")
    seen: dict[str, Cell] = {}
    for cell in template:
        if cell.pair_key in seen:
            problems.append(
                _problem(scenario, FieldPath(("matrix",)), f"cell {cell} is planned twice")
            )
        seen[cell.pair_key] = cell
    InvalidInput.collect(problems)

    cells = tuple(replace(c, version=v.name) for v in selected for c in template)
    by_pair = {(c.version, c.pair_key): c.key for c in cells}
    matched = _match_expectations(scenario, selected, template, problems)
    InvalidInput.collect(problems)
    # Expectations were matched on the version-free template; their cells' keys carry the version.
    expectations = {(v, by_pair[(v, pair)]): exps for (v, pair), exps in matched.items()}
    return Matrix(
        scenario=scenario.name,
        layout=layout,
        versions=selected,
        cells=cells,
        expectations=expectations,
    )


def plan_version(
    matrix: Matrix, version: str, *, addresses: Mapping[str, IPAddress] | None = None
) -> VersionPlan:
    """Expected verdicts and explanations for one version's cells, from the engine.

    ``addresses`` are the pod IPs the cluster assigned (by pod ref); without them
    ipBlocks match no pod, which is only right for policies without ipBlocks.
    """
    policy_version = matrix.version(version)
    state = matrix.layout.cluster_state(policies=policy_version.policies, addresses=addresses)
    pods = {p.ref: p for p in state.pods}
    evaluator = Evaluator(state)
    cells = matrix.cells_of(version)
    expected: dict[str, Expected] = {}
    for cell in cells:
        if cell.port_number is None or cell.kind is CellKind.INVALID:
            expected[cell.key] = Expected(Verdict.INVALID)
            continue
        explanation = evaluator.explain(
            pods[cell.source_pod],
            pods[cell.target_pod],
            port=cell.port_number,
            protocol=cell.protocol,
        )
        verdict = Verdict.ALLOWED if explanation.allowed else Verdict.BLOCKED
        expected[cell.key] = Expected(verdict, explanation)
    return VersionPlan(
        version=policy_version,
        cells=cells,
        expected=expected,
        expectations={
            key: exps for (name, key), exps in matrix.expectations.items() if name == version
        },
    )


# --- helpers ---------------------------------------------------------------------------


def _problem(scenario: Scenario, path: FieldPath, message: str, line: int | None = None) -> Problem:
    return Problem(message, path=path, file=scenario.path, line=line)


def _service(target: TargetSpec, spec: ServiceSpec) -> Service:
    # A Service without ports of its own fronts every port of the target.
    ports = spec.ports or target.ports
    return Service(
        namespace=target.namespace,
        name=spec.name,
        selector=target.labels,
        ports=tuple(
            ServicePort(
                port=p.port,
                target_port=p.name if p.name is not None else p.port,
                protocol=p.protocol,
                name=p.name,
            )
            for p in ports
        ),
    )


def _select_versions(
    scenario: Scenario, names: Sequence[str] | None, problems: list[Problem]
) -> tuple[PolicyVersion, ...]:
    if not names:
        return scenario.versions
    known = [v.name for v in scenario.versions]
    for name in names:
        if name not in known:
            problems.append(
                Problem(
                    f"unknown policy version {name!r}; the scenario has: {', '.join(known)}",
                    path=FieldPath(("versions",)),
                    file=scenario.path,
                )
            )
    wanted = set(names)
    # Scenario order, not command-line order: enforcement of a version depends on
    # the one before it, and runs must be comparable.
    return tuple(v for v in scenario.versions if v.name in wanted)


def _duplicate_sources(scenario: Scenario) -> list[Problem]:
    problems = []
    first: dict[Labels, SourceSpec] = {}
    for i, source in enumerate(scenario.matrix.sources):
        other = first.setdefault(source.labels, source)
        if other is not source:
            problems.append(
                _problem(
                    scenario,
                    FieldPath(("matrix", "sources", i, "labels")),
                    f"source {source.name!r} has the same labels as {other.name!r} "
                    f"({source.labels or '{}'}); a label set is probed once per namespace",
                )
            )
    return problems


def _expectation_matches(expectation: Expectation, cell: Cell) -> bool:
    if (
        cell.source_namespace != expectation.source_namespace
        or cell.source_labels != expectation.source_labels
        or cell.target != expectation.target
        or cell.protocol is not expectation.protocol
    ):
        return False
    wanted = expectation.port
    # "backend:80" holds for a cell probing the port named "http" = 80, and vice versa.
    return wanted in (cell.port, cell.port_number, cell.port_name)


def _match_expectations(
    scenario: Scenario,
    selected: Sequence[PolicyVersion],
    template: Sequence[Cell],
    problems: list[Problem],
) -> dict[tuple[str, str], tuple[Expectation, ...]]:
    """The expectations of each (version name, pair key) among the selected versions."""
    known_versions = {v.name for v in scenario.versions}
    selected_names = [v.name for v in selected]
    found: dict[tuple[str, str], list[Expectation]] = {}
    for i, expectation in enumerate(scenario.expectations):
        path = FieldPath(("expectations", i))
        if expectation.version is not None and expectation.version not in known_versions:
            problems.append(
                _problem(
                    scenario,
                    path / "version",
                    f"unknown policy version {expectation.version!r}; "
                    f"the scenario has: {', '.join(sorted(known_versions))}",
                    expectation.line,
                )
            )
            continue
        matching = [c for c in template if _expectation_matches(expectation, c)]
        if not matching:
            labels = str(expectation.source_labels) or "no labels"
            problems.append(
                _problem(
                    scenario,
                    path,
                    f"no cell of the matrix matches this expectation (from "
                    f"{expectation.source_namespace} with {labels} to {expectation.target}:"
                    f"{expectation.port}/{expectation.protocol}); add the source, namespace, "
                    f"target or port to the matrix",
                    expectation.line,
                )
            )
            continue
        for version in selected_names:
            if expectation.version not in (None, version):
                continue
            for cell in matching:
                found.setdefault((version, cell.pair_key), []).append(expectation)
    return {k: tuple(v) for k, v in found.items()}
