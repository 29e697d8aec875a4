"""The chaos section of a scenario file: what it resolves to, what it refuses, where."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from service.errors import InvalidInput
from service.policy.model import Direction, Labels, Protocol
from service.scenario.chaos import (
    DefaultDeny,
    LabelEdit,
    LabelNamespace,
    LabelPod,
    RecreatePods,
    RestartCalico,
    SwitchVersion,
    WatchSpec,
)
from service.scenario.document import scenario_from_json, scenario_json
from service.scenario.hashing import scenario_hash
from service.scenario.load import load_scenario, parse_scenario

SCENARIOS = Path(__file__).resolve().parents[2] / "scenarios"

BASE = """\
name: lab
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
    unlabelled: {}
    frontend: {app: webapp, role: frontend}
versions:
  - name: open
  - name: locked
    policies:
      - apiVersion: networking.k8s.io/v1
        kind: NetworkPolicy
        metadata: {name: backend-policy, namespace: development}
        spec:
          podSelector: {matchLabels: {role: backend}}
          ingress:
            - from:
                - namespaceSelector: {matchLabels: {purpose: development}}
                  podSelector: {matchLabels: {role: frontend}}
"""

CHAOS = """\
chaos:
  baseline: locked
  interval: 0.25
  timeout: 20
  hold: 1
  max_watch: 3
  allow_calico_restart: true
  watch:
    - {from: production, source: frontend}
    - {to: backend, port: http}
  steps:
    - {name: churn, switch_version: open, timeout: 5}
    - name: relabel
      description: production becomes development
      label_namespace: {namespace: production, set: {purpose: development}}
    - {name: drop-role, label_pod: {source: frontend, namespace: development, remove: [role]}}
    - {name: retag, label_pod: {target: backend, set: "tier=api"}}
    - {name: reschedule, recreate_pods: {targets: [backend]}}
    - {name: lockdown, default_deny: {namespaces: [development], directions: [Ingress, Egress]}}
    - {name: restart, restart_calico: {}}
