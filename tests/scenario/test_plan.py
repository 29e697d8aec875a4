"""Matrix planning: layout, cells and their keys, loopback, invalid cells, expected verdicts."""

from __future__ import annotations

import hashlib
import ipaddress
import json
import os
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest

from service.errors import InvalidInput
from service.policy.model import Labels, Protocol
from service.scenario.cells import Cell, CellKind, cell_key, pair_key
from service.scenario.load import parse_scenario
from service.scenario.model import PortSpec, ProbeSpec, SourceSpec, Verdict
from service.scenario.plan import build_layout, plan_matrix, plan_version
from tests.runner.builders import (
    BACKEND,
    FRONTEND,
    NOBODY,
    WORKSHOP_CHECKS,
    expectation,
    netpol,
    twins,
    version,
    workshop,
)

REPO = Path(__file__).resolve().parents[2]


def _identity(cell: Cell) -> tuple[object, ...]:
    """What a cell is, independent of how the scenario was written."""
    return (
        cell.version,
        cell.source_namespace,
        tuple(sorted(cell.source_labels.items())),
        cell.target_ref,
        cell.port,
        cell.protocol,
    )


# --- keys ---------------------------------------------------------------------------


def test_pair_key_is_the_same_in_every_version_and_the_key_names_the_version() -> None:
    matrix = plan_matrix(workshop())
    pairs = {v.name: [c.pair_key for c in matrix.cells_of(v.name)] for v in matrix.versions}
    keys = {v.name: [c.key for c in matrix.cells_of(v.name)] for v in matrix.versions}
    assert len(set(map(tuple, pairs.values()))) == 1
    assert len(pairs["none"]) == len(set(pairs["none"])) == 4
    every_key = [key for version_keys in keys.values() for key in version_keys]
    assert len(every_key) == len(set(every_key)) == 4 * len(matrix.versions)


BASE_PAIR = {
    "source_namespace": "development",
    "source_labels": FRONTEND,
    "target_namespace": "development",
    "target": "backend",
    "port": 80,
    "protocol": Protocol.TCP,
}
BASE_KEY = {"version": "deny-all", **BASE_PAIR}

IDENTIFYING = [
    ("source_namespace", "production"),
    ("source_labels", Labels({"app": "webapp"})),
    ("target_namespace", "production"),
    ("target", "frontend"),
    ("port", 81),
    ("port", "http"),
    ("port", "80"),
    ("protocol", Protocol.UDP),
]


@pytest.mark.parametrize(("field", "other"), [*IDENTIFYING, ("version", "allow-pod")])
def test_cell_key_changes_with_each_identifying_field(field: str, other: object) -> None:
    changed = {**BASE_KEY, field: other}
    assert cell_key(**changed) != cell_key(**BASE_KEY)  # type: ignore[arg-type]


@pytest.mark.parametrize(("field", "other"), IDENTIFYING)
def test_pair_key_changes_with_each_identifying_field_but_the_version(
    field: str, other: object
) -> None:
    changed = {**BASE_PAIR, field: other}
    assert pair_key(**changed) != pair_key(**BASE_PAIR)  # type: ignore[arg-type]


def test_a_cell_knows_both_its_key_and_its_pair_key() -> None:
    cell = plan_matrix(workshop()).cells_of("deny-all")[0]
    identity = {
        "source_namespace": cell.source_namespace,
        "source_labels": cell.source_labels,
        "target_namespace": cell.target_namespace,
        "target": cell.target,
        "port": cell.port,
        "protocol": cell.protocol,
    }
    assert cell.key == cell_key(version="deny-all", **identity)  # type: ignore[arg-type]
    assert cell.pair_key == pair_key(**identity)  # type: ignore[arg-type]
    assert cell.key != cell.pair_key


def test_cell_key_ignores_label_order() -> None:
    reordered = Labels([("role", "frontend"), ("app", "webapp")])
    assert cell_key(**{**BASE_KEY, "source_labels": reordered}) == cell_key(**BASE_KEY)  # type: ignore[arg-type]
    assert pair_key(**{**BASE_PAIR, "source_labels": reordered}) == pair_key(**BASE_PAIR)  # type: ignore[arg-type]


