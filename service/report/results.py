"""Run results as text: truth tables with regressions explained, JSON, and JUnit XML.

Truth-table symbols follow cyclonus: ``.`` allowed, ``X`` blocked, ``!`` error
(the probe could not run, or was refused), ``-`` invalid (nothing to probe,
never probed). Markers around a symbol need no colour: ``[X]`` a regression,
``(X)`` a loopback cell that differs (not a regression), a trailing ``~`` a
flaky cell. The symbol is always what was observed on the final attempt.
"""

from __future__ import annotations

import json
import textwrap
import xml.etree.ElementTree as ET
from collections.abc import Sequence

from service.runner.results import CellResult, RunResult, VersionResult
from service.scenario.model import Verdict

__all__ = ["LEGEND", "SYMBOLS", "render_json", "render_junit", "render_table"]

SYMBOLS: dict[Verdict, str] = {
    Verdict.ALLOWED: ".",
    Verdict.BLOCKED: "X",
    Verdict.ERROR: "!",
    Verdict.INVALID: "-",
}

LEGEND = (
    "legend: . allowed  X blocked  ! error  - invalid (not probed)  "
    "[ ] regression  ( ) loopback differs, not a regression  ~ flaky"
)


def render_table(result: RunResult) -> str:
    """Every version's truth tables, its regressions explained, and a summary."""
    out: list[str] = []
    for version in result.versions:
        out.extend(_version_section(version))
        out.append("")
    invalid = [r for r in result.versions[0].cells if not r.cell.probed] if result.versions else []
    if invalid:
        out.append(f"invalid cells, not probed in any version ({len(invalid)}):")
        out.extend(f"  {r.cell}: {r.cell.invalid_reason}" for r in invalid)
        out.append("")
    out.append(LEGEND)
    out.append(_run_summary(result))
    return "\n".join(out) + "\n"


def render_json(result: RunResult) -> str:
    return json.dumps(result.to_dict(), indent=2, ensure_ascii=False) + "\n"


def render_junit(result: RunResult) -> str:
    """One testsuite per version, one testcase per cell (classname ``scenario.version``)."""
    counts = result.counts
    root = ET.Element(
        "testsuites",
        name=result.scenario,
        tests=str(counts.cells),
        failures=str(_count(result, failure=True)),
        errors=str(_count(result, failure=False)),
        time=_seconds(result.duration_s * 1000),
    )
    for version in result.versions:
        suite = ET.SubElement(
            root,
            "testsuite",
            name=f"{result.scenario}.{version.version}",
            tests=str(len(version.cells)),
            failures=str(sum(1 for r in version.cells if r.regression and not r.error)),
            errors=str(sum(1 for r in version.cells if r.regression and r.error)),
            skipped=str(version.counts.invalid),
        )
        for cell_result in version.cells:
            _testcase(suite, result.scenario, cell_result)
    ET.indent(root)
    body = ET.tostring(root, encoding="unicode")
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + body + "\n"


# --- the table ---------------------------------------------------------------------


def _version_section(version: VersionResult) -> list[str]:
    head = f"== version {version.version}"
    if version.description:
        head += f": {version.description}"
    out = [head + " =="]
    groups: dict[str, list[CellResult]] = {}
    for r in version.cells:
        groups.setdefault(f"{r.cell.port}/{r.cell.protocol}", []).append(r)
    for i, (probe, results) in enumerate(groups.items()):
        if i:
            out.append("")
        out.extend(_grid(probe, results))
    c = version.counts
    out.append(
        f"{version.version}: {_n(c.cells, 'cell')} ({c.probed} probed, {c.invalid} invalid); "
        f"{_n(c.regressions, 'regression')}, {c.flaky} flaky, {_n(c.errors, 'error')}"
    )
    checks = [(r, check) for r in version.cells for check in r.checks]
    if checks:
        held = sum(1 for _, check in checks if check.held)
        out.append(f"explicit expectations: {held} of {len(checks)} held")
        out.extend(
            f"  {'held  ' if check.held else 'FAILED'} {r.cell}: expected "
            f"{check.expectation.verdict}, observed {r.observed}  ({_short(check.label)})"
            for r, check in checks
        )
    regressions = version.regressions
    if regressions:
        out.append(f"regressions ({len(regressions)}):")
        for i, r in enumerate(regressions, 1):
            out.extend(_regression(i, r))
    flaky = version.flaky
    if flaky:
        out.append(f"flaky ({len(flaky)}): the attempts disagree; the last one is the verdict")
        out.extend(f"  {r.cell}: {_attempts(r)}" for r in flaky)
    loopback = version.loopback_mismatches
    if loopback:
        out.append(f"loopback differs ({len(loopback)}; CNI-dependent, not regressions):")
        out.extend(
            f"  {r.cell}: expected {r.expected}, observed {r.observed} ({r.raw})" for r in loopback
        )
    return out