"""


def _load(text: str, tmp_path: Path) -> object:
    return parse_scenario(text, file="s.yaml", base_dir=tmp_path)


def _problems(text: str, tmp_path: Path) -> list[str]:
    with pytest.raises(InvalidInput) as caught:
        _load(text, tmp_path)
    return [str(p) for p in caught.value.problems]


def test_the_chaos_section_resolves_to_its_values(tmp_path: Path) -> None:
    scenario = parse_scenario(BASE + CHAOS, file="s.yaml", base_dir=tmp_path)
    spec = scenario.chaos
    assert spec is not None
    assert (spec.baseline, spec.interval_s, spec.timeout_s, spec.hold_s) == ("locked", 0.25, 20, 1)
    assert (spec.max_watched, spec.allow_calico_restart) == (3, True)
    assert spec.watch == (
        WatchSpec(
            source_namespace="production",
            source_labels=Labels({"app": "webapp", "role": "frontend"}),
        ),
        WatchSpec(target="backend", port="http", protocol=Protocol.TCP),
    )
    assert [(s.name, s.action) for s in spec.steps] == [
        ("churn", SwitchVersion("open")),
        ("relabel", LabelNamespace("production", LabelEdit(Labels({"purpose": "development"})))),
        (
            "drop-role",
            LabelPod(
                LabelEdit(remove=frozenset({"role"})), source="frontend", namespace="development"
            ),
        ),
        ("retag", LabelPod(LabelEdit(Labels({"tier": "api"})), target="backend")),
        ("reschedule", RecreatePods(("backend",))),
        (
            "lockdown",
            DefaultDeny(("development",), frozenset({Direction.INGRESS, Direction.EGRESS})),
        ),
        ("restart", RestartCalico()),
    ]
    assert spec.step("churn").timeout_s == 5
    assert spec.step("relabel").description == "production becomes development"


def test_defaults_are_the_first_version_and_every_cell(tmp_path: Path) -> None:
    text = BASE + "chaos:\n  steps: [{name: churn, switch_version: locked}]\n"
    spec = parse_scenario(text, file="s.yaml", base_dir=tmp_path).chaos
    assert spec is not None
    assert (spec.baseline, spec.interval_s, spec.timeout_s, spec.hold_s) == ("open", 1.0, 60, 2)
    assert (spec.watch, spec.max_watched, spec.allow_calico_restart) == ((), 64, False)


@pytest.mark.parametrize(
    ("step", "problem"),
    [
        ("{name: a}", "s.yaml:30: chaos.steps[0]: expected exactly one action of switch_version,"),
        (
            "{name: a, switch_version: open, restart_calico: {}}",
            "got switch_version, restart_calico",
        ),
        ("{name: a, switch_version: nope}", "version 'nope' is not declared in versions"),
        ("{name: a, switch_version: locked}", "'locked' is the baseline"),
        (
            "{name: a, label_namespace: {namespace: staging, set: {a: b}}}",
            "chaos.steps[0].label_namespace.namespace: namespace 'staging' is not declared",
        ),
        (
            "{name: a, label_namespace: {namespace: production}}",
            "expected labels to set or label keys to remove",
        ),
        (
            "{name: a, label_namespace: {namespace: production, set: {purpose: production}}}",
            "nothing changes",
        ),
        (
            "{name: a, label_namespace:"
            " {namespace: production, remove: [kubernetes.io/metadata.name]}}",
            "kubernetes.io/metadata.name is set by the API server",
        ),
        (
            "{name: a, label_pod: {target: backend, set: {netpol-drift.io/run: x}}}",
            "label 'netpol-drift.io/run' is reserved",
        ),
        (
            "{name: a, label_pod: {target: backend, set: {a: b}, remove: [a]}}",
            "label 'a' is both set and removed",
        ),
        (
            "{name: a, label_pod: {target: backend, source: frontend, set: {a: b}}}",
            "give either target, or source with namespace, not both",
        ),
        ("{name: a, label_pod: {source: frontend, set: {a: b}}}", "expected target, or source"),
        (
            "{name: a, label_pod: {source: ghost, namespace: production, set: {a: b}}}",
            "source 'ghost' is not declared in matrix.sources",
        ),
        (
            "{name: a, label_pod: {target: backend, remove: [bad key]}}",
            "label key 'bad key'",
        ),
        (
            "{name: a, recreate_pods: {targets: [backend, backend]}}",
            "duplicate target 'backend'",
        ),
        ("{name: a, recreate_pods: {targets: [db]}}", "target 'db' is not declared in targets"),
        (
            "{name: a, default_deny: {namespaces: [development], name: backend-policy}}",
            "a policy development/backend-policy is in the scenario's versions already",
        ),
        (
            "{name: a, default_deny: {namespaces: [development], directions: [Ingres]}}",
            "chaos.steps[0].default_deny.directions[0]: expected one of",
        ),
        ("{name: a, restart_calico: {}}", "restarting calico-node is opt-in"),
        ("{name: a, restart_calico: {force: true}}", "restart_calico.force: unknown field"),
        ("{name: a, switch_versoin: open}", "did you mean 'switch_version'?"),
        ("{name: A, switch_version: open}", "step name 'A'"),
    ],
)
def test_a_bad_step_is_refused_at_its_line_and_field(
    step: str, problem: str, tmp_path: Path
) -> None:
    text = BASE + f"chaos:\n  baseline: locked\n  steps:\n    - {step}\n"
    found = _problems(text, tmp_path)
    assert any(problem in p for p in found), found


def test_step_names_are_unique(tmp_path: Path) -> None:
    text = BASE + (
        "chaos:\n  baseline: locked\n  steps:\n"
        "    - {name: a, switch_version: open}\n    - {name: a, switch_version: open}\n"
    )
    assert _problems(text, tmp_path) == [
        "s.yaml:31: chaos.steps[1].name: duplicate step name 'a' (first at line 30)"
    ]


@pytest.mark.parametrize(
    ("section", "problem"),
    [
        ("baseline: closed", "chaos.baseline: version 'closed' is not declared in versions"),
        ("watch: [{from: staging}]", "namespace 'staging' is not a source namespace"),
        ("watch: [{source: ghost}]", "source 'ghost' is not declared in matrix.sources"),
        ("watch: [{labels: {app: x}}]", "no matrix source has the labels app=x"),
        ("watch: [{source: frontend, labels: {}}]", "give either source or labels, not both"),
        ("watch: [{to: db}]", "target 'db' is not in the matrix"),
        ("watch: [{port: 443}]", "no watched target serves 443/TCP"),
        ("interval: 0", "chaos.interval: expected a number > 0"),
        ("hold: 5\n  timeout: 5", "leaves no room to see convergence"),
        ("max_watch: 0", "chaos.max_watch: expected a number >= 1"),
    ],
)
def test_a_bad_chaos_setting_is_refused(section: str, problem: str, tmp_path: Path) -> None:
    text = BASE + f"chaos:\n  {section}\n  steps: [{{name: a, switch_version: locked}}]\n"
    found = _problems(text, tmp_path)
    assert any(problem in p for p in found), found


def test_chaos_survives_the_stored_document_and_is_part_of_the_content_hash(
    tmp_path: Path,
) -> None:
    with_chaos = parse_scenario(BASE + CHAOS, file="s.yaml", base_dir=tmp_path)
    without = parse_scenario(BASE, file="s.yaml", base_dir=tmp_path)
    back = scenario_from_json(scenario_json(with_chaos))
    assert back == with_chaos
    assert scenario_hash(back) == with_chaos.content_hash
    assert with_chaos.content_hash != without.content_hash
    # the same content without the section hashes as it did before chaos existed
    assert scenario_hash(replace(with_chaos, chaos=None)) == without.content_hash


def test_the_order_of_steps_changes_the_hash_and_the_order_of_watch_entries_does_not(
    tmp_path: Path,
) -> None:
    scenario = parse_scenario(BASE + CHAOS, file="s.yaml", base_dir=tmp_path)
    spec = scenario.chaos
    assert spec is not None
    steps_reversed = replace(scenario, chaos=replace(spec, steps=spec.steps[::-1]))
    watch_reversed = replace(scenario, chaos=replace(spec, watch=spec.watch[::-1]))
    assert scenario_hash(steps_reversed) != scenario.content_hash
    assert scenario_hash(watch_reversed) == scenario.content_hash


def test_the_ready_chaos_workshop_loads_with_the_workshops_policies() -> None:
    scenario = load_scenario(SCENARIOS / "chaos-workshop.yaml")
    assert scenario.chaos is not None
    assert scenario.chaos.baseline == "allow-pod-namespace"
    kinds = [str(s.kind) for s in scenario.chaos.steps]
    assert kinds == [
        "switch_version",
        "label_namespace",
        "label_pod",
        "recreate_pods",
        "default_deny",
    ]
    workshop = load_scenario(SCENARIOS / "calico-workshop.yaml")
    assert [v.content_hash for v in scenario.versions] == [
        v.content_hash for v in workshop.versions
    ]