def test_renaming_a_source_keeps_its_cell_keys() -> None:
    before = plan_matrix(workshop())
    scenario = workshop()
    renamed = replace(
        scenario,
        matrix=replace(
            scenario.matrix,
            sources=(SourceSpec("nobody", NOBODY), SourceSpec("web-frontend", FRONTEND)),
        ),
    )
    after = plan_matrix(renamed)
    assert [c.key for c in before.cells] == [c.key for c in after.cells]


WORKSHOP_YAML = """\
name: keys
description: {description}
namespaces:
{namespaces}
targets:
{targets}
matrix:
  sources:
{sources}
versions:
  - name: deny-all
    policies:
      - apiVersion: networking.k8s.io/v1
        kind: NetworkPolicy
        metadata: {{name: deny, namespace: development}}
        spec: {{podSelector: {{}}}}
"""

BACKEND_YAML = """\
  - name: backend
    namespace: development
    labels: {app: webapp, role: backend}
    ports: [{port: 80, name: http}]"""
BACKEND_REORDERED_YAML = """\
  - ports: [{name: http, port: 80}]
    labels: {role: backend, app: webapp}
    namespace: development
    name: backend"""
EXTRA_TARGET_YAML = """\
  - name: cache
    namespace: production
    labels: {app: cache}
    ports: [{port: 6379}]"""


def _keys_by_identity(text: str, tmp_path: Path) -> dict[tuple[object, ...], str]:
    scenario = parse_scenario(text, file="keys.yaml", base_dir=tmp_path)
    return {_identity(c): c.key for c in plan_matrix(scenario).cells}


def test_cell_keys_survive_yaml_reordering_and_unrelated_changes(tmp_path: Path) -> None:
    original = WORKSHOP_YAML.format(
        description="first",
        namespaces="  development: {purpose: development}\n  production: {purpose: production}",
        targets=BACKEND_YAML,
        sources="    unlabelled: {}\n    frontend: {app: webapp, role: frontend}",
    )
    rewritten = WORKSHOP_YAML.format(
        description="second, longer description",
        namespaces="  production: {purpose: prod}\n  development: {purpose: development}",
        targets=EXTRA_TARGET_YAML + "\n" + BACKEND_REORDERED_YAML,
        sources="    front: {role: frontend, app: webapp}\n    nobody: {}",
    )
    before = _keys_by_identity(original, tmp_path)
    after = _keys_by_identity(rewritten, tmp_path)
    assert before, "the original scenario planned no cells"
    for identity, key in before.items():
        assert after[identity] == key, identity
    assert len(after) > len(before)  # the extra target added cells, and moved none


def test_cell_keys_are_the_same_in_another_process() -> None:
    """sha256, not hash(): keys must not depend on PYTHONHASHSEED or the process."""
    script = (
        "import json;"
        "from tests.runner.builders import workshop;"
        "from service.scenario.plan import plan_matrix;"
        "print(json.dumps([c.key for c in plan_matrix(workshop()).cells]))"
    )
    here = [c.key for c in plan_matrix(workshop()).cells]
    for seed in ("1", "2"):
        env = {**os.environ, "PYTHONHASHSEED": seed}
        out = subprocess.run(
            [sys.executable, "-c", script],
            cwd=REPO,
            env=env,
            capture_output=True,
            text=True,
            check=True,
        )
        assert json.loads(out.stdout) == here


@pytest.mark.parametrize(
    "key",
    [cell_key(**BASE_KEY), pair_key(**BASE_PAIR)],  # type: ignore[arg-type]
    ids=["key", "pair-key"],
)
def test_cell_keys_are_sixteen_hex_digits(key: str) -> None:
    assert len(key) == 16
    int(key, 16)


# --- layout and loopback ---------------------------------------------------------------


def test_probe_pods_carry_exactly_the_source_labels() -> None:
    layout, prober = build_layout(workshop())
    for (source, namespace), ref in prober.items():
        pod = layout.pod(ref)
        assert pod.probes
        assert pod.namespace == namespace
        expected = {"unlabelled": NOBODY, "frontend": FRONTEND}[source]
        assert pod.labels == expected
    assert len({*prober.values()}) == 4
    backend = layout.pod("development/backend")
    assert backend.labels == BACKEND
    assert not backend.probes
    assert [(p.port, p.name) for p in backend.ports] == [(80, "http")]


