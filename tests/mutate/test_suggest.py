"""Port mutations, equivalence, and the suggestions and universe behind them, on the e2e model
and small scenarios.

The e2e model's version deny-egress-x-allow-dns: pods of x may send only to
53/UDP and 53/TCP. Every target serves 80 and 81 (TCP and UDP) and nothing
else, so by hand:

- drop the port list, or widen 53/UDP or 53/TCP to every port of the protocol:
  x -> anything on 80 opens: killed;
- drop the egress rule (deny all egress): only port 53 changes: survives;
- widen 53 to 53-54 (either protocol): only port 54 changes: survives;
- swap 53/UDP to TCP (or back): only port 53 changes: survives;
- policyTypes [Egress] -> [Ingress, Egress] (ingress to x denied) and
  [Egress] -> [Ingress] (egress opens): killed.

No target serves 53 or 54, so each survivor needs a port added to a target.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml

from service.mutate import (
    AddTargetPort,
    Mutation,
    MutationKind,
    Outcome,
    mutate_scenario,
    patch_document,
)
from service.mutate.draft import probed_cells
from service.mutate.universe import build_universe
from service.mutate.vocabulary import build_vocabulary
from service.scenario.cells import CellKind
from service.scenario.load import load_scenario, parse_scenario
from service.scenario.model import Scenario, Verdict
from service.scenario.plan import plan_matrix, plan_version

REPO = Path(__file__).resolve().parents[2]
SCENARIOS = REPO / "scenarios"
E2E = SCENARIOS / "e2e-model.yaml"
K = MutationKind
DNS_VERSION = "deny-egress-x-allow-dns"

DNS_HAND = {
    (K.DROP_POLICY, ""): Outcome.KILLED,
    (K.FLIP_POLICY_TYPES, "[Ingress, Egress]"): Outcome.KILLED,
    (K.FLIP_POLICY_TYPES, "[Ingress]"): Outcome.KILLED,
    (K.DROP_RULE, "spec.egress[0]"): Outcome.SURVIVED,
    (K.WIDEN_PORT, "spec.egress[0].ports"): Outcome.KILLED,
    (K.WIDEN_PORT, "spec.egress[0].ports[0].port"): Outcome.KILLED,
    (K.WIDEN_PORT, "spec.egress[0].ports[0].endPort"): Outcome.SURVIVED,
    (K.SWAP_PROTOCOL, "spec.egress[0].ports[0].protocol"): Outcome.SURVIVED,
    (K.WIDEN_PORT, "spec.egress[0].ports[1].port"): Outcome.KILLED,
    (K.WIDEN_PORT, "spec.egress[0].ports[1].endPort"): Outcome.SURVIVED,
    (K.SWAP_PROTOCOL, "spec.egress[0].ports[1].protocol"): Outcome.SURVIVED,
}


def _dns_key(kind: MutationKind, path: str, description: str) -> tuple[MutationKind, str]:
    if kind is K.FLIP_POLICY_TYPES:
        return kind, description.rsplit(" -> ", 1)[1]
    return kind, path


def test_port_mutations_of_the_dns_egress_version_match_the_hand_analysis() -> None:
    report = mutate_scenario(load_scenario(E2E), versions=[DNS_VERSION])
    found = {
        _dns_key(r.mutation.kind, r.mutation.path, r.mutation.description): r.outcome
        for r in report.results
        if r.mutation.version == DNS_VERSION
    }
    assert found == DNS_HAND


def test_port_survivors_are_caught_by_ports_added_to_targets() -> None:
    report = mutate_scenario(load_scenario(E2E), versions=[DNS_VERSION])
    added = {
        (e.port.port, e.port.protocol.value)
        for s in report.suggestions
        for e in s.edits
        if isinstance(e, AddTargetPort)
    }
    # 53 for the dropped rule and the swaps, 54 for the widenings, on both protocols.
    assert added == {(53, "TCP"), (53, "UDP"), (54, "TCP"), (54, "UDP")}
    after = _patched(E2E, report.suggestions, versions=[DNS_VERSION])
    assert after.survived == 0
    assert after.killed == report.killed + report.survived


def _identity(m: Mutation) -> tuple[str | None, str | None, str, str]:
    return m.version, m.policy, m.path, m.description


def _patched(path: Path, suggestions: Any, *, versions: list[str] | None = None) -> Any:
    data = yaml.safe_load(path.read_text())
    text = yaml.safe_dump(patch_document(data, suggestions), sort_keys=False)
    scenario = parse_scenario(text, file="patched.yaml", base_dir=path.parent)
    return mutate_scenario(scenario, versions=versions, suggestions=False)


# microservices passes too (12 suggestions, 158 survivors) but takes ~15 s on a shared machine.
@pytest.mark.parametrize("name", ["e2e-model", "calico-workshop-v3"])
def test_pasted_suggestions_kill_what_they_claim(name: str) -> None:
    path = SCENARIOS / f"{name}.yaml"
    report = mutate_scenario(load_scenario(path))
    after = _patched(path, report.suggestions)
    by_identity = {_identity(r.mutation): r for r in after.results}
    assert len(by_identity) == len(after.results)
    for suggestion in report.suggestions:
        for mutation_id in suggestion.kills:
            m = report.result(mutation_id).mutation
            assert by_identity[_identity(m)].outcome is Outcome.KILLED, m
    claimed = sum(len(s.kills) for s in report.suggestions)
    assert after.killed == report.killed + claimed
    assert claimed + len(report.unkillable) == report.survived


SUBSUMED = """
name: subsumed
namespaces: {app: {}}
targets:
  - {name: web, namespace: app, labels: {app: web}, ports: [{port: 80}]}
