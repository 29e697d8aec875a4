"""The scenarios shipped in scenarios/: they load, and their expectations agree with the engine.

This is a static check of the written expectations only: pods are built here
from the targets and sources (one probe pod per source and namespace) and each
expectation is evaluated with the engine, without planning or a cluster.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from service.policy.evaluate import Evaluator
from service.policy.model import ClusterState, ContainerPort, Namespace, Pod, Protocol
from service.scenario.load import load_scenario
from service.scenario.model import Expectation, Scenario, Verdict

SCENARIOS = Path(__file__).resolve().parents[2] / "scenarios"
READY = sorted(SCENARIOS.glob("*.yaml"))


@dataclass(frozen=True, slots=True)
class Outcome:
    expectation: Expectation
    version: str
    engine: Verdict

    @property
    def holds(self) -> bool:
        return self.engine is self.expectation.verdict


def _port_number(scenario: Scenario, target: str, port: int | str, protocol: Protocol) -> int:
    for spec in scenario.target(target).ports:
        if spec.protocol is protocol and port in (spec.port, spec.name):
            return spec.port
    raise AssertionError(f"{target} has no port {port}/{protocol}")


def _outcomes(scenario: Scenario) -> list[Outcome]:
    namespaces = tuple(Namespace(ns.name, ns.labels) for ns in scenario.namespaces)
    targets = {
        t.name: Pod(
            namespace=t.namespace,
            name=t.name,
            labels=t.labels,
            ports=tuple(ContainerPort(p.port, p.protocol, p.name) for p in t.ports),
        )
        for t in scenario.targets
    }
    sources = {
        (ns, s.labels): Pod(namespace=ns, name=f"probe-{s.name}", labels=s.labels)
        for ns in scenario.matrix.namespaces
        for s in scenario.matrix.sources
    }
    pods = (*targets.values(), *sources.values())
    outcomes = []
    for version in scenario.versions:
        state = ClusterState(namespaces=namespaces, pods=pods, policies=version.policies)
        evaluator = Evaluator(state)
        for e in scenario.expectations:
            if e.version not in (None, version.name):
                continue
            allowed = evaluator.is_allowed(
                sources[(e.source_namespace, e.source_labels)],
                targets[e.target],
                port=_port_number(scenario, e.target, e.port, e.protocol),
                protocol=e.protocol,
            )
            engine = Verdict.ALLOWED if allowed else Verdict.BLOCKED
            outcomes.append(Outcome(e, version.name, engine))
    return outcomes


def test_every_ready_scenario_is_found() -> None:
    names = {p.name for p in READY}
    assert {"calico-workshop.yaml", "e2e-model.yaml", "microservices.yaml"} <= names


@pytest.mark.parametrize("path", READY, ids=lambda p: p.stem)
def test_ready_scenario_loads_with_expectations_and_a_content_hash(path: Path) -> None:
    scenario = load_scenario(path)
    assert scenario.name == path.stem
    assert scenario.expectations
    assert len(scenario.content_hash) == 64
    assert all(len(v.content_hash) == 64 for v in scenario.versions)
    # Distinct policy sets must hash differently, or drift logic would merge them.
    hashes = [v.content_hash for v in scenario.versions]
    assert len(set(hashes)) == len(hashes)


def _workshop() -> Scenario:
    return load_scenario(SCENARIOS / "calico-workshop.yaml")


def test_workshop_declares_the_workshop_layout() -> None:
    s = _workshop()
    assert {ns.name: dict(ns.labels) for ns in s.namespaces} == {
        "development": {"purpose": "development"},
        "production": {"purpose": "production"},
    }
    backend = s.target("backend")
    assert backend.namespace == "development"
    assert dict(backend.labels) == {"app": "webapp", "role": "backend"}
    assert [(p.port, p.protocol) for p in backend.ports] == [(80, Protocol.TCP)]
    assert backend.service is not None
    assert {src.name: dict(src.labels) for src in s.matrix.sources} == {
        "unlabelled": {},
        "frontend": {"app": "webapp", "role": "frontend"},
    }
    assert s.matrix.namespaces == ("development", "production")
    assert [v.name for v in s.versions] == ["none", "deny-all", "allow-pod", "allow-pod-namespace"]
    assert s.version("none").policies == ()
    for name in ("deny-all", "allow-pod", "allow-pod-namespace"):
        assert [p.ref for p in s.version(name).policies] == ["development/backend-policy"]


def test_workshop_policy_files_are_the_workshops_own() -> None:
    s = _workshop()
    assert s.version("deny-all").files == ("calico-workshop/1-network-policy-deny-all.yaml",)
    deny_all = s.version("deny-all").policies[0]
    assert deny_all.ingress == ()
    allow_pod = s.version("allow-pod").policies[0].ingress[0].peers[0]
    assert allow_pod.namespace_selector is not None
    assert allow_pod.namespace_selector.is_empty
    allow_ns = s.version("allow-pod-namespace").policies[0].ingress[0].peers[0]
    assert allow_ns.namespace_selector is not None
    assert dict(allow_ns.namespace_selector.match_labels) == {"purpose": "development"}


def test_workshop_has_one_expectation_per_check_in_the_workshop_text() -> None:
    steps: dict[str, set[tuple[str | None, Verdict]]] = {}
    for e in _workshop().expectations:
        steps.setdefault(e.description.split(":")[0], set()).add((e.version, e.verdict))
    assert steps == {
        "1.3": {("none", Verdict.ALLOWED)},
        "1.5": {("deny-all", Verdict.BLOCKED)},
        "2.2": {("allow-pod", Verdict.ALLOWED)},
        "2.3": {("allow-pod", Verdict.BLOCKED)},
        # 3.1 runs while step 2's policy is still applied (and holds with none at all).
        "3.1": {("none", Verdict.ALLOWED), ("allow-pod", Verdict.ALLOWED)},
        "3.3": {("allow-pod-namespace", Verdict.BLOCKED)},
        "3.4": {("allow-pod-namespace", Verdict.ALLOWED)},
    }


def test_every_workshop_expectation_holds_under_the_engine() -> None:
    outcomes = _outcomes(_workshop())
    assert len(outcomes) == 8
    assert [o for o in outcomes if not o.holds] == []


def test_every_e2e_model_expectation_holds_under_the_engine() -> None:
    scenario = load_scenario(SCENARIOS / "e2e-model.yaml")
    assert (len(scenario.namespaces), len(scenario.targets)) == (3, 9)
    assert all(len(t.ports) == 4 for t in scenario.targets)
    assert [o for o in _outcomes(scenario) if not o.holds] == []


def test_microservices_regression_version_breaks_exactly_the_regression_expectations() -> None:
    scenario = load_scenario(SCENARIOS / "microservices.yaml")
    assert len(scenario.versions) >= 4
    broken = [o for o in _outcomes(scenario) if not o.holds]
    assert {o.version for o in broken} == {"refactor"}
    assert sorted(o.expectation.description.split(":")[0] for o in broken) == [
        "REGRESSION in refactor",
        "REGRESSION in refactor",
    ]
    marked = [
        e
        for e in scenario.expectations
        if e.description.startswith("REGRESSION") and e.version in (None, "refactor")
    ]
    assert {o.expectation for o in broken} == set(marked)


@pytest.mark.parametrize("path", READY, ids=lambda p: p.stem)
def test_ready_scenario_matches_the_published_json_schema(path: Path) -> None:
    # jsonschema is not a dependency of ours; check the schema where it is installed.
    jsonschema = pytest.importorskip("jsonschema")
    schema = json.loads((SCENARIOS.parent / "docs" / "scenario.schema.json").read_text())
    jsonschema.validate(yaml.safe_load(path.read_text()), schema)
