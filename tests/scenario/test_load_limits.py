"""What a scenario file may hold: one mapping, under the size limit, no alias bombs."""

from __future__ import annotations

from pathlib import Path

import pytest

from service.errors import InvalidInput
from service.policy.model import Labels
from service.scenario.load import MAX_SCENARIO_BYTES, load_scenario, parse_scenario
from tests.scenario.load_world import BASE, edited, problems


def _alias_bomb(levels: int = 9) -> str:
    lines = ["b0: &b0 [x, x, x, x, x, x, x, x, x, x]"]
    for i in range(1, levels):
        lines.append(f"b{i}: &b{i} [" + ", ".join([f"*b{i - 1}"] * 10) + "]")
    return "\n".join(lines) + "\n"


def test_alias_bomb_in_the_scenario_is_refused(folder: Path) -> None:
    (found,) = problems(_alias_bomb() + BASE, folder)
    assert found.startswith("s.yaml:5: b4[")
    assert "alias bomb" in found


def test_alias_bomb_in_a_policy_file_is_refused(folder: Path) -> None:
    (folder / "policies" / "bomb.yaml").write_text(_alias_bomb())
    (found,) = problems(edited("policies/deny-all.yaml", "policies/bomb.yaml"), folder)
    assert found.startswith("policies/bomb.yaml:5: b4[")
    assert "alias bomb" in found


def test_few_aliases_are_fine(folder: Path) -> None:
    text = edited("{app: webapp, role: frontend}", "&fe {app: webapp, role: frontend}")
    text = text.replace('labels: "app=webapp,role=frontend"', "labels: *fe")
    s = parse_scenario(text, file="s.yaml", base_dir=folder)
    assert s.expectations[0].source_labels == Labels({"app": "webapp", "role": "frontend"})


def test_scenario_over_the_size_limit_is_refused_before_parsing(folder: Path) -> None:
    padding = "#" * 99 + "\n"
    text = BASE + padding * (MAX_SCENARIO_BYTES // len(padding) + 1)
    assert problems(text, folder) == [
        f"s.yaml: the scenario is {len(text)} bytes, over the limit of {MAX_SCENARIO_BYTES} bytes"
    ]
    (folder / "big.yaml").write_text(text)
    with pytest.raises(InvalidInput) as caught:
        load_scenario(folder / "big.yaml")
    (problem,) = caught.value.problems
    assert problem.file == str(folder / "big.yaml")
    assert "over the limit of 1.0 MiB" in problem.message


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "",
            "s.yaml: the file is empty: expected a scenario: a mapping with name, namespaces,"
            " targets, matrix and versions",
        ),
        (
            "- a\n- b\n",
            "s.yaml:1: expected a scenario: a mapping with name, namespaces, targets,"
            " matrix and versions, got a list",
        ),
        (
            BASE + "---\nname: other\n",
            "s.yaml:27: expected one YAML document, found 2: a scenario"
            " is one document (put policies in their own files)",
        ),
    ],
    ids=["empty", "not_a_mapping", "two_documents"],
)
def test_file_must_hold_one_scenario_mapping(folder: Path, text: str, expected: str) -> None:
    assert problems(text, folder) == [expected]