matrix:
  sources: {a: {app: a}, nobody: {}}
versions:
  - name: v1
    policies:
      - apiVersion: networking.k8s.io/v1
        kind: NetworkPolicy
        metadata: {name: web, namespace: app}
        spec:
          podSelector: {matchLabels: {app: web}}
          ingress:
            - from: [{podSelector: {matchLabels: {app: a}}}]
            - from: [{podSelector: {matchLabels: {app: a, tier: x}}}]
"""


def _small(text: str) -> Scenario:
    return parse_scenario(text, file="small.yaml", base_dir=Path("."))


def test_dropping_a_rule_another_rule_covers_is_equivalent() -> None:
    report = mutate_scenario(_small(SUBSUMED))
    outcomes = {r.mutation.path: r.outcome for r in report.results}
    # Rule 1 admits a subset of what rule 0 admits: dropping it, or its tier=x, changes nothing.
    assert outcomes["spec.ingress[1]"] is Outcome.EQUIVALENT
    assert outcomes["spec.ingress[1].from[0].podSelector.matchLabels.tier"] is Outcome.EQUIVALENT
    # Dropping app=a from rule 1 admits tier=x pods without app=a: the matrix has none.
    assert outcomes["spec.ingress[1].from[0].podSelector.matchLabels.app"] is Outcome.SURVIVED
    assert outcomes["spec.ingress[0]"] is Outcome.KILLED


def test_equivalent_mutations_do_not_count_in_the_score() -> None:
    report = mutate_scenario(_small(SUBSUMED))
    assert report.equivalent > 0
    assert report.score == report.killed / (report.killed + report.survived)


def test_a_scenario_without_mutations_has_no_score() -> None:
    text = SUBSUMED.split("versions:")[0] + "versions:\n  - name: none\n"
    report = mutate_scenario(_small(text))
    assert report.results == ()
    assert report.score is None


@pytest.mark.parametrize("name", ["calico-workshop", "e2e-model", "microservices"])
def test_the_universe_gives_the_engines_expected_verdicts_on_matrix_cells(name: str) -> None:
    scenario = load_scenario(SCENARIOS / f"{name}.yaml")
    matrix = plan_matrix(scenario)
    universe = _universe(scenario)
    pods = {p.ref: p for p in matrix.layout.pods}
    for policy_version in matrix.versions:
        tensor = universe.tensor(matrix.layout.namespaces, policy_version.policies)
        plan = plan_version(matrix, policy_version.name)
        for cell in plan.cells:
            if cell.kind is not CellKind.PROBE or cell.port_number is None:
                continue
            k = universe.probe_index[(cell.port_number, cell.protocol)]
            s = universe.index_of(pods[cell.source_pod])
            d = universe.index_of(pods[cell.target_pod])
            allowed = plan.expected[cell.key].verdict is Verdict.ALLOWED
            assert bool(tensor[k, s, d]) == allowed, cell


@pytest.mark.parametrize("name", ["calico-workshop", "e2e-model", "microservices"])
def test_suggestion_cells_are_the_planners_cells(name: str) -> None:
    scenario = load_scenario(SCENARIOS / f"{name}.yaml")
    matrix = plan_matrix(scenario)
    universe = _universe(scenario)
    pods = {p.ref: p for p in matrix.layout.pods}
    size = universe.size
    planned = sorted(
        {
            universe.probe_index[(c.port_number, c.protocol)] * size * size
            + universe.index_of(pods[c.source_pod]) * size
            + universe.index_of(pods[c.target_pod])
            for c in matrix.cells_of(matrix.versions[0].name)
            if c.kind is CellKind.PROBE and c.port_number is not None
        }
    )
    assert probed_cells(scenario, universe).tolist() == planned


def _universe(scenario: Scenario) -> Any:
    policy_sets = [v.policies for v in scenario.versions]
    vocabulary = build_vocabulary(policy_sets, scenario.targets)
    layout = plan_matrix(scenario).layout
    return build_universe(scenario, layout, vocabulary, policy_sets, max_label_sets=512)


def test_the_workshop_universe_holds_every_label_set_its_selectors_tell_apart() -> None:
    universe = _universe(load_scenario(SCENARIOS / "calico-workshop.yaml"))
    # app in {absent, webapp, other} x role in {absent, backend, frontend, other}.
    assert len(universe.label_sets) == 12
    assert universe.exhaustive
    # TCP, UDP and SCTP on 1 (ports below 80), 80 and 81 (ports above).
    assert [str(p) for p in universe.probes[:3]] == ["TCP 1", "TCP 80", "TCP 81"]
    assert len(universe.probes) == 9


def test_a_small_search_limit_keeps_the_kills_but_is_not_exhaustive() -> None:
    scenario = load_scenario(SCENARIOS / "calico-workshop.yaml")
    full = mutate_scenario(scenario)
    small = mutate_scenario(scenario, max_label_sets=4)
    assert not small.universe.exhaustive
    assert small.universe.label_sets < full.universe.label_sets
    assert [r.outcome is Outcome.KILLED for r in small.results] == [
        r.outcome is Outcome.KILLED for r in full.results
    ]


def test_a_tight_tensor_budget_searches_fewer_label_sets_and_says_so() -> None:
    scenario = load_scenario(SCENARIOS / "calico-workshop.yaml")
    policy_sets = [v.policies for v in scenario.versions]
    vocabulary = build_vocabulary(policy_sets, scenario.targets)
    layout = plan_matrix(scenario).layout
    # 9 probes x 12 x 12 kinds: room for the 5 planned pods and 3 label sets per namespace.
    universe = build_universe(
        scenario, layout, vocabulary, policy_sets, max_label_sets=512, max_tensor_cells=9 * 144
    )
    assert not universe.exhaustive
    assert len(universe.label_sets) == 3
    assert universe.size <= 12


def test_unknown_version_is_invalid_input() -> None:
    from service.errors import InvalidInput

    with pytest.raises(InvalidInput, match="nope"):
        mutate_scenario(load_scenario(E2E), versions=["nope"])


def test_diffs_are_symmetric_in_what_they_report() -> None:
    # The evidence of every killed mutation names opposite verdicts, taken from the original.
    report = mutate_scenario(load_scenario(E2E))
    for result in report.of(Outcome.KILLED):
        assert result.evidence is not None
        assert {result.evidence.expected, result.evidence.mutated} == {
            Verdict.ALLOWED,
            Verdict.BLOCKED,
        }
    assert np.isfinite(report.score or 0.0)
