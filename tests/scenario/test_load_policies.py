"""The policies of a version: entries, files, folders and links, with exact messages.

A policy's problem is located in its own file; paths stay inside the
scenario's folder (links included).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from service.errors import InvalidInput
from service.scenario.load import load_scenario, parse_scenario
from service.scenario.policies import MAX_POLICY_FILES
from tests.scenario.load_world import (
    BASE,
    DENY_ALL,
    InvalidCase,
    edit_case_tests,
    edited,
    problems,
)

CASES: list[InvalidCase] = [
    (
        "policy_entry_neither_path_nor_manifest",
        "[policies/deny-all.yaml]",
        "[3]",
        [
            "s.yaml:21: versions[1].policies[0]: expected a path (relative to the scenario file)"
            " or an inline manifest mapping, got an integer",
        ],
    ),
    (
        "policy_file_that_does_not_exist",
        "[policies/deny-all.yaml]",
        "[policies/deny-al.yaml]",
        [
            "s.yaml:21: versions[1].policies[0]: policies/deny-al.yaml does not exist: expected a"
            " policy file or folder",
        ],
    ),
    (
        "policy_path_escaping_the_folder",
        "[policies/deny-all.yaml]",
        "[policies/../../secrets.yaml]",
        [
            "s.yaml:21: versions[1].policies[0]: 'policies/../../secrets.yaml' leads outside the"
            " scenario's folder: expected a file or folder inside ./",
        ],
    ),
    (
        "absolute_policy_path",
        "[policies/deny-all.yaml]",
        "[/etc/passwd]",
        [
            "s.yaml:21: versions[1].policies[0]: '/etc/passwd' is an absolute path: expected a"
            " path relative to the scenario file",
        ],
    ),
    (
        "inline_policy_with_a_typo_is_located_in_the_scenario",
        "[policies/deny-all.yaml]",
        "[{apiVersion: networking.k8s.io/v1, kind: NetworkPolicy,\n"
        "       metadata: {name: x, namespace: production}, spec: {podSelector: {}, egres: []}}]",
        ["s.yaml:22: versions[1].policies[0].spec.egres: unknown field; did you mean 'egress'?"],
    ),
    (
        "inline_policy_in_an_undeclared_namespace",
        "[policies/deny-all.yaml]",
        "[{apiVersion: networking.k8s.io/v1, kind: NetworkPolicy,\n"
        "       metadata: {name: x, namespace: staging}, spec: {podSelector: {}}}]",
        [
            "s.yaml:22: versions[1].policies[0].metadata.namespace: namespace 'staging' is not"
            " declared by the scenario: expected one of development, production",
        ],
    ),
]


(
    test_invalid_policy_entry_is_reported_as_file_line_field_expected,
    test_no_raw_pydantic_output_ever_reaches_the_user,
) = edit_case_tests(CASES)


# --- policy files -----------------------------------------------------------------------------


def test_policy_manifest_problems_name_their_own_file_and_line(folder: Path) -> None:
    (folder / "policies" / "bad.yaml").write_text(
        "apiVersion: networking.k8s.io/v1\n"
        "kind: NetworkPolicy\n"
        "metadata: {name: bad, namespace: development}\n"
        "spec:\n"
        "  podSelector: {}\n"
        "  ingress:\n"
        "    - from:\n"
        "        - podSelector:\n"
        "            matchExpressions:\n"
        "              - {key: app, operator: Inn, values: [a]}\n"
        "      ports:\n"
        "        - port: 70000\n"
    )
    # The messages are the policy parser's; where they point is ours.
    found = problems(edited("policies/deny-all.yaml", "policies/bad.yaml"), folder)
    assert [p.split(": ")[:2] for p in found] == [
        [
            "policies/bad.yaml:10",
            "spec.ingress[0].from[0].podSelector.matchExpressions[0].operator",
        ],
        ["policies/bad.yaml:12", "spec.ingress[0].ports[0].port"],
    ]
    assert "'Inn'" in found[0]
    assert "70000" in found[1]


def test_policy_file_shows_beside_the_scenario_path(folder: Path) -> None:
    (folder / "s.yaml").write_text(BASE)
    (folder / "policies" / "deny-all.yaml").write_text(DENY_ALL.replace("{}", "[]"))
    with pytest.raises(InvalidInput) as caught:
        load_scenario(folder / "s.yaml")
    (problem,) = caught.value.problems
    assert problem.file == f"{folder}/policies/deny-all.yaml"
    assert problem.line == 7


def test_policy_files_hold_only_namespaced_policies_of_known_kinds(folder: Path) -> None:
    (folder / "policies" / "mixed.yaml").write_text(
        "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\n"
        "metadata: {name: p, namespace: default}\nspec: {podSelector: {}}\n"
        "---\n"
        "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\n"
        "metadata: {name: q}\nspec: {podSelector: {}}\n"
        "---\n"
        "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: d}\n"
        "---\n"
        "apiVersion: projectcalico.org/v3\nkind: NetworkPolicy\n"
        "metadata: {name: c, namespace: development}\nspec: {}\n"
        "---\n"
        "apiVersion: projectcalico.org/v3\nkind: NetworkPolicy\n"
        "metadata: {name: d, namespace: staging}\nspec: {}\n"
        "---\n"
        "apiVersion: projectcalico.org/v3\nkind: IPPool\nmetadata: {name: pool}\n"
    )
    expected = (
        "expected a networking.k8s.io/v1 NetworkPolicy or a Calico policy object"
        " (projectcalico.org/v3 policies, tiers and network sets, or an admin policy)"
    )
    holds = "a policy version holds only policies"
    assert problems(edited("policies/deny-all.yaml", "policies/mixed.yaml"), folder) == [
        "policies/mixed.yaml:3: metadata.namespace: namespace 'default' is not declared by the"
        " scenario: expected one of development, production",
        "policies/mixed.yaml:8: metadata: policy 'q' has no metadata.namespace: expected one of"
        " the scenario's namespaces (development, production)",
        f"policies/mixed.yaml:12: kind: {expected}, got 'Deployment' (apps/v1): {holds}",
        "policies/mixed.yaml:22: metadata.namespace: namespace 'staging' is not declared by the"
        " scenario: expected one of development, production",
        f"policies/mixed.yaml:26: kind: {expected}, got 'IPPool' (projectcalico.org/v3): {holds}",
    ]


def test_policy_list_kind_is_unpacked(folder: Path) -> None:
    (folder / "policies" / "list.yaml").write_text(
        "apiVersion: v1\nkind: List\nitems:\n"
        "  - apiVersion: networking.k8s.io/v1\n    kind: NetworkPolicy\n"
        "    metadata: {name: one, namespace: development}\n    spec: {podSelector: {}}\n"
        "  - apiVersion: networking.k8s.io/v1\n    kind: NetworkPolicy\n"
        "    metadata: {name: two, namespace: staging}\n    spec: {podSelector: {}}\n"
    )
    assert problems(edited("policies/deny-all.yaml", "policies/list.yaml"), folder) == [
        "policies/list.yaml:10: items[1].metadata.namespace: namespace 'staging' is not declared"
        " by the scenario: expected one of development, production",
    ]


def test_same_policy_twice_in_a_version_is_refused(folder: Path) -> None:
    text = edited("[policies/deny-all.yaml]", "[policies/deny-all.yaml, policies/]")
    assert problems(text, folder) == [
        "policies/deny-all.yaml:4: metadata.name: policy development/deny-all is already in this"
        " version (at policies/deny-all.yaml:4): expected each policy once, as applying the"
        " second would replace the first",
    ]


def test_symlink_leading_out_of_the_folder_is_refused(
    folder: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    outside = tmp_path_factory.mktemp("outside") / "secret.yaml"
    outside.write_text(DENY_ALL)
    os.symlink(outside, folder / "policies" / "link.yaml")
    assert problems(edited("policies/deny-all.yaml", "policies/link.yaml"), folder) == [
        "s.yaml:21: versions[1].policies[0]: 'policies/link.yaml' leads outside the scenario's"
        " folder: expected a file or folder inside ./",
    ]
    # Inside a listed folder too.
    assert problems(edited("policies/deny-all.yaml", "policies"), folder) == [
        "s.yaml:21: versions[1].policies[0]: policies/link.yaml is a link leading outside the"
        " scenario's folder: refused",
    ]


def test_symlink_within_the_folder_is_followed(folder: Path) -> None:
    os.symlink(folder / "policies" / "deny-all.yaml", folder / "alias.yaml")
    s = parse_scenario(
        edited("policies/deny-all.yaml", "alias.yaml"), file="s.yaml", base_dir=folder
    )
    assert s.version("deny-all").files == ("policies/deny-all.yaml",)


def test_symlink_loop_is_refused(folder: Path) -> None:
    os.symlink(folder / "loop.yaml", folder / "loop.yaml")
    assert problems(edited("policies/deny-all.yaml", "loop.yaml"), folder) == [
        "s.yaml:21: versions[1].policies[0]: 'loop.yaml' cannot be resolved (a link loop?):"
        " expected a file path",
    ]


def test_too_many_policy_files_are_refused(folder: Path) -> None:
    many = folder / "many"
    many.mkdir()
    for i in range(MAX_POLICY_FILES + 1):
        (many / f"p{i:04}.yaml").write_text(DENY_ALL.replace("deny-all", f"p{i}"))
    assert problems(edited("policies/deny-all.yaml", "many"), folder) == [
        f"s.yaml:18: versions: more than {MAX_POLICY_FILES} policy files: expected fewer",
    ]


def test_empty_policy_folder_is_refused(folder: Path) -> None:
    (folder / "empty").mkdir()
    assert problems(edited("policies/deny-all.yaml", "empty"), folder) == [
        "s.yaml:21: versions[1].policies[0]: folder 'empty' holds no .yaml, .yml, .json files",
    ]
