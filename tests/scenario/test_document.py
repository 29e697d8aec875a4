"""A scenario survives the trip through its stored JSON document, whole and runnable."""

from __future__ import annotations

import json
import shutil
from dataclasses import replace
from pathlib import Path

import pytest

from service.errors import InvalidInput
from service.policy.calico.model import CalicoEntry
from service.scenario.document import (
    DOCUMENT_FORMAT,
    scenario_document,
    scenario_from_document,
    scenario_from_json,
    scenario_json,
)
from service.scenario.hashing import policies_hash, scenario_hash
from service.scenario.load import load_scenario
from service.scenario.plan import plan_matrix, plan_version

SCENARIOS = Path(__file__).resolve().parents[2] / "scenarios"
READY = sorted(SCENARIOS.glob("*.yaml"))


@pytest.fixture(params=READY, ids=[p.stem for p in READY])
def ready(request: pytest.FixtureRequest) -> Path:
    path = request.param
    assert isinstance(path, Path)
    return path


def test_every_ready_scenario_comes_back_equal_with_equal_hashes(ready: Path) -> None:
    scenario = load_scenario(ready)
    back = scenario_from_json(scenario_json(scenario))
    assert back == scenario
    assert scenario_hash(back) == scenario_hash(scenario) == scenario.content_hash
    for version, original in zip(back.versions, scenario.versions, strict=True):
        assert policies_hash(version.policies) == original.content_hash


def test_what_equality_ignores_survives_too(ready: Path) -> None:
    # Line numbers and where a policy came from explain verdicts; the Calico
    # manifest as written is what a real cluster gets applied.
    scenario = load_scenario(ready)
    back = scenario_from_json(scenario_json(scenario))
    assert back.path == scenario.path
    for version, original in zip(back.versions, scenario.versions, strict=True):
        for policy, before in zip(version.policies, original.policies, strict=True):
            assert type(policy) is type(before)
            assert policy.source == before.source
            if isinstance(before, CalicoEntry):
                assert isinstance(policy, CalicoEntry)
                assert policy.manifest == before.manifest


def test_the_rebuilt_scenario_plans_the_same_cells_and_verdicts(ready: Path) -> None:
    scenario = load_scenario(ready)
    back = scenario_from_json(scenario_json(scenario))
    before, after = plan_matrix(scenario), plan_matrix(back)
    assert [c.key for c in after.cells] == [c.key for c in before.cells]
    for version in before.versions:
        expected = plan_version(before, version.name).expected
        rebuilt = plan_version(after, version.name).expected
        assert {k: e.verdict for k, e in rebuilt.items()} == {
            k: e.verdict for k, e in expected.items()
        }
        assert {k: e.explanation for k, e in rebuilt.items()} == {
            k: e.explanation for k, e in expected.items()
        }


def test_the_same_scenario_gives_the_same_text(ready: Path) -> None:
    scenario = load_scenario(ready)
    text = scenario_json(scenario)
    assert scenario_json(scenario_from_json(text)) == text
    assert json.loads(text)["format"] == DOCUMENT_FORMAT


def test_the_document_needs_no_file_of_the_scenario(tmp_path: Path) -> None:
    # Policies read from files are inlined: the document is all a worker has.
    folder = tmp_path / "copy"
    folder.mkdir()
    source = SCENARIOS / "calico-workshop.yaml"
    (folder / "s.yaml").write_text(source.read_text(encoding="utf-8"), encoding="utf-8")
    shutil.copytree(SCENARIOS / "calico-workshop", folder / "calico-workshop")
    scenario = load_scenario(folder / "s.yaml")
    text = scenario_json(scenario)
    shutil.rmtree(folder)
    assert scenario_from_json(text) == scenario


def _document(ready: Path) -> dict[str, object]:
    return scenario_document(load_scenario(ready))


BROKEN: list[tuple[str, object, str]] = [
    ("format", "netpol-drift/scenario/0", "format"),
    ("name", 42, "scenario.name"),
    ("unknown", "x", "scenario.unknown"),
    ("matrix", None, "scenario.matrix"),
    ("versions", "v1", "scenario.versions"),
]


@pytest.mark.parametrize(("field", "value", "where"), BROKEN, ids=[b[0] for b in BROKEN])
def test_a_damaged_document_is_refused_naming_the_field(
    field: str, value: object, where: str
) -> None:
    document = scenario_document(load_scenario(SCENARIOS / "calico-workshop.yaml"))
    if field == "format":
        document["format"] = value  # type: ignore[assignment]
    else:
        inner = document["scenario"]
        assert isinstance(inner, dict)
        inner[field] = value  # type: ignore[assignment]
    with pytest.raises(InvalidInput) as raised:
        scenario_from_document(document)
    assert where in [str(p.path) for p in raised.value.problems]


def test_a_missing_field_and_an_unknown_type_tag_are_named() -> None:
    document = scenario_document(load_scenario(SCENARIOS / "calico-workshop-v3.yaml"))
    inner = document["scenario"]
    assert isinstance(inner, dict)
    del inner["targets"]
    versions = inner["versions"]
    assert isinstance(versions, list)
    assert isinstance(versions[1], dict)
    policies = versions[1]["policies"]
    assert isinstance(policies, list)
    assert isinstance(policies[0], dict)
    policies[0]["$type"] = "os.system"
    with pytest.raises(InvalidInput) as raised:
        scenario_from_document(document)
    messages = {str(p.path): p.message for p in raised.value.problems}
    assert "missing field" in messages["scenario.targets"]
    assert "not allowed here" in messages["scenario.versions[1].policies[0]"]


def test_text_that_is_not_json_is_refused() -> None:
    with pytest.raises(InvalidInput, match="not JSON"):
        scenario_from_json("{name: workshop")


def test_a_scenario_without_a_path_round_trips() -> None:
    scenario = replace(load_scenario(SCENARIOS / "e2e-model.yaml"), path=None)
    assert scenario_from_json(scenario_json(scenario)).path is None
