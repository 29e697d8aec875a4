"""scenarios/calico-workshop-v3.yaml: the workshop's policies as Calico policies.

Its first four versions must give exactly the truth tables of the Kubernetes
workshop (scenarios/calico-workshop.yaml), cell for cell; the security tier
then changes exactly the cell no namespace owner may open.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from service.policy.calico.model import CalicoEntry
from service.policy.truthtable import PortProbe, TruthTable, compute_truth_table
from service.scenario.load import load_scenario
from service.scenario.model import Scenario
from service.scenario.plan import plan_matrix

SCENARIOS = Path(__file__).resolve().parents[3] / "scenarios"
SHARED = ("none", "deny-all", "allow-pod", "allow-pod-namespace")
PROBES = (PortProbe(80),)


def tables(scenario: Scenario) -> dict[str, TruthTable]:
    layout = plan_matrix(scenario).layout
    return {
        v.name: compute_truth_table(layout.cluster_state(policies=v.policies), PROBES)
        for v in scenario.versions
    }


@pytest.fixture(scope="module")
def kubernetes() -> dict[str, TruthTable]:
    return tables(load_scenario(SCENARIOS / "calico-workshop.yaml"))


@pytest.fixture(scope="module")
def calico() -> dict[str, TruthTable]:
    return tables(load_scenario(SCENARIOS / "calico-workshop-v3.yaml"))


def test_the_v3_scenario_uses_calico_policies_in_its_shared_versions() -> None:
    scenario = load_scenario(SCENARIOS / "calico-workshop-v3.yaml")
    for name in SHARED[1:]:
        policies = scenario.version(name).policies
        assert policies
        assert all(isinstance(p, CalicoEntry) for p in policies)


@pytest.mark.parametrize("version", SHARED)
def test_calico_versions_give_the_kubernetes_workshops_truth_tables(
    version: str, kubernetes: dict[str, TruthTable], calico: dict[str, TruthTable]
) -> None:
    before, after = kubernetes[version], calico[version]
    assert [p.ref for p in before.pods] == [p.ref for p in after.pods]
    assert np.array_equal(before.pod_matrix(0), after.pod_matrix(0))


def test_the_security_tier_closes_only_production_to_the_backend(
    calico: dict[str, TruthTable],
) -> None:
    allow_pod, secured = calico["allow-pod"], calico["security-tier"]
    changed = np.argwhere(allow_pod.pod_matrix(0) != secured.pod_matrix(0))
    pods = secured.pods
    assert [(pods[i].ref, pods[j].ref) for i, j in changed] == [
        ("production/probe-frontend", "development/backend")
    ]


def test_without_its_final_pass_the_security_tier_also_blocks_development(
    calico: dict[str, TruthTable],
) -> None:
    secured, trapped = calico["security-tier"], calico["security-tier-trap"]
    changed = np.argwhere(secured.pod_matrix(0) != trapped.pod_matrix(0))
    pods = trapped.pods
    assert [(pods[i].ref, pods[j].ref) for i, j in changed] == [
        ("development/probe-frontend", "development/backend")
    ]
