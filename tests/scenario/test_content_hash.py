"""Content hashes of scenarios and versions: content counts, formatting does not."""

from __future__ import annotations

import random
from pathlib import Path

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from service.scenario.load import load_scenario, parse_scenario
from tests.scenario.load_world import BASE, DATA, DENY_ALL, REPO, edited


def test_content_hash_ignores_yaml_formatting_key_order_and_file_layout() -> None:
    original = load_scenario(REPO / "scenarios" / "calico-workshop.yaml")
    # The same scenario and policies rewritten as JSON, every mapping's keys reversed,
    # namespaces and sources in another order, labels as strings.
    rewritten = load_scenario(DATA / "reformatted" / "calico-workshop.json")
    assert rewritten.version("deny-all").files != original.version("deny-all").files
    assert [v.content_hash for v in rewritten.versions] == [
        v.content_hash for v in original.versions
    ]
    assert rewritten.content_hash == original.content_hash


def _shuffled(value: object, rnd: random.Random) -> object:
    if isinstance(value, dict):
        keys = list(value)
        rnd.shuffle(keys)
        return {k: _shuffled(value[k], rnd) for k in keys}
    if isinstance(value, list):
        return [_shuffled(v, rnd) for v in value]
    return value


@settings(max_examples=40, deadline=None)
@given(rnd=st.randoms(use_true_random=False), flow=st.booleans())
def test_content_hash_is_the_same_for_any_key_order_and_style(
    rnd: random.Random, flow: bool
) -> None:
    path = REPO / "scenarios" / "microservices.yaml"
    data = yaml.safe_load(path.read_text())
    text = yaml.safe_dump(_shuffled(data, rnd), sort_keys=False, default_flow_style=flow)
    again = parse_scenario(text, file="again.yaml", base_dir=path.parent)
    assert again.content_hash == load_scenario(path).content_hash


def test_content_hash_ignores_comments_and_blank_lines(folder: Path) -> None:
    plain = parse_scenario(BASE, file="s.yaml", base_dir=folder)
    commented = "# a comment\n\n" + BASE.replace("\n", "  # why\n", 3)
    assert parse_scenario(commented, file="s.yaml", base_dir=folder).content_hash == (
        plain.content_hash
    )


def test_policy_change_changes_its_version_hash_and_the_scenario_hash(folder: Path) -> None:
    before = parse_scenario(BASE, file="s.yaml", base_dir=folder)
    (folder / "policies" / "deny-all.yaml").write_text(
        DENY_ALL.replace("podSelector: {}", "podSelector: {matchLabels: {app: webapp}}")
    )
    after = parse_scenario(BASE, file="s.yaml", base_dir=folder)
    assert after.version("none").content_hash == before.version("none").content_hash
    assert after.version("deny-all").content_hash != before.version("deny-all").content_hash
    assert after.content_hash != before.content_hash


def test_policy_defaults_written_out_do_not_change_the_hash(folder: Path) -> None:
    before = parse_scenario(BASE, file="s.yaml", base_dir=folder)
    # The API server defaults policyTypes to [Ingress] here; writing it changes nothing.
    (folder / "policies" / "deny-all.yaml").write_text(DENY_ALL + "  policyTypes: [Ingress]\n")
    after = parse_scenario(BASE, file="s.yaml", base_dir=folder)
    assert after.version("deny-all").content_hash == before.version("deny-all").content_hash


def test_content_hash_ignores_the_order_of_sets_but_not_of_versions(folder: Path) -> None:
    before = parse_scenario(BASE, file="s.yaml", base_dir=folder).content_hash
    reordered = edited(
        "  namespaces: [development, production]", "  namespaces: [production, development]"
    )
    assert parse_scenario(reordered, file="s.yaml", base_dir=folder).content_hash == before
    swapped = edited(
        "  - name: none\n  - name: deny-all\n    policies: [policies/deny-all.yaml]\n",
        "  - name: deny-all\n    policies: [policies/deny-all.yaml]\n  - name: none\n",
    )
    assert parse_scenario(swapped, file="s.yaml", base_dir=folder).content_hash != before


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ("expect: allowed", "expect: blocked"),
        ("{purpose: development}", "{purpose: dev}"),
        ("description: A small", "description: Another small"),
        ('"0 3 * * *"', '"0 4 * * *"'),
    ],
)
def test_content_hash_changes_with_content(folder: Path, old: str, new: str) -> None:
    before = parse_scenario(BASE, file="s.yaml", base_dir=folder).content_hash
    after = parse_scenario(edited(old, new), file="s.yaml", base_dir=folder).content_hash
    assert after != before
