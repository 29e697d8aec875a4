"""Scenarios handed to the API: read, checked, and turned into Scenario values.

A scenario comes as the YAML text or the JSON document a user would write in a
file. Over HTTP there is no folder next to it, so its policies must be inline:
a policy given by path is refused with its field path and line, and the
scenario is read against an empty folder, so nothing on the server's disk is
ever opened. Text that cannot be read (YAML or JSON syntax) is a 400; a
readable document that is not a valid scenario is a 422, each problem with its
field path and line.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any, Final

from service.api.problems import ApiError, bad_request, unprocessable
from service.errors import FieldPath, InvalidInput, Problem
from service.manifests.source import Document, parse_documents
from service.scenario.load import MAX_SCENARIO_BYTES, scenario_from_documents
from service.scenario.model import Scenario

__all__ = ["scenario_from_json_value", "scenario_from_text"]

_FILE: Final = "<body>"


def _relocated(
    problems: tuple[Problem, ...], prefix: FieldPath, *, keep_lines: bool
) -> list[Problem]:
    out = []
    for problem in problems:
        moved = problem.under(prefix) if prefix.parts else problem
        out.append(
            replace(
                moved,
                file=None,
                line=moved.line if keep_lines else None,
                column=moved.column if keep_lines else None,
            )
        )
    return out


def _walk(data: object, path: FieldPath) -> Iterator[tuple[FieldPath, str]]:
    """Every string (keys too) in ``data`` with where it is."""
    if isinstance(data, str):
        yield path, data
    elif isinstance(data, dict):
        for key, value in data.items():
            if isinstance(key, str):
                yield path / key, key
            yield from _walk(value, path / str(key))
    elif isinstance(data, list):
        for i, value in enumerate(data):
            yield from _walk(value, path / i)


def _unstorable(document: Document) -> list[Problem]:
    problems = []
    for path, text in _walk(document.data, FieldPath()):
        if "\x00" in text:
            message = "NUL characters are not accepted"
        else:
            try:
                text.encode("utf-8")
            except UnicodeEncodeError:
                message = "not valid text (a lone surrogate)"
            else:
                continue
        problems.append(Problem(message, path=path, line=document.line_of(path)))
    return problems


def _policy_paths(document: Document) -> list[Problem]:
    data = document.data
    versions = data.get("versions") if isinstance(data, dict) else None
    problems = []
    for i, version in enumerate(versions if isinstance(versions, list) else []):
        policies = version.get("policies") if isinstance(version, dict) else None
        for j, entry in enumerate(policies if isinstance(policies, list) else []):
            if isinstance(entry, str):
                path = FieldPath(("versions", i, "policies", j))
                problems.append(
                    Problem(
                        f"{entry!r} is a file path: a scenario sent to the API must hold its"
                        " policies inline (the manifest mapping itself)",
                        path=path,
                        line=document.line_of(path),
                    )
                )
    return problems


def scenario_from_text(text: str, *, prefix: FieldPath | None = None) -> Scenario:
    """The scenario in ``text`` (YAML or JSON); problems are placed under ``prefix``."""
    where = prefix if prefix is not None else FieldPath()
    size = len(text.encode("utf-8", "surrogatepass"))
    if size > MAX_SCENARIO_BYTES:
        raise ApiError(
            413, f"the scenario is {size} bytes, over the limit of {MAX_SCENARIO_BYTES} bytes"
        )
    try:
        documents = parse_documents(text, file=_FILE)
    except InvalidInput as err:
        raise bad_request(_relocated(err.problems, where, keep_lines=True)) from err
    found: list[Problem] = []
    for document in documents:
        found.extend(_unstorable(document))
        found.extend(_policy_paths(document))
    if found:
        raise unprocessable(_relocated(tuple(found), where, keep_lines=True))
    # An empty folder: nothing a scenario names can be read from the server's disk.
    with tempfile.TemporaryDirectory(prefix="netpol-drift-api-") as empty:
        try:
            # The documents parsed above: the text is not parsed twice.
            return scenario_from_documents(documents, file=_FILE, base_dir=Path(empty))
        except InvalidInput as err:
            raise unprocessable(_relocated(err.problems, where, keep_lines=True)) from err


def scenario_from_json_value(value: dict[str, Any], *, prefix: FieldPath) -> Scenario:
    """A scenario given as a JSON object inside a larger body (its lines would be ours,
    not the user's, so problems carry only field paths)."""
    text = json.dumps(value, ensure_ascii=False)
    try:
        return scenario_from_text(text)
    except ApiError as err:
        if not err.problems:
            raise
        problems = _relocated(err.problems, prefix, keep_lines=False)
        raise (bad_request(problems) if err.status == 400 else unprocessable(problems)) from err
