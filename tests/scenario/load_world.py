"""What the scenario-loading tests work with: a small valid scenario and its edits.

Messages have the shape ``file:line: field: what was expected``. Most cases
edit one line of a small valid scenario (BASE) and compare every problem
reported; the ``folder`` fixture (conftest) holds its policy file. A table of
such edits gets its two tests from :func:`edit_case_tests`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import pytest

from service.errors import InvalidInput
from service.scenario.load import parse_scenario

REPO = Path(__file__).resolve().parents[2]
DATA = Path(__file__).resolve().parent / "data"

DENY_ALL = """\
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: deny-all
  namespace: development
spec:
  podSelector: {}
"""

# Line numbers matter: the expected messages of the tests name them.
BASE = """\
name: demo
description: A small scenario for the loader's tests.
namespaces:
  development: {purpose: development}
  production: {purpose: production}
targets:
  - name: backend
    namespace: development
    labels: {app: webapp, role: backend}
    ports:
      - {port: 80, name: http}
    service: true
matrix:
  sources:
    unlabelled: {}
    frontend: {app: webapp, role: frontend}
  namespaces: [development, production]
versions:
  - name: none
  - name: deny-all
    policies: [policies/deny-all.yaml]
expectations:
  - {from: development, labels: "app=webapp,role=frontend", to: backend, port: 80/TCP,
     expect: allowed, versions: [none], note: "1.3"}
schedule: {cron: "0 3 * * *", timezone: Europe/Stockholm}
"""


# (case id, a line of BASE, what replaces it, every problem reported, in order)
InvalidCase = tuple[str, str, str, list[str]]

# What pydantic says in its own words; a user must never read it.
RAW_PYDANTIC = ("pydantic", "Input should", "Field required", "Extra inputs", "Value error")


def edited(old: str, new: str) -> str:
    assert BASE.count(old) == 1, f"{old!r} must occur once in BASE"
    return BASE.replace(old, new)


def problems(text: str, folder: Path) -> list[str]:
    with pytest.raises(InvalidInput) as caught:
        parse_scenario(text, file="s.yaml", base_dir=folder)
    return [str(p) for p in caught.value.problems]


def invalid_cases(cases: Sequence[InvalidCase], names: Sequence[str]) -> pytest.MarkDecorator:
    """Parametrise over ``cases`` with the first ``len(names)`` fields after the id."""
    return pytest.mark.parametrize(
        tuple(names), [c[1 : 1 + len(names)] for c in cases], ids=[c[0] for c in cases]
    )


# A test function as pytest calls it: with fixtures and parameters by name.
CaseTest = Callable[..., None]


def edit_case_tests(cases: Sequence[InvalidCase]) -> tuple[CaseTest, CaseTest]:
    """The two tests of a table of edits, for its module to bind to names of its own.

    First, that each edit is reported with exactly its problems, in order; second,
    that none of them is pydantic's own wording (a user must never read it).
    """

    @invalid_cases(cases, ("old", "new", "expected"))
    def reported_exactly(folder: Path, old: str, new: str, expected: list[str]) -> None:
        assert problems(edited(old, new), folder) == expected

    @invalid_cases(cases, ("old", "new"))
    def no_raw_pydantic(folder: Path, old: str, new: str) -> None:
        text = "\n".join(problems(edited(old, new), folder))
        for raw in RAW_PYDANTIC:
            assert raw not in text

    return reported_exactly, no_raw_pydantic