def test_target_with_the_source_labels_is_the_probing_pod() -> None:
    layout, prober = build_layout(twins())
    assert prober[("a", "x")] == "x/a-x"
    assert prober[("b", "y")] == "y/b-y"
    assert all(p.probes for p in layout.pods)
    assert len(layout.pods) == 4  # no separate probe pods


def test_loopback_is_only_a_pod_to_itself() -> None:
    matrix = plan_matrix(twins())
    loopback = {(c.source_pod, c.target_pod) for c in matrix.cells if c.kind is CellKind.LOOPBACK}
    assert loopback == {
        ("x/a-x", "x/a-x"),
        ("x/b-x", "x/b-x"),
        ("y/a-y", "y/a-y"),
        ("y/b-y", "y/b-y"),
    }
    # Same labels in another namespace is another pod: an ordinary cell.
    cross = next(c for c in matrix.cells if c.source_pod == "y/a-y" and c.target_pod == "x/a-x")
    assert cross.kind is CellKind.PROBE


def test_loopback_cell_is_expected_allowed_under_deny_all() -> None:
    deny = netpol("x", "deny-all", {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]})
    matrix = plan_matrix(twins(versions=[version("deny", deny)]))
    plan = plan_version(matrix, "deny")
    for cell in plan.cells:
        verdict = plan.expected[cell.key].verdict
        if cell.kind is CellKind.LOOPBACK:
            assert verdict is Verdict.ALLOWED, cell
        elif cell.source_namespace == "x" or cell.target_namespace == "x":
            assert verdict is Verdict.BLOCKED, cell


# --- invalid cells -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("probe", "reason"),
    [
        (ProbeSpec("metrics", Protocol.TCP), "no port named 'metrics'"),
        (ProbeSpec("http", Protocol.UDP), "no port named 'http' for UDP"),
        (ProbeSpec(80, Protocol.UDP), "does not serve 80/UDP"),
        (ProbeSpec(8080, Protocol.TCP), "does not serve 8080/TCP"),
    ],
)
def test_probe_the_target_cannot_answer_is_an_invalid_cell(probe: ProbeSpec, reason: str) -> None:
    matrix = plan_matrix(workshop(probes=[ProbeSpec(80), probe], expectations=[]))
    invalid = [c for c in matrix.cells if c.port == probe.port and c.protocol is probe.protocol]
    assert invalid
    for cell in invalid:
        assert cell.kind is CellKind.INVALID
        assert not cell.probed
        assert reason in cell.invalid_reason
    plan = plan_version(matrix, "none")
    assert {plan.expected[c.key].verdict for c in plan.cells if not c.probed} == {Verdict.INVALID}


def test_named_port_resolves_to_the_target_port_number() -> None:
    matrix = plan_matrix(workshop(probes=[ProbeSpec("http")], expectations=[]))
    assert {(c.port, c.port_number, c.kind) for c in matrix.cells} == {("http", 80, CellKind.PROBE)}


def test_without_probes_every_declared_port_is_probed() -> None:
    ports = (PortSpec(80, Protocol.TCP, "http"), PortSpec(53, Protocol.UDP, "dns"))
    matrix = plan_matrix(workshop(ports=ports, expectations=[]))
    assert {(c.port, c.protocol) for c in matrix.cells} == {(80, Protocol.TCP), (53, Protocol.UDP)}
    assert not matrix.invalid_cells


# --- expected verdicts ---------------------------------------------------------------


@pytest.mark.parametrize(("section", "name", "namespace", "labels", "verdict"), WORKSHOP_CHECKS)
def test_engine_expectation_reproduces_the_workshop_check(
    section: str, name: str, namespace: str, labels: Labels, verdict: Verdict
) -> None:
    matrix = plan_matrix(workshop())
    plan = plan_version(matrix, name)
    cell = next(
        c for c in plan.cells if c.source_namespace == namespace and c.source_labels == labels
    )
    expected = plan.expected[cell.key]
    assert expected.verdict is verdict, section
    assert expected.explanation is not None
    assert expected.explanation.allowed is (verdict is Verdict.ALLOWED)