def _grid(probe: str, results: Sequence[CellResult]) -> list[str]:
    rows = list(dict.fromkeys(r.cell.source_ref for r in results))
    cols = list(dict.fromkeys(r.cell.target_ref for r in results))
    marks = {(r.cell.source_ref, r.cell.target_ref): _mark(r) for r in results}
    first = max(len(probe), *(len(row) for row in rows))
    widths = [max(len(col), 4) for col in cols]
    lines = [
        "  ".join(
            [probe.ljust(first), *(col.center(w) for col, w in zip(cols, widths, strict=True))]
        )
    ]
    for row in rows:
        cells = [marks.get((row, col), "").center(w) for col, w in zip(cols, widths, strict=True)]
        lines.append("  ".join([row.ljust(first), *cells]).rstrip())
    return lines


def _mark(r: CellResult) -> str:
    symbol = SYMBOLS[r.observed]
    if r.regression:
        mark = f"[{symbol}]"
    elif r.loopback_mismatch:
        mark = f"({symbol})"
    else:
        mark = f" {symbol} "
    return mark + ("~" if r.flaky else " ")


def _regression(index: int, r: CellResult) -> list[str]:
    pad = " " * (len(str(index)) + 4)
    out = [f"  {index}. {r.cell}  [cell {r.cell.key}]"]
    if r.observed != r.expected and r.cell.probed:
        out.append(f"{pad}expected {r.expected}, observed {r.observed}; {_attempts(r)}")
    if r.detail:
        out.append(f"{pad}{r.detail}")
    for check in r.failed_checks:
        out.append(
            f"{pad}expectation failed: {check.label}: expected {check.expectation.verdict}, "
            f"observed {r.observed}"
        )
    if r.explanation is not None:
        out.append(f"{pad}the engine expects {r.expected} because:")
        out.extend(f"{pad}  {line}" for line in r.explanation.render().splitlines())
    return out


def _attempts(r: CellResult) -> str:
    seen = ", ".join(f"{a.observed} ({a.raw}, {a.latency_ms:g} ms)" for a in r.attempts)
    return f"{len(r.attempts)} attempt{'s' if len(r.attempts) != 1 else ''}: {seen}"


def _run_summary(result: RunResult) -> str:
    c = result.counts
    head = (
        f"{result.scenario}: {_n(len(result.versions), 'version')}, {_n(c.cells, 'cell')} "
        f"({c.probed} probed, {c.invalid} invalid) on {result.backend} ({result.cluster}), "
        f"{result.duration_s:.1f} s on its clock"
    )
    if result.ok:
        extra = f"; {c.flaky} flaky" if c.flaky else ""
        return f"{head}: OK, every expected verdict and expectation held{extra}"
    return (
        f"{head}: FAILED, {_n(c.regressions, 'regression')} ({_n(c.errors, 'error')}, "
        f"{_n(c.failed_expectations, 'failed expectation')}), {c.flaky} flaky"
    )


def _short(text: str, width: int = 60) -> str:
    # Notes can be paragraphs; the table shows their start, the JSON output all of it.
    return text if len(text) <= width else text[: width - 1].rstrip() + "…"


def _n(count: int, word: str) -> str:
    return f"{count} {word}{'' if count == 1 else 's'}"


# --- JUnit -------------------------------------------------------------------------


def _count(result: RunResult, *, failure: bool) -> int:
    return sum(1 for r in result.cells if r.regression and (r.error is not failure))


def _seconds(ms: float | None) -> str:
    return f"{(ms or 0.0) / 1000:.6f}"


def _testcase(suite: ET.Element, scenario: str, r: CellResult) -> None:
    cell = r.cell
    case = ET.SubElement(
        suite,
        "testcase",
        classname=f"{scenario}.{cell.version}",
        name=f"{cell.source_ref} -> {cell.target_ref} {cell.port}/{cell.protocol}",
        time=_seconds(sum(a.latency_ms for a in r.attempts)),
    )
    props = ET.SubElement(case, "properties")
    for name, value in (
        ("cell", cell.key),
        ("kind", str(cell.kind)),
        ("expected", str(r.expected)),
        ("observed", str(r.observed)),
        ("raw", str(r.raw) if r.raw is not None else ""),
        ("attempts", ",".join(str(a.observed) for a in r.attempts)),
        ("flaky", "true" if r.flaky else "false"),
    ):
        ET.SubElement(props, "property", name=name, value=value)
    if not cell.probed:
        ET.SubElement(case, "skipped", message=f"invalid: {cell.invalid_reason}")
        return
    if r.regression:
        text = textwrap.dedent("\n".join(_regression(1, r)[1:]))
        tag = "error" if r.error else "failure"
        reasons = (
            [f"expected {r.expected}, observed {r.observed}"] if r.observed != r.expected else []
        )
        reasons.extend(f"{c.label}: expected {c.expectation.verdict}" for c in r.failed_checks)
        element = ET.SubElement(
            case, tag, message="; ".join(reasons), type=str(r.raw) if r.error else "regression"
        )
        element.text = text
    elif r.flaky or r.loopback_mismatch:
        out = ET.SubElement(case, "system-out")
        out.text = _attempts(r)
