"""From a shape-checked scenario file to the resolved, immutable Scenario.

The schema has already checked every field's type and syntax; this module
checks what needs the whole file: names are unique, every reference (a
namespace, a target, a source, a port, a version) points at something declared,
policy files exist inside the scenario's folder and hold valid policies in
declared namespaces, and explicit expectations neither miss the matrix nor
contradict each other. Every problem is collected, each located at its line.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

from service.errors import FieldPath, InvalidInput
from service.manifests.source import Document
from service.policy.model import Labels, Protocol
from service.scenario.chaos_resolve import resolve_chaos
from service.scenario.expectations import labels_text, resolve_expectations
from service.scenario.hashing import policies_hash, scenario_hash
from service.scenario.model import (
    MatrixSpec,
    NamespaceSpec,
    PolicyVersion,
    PortSpec,
    ProbeSpec,
    Scenario,
    Schedule,
    ServiceSpec,
    SourceSpec,
    TargetSpec,
)
from service.scenario.policies import PolicyReader
from service.scenario.problems import Reporter, undeclared
from service.scenario.schema import ScenarioModel, ServiceModel, TargetModel
from service.scenario.syntax import ValueSyntaxError, check_namespace_labels, did_you_mean

__all__ = ["resolve"]


def resolve(model: ScenarioModel, document: Document, *, base_dir: Path) -> Scenario:
    """The Scenario ``model`` describes; raises InvalidInput with every problem found."""
    return _Resolver(model, document, base_dir).run()


class _Resolver:
    def __init__(self, model: ScenarioModel, document: Document, base_dir: Path) -> None:
        self.model = model
        self.document = document
        self.base_dir = base_dir
        self.report = Reporter(document)

    def run(self) -> Scenario:
        namespaces = self.namespaces()
        targets = self.targets([ns.name for ns in namespaces])
        matrix = self.matrix([ns.name for ns in namespaces], targets)
        versions = self.versions([ns.name for ns in namespaces])
        expectations = resolve_expectations(
            self.model.expectations,
            report=self.report,
            namespaces=[ns.name for ns in namespaces],
            targets=targets,
            matrix=matrix,
            versions=[v.name for v in versions],
        )
        chaos = resolve_chaos(
            self.model.chaos,
            report=self.report,
            namespaces=namespaces,
            targets=targets,
            matrix=matrix,
            versions=versions,
        )
        InvalidInput.collect(self.report.problems)
        schedule = None
        if self.model.schedule is not None:
            schedule = Schedule(self.model.schedule.cron, self.model.schedule.timezone)
        scenario = Scenario(
            name=self.model.name,
            namespaces=namespaces,
            targets=targets,
            matrix=matrix,
            versions=versions,
            expectations=expectations,
            schedule=schedule,
            description=self.model.description,
            path=self.document.file,
            chaos=chaos,
        )
        return replace(scenario, content_hash=scenario_hash(scenario))

    # --- namespaces and targets ---------------------------------------------------------------

    def namespaces(self) -> tuple[NamespaceSpec, ...]:
        out = []
        for name, labels in self.model.namespaces.items():
            try:
                check_namespace_labels(name, labels)
            except ValueSyntaxError as err:
                self.report.at(FieldPath(("namespaces", name)), str(err))
            out.append(NamespaceSpec(name, Labels(labels)))
        return tuple(out)

    def targets(self, namespaces: Sequence[str]) -> tuple[TargetSpec, ...]:
        seen: dict[str, FieldPath] = {}
        services: dict[tuple[str, str], FieldPath] = {}
        out = []
        for i, target in enumerate(self.model.targets):
            path = FieldPath(("targets", i))
            self.report.first_seen(seen, target.name, path / "name", "target name")
            if target.namespace not in namespaces:
                self.report.at(
                    path / "namespace",
                    undeclared("namespace", target.namespace, namespaces, "namespaces"),
                )
            ports = self.ports(target, path)
            service = self.service(target, ports, path)
            if service is not None:
                self.report.first_seen(
                    services,
                    (target.namespace, service.name),
                    path / "service",
                    "Service",
                    f"{target.namespace}/{service.name}",
                )
            out.append(
                TargetSpec(
                    name=target.name,
                    namespace=target.namespace,
                    labels=Labels(target.labels),
                    ports=ports,
                    service=service,
                )
            )
        return tuple(out)

    def ports(self, target: TargetModel, path: FieldPath) -> tuple[PortSpec, ...]:
        numbers: dict[tuple[int, Protocol], FieldPath] = {}
        names: dict[str, FieldPath] = {}
        out = []
        for j, port in enumerate(target.ports):
            spec = PortSpec(port.port, Protocol(port.protocol), port.name)
            self.report.first_seen(
                numbers,
                (spec.port, spec.protocol),
                path / "ports" / j,
                "port",
                f"{spec.port}/{spec.protocol}",
            )
            if spec.name is not None:
                self.report.first_seen(names, spec.name, path / "ports" / j / "name", "port name")
            out.append(spec)
        return tuple(out)

    def service(
        self, target: TargetModel, ports: Sequence[PortSpec], path: FieldPath
    ) -> ServiceSpec | None:
        if target.service is False:
            return None
        if target.service is True:
            return ServiceSpec(target.name)
        assert isinstance(target.service, ServiceModel)
        spec = target.service
        chosen = []
        served = {(p.port, p.protocol): p for p in ports}
        for j, port in enumerate(spec.ports or ()):
            key = (port.port, Protocol(port.protocol))
            found = served.get(key)
            if found is None:
                listed = ", ".join(f"{p.port}/{p.protocol}" for p in ports)
                self.report.at(
                    path / "service" / "ports" / j,
                    f"the target does not serve {port.port}/{port.protocol}: expected one of"
                    f" the target's ports ({listed})",
                )
                continue
            chosen.append(PortSpec(found.port, found.protocol, port.name or found.name))
        return ServiceSpec(spec.name or target.name, tuple(chosen))

    # --- the matrix ------------------------------------------------------------------------

    def matrix(self, namespaces: Sequence[str], targets: Sequence[TargetSpec]) -> MatrixSpec:
        m = self.model.matrix
        path = FieldPath(("matrix",))
        sources = []
        by_labels: dict[Labels, str] = {}
        for name, raw in m.sources.items():
            labels = Labels(raw)
            other = by_labels.setdefault(labels, name)
            if other != name:
                self.report.at(
                    path / "sources" / name,
                    f"source {name!r} has the same labels as {other!r} ({labels_text(raw)}):"
                    " expected each source to be a different label set",
                )
            sources.append(SourceSpec(name, labels))

        # Defaults are every namespace and every target, each once (duplicate
        # declarations are reported where they are declared).
        source_namespaces = list(namespaces)
        if m.namespaces is not None:
            source_namespaces = list(m.namespaces)
            seen: dict[str, FieldPath] = {}
            for i, ns in enumerate(source_namespaces):
                item = path / "namespaces" / i
                if (
                    self.report.first_seen(seen, ns, item, "source namespace")
                    and ns not in namespaces
                ):
                    self.report.at(item, undeclared("namespace", ns, namespaces, "namespaces"))

        target_names = list(dict.fromkeys(t.name for t in targets))
        chosen = target_names
        if m.targets is not None:
            chosen = list(m.targets)
            seen = {}
            for i, name in enumerate(chosen):
                item = path / "targets" / i
                if self.report.first_seen(seen, name, item, "target") and name not in target_names:
                    self.report.at(item, undeclared("target", name, target_names, "targets"))

        in_matrix = [t for t in targets if t.name in chosen]
        probes = self.probes(in_matrix, path / "ports")
        return MatrixSpec(
            sources=tuple(sources),
            namespaces=tuple(source_namespaces),
            targets=tuple(chosen),
            probes=probes,
        )

    def probes(self, targets: Sequence[TargetSpec], path: FieldPath) -> tuple[ProbeSpec, ...]:
        refs = self.model.matrix.ports
        if refs is None:
            return ()
        declared = [p for t in targets for p in t.ports]
        seen: dict[str, FieldPath] = {}
        out = []
        for i, ref in enumerate(refs):
            probe = ProbeSpec(ref.port, ref.protocol)
            if not self.report.first_seen(seen, str(probe), path / i, "probe", str(probe)):
                continue
            out.append(probe)
            if isinstance(probe.port, str):
                names = sorted({f"{p.name}/{p.protocol}" for p in declared if p.name})
                if not any(p.name == probe.port and p.protocol is probe.protocol for p in declared):
                    self.report.at(
                        path / i,
                        f"no target in the matrix has a port named {probe.port!r} for"
                        f" {probe.protocol}: expected one of {', '.join(names) or 'none'}"
                        + did_you_mean(str(probe), names),
                    )
            elif not any(p.port == probe.port and p.protocol is probe.protocol for p in declared):
                served = sorted({f"{p.port}/{p.protocol}" for p in declared})
                self.report.at(
                    path / i,
                    f"no target in the matrix serves {probe}: expected one of {', '.join(served)}",
                )
        return tuple(out)

    # --- versions --------------------------------------------------------------------------

    def versions(self, namespaces: Sequence[str]) -> tuple[PolicyVersion, ...]:
        reader = PolicyReader(scenario=self.document, base_dir=self.base_dir, namespaces=namespaces)
        seen: dict[str, FieldPath] = {}
        out = []
        for i, version in enumerate(self.model.versions):
            self.report.first_seen(
                seen, version.name, FieldPath(("versions", i, "name")), "version name"
            )
            resolved = reader.read_version(i, version.policies)
            out.append(
                PolicyVersion(
                    name=version.name,
                    policies=resolved.policies,
                    files=resolved.files,
                    content_hash=policies_hash(resolved.policies),
                    description=version.description,
                )
            )
        self.report.problems.extend(reader.problems)
        return tuple(out)