def test_ipblock_policies_see_the_pod_addresses_the_cluster_assigned() -> None:
    allow_net = netpol(
        "development",
        "from-net",
        {
            "podSelector": {},
            "ingress": [{"from": [{"ipBlock": {"cidr": "10.9.0.0/16"}}]}],
        },
    )
    matrix = plan_matrix(workshop(versions=[version("net", allow_net)], expectations=[]))
    layout = matrix.layout
    inside = {p.ref: ipaddress.ip_address(f"10.9.0.{i + 1}") for i, p in enumerate(layout.pods)}
    outside = {p.ref: ipaddress.ip_address(f"10.8.0.{i + 1}") for i, p in enumerate(layout.pods)}
    verdicts_in = {
        e.verdict for e in plan_version(matrix, "net", addresses=inside).expected.values()
    }
    verdicts_out = {
        e.verdict for e in plan_version(matrix, "net", addresses=outside).expected.values()
    }
    assert verdicts_in == {Verdict.ALLOWED}
    assert verdicts_out == {Verdict.BLOCKED}


def test_explicit_expectations_attach_to_their_cells_and_versions() -> None:
    matrix = plan_matrix(workshop())
    attached = {
        (name, e.description) for (name, _key), exps in matrix.expectations.items() for e in exps
    }
    assert attached == {(v, f"workshop {s}") for s, v, *_ in WORKSHOP_CHECKS}


def test_expectation_by_port_name_matches_the_numbered_cell() -> None:
    by_name = expectation("development", NOBODY, Verdict.ALLOWED, version="none", port="http")
    matrix = plan_matrix(workshop(expectations=[by_name]))
    assert len(matrix.expectations) == 1


# --- bad input -----------------------------------------------------------------------


def test_expectation_outside_the_matrix_is_invalid_input() -> None:
    stray = expectation("development", Labels({"app": "other"}), Verdict.BLOCKED)
    wrong_port = expectation("development", FRONTEND, Verdict.BLOCKED, port=443)
    with pytest.raises(InvalidInput) as caught:
        plan_matrix(workshop(expectations=[stray, wrong_port]))
    paths = [str(p.path) for p in caught.value.problems]
    assert paths == ["expectations[0]", "expectations[1]"]


def test_unknown_version_is_invalid_input_naming_the_known_ones() -> None:
    with pytest.raises(InvalidInput) as caught:
        plan_matrix(workshop(), versions=["deny-all", "allow-everything"])
    (problem,) = caught.value.problems
    assert "allow-everything" in problem.message
    assert "allow-pod-namespace" in problem.message


def test_selected_versions_run_in_scenario_order() -> None:
    matrix = plan_matrix(workshop(), versions=["allow-pod", "none"])
    assert [v.name for v in matrix.versions] == ["none", "allow-pod"]
    assert {c.version for c in matrix.cells} == {"none", "allow-pod"}


def test_two_sources_with_the_same_labels_are_invalid_input() -> None:
    scenario = workshop(expectations=[])
    doubled = replace(
        scenario,
        matrix=replace(
            scenario.matrix,
            sources=(*scenario.matrix.sources, SourceSpec("again", FRONTEND)),
        ),
    )
    with pytest.raises(InvalidInput) as caught:
        plan_matrix(doubled)
    assert any("same labels" in p.message for p in caught.value.problems)


def test_keys_are_the_sha256_of_the_documented_json_arrays() -> None:
    # The recipe is a contract: stored results are found by these keys for years.
    connection = ["development", [["app", "webapp"], ["role", "frontend"]], "development"]
    connection += ["backend", 80, "TCP"]

    def digest(parts: list[object]) -> str:
        text = json.dumps(parts, separators=(",", ":"), ensure_ascii=False)
        return hashlib.sha256(text.encode()).hexdigest()[:16]

    assert cell_key(**BASE_KEY) == digest(["cell/2", "deny-all", *connection])  # type: ignore[arg-type]
    assert pair_key(**BASE_PAIR) == digest(["cell/1", *connection])  # type: ignore[arg-type]
