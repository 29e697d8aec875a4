"""Which single mutations are generated from which policy fields, and which are not."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from service.mutate.generate import Mutant, generate_mutants
from service.mutate.model import MutationKind
from service.mutate.vocabulary import build_vocabulary
from service.policy.checks import check_policies
from service.policy.model import Direction, Protocol
from service.scenario.load import parse_scenario
from service.scenario.model import Scenario

K = MutationKind


def _scenario(spec: dict[str, Any], *, namespaces: dict[str, Any] | None = None) -> Scenario:
    document = {
        "name": "gen",
        "namespaces": namespaces or {"app": {"team": "a"}, "other": {"team": "b"}},
        "targets": [
            {"name": "web", "namespace": "app", "labels": {"app": "web"}, "ports": [{"port": 80}]}
        ],
        "matrix": {"sources": {"any": {}}},
        "versions": [
            {
                "name": "v1",
                "policies": [
                    {
                        "apiVersion": "networking.k8s.io/v1",
                        "kind": "NetworkPolicy",
                        "metadata": {"name": "p", "namespace": "app"},
                        "spec": spec,
                    }
                ],
            }
        ],
    }
    return parse_scenario(yaml.safe_dump(document), file="gen.yaml", base_dir=Path("."))


def _mutants(scenario: Scenario) -> tuple[Mutant, ...]:
    vocabulary = build_vocabulary([v.policies for v in scenario.versions], scenario.targets)
    return generate_mutants(scenario, scenario.versions, vocabulary)


def _generated(spec: dict[str, Any]) -> set[tuple[MutationKind, str]]:
    return {
        (m.mutation.kind, m.mutation.path)
        for m in _mutants(_scenario(spec))
        if m.mutation.kind is not K.RELABEL_NAMESPACE
    }


POD_A = {"matchLabels": {"app": "a"}}

CASES: list[tuple[str, dict[str, Any], set[tuple[MutationKind, str]]]] = [
    (
        "a_policy_without_rules_gets_drop_and_type_flips_only",
        {"podSelector": {}, "policyTypes": ["Ingress"]},
        {
            (K.DROP_POLICY, ""),
            (K.FLIP_POLICY_TYPES, "spec.policyTypes"),
        },
    ),
    (
        "a_lone_requirement_is_emptied_not_dropped",
        {
            "podSelector": POD_A,
            "ingress": [{"from": [{"podSelector": {"matchLabels": {"x": "1"}}}]}],
        },
        {
            (K.DROP_POLICY, ""),
            (K.FLIP_POLICY_TYPES, "spec.policyTypes"),
            (K.EMPTY_SELECTOR, "spec.podSelector"),
            (K.DROP_RULE, "spec.ingress[0]"),
            (K.DROP_PEER, "spec.ingress[0].from[0]"),
            (K.EMPTY_SELECTOR, "spec.ingress[0].from[0].podSelector"),
        },
    ),
    (
        "each_of_two_requirements_is_dropped_and_a_peer_with_both_selectors_loses_each",
        {
            "podSelector": {},
            "ingress": [
                {
                    "from": [
                        {
                            "namespaceSelector": {"matchLabels": {"team": "a"}},
                            "podSelector": {
                                "matchLabels": {"x": "1"},
                                "matchExpressions": [{"key": "y", "operator": "Exists"}],
                            },
                        }
                    ]
                }
            ],
        },
        {
            (K.DROP_POLICY, ""),
            (K.FLIP_POLICY_TYPES, "spec.policyTypes"),
            (K.DROP_RULE, "spec.ingress[0]"),
            (K.DROP_PEER, "spec.ingress[0].from[0]"),
            (K.DROP_SELECTOR, "spec.ingress[0].from[0].namespaceSelector"),
            (K.DROP_SELECTOR, "spec.ingress[0].from[0].podSelector"),
            (K.EMPTY_SELECTOR, "spec.ingress[0].from[0].namespaceSelector"),
            (K.EMPTY_SELECTOR, "spec.ingress[0].from[0].podSelector"),
            (K.DROP_MATCH_LABEL, "spec.ingress[0].from[0].podSelector.matchLabels.x"),
            (K.DROP_MATCH_EXPRESSION, "spec.ingress[0].from[0].podSelector.matchExpressions[0]"),
        },
    ),
    (
        "an_ipblock_peer_can_only_be_dropped",
        {"podSelector": {}, "ingress": [{"from": [{"ipBlock": {"cidr": "10.0.0.0/8"}}]}]},
        {
            (K.DROP_POLICY, ""),
            (K.FLIP_POLICY_TYPES, "spec.policyTypes"),
            (K.DROP_RULE, "spec.ingress[0]"),
            (K.DROP_PEER, "spec.ingress[0].from[0]"),
        },
    ),
    (
        "a_numbered_port_is_widened_twice_and_swapped_a_named_one_has_no_range",
        {"podSelector": {}, "ingress": [{"ports": [{"port": 80}, {"port": "http"}]}]},
        {
            (K.DROP_POLICY, ""),
            (K.FLIP_POLICY_TYPES, "spec.policyTypes"),
            (K.DROP_RULE, "spec.ingress[0]"),
            (K.WIDEN_PORT, "spec.ingress[0].ports"),
            (K.WIDEN_PORT, "spec.ingress[0].ports[0].port"),
            (K.WIDEN_PORT, "spec.ingress[0].ports[0].endPort"),
            (K.SWAP_PROTOCOL, "spec.ingress[0].ports[0].protocol"),
            (K.WIDEN_PORT, "spec.ingress[0].ports[1].port"),
            (K.SWAP_PROTOCOL, "spec.ingress[0].ports[1].protocol"),
        },
    ),
    (
        "the_last_port_cannot_be_widened_by_one",
        {"podSelector": {}, "ingress": [{"ports": [{"port": 65535}]}]},
        {
            (K.DROP_POLICY, ""),
            (K.FLIP_POLICY_TYPES, "spec.policyTypes"),
            (K.DROP_RULE, "spec.ingress[0]"),
            (K.WIDEN_PORT, "spec.ingress[0].ports"),
            (K.WIDEN_PORT, "spec.ingress[0].ports[0].port"),
            (K.SWAP_PROTOCOL, "spec.ingress[0].ports[0].protocol"),
        },
    ),
    (
        "rules_of_a_type_not_listed_are_ignored_so_never_mutated",
        {"podSelector": {}, "policyTypes": ["Ingress"], "egress": [{"ports": [{"port": 53}]}]},
        {(K.DROP_POLICY, ""), (K.FLIP_POLICY_TYPES, "spec.policyTypes")},
    ),
    (
        "two_identical_peers_give_one_drop_peer",
        {"podSelector": {}, "ingress": [{"from": [{"podSelector": {}}, {"podSelector": {}}]}]},
        {
            (K.DROP_POLICY, ""),
            (K.FLIP_POLICY_TYPES, "spec.policyTypes"),
            (K.DROP_RULE, "spec.ingress[0]"),
            (K.DROP_PEER, "spec.ingress[0].from[0]"),
        },
    ),
]


@pytest.mark.parametrize(("spec", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_generated_mutations(spec: dict[str, Any], expected: set[tuple[MutationKind, str]]) -> None:
    assert _generated(spec) == expected


@pytest.mark.parametrize(
    ("types", "flips"),
    [
        (["Ingress"], [{Direction.INGRESS, Direction.EGRESS}, {Direction.EGRESS}]),
        (["Egress"], [{Direction.INGRESS, Direction.EGRESS}, {Direction.INGRESS}]),
        (["Ingress", "Egress"], [{Direction.EGRESS}, {Direction.INGRESS}]),
    ],
)
def test_policy_types_flip_adds_removes_or_swaps_a_type(
    types: list[str], flips: list[set[Direction]]
) -> None:
    mutants = _mutants(_scenario({"podSelector": {}, "policyTypes": types}))
    found = [
        m.policies[0].policy_types
        for m in mutants
        if m.mutation.kind is K.FLIP_POLICY_TYPES and m.policies is not None
    ]
    assert found == flips


def test_widening_a_port_by_one_extends_its_end() -> None:
    mutants = _mutants(_scenario({"podSelector": {}, "ingress": [{"ports": [{"port": 80}]}]}))
    (widened,) = [m for m in mutants if m.mutation.path.endswith("endPort")]
    assert widened.policies is not None
    (port,) = widened.policies[0].ingress[0].ports
    assert (port.port, port.end_port) == (80, 81)
    assert widened.mutation.description == "widen TCP 80 to TCP 80-81"


def test_swapping_a_protocol_keeps_the_port() -> None:
    spec = {"podSelector": {}, "ingress": [{"ports": [{"port": 53, "protocol": "UDP"}]}]}
    (swapped,) = [m for m in _mutants(_scenario(spec)) if m.mutation.kind is K.SWAP_PROTOCOL]
    assert swapped.policies is not None
    (port,) = swapped.policies[0].ingress[0].ports
    assert (port.port, port.protocol) == (53, Protocol.TCP)


def test_every_generated_policy_is_one_the_api_server_accepts() -> None:
    spec = CASES[2][1]
    for mutant in _mutants(_scenario(spec)):
        if mutant.policies is not None:
            check_policies(mutant.policies)


def test_no_mutant_repeats_the_original_or_another_mutant() -> None:
    scenario = _scenario(CASES[2][1])
    seen = [m.policies for m in _mutants(scenario) if m.policies is not None]
    assert scenario.versions[0].policies not in seen
    assert len(seen) == len(set(seen))


def test_mutation_ids_are_numbered_in_generation_order() -> None:
    ids = [m.mutation.id for m in _mutants(_scenario(CASES[2][1]))]
    assert ids == [f"m{n}" for n in range(1, len(ids) + 1)]


NS_SELECTED = {
    "podSelector": {},
    "ingress": [{"from": [{"namespaceSelector": {"matchLabels": {"team": "a"}}}]}],
}


def _relabels(spec: dict[str, Any], namespaces: dict[str, Any]) -> list[str]:
    return [
        m.mutation.description
        for m in _mutants(_scenario(spec, namespaces=namespaces))
        if m.mutation.kind is K.RELABEL_NAMESPACE
    ]


def test_a_namespace_with_a_selected_value_moves_to_an_unnamed_one_and_others_to_it() -> None:
    assert _relabels(NS_SELECTED, {"app": {"team": "a"}, "other": {"team": "b"}}) == [
        "relabel namespace app: team=a -> team=other",
        "relabel namespace other: team=b -> team=a",
    ]


def test_a_namespace_without_the_key_gains_a_selected_value() -> None:
    assert _relabels(NS_SELECTED, {"app": {"team": "a"}, "other": {}}) == [
        "relabel namespace app: team=a -> team=other",
        "relabel namespace other: no team -> team=a",
    ]


def test_presence_tests_add_removing_the_label_and_an_unnamed_value() -> None:
    spec = {
        "podSelector": {},
        "ingress": [
            {
                "from": [
                    {
                        "namespaceSelector": {
                            "matchExpressions": [{"key": "team", "operator": "Exists"}]
                        }
                    }
                ]
            }
        ],
    }
    assert _relabels(spec, {"app": {"team": "a"}, "other": {}}) == [
        "relabel namespace app: team=a -> no team",
        "relabel namespace other: no team -> team=other",
    ]


def test_the_namespace_name_label_is_never_relabelled() -> None:
    spec = {
        "podSelector": {},
        "ingress": [
            {
                "from": [
                    {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "app"}}}
                ]
            }
        ],
    }
    assert _relabels(spec, {"app": {}, "other": {}}) == []


def test_a_relabel_changes_only_that_namespace_in_every_version() -> None:
    mutants = _mutants(_scenario(NS_SELECTED))
    relabel = next(m for m in mutants if m.mutation.kind is K.RELABEL_NAMESPACE)
    assert relabel.mutation.version is None
    assert relabel.policies is None
    assert relabel.namespaces is not None
    assert [dict(ns.labels) for ns in relabel.namespaces] == [{"team": "other"}, {"team": "b"}]
