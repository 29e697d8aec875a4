"""Explicit expectations: the compact form users write, checked and expanded.

An expectation written once may stand for several: one per listed version (or
one for all versions) and, when ``port`` is left out, one per port the target
is probed on. Each must name a cell the matrix really probes (a source
namespace and label set of the matrix, a target of the matrix, a port the
target is probed on), so no expectation is silently never checked; and two
expectations may not ask for different verdicts of the same cell and version.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass

from service.errors import FieldPath
from service.policy.model import Labels, Protocol
from service.scenario.model import (
    Expectation,
    MatrixSpec,
    PortSpec,
    ProbeSpec,
    TargetSpec,
    Verdict,
)
from service.scenario.problems import Reporter, undeclared
from service.scenario.schema import ExpectationModel
from service.scenario.syntax import did_you_mean

__all__ = ["resolve_expectations"]


def resolve_expectations(
    expectations: Sequence[ExpectationModel],
    *,
    report: Reporter,
    namespaces: Sequence[str],
    targets: Sequence[TargetSpec],
    matrix: MatrixSpec,
    versions: Sequence[str],
) -> tuple[Expectation, ...]:
    """The expectations, expanded; problems go to ``report``."""
    return _Resolver(report, namespaces, targets, matrix, versions).run(expectations)


def labels_text(labels: Mapping[str, str]) -> str:
    return str(Labels(labels)) if labels else "no labels"


@dataclass(frozen=True, slots=True)
class _Probe:
    """A port a target is probed on: as the probe names it, and what it resolves to."""

    probe: ProbeSpec
    port: PortSpec

    def matches(self, port: int | str, protocol: Protocol) -> bool:
        return protocol is self.probe.protocol and port in (
            self.probe.port,
            self.port.port,
            self.port.name,
        )


class _Resolver:
    def __init__(
        self,
        report: Reporter,
        namespaces: Sequence[str],
        targets: Sequence[TargetSpec],
        matrix: MatrixSpec,
        versions: Sequence[str],
    ) -> None:
        self.report = report
        self.namespaces = namespaces
        self.targets = targets
        self.matrix = matrix
        self.versions = versions

    def run(self, expectations: Sequence[ExpectationModel]) -> tuple[Expectation, ...]:
        out: list[Expectation] = []
        # (cell, version) -> (verdict, path of the expectation saying so), to find contradictions.
        said: dict[tuple[object, ...], tuple[Verdict, FieldPath]] = {}
        for i, raw in enumerate(expectations):
            path = FieldPath(("expectations", i))
            resolved = self.expectation(raw, path)
            if resolved is None:
                continue
            labels, target, probes, chosen_versions = resolved
            verdict = Verdict(raw.expect)
            for probe in probes:
                for version in chosen_versions:
                    out.append(
                        Expectation(
                            source_namespace=raw.from_,
                            source_labels=labels,
                            target=target.name,
                            port=probe.probe.port,
                            protocol=probe.probe.protocol,
                            verdict=verdict,
                            version=version,
                            description=raw.note,
                            line=self.report.line(path),
                        )
                    )
                    applies = self.versions if version is None else [version]
                    for name in applies:
                        # By number: "http" and 80 are the same cell when http is 80.
                        cell = (raw.from_, labels, target.name, probe.port, name)
                        self.contradiction(said, cell, verdict, path)
        return tuple(out)

    def contradiction(
        self,
        said: dict[tuple[object, ...], tuple[Verdict, FieldPath]],
        cell: tuple[object, ...],
        verdict: Verdict,
        path: FieldPath,
    ) -> None:
        earlier = said.setdefault(cell, (verdict, path))
        if earlier[0] is not verdict and earlier[1] != path:
            self.report.at(
                path / "expect",
                f"contradicts {earlier[1]} (line {self.report.line(earlier[1])}), which expects"
                f" {earlier[0]} for the same cell in version {cell[-1]!r}",
            )
            said[cell] = (verdict, path)  # report each contradicting entry once

    def expectation(
        self, raw: ExpectationModel, path: FieldPath
    ) -> tuple[Labels, TargetSpec, list[_Probe], list[str | None]] | None:
        matrix, versions = self.matrix, self.versions
        ok = True
        if raw.from_ not in matrix.namespaces:
            ok = False
            declared = list(self.namespaces)
            if raw.from_ not in declared:
                self.report.at(
                    path / "from", undeclared("namespace", raw.from_, declared, "namespaces")
                )
            else:
                self.report.at(
                    path / "from",
                    f"namespace {raw.from_!r} is not a source namespace of the matrix:"
                    f" expected one of {', '.join(matrix.namespaces)}",
                )
        labels = self.source(raw, path)
        target = self.target(raw, path)
        chosen_versions: list[str | None] = [None]
        if raw.versions is not None:
            chosen_versions = []
            for j, name in enumerate(raw.versions):
                if name not in versions:
                    ok = False
                    self.report.at(
                        path / "versions" / j,
                        f"version {name!r} does not exist: expected one of {', '.join(versions)}"
                        + did_you_mean(name, versions),
                    )
                elif name in chosen_versions:
                    ok = False
                    self.report.at(path / "versions" / j, f"version {name!r} is listed twice")
                else:
                    chosen_versions.append(name)
        if labels is None or target is None or not ok:
            return None
        probes = self.probes(raw, path, target)
        if not probes:
            return None
        return labels, target, probes, chosen_versions

    def source(self, raw: ExpectationModel, path: FieldPath) -> Labels | None:
        matrix = self.matrix
        names = [s.name for s in matrix.sources]
        if raw.source is not None and raw.labels is not None:
            self.report.at(path / "labels", "give either source or labels, not both")
            return None
        if raw.source is not None:
            for source in matrix.sources:
                if source.name == raw.source:
                    return source.labels
            self.report.at(
                path / "source", undeclared("source", raw.source, names, "matrix.sources")
            )
            return None
        if raw.labels is None:
            self.report.at(
                path,
                "expected source (a name from matrix.sources) or labels (the source's labels)",
            )
            return None
        labels = Labels(raw.labels)
        if any(s.labels == labels for s in matrix.sources):
            return labels
        listed = "; ".join(f"{s.name} ({labels_text(s.labels)})" for s in matrix.sources)
        self.report.at(
            path / "labels",
            f"no matrix source has the labels {labels_text(raw.labels)}: expected the labels of"
            f" one of {listed}",
        )
        return None

    def target(self, raw: ExpectationModel, path: FieldPath) -> TargetSpec | None:
        for target in self.targets:
            if target.name != raw.to:
                continue
            if target.name in self.matrix.targets:
                return target
            self.report.at(
                path / "to",
                f"target {raw.to!r} is not in the matrix: expected one of"
                f" {', '.join(self.matrix.targets)}",
            )
            return None
        names = [t.name for t in self.targets]
        self.report.at(path / "to", undeclared("target", raw.to, names, "targets"))
        return None

    def probes(self, raw: ExpectationModel, path: FieldPath, target: TargetSpec) -> list[_Probe]:
        probed = list(_probes_of(target, self.matrix.probes))
        if raw.port is None:
            if not probed:
                self.report.at(
                    path / "to", f"target {target.name!r} serves none of the ports in matrix.ports"
                )
            return probed
        for p in probed:
            if p.matches(raw.port.port, raw.port.protocol):
                return [_Probe(ProbeSpec(raw.port.port, raw.port.protocol), p.port)]
        if not probed:
            self.report.at(
                path / "to", f"target {target.name!r} serves none of the ports in matrix.ports"
            )
            return []
        listed = ", ".join(_shown(p) for p in probed)
        self.report.at(
            path / "port",
            f"target {target.name!r} is not probed on {raw.port}: expected one of {listed}",
        )
        return []


def _probes_of(target: TargetSpec, probes: Sequence[ProbeSpec]) -> Iterator[_Probe]:
    """The ports ``target`` is probed on; probes it does not serve are left out."""
    if not probes:
        for port in target.ports:
            yield _Probe(ProbeSpec(port.port, port.protocol), port)
        return
    for probe in probes:
        for port in target.ports:
            if port.protocol is probe.protocol and probe.port in (port.port, port.name):
                yield _Probe(probe, port)
                break


def _shown(p: _Probe) -> str:
    if p.port.name and p.probe.port != p.port.name:
        return f"{p.probe.port}/{p.probe.protocol} ({p.port.name})"
    if isinstance(p.probe.port, str):
        return f"{p.probe.port}/{p.probe.protocol} ({p.port.port})"
    return str(p.probe)
