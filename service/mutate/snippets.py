"""Suggested additions as YAML to paste into a scenario file, and applied to a scenario document.

A snippet shows only what to add, under the keys it goes under: new targets and
ports of declared ones under ``targets:``, sources, namespaces, targets and
ports of the matrix under ``matrix:``. :func:`patch_document` makes the same
additions to a parsed scenario file (a mapping), which is how the tests check
that pasting a suggestion kills what it claims.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Mapping
from typing import Any

import yaml

from service.mutate.model import (
    AddMatrixTarget,
    AddProbe,
    AddSource,
    AddSourceNamespace,
    AddTarget,
    AddTargetPort,
    Edit,
    Suggestion,
)
from service.policy.model import Labels, Protocol
from service.scenario.model import PortSpec

__all__ = ["patch_document", "snippet"]


def _scalar(value: object) -> str:
    """``value`` as a YAML flow scalar, quoted only where YAML needs it (``'on'``, ``'80'``)."""
    text: str = yaml.safe_dump(value, default_flow_style=True, width=10_000, sort_keys=False)
    return text.removesuffix("\n").removesuffix("\n...").strip()


def _port(port: PortSpec) -> dict[str, object]:
    out: dict[str, object] = {"port": port.port}
    if port.protocol is not Protocol.TCP:
        out["protocol"] = str(port.protocol)
    if port.name is not None:
        out["name"] = port.name
    return out


def _labels(labels: Labels) -> dict[str, str]:
    return dict(labels.items())


def _probe(port: int, protocol: Protocol) -> str:
    return f"{port}/{protocol}"


def snippet(edits: Iterable[Edit]) -> str:
    """The YAML to paste for ``edits``, with a comment where an item joins an existing list."""
    targets: list[str] = []
    sources: list[str] = []
    namespaces: list[str] = []
    matrix_targets: list[tuple[str, bool]] = []
    probes: list[str] = []
    for edit in edits:
        match edit:
            case AddTarget(name, namespace, labels, ports):
                targets += [
                    f"  - name: {_scalar(name)}",
                    f"    namespace: {_scalar(namespace)}",
                    f"    labels: {_scalar(_labels(labels))}",
                    f"    ports: {_scalar([_port(p) for p in ports])}",
                ]
                matrix_targets.append((name, False))
            case AddTargetPort(target, port):
                targets += [
                    f"  - name: {_scalar(target)}  # declared already: add this port to it",
                    f"    ports: {_scalar([_port(port)])}",
                ]
            case AddSource(name, labels):
                sources.append(f"    {_scalar(name)}: {_scalar(_labels(labels))}")
            case AddSourceNamespace(namespace):
                namespaces.append(namespace)
            case AddMatrixTarget(target):
                matrix_targets.append((target, True))
            case AddProbe(port, protocol):
                probes.append(_probe(port, protocol))
    lines: list[str] = []
    if targets:
        lines += ["targets:", *targets]
    matrix: list[str] = []
    if sources:
        matrix += ["  sources:", *sources]
    if namespaces:
        matrix.append(f"  namespaces: {_scalar(namespaces)}  # add to the list")
    if matrix_targets:
        listed = all(always for _, always in matrix_targets)
        note = "add to the list" if listed else "if the matrix lists its targets, add to the list"
        matrix.append(f"  targets: {_scalar([n for n, _ in matrix_targets])}  # {note}")
    if probes:
        matrix.append(f"  ports: {_scalar(probes)}  # add to the list")
    if matrix:
        lines += ["matrix:", *matrix]
    return "\n".join(lines) + "\n"


def patch_document(data: Mapping[str, Any], suggestions: Iterable[Suggestion]) -> dict[str, Any]:
    """A copy of the scenario document ``data`` with every suggestion's additions made."""
    out: dict[str, Any] = copy.deepcopy(dict(data))
    matrix: dict[str, Any] = out.setdefault("matrix", {})
    for suggestion in suggestions:
        for edit in suggestion.edits:
            match edit:
                case AddSource(name, labels):
                    matrix.setdefault("sources", {})[name] = _labels(labels)
                case AddSourceNamespace(namespace):
                    # Absent means every namespace, which would already include it.
                    matrix["namespaces"].append(namespace)
                case AddMatrixTarget(target):
                    matrix["targets"].append(target)
                case AddTarget(name, namespace, labels, ports):
                    out.setdefault("targets", []).append(
                        {
                            "name": name,
                            "namespace": namespace,
                            "labels": _labels(labels),
                            "ports": [_port(p) for p in ports],
                        }
                    )
                    if "targets" in matrix:
                        matrix["targets"].append(name)
                case AddTargetPort(target, port):
                    for declared in out["targets"]:
                        if declared["name"] == target:
                            declared["ports"].append(_port(port))
                case AddProbe(port, protocol):
                    matrix["ports"].append(_probe(port, protocol))
    return out
