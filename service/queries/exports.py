"""A stored run's cells as files to download: JUnit XML, JSON and CSV.

These render what the store keeps (the cells of :func:`service.queries.cells.all_cells`
and the run of :func:`service.queries.runs.get_run`), so a download needs no
planning and no engine: the JUnit layout follows the CLI's report
(:func:`service.report.results.render_junit`: one testsuite per policy
version, one testcase per cell, invalid cells skipped, regressions as
failures, or errors when the probe could not run) with what is stored per
cell (the explanation as text; explicit expectations show only as the
regression flag).
"""

from __future__ import annotations

import csv
import io
import json
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from typing import Final

from typing_extensions import TypedDict

from service.queries.cells import CellView
from service.queries.runs import RunDetail

__all__ = ["CSV_COLUMNS", "RunExport", "render_csv", "render_json", "render_junit"]

CSV_COLUMNS: Final = (
    "version",
    "source_namespace",
    "source",
    "source_labels",
    "target_namespace",
    "target",
    "port",
    "port_number",
    "protocol",
    "loopback",
    "expected",
    "observed",
    "raw_outcome",
    "latency_ms",
    "attempts",
    "regression",
    "flaky",
    "key",
)
# A cell a spreadsheet would run as a formula starts with one of these.
_FORMULA_START: Final = ("=", "+", "-", "@", "\t", "\r")


class RunExport(TypedDict):
    """A run and its cells in one document."""

    run: RunDetail
    cells: list[CellView]


def render_json(run: RunDetail, cells: Sequence[CellView]) -> str:
    document = RunExport(run=run, cells=list(cells))
    return json.dumps(document, ensure_ascii=False) + "\n"


def _csv_value(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict):
        return _guarded(",".join(f"{k}={v}" for k, v in value.items()))
    return _guarded(value) if isinstance(value, str) else str(value)


def _guarded(text: str) -> str:
    if text.startswith(_FORMULA_START):
        return "'" + text
    return text


def render_csv(cells: Sequence[CellView]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    for cell in cells:
        writer.writerow([_csv_value(cell[name]) for name in CSV_COLUMNS])
    return out.getvalue()


def _seconds(ms: float | None) -> str:
    return f"{(ms or 0.0) / 1000:.6f}"


def render_junit(run: RunDetail, cells: Sequence[CellView]) -> str:
    scenario = run["scenario"]
    by_version: dict[str, list[CellView]] = {}
    for cell in cells:
        by_version.setdefault(cell["version"], []).append(cell)
    failures = sum(1 for c in cells if c["regression"] and c["observed"] != "error")
    errors = sum(1 for c in cells if c["regression"] and c["observed"] == "error")
    root = ET.Element(
        "testsuites",
        name=scenario,
        tests=str(len(cells)),
        failures=str(failures),
        errors=str(errors),
        time=f"{run['duration_s'] or 0.0:.6f}",
    )
    for version, members in by_version.items():
        suite = ET.SubElement(
            root,
            "testsuite",
            name=f"{scenario}.{version}",
            tests=str(len(members)),
            failures=str(sum(1 for c in members if c["regression"] and c["observed"] != "error")),
            errors=str(sum(1 for c in members if c["regression"] and c["observed"] == "error")),
            skipped=str(sum(1 for c in members if c["observed"] == "invalid")),
        )
        for cell in members:
            _testcase(suite, scenario, cell)
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"


def _testcase(suite: ET.Element, scenario: str, cell: CellView) -> None:
    name = (
        f"{cell['source_namespace']}/{cell['source']} -> {cell['target_namespace']}/"
        f"{cell['target']} {cell['port']}/{cell['protocol']}"
    )
    case = ET.SubElement(
        suite,
        "testcase",
        classname=f"{scenario}.{cell['version']}",
        name=name,
        time=_seconds(cell["latency_ms"]),
    )
    props = ET.SubElement(case, "properties")
    for key, value in (
        ("cell", cell["key"]),
        ("loopback", "true" if cell["loopback"] else "false"),
        ("expected", cell["expected"]),
        ("observed", cell["observed"]),
        ("raw", cell["raw_outcome"] or ""),
        ("attempts", str(cell["attempts"])),
        ("flaky", "true" if cell["flaky"] else "false"),
    ):
        ET.SubElement(props, "property", name=key, value=value)
    if cell["observed"] == "invalid":
        ET.SubElement(case, "skipped", message=f"invalid: {cell['explanation'] or 'not probed'}")
        return
    if cell["regression"]:
        error = cell["observed"] == "error"
        if cell["observed"] != cell["expected"]:
            message = f"expected {cell['expected']}, observed {cell['observed']}"
        else:
            message = f"an explicit expectation failed (observed {cell['observed']})"
        element = ET.SubElement(
            case,
            "error" if error else "failure",
            message=message,
            type=(cell["raw_outcome"] or "error") if error else "regression",
        )
        element.text = cell["explanation"] or ""
    elif cell["flaky"] or (cell["loopback"] and cell["observed"] != cell["expected"]):
        out = ET.SubElement(case, "system-out")
        out.text = (
            f"{cell['attempts']} attempts; final {cell['observed']} ({cell['raw_outcome']});"
            f" expected {cell['expected']}"
        )
