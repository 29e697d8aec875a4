"""A mutation report as text for a terminal, or as a JSON document (the CLI and API share it)."""

from __future__ import annotations

import json
from typing import Any

from service.mutate.model import (
    AddMatrixTarget,
    AddProbe,
    AddSource,
    AddSourceNamespace,
    AddTarget,
    AddTargetPort,
    Edit,
    MutantResult,
    MutationReport,
    Observation,
    Outcome,
)
from service.scenario.model import PortSpec

__all__ = ["render_json", "render_table", "report_document"]

_EVIDENCE = {
    Outcome.KILLED: "caught by",
    Outcome.SURVIVED: "would show on",
    Outcome.EQUIVALENT: "",
}


def _percent(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.0%}"


def _change(result: MutantResult) -> str:
    m = result.mutation
    if m.policy is None or not m.path:
        return m.description
    return f"{m.where}: {m.description}"


def _evidence(result: MutantResult) -> str:
    if result.evidence is None:
        if result.outcome is Outcome.EQUIVALENT:
            return "no pod of the universe sees a difference"
        return "no connection of the universe shows it"
    e = result.evidence
    return (
        f"{_EVIDENCE[result.outcome]} {e.source} -> {e.target} {e.port}/{e.protocol}"
        f" in {e.version}: {e.expected} -> {e.mutated}"
    )


def render_table(report: MutationReport) -> str:
    """The score, every mutation with its evidence, then the suggestions as YAML to paste."""
    counted = report.killed + report.survived
    lines = [
        f"{report.scenario}: mutation score {_percent(report.score)}"
        f" ({report.killed} of {counted} killed; {report.equivalent} equivalent, not counted)",
        _universe_line(report),
        "",
    ]
    width_id = max([2, *(len(r.mutation.id) for r in report.results)])
    width_version = max([7, *(len(r.mutation.version or "every") for r in report.results)])
    header = f"{'ID':<{width_id}}  {'OUTCOME':<10}  {'VERSION':<{width_version}}  CHANGE"
    lines.append(header)
    indent = " " * (width_id + 2 + 10 + 2 + width_version + 2)
    for result in report.results:
        m = result.mutation
        lines.append(
            f"{m.id:<{width_id}}  {result.outcome.value:<10}  "
            f"{(m.version or 'every'):<{width_version}}  {_change(result)}"
        )
        lines.append(f"{indent}{_evidence(result)}")
    lines.append("")
    lines += _suggestion_lines(report)
    return "\n".join(lines) + "\n"


def _universe_line(report: MutationReport) -> str:
    u = report.universe
    how = (
        "every label set the selectors tell apart"
        if u.exhaustive
        else "not every label set the selectors tell apart: equivalent means none of these"
    )
    return (
        f"universe: {u.pods} kinds of pod ({u.label_sets} label sets in each of"
        f" {u.namespaces} namespaces, and the planned pods), {u.probes} ports; {how}"
    )


def _suggestion_lines(report: MutationReport) -> list[str]:
    if not report.survived:
        return ["No survivors: nothing to suggest."]
    if not report.suggestions:
        lines = ["No suggestions computed."]
    else:
        killed = sum(len(s.kills) for s in report.suggestions)
        counted = report.killed + report.survived
        lines = [
            f"Suggestions: {len(report.suggestions)} additions to the matrix kill {killed} of"
            f" the {report.survived} survivors (score with all of them:"
            f" {_percent((report.killed + killed) / counted)}). Paste each into the scenario:",
            "",
        ]
        for n, suggestion in enumerate(report.suggestions, start=1):
            lines.append(f"# {n}. kills {len(suggestion.kills)}: {' '.join(suggestion.kills)}")
            lines += suggestion.yaml.rstrip("\n").split("\n")
            lines.append("")
    if report.unkillable:
        lines.append(
            "No addition found for: " + " ".join(report.unkillable) + " (see docs/mutation.md)"
        )
    return lines


def _observation(o: Observation | None) -> dict[str, Any] | None:
    if o is None:
        return None
    return {
        "version": o.version,
        "source": o.source,
        "target": o.target,
        "port": o.port,
        "protocol": str(o.protocol),
        "expected": str(o.expected),
        "mutated": str(o.mutated),
        "in_matrix": o.in_matrix,
    }


def _port(port: PortSpec) -> dict[str, Any]:
    return {"port": port.port, "protocol": str(port.protocol), "name": port.name}


def _edit(edit: Edit) -> dict[str, Any]:
    match edit:
        case AddSource(name, labels):
            return {"edit": "add-source", "name": name, "labels": dict(labels)}
        case AddSourceNamespace(namespace):
            return {"edit": "add-source-namespace", "namespace": namespace}
        case AddMatrixTarget(target):
            return {"edit": "add-matrix-target", "target": target}
        case AddTarget(name, namespace, labels, ports):
            return {
                "edit": "add-target",
                "name": name,
                "namespace": namespace,
                "labels": dict(labels),
                "ports": [_port(p) for p in ports],
            }
        case AddTargetPort(target, port):
            return {"edit": "add-target-port", "target": target, **_port(port)}
        case AddProbe(port, protocol):
            return {"edit": "add-probe", "port": port, "protocol": str(protocol)}
    raise AssertionError(f"unknown edit {edit!r}")  # pragma: no cover - exhaustive match


def report_document(report: MutationReport) -> dict[str, Any]:
    """The report as plain JSON-ready data (the REST API returns this)."""
    u = report.universe
    return {
        "scenario": report.scenario,
        "versions": list(report.versions),
        "score": report.score,
        "killed": report.killed,
        "survived": report.survived,
        "equivalent": report.equivalent,
        "universe": {
            "label_sets": u.label_sets,
            "namespaces": u.namespaces,
            "pods": u.pods,
            "probes": u.probes,
            "exhaustive": u.exhaustive,
        },
        "mutations": [
            {
                "id": r.mutation.id,
                "kind": str(r.mutation.kind),
                "version": r.mutation.version,
                "policy": r.mutation.policy,
                "path": r.mutation.path,
                "description": r.mutation.description,
                "outcome": str(r.outcome),
                "evidence": _observation(r.evidence),
            }
            for r in report.results
        ],
        "suggestions": [
            {"kills": list(s.kills), "edits": [_edit(e) for e in s.edits], "yaml": s.yaml}
            for s in report.suggestions
        ],
        "unkillable": list(report.unkillable),
    }


def render_json(report: MutationReport) -> str:
    return json.dumps(report_document(report), indent=2) + "\n"
