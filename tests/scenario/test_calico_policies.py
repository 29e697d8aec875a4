"""Scenarios may use Calico's policies in any version, mixed with Kubernetes ones.

Calico objects come from policy files or inline manifests; namespaced ones
must name a declared namespace, cluster-wide ones none; a policy's tier must
be defined in the same version; the engine's expected verdicts then follow
Calico's tiers.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from service.errors import InvalidInput
from service.policy.calico.model import CalicoEntry, CalicoPolicy
from service.scenario.load import parse_scenario
from service.scenario.model import Verdict
from service.scenario.plan import plan_matrix, plan_version

BASE = """\
name: calico
namespaces:
  development: {purpose: development}
  production: {purpose: production}
targets:
  - name: backend
    namespace: development
    labels: {app: webapp, role: backend}
    ports: [{port: 80, name: http}]
matrix:
  sources:
    frontend: {app: webapp, role: frontend}
  namespaces: [development, production]
versions:
  - name: none
  - name: secured
    policies:
      - policies/tier.yaml
      - apiVersion: projectcalico.org/v3
        kind: GlobalNetworkPolicy
        metadata: {name: security.no-prod}
        spec:
          tier: security
          selector: role == 'backend'
          ingress:
            - {action: Deny, source: {namespaceSelector: purpose == 'production'}}
            - {action: Pass}
      - apiVersion: networking.k8s.io/v1
        kind: NetworkPolicy
        metadata: {name: backend, namespace: development}
        spec:
          podSelector: {matchLabels: {role: backend}}
          ingress: [{from: [{namespaceSelector: {}}]}]
"""

TIER = """\
apiVersion: projectcalico.org/v3
kind: Tier
metadata: {name: security}
spec: {order: 100}
"""


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    (tmp_path / "policies").mkdir()
    (tmp_path / "policies" / "tier.yaml").write_text(TIER)
    return tmp_path


def problems(text: str, folder: Path) -> list[str]:
    with pytest.raises(InvalidInput) as caught:
        parse_scenario(text, file="s.yaml", base_dir=folder)
    return [str(p) for p in caught.value.problems]


def test_a_version_mixes_calico_objects_from_files_and_inline_with_kubernetes_policies(
    folder: Path,
) -> None:
    scenario = parse_scenario(BASE, file="s.yaml", base_dir=folder)
    policies = scenario.version("secured").policies
    assert [p.ref for p in policies] == [
        "Tier security",
        "GlobalNetworkPolicy security.no-prod",
        "development/backend",
    ]
    gnp = policies[1]
    assert isinstance(gnp, CalicoEntry)
    assert isinstance(gnp.calico, CalicoPolicy)
    assert gnp.calico.tier == "security"
    assert scenario.version("secured").files == ("policies/tier.yaml",)


def test_expected_verdicts_follow_calicos_tiers(folder: Path) -> None:
    scenario = parse_scenario(BASE, file="s.yaml", base_dir=folder)
    plan = plan_version(plan_matrix(scenario), "secured")
    verdicts = {cell.source_pod: plan.expected[cell.key].verdict for cell in plan.cells}
    assert verdicts == {
        "development/probe-frontend": Verdict.ALLOWED,
        "production/probe-frontend": Verdict.BLOCKED,
    }
    explanation = plan.expected[
        next(c.key for c in plan.cells if c.source_pod.startswith("production"))
    ].explanation
    assert explanation is not None
    assert explanation.ingress.matches[-1].tier == "security"


def test_the_content_hash_changes_with_a_calico_policy(folder: Path) -> None:
    first = parse_scenario(BASE, file="s.yaml", base_dir=folder)
    second = parse_scenario(
        BASE.replace("{action: Pass}", "{action: Log}"), file="s.yaml", base_dir=folder
    )
    assert first.version("secured").content_hash != second.version("secured").content_hash
    again = parse_scenario(BASE, file="s.yaml", base_dir=folder)
    assert first.version("secured").content_hash == again.version("secured").content_hash


def test_a_policy_in_an_undefined_tier_is_reported_at_its_line(folder: Path) -> None:
    (folder / "policies" / "tier.yaml").write_text("")
    assert problems(BASE, folder) == [
        "s.yaml:19: spec.tier: GlobalNetworkPolicy security.no-prod is in tier 'security',"
        " which no Tier object defines: expected one of default, kube-admin, kube-baseline,"
        " or a projectcalico.org/v3 Tier named 'security'"
    ]


def test_namespaced_calico_objects_need_a_declared_namespace(folder: Path) -> None:
    text = BASE.replace(
        "      - policies/tier.yaml\n",
        "      - policies/tier.yaml\n"
        "      - apiVersion: projectcalico.org/v3\n"
        "        kind: NetworkPolicy\n"
        "        metadata: {name: p, namespace: staging}\n",
    )
    assert problems(text, folder) == [
        "s.yaml:21: versions[1].policies[1].metadata.namespace: namespace 'staging' is not"
        " declared by the scenario: expected one of development, production"
    ]


def test_a_bad_calico_policy_is_reported_at_its_field(folder: Path) -> None:
    text = BASE.replace("{action: Pass}", "{action: pass}")
    (problem,) = problems(text, folder)
    assert "versions[1].policies[1].spec.ingress[1].action: 'pass' is not one of" in problem
    assert "did you mean 'Pass'?" in problem
