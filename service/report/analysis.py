"""Renderers for ``netpol-drift analyze``: the JSON document and the terminal table.

Both show the facts of a :class:`~service.report.connlist.ConnList`; the JSON
document adds the files read and the kinds skipped, and follows
:data:`ANALYZE_JSON_SCHEMA` (published in docs/analyze.md).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from typing import Any

from service.policy.connections import ConnectionSet
from service.policy.model import Protocol
from service.report.connlist import ConnList, Endpoint, ExternalRange

__all__ = [
    "ANALYZE_JSON_SCHEMA",
    "CELL_WIDTH",
    "DOCUMENT_FORMAT",
    "analysis_document",
    "render_json",
    "render_table",
    "skipped_note",
]

DOCUMENT_FORMAT = "netpol-drift/analyze/v1"
_PORT_PAIR = re.compile(r"\[\s+(\d+),\s+(\d+)\s+\]")
# Widest connection text shown in a matrix cell; longer ones get a legend code.
CELL_WIDTH = 12

_PORT_RANGE: dict[str, Any] = {
    "type": "array",
    "items": {"type": "integer", "minimum": 1, "maximum": 65535},
    "minItems": 2,
    "maxItems": 2,
}

ANALYZE_JSON_SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "title": "netpol-drift analyze output",
    "type": "object",
    "required": ["format", "files", "workloads", "external", "connections", "skipped"],
    "additionalProperties": False,
    "properties": {
        "format": {"const": DOCUMENT_FORMAT},
        "files": {"type": "array", "items": {"type": "string"}},
        "workloads": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["id", "namespace", "name", "kind"],
                "additionalProperties": False,
                "properties": {
                    "id": {"type": "string", "pattern": "^[^/]+/[^/]+\\[[^\\]]+\\]$"},
                    "namespace": {"type": "string"},
                    "name": {"type": "string"},
                    "kind": {"type": "string"},
                },
            },
        },
        "external": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["id", "first", "last", "ip_version"],
                "additionalProperties": False,
                "properties": {
                    "id": {"type": "string", "pattern": "^[0-9a-f.:]+-[0-9a-f.:]+\\[External\\]$"},
                    "first": {"type": "string"},
                    "last": {"type": "string"},
                    "ip_version": {"enum": [4, 6]},
                },
            },
        },
        "connections": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["source", "destination", "connections", "all", "ports"],
                "additionalProperties": False,
                "properties": {
                    "source": {"type": "string"},
                    "destination": {"type": "string"},
                    "connections": {"type": "string"},
                    "all": {"type": "boolean"},
                    "ports": {
                        "type": "object",
                        "additionalProperties": False,
                        "properties": {
                            protocol.value: {"type": "array", "items": _PORT_RANGE, "minItems": 1}
                            for protocol in Protocol
                        },
                    },
                },
            },
        },
        "skipped": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["kind", "count"],
                "additionalProperties": False,
                "properties": {
                    "kind": {"type": "string"},
                    "count": {"type": "integer", "minimum": 1},
                },
            },
        },
    },
}


def skipped_note(skipped: Mapping[str, int]) -> str | None:
    """One line naming each skipped kind and its count, or None when nothing was skipped."""
    counts = {kind: n for kind, n in skipped.items() if n > 0}
    if not counts:
        return None
    total = sum(counts.values())
    kinds = ", ".join(f"{counts[kind]} {kind}" for kind in sorted(counts))
    noun = "object" if total == 1 else "objects"
    return f"note: skipped {total} {noun} the analysis does not use: {kinds}"


def _ports(connections: ConnectionSet) -> dict[str, list[list[int]]]:
    return {
        protocol.value: [[lo, hi] for lo, hi in connections.ranges(protocol)]
        for protocol in Protocol
        if connections.ranges(protocol)
    }


def analysis_document(
    connlist: ConnList, *, skipped: Mapping[str, int], files: Sequence[str]
) -> dict[str, Any]:
    """The JSON document as plain data; endpoints are referred to by their ``id``."""
    return {
        "format": DOCUMENT_FORMAT,
        "files": list(files),
        "workloads": [
            {"id": str(w), "namespace": w.namespace, "name": w.name, "kind": w.kind}
            for w in connlist.workloads
        ],
        "external": [
            {"id": str(r), "first": str(r.first), "last": str(r.last), "ip_version": r.version}
            for r in connlist.external
        ],
        "connections": [
            {
                "source": str(c.source),
                "destination": str(c.destination),
                "connections": str(c.connections),
                "all": c.connections.is_all,
                "ports": _ports(c.connections),
            }
            for c in connlist.connections
        ],
        "skipped": [
            {"kind": kind, "count": skipped[kind]} for kind in sorted(skipped) if skipped[kind] > 0
        ],
    }


def render_json(connlist: ConnList, *, skipped: Mapping[str, int], files: Sequence[str]) -> str:
    text = json.dumps(analysis_document(connlist, skipped=skipped, files=files), indent=2)
    # One port range per line ([1, 79]) instead of four: only number pairs look like this.
    return _PORT_PAIR.sub(r"[\1, \2]", text) + "\n"


# --- the table ---------------------------------------------------------------------------


def _cell(connections: ConnectionSet | None, codes: dict[ConnectionSet, str]) -> str:
    if connections is None:
        return "-"
    if connections.is_all:
        return "all"
    text = str(connections)
    if len(text) <= CELL_WIDTH:
        return text
    # Numbered in order of first appearance, so the legend reads top to bottom.
    return codes.setdefault(connections, f"c{len(codes) + 1}")


def _matrix(
    connlist: ConnList,
    between: Mapping[tuple[Endpoint, Endpoint], ConnectionSet],
    *,
    width: int,
) -> list[str] | None:
    """The workload matrix and its legend as lines, or None when its rows exceed ``width``."""
    workloads = connlist.workloads
    labels = [f"{i} {w}" for i, w in enumerate(workloads, start=1)]
    headers = [str(i) for i in range(1, len(workloads) + 1)]
    label_width = max(len(label) for label in labels)
    # Every column takes at least its number and a gap: skip building a matrix of
    # hundreds of workloads only to find it too wide.
    if 4 + label_width + sum(len(h) + 2 for h in headers) > width:
        return None
    codes: dict[ConnectionSet, str] = {}
    rows = [
        ["=" if src == dst else _cell(between.get((src, dst)), codes) for dst in workloads]
        for src in workloads
    ]
    widths = [max(len(headers[j]), *(len(row[j]) for row in rows)) for j in range(len(headers))]

    def line(label: str, cells: list[str]) -> str:
        padded = "  ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True))
        return f"  {label.ljust(label_width)}  {padded}".rstrip()

    lines = [line("", headers)]
    lines.extend(line(label, row) for label, row in zip(labels, rows, strict=True))
    if max(len(text) for text in lines) > width:
        return None
    lines.append("")
    lines.append('  "all" All Connections, "-" no connections, "=" the workload itself')
    lines.extend(f'  "{code}" {conns}' for conns, code in codes.items())
    return lines


def render_table(connlist: ConnList, *, width: int = 120) -> str:
    """A source x destination matrix of workloads, or a per-pair list when wider than ``width``.

    Connections with addresses outside the cluster follow as one line per pair:
    there may be many ranges and each is a row and a column of its own.
    """
    between = {(c.source, c.destination): c.connections for c in connlist.connections}
    out: list[str] = []
    matrix = _matrix(connlist, between, width=width) if connlist.workloads else None
    if not connlist.workloads:
        out.append("No workloads found.")
    elif matrix is not None:
        out.append("Connections between workloads (rows: source, columns: destination)")
        out.append("")
        out.extend(matrix)
    else:
        out.append("Connections between workloads (one line per connected pair)")
        out.append("")
        out.extend(_pair_list(connlist, external=False))
    external = _pair_list(connlist, external=True)
    if external:
        out.append("")
        out.append("Connections with addresses outside the cluster")
        out.append("")
        out.extend(external)
    return "\n".join(out) + "\n"


def _pair_list(connlist: ConnList, *, external: bool) -> list[str]:
    """Pairs grouped under their source: only pairs with an external end, or only without."""
    lines: list[str] = []
    current: Endpoint | None = None
    for c in connlist.connections:
        has_external = isinstance(c.source, ExternalRange) or isinstance(
            c.destination, ExternalRange
        )
        if has_external != external:
            continue
        if c.source != current:
            current = c.source
            lines.append(f"  {c.source}")
        lines.append(f"    => {c.destination} : {c.connections}")
    if not external and not lines and connlist.workloads:
        lines.append("  (no workload can reach another)")
    return lines
