"""Loading and validating scenario files: every rule, with the exact message users read.

Messages have the shape ``file:line: field: what was expected``. Most cases
edit one line of a small valid scenario (BASE) and compare every problem
reported.
"""

from __future__ import annotations

import json
import os
import random
from pathlib import Path

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from service.errors import InvalidInput
from service.policy.model import Labels, Protocol
from service.scenario.load import MAX_SCENARIO_BYTES, load_scenario, parse_scenario
from service.scenario.model import (
    Expectation,
    PortSpec,
    ProbeSpec,
    Schedule,
    ServiceSpec,
    Verdict,
)
from service.scenario.policies import MAX_POLICY_FILES
from service.scenario.schema import render_json_schema

REPO = Path(__file__).resolve().parents[2]
DATA = Path(__file__).resolve().parent / "data"

DENY_ALL = """\
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: deny-all
  namespace: development
spec:
  podSelector: {}
"""

# Line numbers matter: the expected messages below name them.
BASE = """\
name: demo
description: A small scenario for the loader's tests.
namespaces:
  development: {purpose: development}
  production: {purpose: production}
targets:
  - name: backend
    namespace: development
    labels: {app: webapp, role: backend}
    ports:
      - {port: 80, name: http}
    service: true
matrix:
  sources:
    unlabelled: {}
    frontend: {app: webapp, role: frontend}
  namespaces: [development, production]
versions:
  - name: none
  - name: deny-all
    policies: [policies/deny-all.yaml]
expectations:
  - {from: development, labels: "app=webapp,role=frontend", to: backend, port: 80/TCP,
     expect: allowed, versions: [none], note: "1.3"}
schedule: {cron: "0 3 * * *", timezone: Europe/Stockholm}
"""


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    (tmp_path / "policies").mkdir()
    (tmp_path / "policies" / "deny-all.yaml").write_text(DENY_ALL)
    return tmp_path


def edited(old: str, new: str) -> str:
    assert BASE.count(old) == 1, f"{old!r} must occur once in BASE"
    return BASE.replace(old, new)


def problems(text: str, folder: Path) -> list[str]:
    with pytest.raises(InvalidInput) as caught:
        parse_scenario(text, file="s.yaml", base_dir=folder)
    return [str(p) for p in caught.value.problems]


# --- the valid scenario -------------------------------------------------------------------


def test_base_scenario_resolves_to_the_values_it_describes(folder: Path) -> None:
    s = parse_scenario(BASE, file="s.yaml", base_dir=folder)
    assert (s.name, s.path) == ("demo", "s.yaml")
    assert [(ns.name, ns.labels) for ns in s.namespaces] == [
        ("development", Labels({"purpose": "development"})),
        ("production", Labels({"purpose": "production"})),
    ]
    backend = s.target("backend")
    assert backend.ports == (PortSpec(80, Protocol.TCP, "http"),)
    assert backend.service == ServiceSpec("backend")
    assert [src.name for src in s.matrix.sources] == ["unlabelled", "frontend"]
    assert s.matrix.targets == ("backend",)  # default: every target
    assert s.matrix.probes == ()  # default: every declared port
    assert [v.name for v in s.versions] == ["none", "deny-all"]
    assert s.version("deny-all").files == ("policies/deny-all.yaml",)
    assert [p.ref for p in s.version("deny-all").policies] == ["development/deny-all"]
    assert s.expectations == (
        Expectation(
            source_namespace="development",
            source_labels=Labels({"app": "webapp", "role": "frontend"}),
            target="backend",
            port=80,
            protocol=Protocol.TCP,
            verdict=Verdict.ALLOWED,
            version="none",
            description="1.3",
            line=23,
        ),
    )
    assert s.schedule == Schedule("0 3 * * *", "Europe/Stockholm")


def test_defaults_source_namespaces_to_every_declared_namespace(folder: Path) -> None:
    s = parse_scenario(
        edited("  namespaces: [development, production]\n", ""), file="s.yaml", base_dir=folder
    )
    assert s.matrix.namespaces == ("development", "production")


def test_expectation_without_versions_applies_to_all_and_without_port_to_every_probe(
    folder: Path,
) -> None:
    text = edited(
        "port: 80/TCP,\n     expect: allowed, versions: [none],",
        "\n     expect: allowed,",
    )
    text = text.replace(
        "      - {port: 80, name: http}",
        "      - {port: 80, name: http}\n      - {port: 53, protocol: UDP}",
    )
    s = parse_scenario(text, file="s.yaml", base_dir=folder)
    assert [(e.port, e.protocol, e.version) for e in s.expectations] == [
        (80, Protocol.TCP, None),
        (53, Protocol.UDP, None),
    ]


def test_expectation_versions_expand_to_one_expectation_each(folder: Path) -> None:
    s = parse_scenario(
        edited("versions: [none]", "versions: [none, deny-all]"), file="s.yaml", base_dir=folder
    )
    assert [e.version for e in s.expectations] == ["none", "deny-all"]


@pytest.mark.parametrize(
    ("written", "port", "protocol"),
    [
        ("80", 80, Protocol.TCP),
        ("80/TCP", 80, Protocol.TCP),
        ("80/tcp", 80, Protocol.TCP),
        ("http", "http", Protocol.TCP),
        ("http/TCP", "http", Protocol.TCP),
    ],
)
def test_expectation_port_forms(
    folder: Path, written: str, port: int | str, protocol: Protocol
) -> None:
    s = parse_scenario(edited("port: 80/TCP", f"port: {written}"), file="s.yaml", base_dir=folder)
    assert (s.expectations[0].port, s.expectations[0].protocol) == (port, protocol)


def test_labels_may_be_a_mapping_or_a_string(folder: Path) -> None:
    text = edited('labels: "app=webapp,role=frontend"', "labels: {role: frontend, app: webapp}")
    s = parse_scenario(text, file="s.yaml", base_dir=folder)
    assert s.expectations[0].source_labels == Labels({"app": "webapp", "role": "frontend"})


def test_expectation_may_name_the_source(folder: Path) -> None:
    text = edited('labels: "app=webapp,role=frontend"', "source: frontend")
    s = parse_scenario(text, file="s.yaml", base_dir=folder)
    assert s.expectations[0].source_labels == Labels({"app": "webapp", "role": "frontend"})


def test_probe_ports_resolve_to_probe_specs(folder: Path) -> None:
    text = edited(
        "  namespaces: [development, production]\n",
        "  namespaces: [development, production]\n  ports: [80, http/TCP]\n",
    )
    s = parse_scenario(text, file="s.yaml", base_dir=folder)
    assert s.matrix.probes == (ProbeSpec(80, Protocol.TCP), ProbeSpec("http", Protocol.TCP))


def test_service_mapping_names_its_ports(folder: Path) -> None:
    text = edited("    service: true", "    service: {name: web, ports: [{port: 80}]}")
    s = parse_scenario(text, file="s.yaml", base_dir=folder)
    service = s.target("backend").service
    assert service == ServiceSpec("web", (PortSpec(80, Protocol.TCP, "http"),))


def test_cron_macro_is_rewritten_to_five_fields(folder: Path) -> None:
    s = parse_scenario(edited('"0 3 * * *"', "'@daily'"), file="s.yaml", base_dir=folder)
    assert s.schedule == Schedule("0 0 * * *", "Europe/Stockholm")


def test_cron_with_ranges_steps_lists_and_names_is_accepted(folder: Path) -> None:
    text = edited('"0 3 * * *"', '"*/15 9-17/2 1,15 jan-jun mon-fri"')
    s = parse_scenario(text, file="s.yaml", base_dir=folder)
    assert s.schedule == Schedule("*/15 9-17/2 1,15 jan-jun mon-fri", "Europe/Stockholm")


def test_empty_probe_settings_are_accepted(folder: Path) -> None:
    s = parse_scenario(
        edited("schedule: {", "probe: {}\nschedule: {"), file="s.yaml", base_dir=folder
    )
    assert s.name == "demo"


def test_inline_policy_is_read_with_its_location(folder: Path) -> None:
    inline = (
        "    policies:\n"
        "      - apiVersion: networking.k8s.io/v1\n"
        "        kind: NetworkPolicy\n"
        "        metadata: {name: inline, namespace: production}\n"
        "        spec: {podSelector: {}}\n"
    )
    s = parse_scenario(
        edited("    policies: [policies/deny-all.yaml]\n", inline), file="s.yaml", base_dir=folder
    )
    (policy,) = s.version("deny-all").policies
    assert policy.ref == "production/inline"
    assert str(policy.source) == "s.yaml:22"
    assert s.version("deny-all").files == ()


def test_folder_of_policies_is_read_recursively_in_name_order(folder: Path) -> None:
    nested = folder / "policies" / "more"
    nested.mkdir()
    (nested / "b.yml").write_text(DENY_ALL.replace("deny-all", "b"))
    (folder / "policies" / "a.json").write_text(
        json.dumps(
            {
                "apiVersion": "networking.k8s.io/v1",
                "kind": "NetworkPolicy",
                "metadata": {"name": "a", "namespace": "production"},
                "spec": {"podSelector": {}},
            }
        )
    )
    (folder / "policies" / "notes.txt").write_text("not a manifest")
    (folder / "policies" / ".hidden.yaml").write_text("{{{ not read")
    s = parse_scenario(
        edited("[policies/deny-all.yaml]", "[policies/]"), file="s.yaml", base_dir=folder
    )
    assert s.version("deny-all").files == (
        "policies/a.json",
        "policies/deny-all.yaml",
        "policies/more/b.yml",
    )


def test_load_scenario_reads_policies_beside_the_file(folder: Path) -> None:
    (folder / "s.yaml").write_text(BASE)
    s = load_scenario(folder / "s.yaml")
    assert s.path == str(folder / "s.yaml")
    assert [p.ref for p in s.version("deny-all").policies] == ["development/deny-all"]


# --- every validation rule, with its exact message -----------------------------------------

CASES: list[tuple[str, str, str, list[str]]] = [
    (
        "unknown_field_suggests_the_closest_name",
        "    ports:\n",
        "    prots:\n",
        [
            "s.yaml:7: targets[0].ports: required field is missing",
            "s.yaml:10: targets[0].prots: unknown field; did you mean 'ports'?",
        ],
    ),
    (
        "unknown_field_without_a_close_name_lists_the_fields",
        "schedule:",
        "frobnicate:",
        [
            "s.yaml:25: frobnicate: unknown field; expected one of name, description, namespaces,"
            " targets, matrix, versions, expectations, schedule, probe, chaos",
        ],
    ),
    (
        "unknown_field_inside_a_union_is_found",
        "    service: true",
        "    service: {nmae: web}",
        ["s.yaml:12: targets[0].service.nmae: unknown field; did you mean 'name'?"],
    ),
    (
        "unknown_probe_setting_is_refused",
        "schedule: {",
        "probe: {timeout: 2}\nschedule: {",
        ["s.yaml:25: probe.timeout: unknown field; no fields are accepted here yet"],
    ),
    (
        "wrong_type_says_what_was_expected",
        "{port: 80, name: http}",
        '{port: "80", name: http}',
        ["s.yaml:11: targets[0].ports[0].port: expected an integer, got a string"],
    ),
    (
        "yaml_boolean_in_labels_suggests_quoting",
        "{purpose: development}",
        "{purpose: yes}",
        [
            "s.yaml:4: namespaces.development: label purpose: expected a string value (YAML reads"
            " unquoted true/false/yes/no/on/off as a boolean: quote it)",
        ],
    ),
    (
        "port_out_of_range",
        "{port: 80, name: http}",
        "{port: 0, name: http}",
        ["s.yaml:11: targets[0].ports[0].port: expected a number >= 1, got 0"],
    ),
    (
        "unknown_protocol",
        "{port: 80, name: http}",
        "{port: 80, name: http, protocol: ICMP}",
        [
            "s.yaml:11: targets[0].ports[0].protocol: expected one of 'TCP', 'UDP' or 'SCTP',"
            " got 'ICMP'",
        ],
    ),
    (
        "bad_name",
        "name: demo",
        "name: Demo_1",
        [
            "s.yaml:1: name: scenario name 'Demo_1': expected lowercase letters, digits and '-',"
            " starting and ending with a letter or digit, at most 63 characters",
        ],
    ),
    (
        "bad_expect_value",
        "expect: allowed",
        "expect: allow",
        ["s.yaml:24: expectations[0].expect: expected one of 'allowed' or 'blocked', got 'allow'"],
    ),
    (
        "duplicate_target",
        "    service: true\n",
        "    service: true\n  - {name: backend, namespace: production, ports: [{port: 80}]}\n",
        ["s.yaml:13: targets[1].name: duplicate target name 'backend' (first at line 7)"],
    ),
    (
        "duplicate_version",
        "  - name: deny-all",
        "  - name: none",
        ["s.yaml:20: versions[1].name: duplicate version name 'none' (first at line 19)"],
    ),
    (
        "two_sources_with_the_same_labels",
        "    frontend: {app: webapp, role: frontend}",
        "    frontend: {app: webapp, role: frontend}\n    again: 'role=frontend,app=webapp'",
        [
            "s.yaml:17: matrix.sources.again: source 'again' has the same labels as 'frontend'"
            " (app=webapp,role=frontend): expected each source to be a different label set",
        ],
    ),
    (
        "duplicate_port_and_port_name",
        "      - {port: 80, name: http}",
        "      - {port: 80, name: http}\n      - {port: 80, name: http}",
        [
            "s.yaml:12: targets[0].ports[1]: duplicate port 80/TCP (first at line 11)",
            "s.yaml:12: targets[0].ports[1].name: duplicate port name 'http' (first at line 11)",
        ],
    ),
    (
        "target_in_undeclared_namespace",
        "    namespace: development",
        "    namespace: developmnt",
        [
            "s.yaml:8: targets[0].namespace: namespace 'developmnt' is not declared in namespaces:"
            " expected one of development, production; did you mean 'development'?",
        ],
    ),
    (
        "undeclared_source_namespace_and_undefined_matrix_target",
        "  namespaces: [development, production]",
        "  namespaces: [development, staging]\n  targets: [backend, frontend]",
        [
            "s.yaml:17: matrix.namespaces[1]: namespace 'staging' is not declared in namespaces:"
            " expected one of development, production",
            "s.yaml:18: matrix.targets[1]: target 'frontend' is not declared in targets:"
            " expected one of backend",
        ],
    ),
    (
        "named_probe_port_no_target_declares",
        "  namespaces: [development, production]",
        "  namespaces: [development, production]\n  ports: [80, htp/TCP, 8080/UDP]",
        [
            "s.yaml:18: matrix.ports[1]: no target in the matrix has a port named 'htp' for TCP:"
            " expected one of http/TCP; did you mean 'http/TCP'?",
            "s.yaml:18: matrix.ports[2]: no target in the matrix serves 8080/UDP:"
            " expected one of 80/TCP",
        ],
    ),
    (
        "bad_probe_port_syntax",
        "  namespaces: [development, production]",
        "  namespaces: [development, production]\n  ports: [80/ICMP]",
        ["s.yaml:18: matrix.ports[0]: protocol 'ICMP': expected TCP, UDP or SCTP"],
    ),
    (
        "expectation_with_undefined_names",
        '{from: development, labels: "app=webapp,role=frontend", to: backend,',
        '{from: staging, labels: "app=webapp,role=frontend", to: backnd,',
        [
            "s.yaml:23: expectations[0].from: namespace 'staging' is not declared in namespaces:"
            " expected one of development, production",
            "s.yaml:23: expectations[0].to: target 'backnd' is not declared in targets:"
            " expected one of backend; did you mean 'backend'?",
        ],
    ),
    (
        "expectation_from_a_namespace_the_matrix_does_not_probe_from",
        "  namespaces: [development, production]",
        "  namespaces: [production]",
        [
            "s.yaml:23: expectations[0].from: namespace 'development' is not a source namespace"
            " of the matrix: expected one of production",
        ],
    ),
    (
        "expectation_for_a_version_that_does_not_exist",
        "versions: [none]",
        "versions: [none, nonee]",
        [
            "s.yaml:24: expectations[0].versions[1]: version 'nonee' does not exist: expected one"
            " of none, deny-all; did you mean 'none'?",
        ],
    ),
    (
        "expectation_labels_no_source_has",
        'labels: "app=webapp,role=frontend"',
        'labels: "app=web"',
        [
            "s.yaml:23: expectations[0].labels: no matrix source has the labels app=web: expected"
            " the labels of one of unlabelled (no labels); frontend (app=webapp,role=frontend)",
        ],
    ),
    (
        "expectation_unknown_source_name",
        'labels: "app=webapp,role=frontend"',
        "source: frontnd",
        [
            "s.yaml:23: expectations[0].source: source 'frontnd' is not declared in"
            " matrix.sources: expected one of unlabelled, frontend; did you mean 'frontend'?",
        ],
    ),
    (
        "expectation_with_both_source_and_labels",
        'labels: "app=webapp,role=frontend"',
        'labels: "app=webapp,role=frontend", source: frontend',
        ["s.yaml:23: expectations[0].labels: give either source or labels, not both"],
    ),
    (
        "expectation_without_a_source",
        'labels: "app=webapp,role=frontend", ',
        "",
        [
            "s.yaml:23: expectations[0]: expected source (a name from matrix.sources) or labels"
            " (the source's labels)",
        ],
    ),
    (
        "labels_string_syntax",
        'labels: "app=webapp,role=frontend"',
        'labels: "app=webapp,role"',
        [
            "s.yaml:23: expectations[0].labels: expected labels as key=value pairs separated by"
            " commas; 'role' has no '='",
        ],
    ),
    (
        "expectation_port_the_target_is_not_probed_on",
        "port: 80/TCP",
        "port: 81/TCP",
        [
            "s.yaml:23: expectations[0].port: target 'backend' is not probed on 81/TCP: expected"
            " one of 80/TCP (http)",
        ],
    ),
    (
        "contradicting_expectations",
        'note: "1.3"}\n',
        'note: "1.3"}\n  - {from: development, source: frontend, to: backend, port: http,'
        " expect: blocked}\n",
        [
            "s.yaml:25: expectations[1].expect: contradicts expectations[0] (line 23), which"
            " expects allowed for the same cell in version 'none'",
        ],
    ),
    (
        "service_port_the_target_does_not_serve",
        "    service: true",
        "    service: {ports: [{port: 8080}]}",
        [
            "s.yaml:12: targets[0].service.ports[0]: the target does not serve 8080/TCP: expected"
            " one of the target's ports (80/TCP)",
        ],
    ),
    (
        "service_not_true_false_or_mapping",
        "    service: true",
        "    service: yes please",
        ["s.yaml:12: targets[0].service: expected true, false, or a mapping with name and ports"],
    ),
    (
        "namespace_name_label_must_match_the_name",
        "{purpose: development}",
        "{purpose: development, kubernetes.io/metadata.name: dev}",
        [
            "s.yaml:4: namespaces.development: label kubernetes.io/metadata.name is set by"
            " Kubernetes to the namespace's name; expected 'development' or no such label",
        ],
    ),
    (
        "cron_with_four_fields",
        '"0 3 * * *"',
        '"0 3 * *"',
        [
            "s.yaml:25: schedule.cron: cron '0 3 * *': expected 5 fields (minute hour"
            " day-of-month month day-of-week), got 4",
        ],
    ),
    (
        "cron_value_out_of_range",
        '"0 3 * * *"',
        '"0 25 * * *"',
        ["s.yaml:25: schedule.cron: cron hour field '25': 25 is out of range 0-23"],
    ),
    (
        "cron_zero_step",
        '"0 3 * * *"',
        '"*/0 3 * * *"',
        [
            "s.yaml:25: schedule.cron: cron minute field '*/0': expected a step from 1 to 60"
            " after '/'"
        ],
    ),
    (
        "cron_unknown_name",
        '"0 3 * * *"',
        '"0 3 * foo *"',
        [
            "s.yaml:25: schedule.cron: cron month field 'foo': expected a number from 1 to 12,"
            " or a name (jan-dec)",
        ],
    ),
    (
        "cron_reversed_range",
        '"0 3 * * *"',
        '"0 3 * * fri-mon"',
        [
            "s.yaml:25: schedule.cron: cron day of week field 'fri-mon': expected a range"
            " low-high with low <= high",
        ],
    ),
    (
        "cron_unknown_macro",
        '"0 3 * * *"',
        '"@reboot"',
        [
            "s.yaml:25: schedule.cron: cron '@reboot': expected five fields or one of @yearly,"
            " @annually, @monthly, @weekly, @daily, @midnight, @hourly",
        ],
    ),
    (
        "time_zone_typo_suggests_the_zone",
        "Europe/Stockholm",
        "Europe/Stokholm",
        [
            "s.yaml:25: schedule.timezone: time zone 'Europe/Stokholm': expected an IANA time zone"
            " name such as UTC or Europe/Stockholm; did you mean 'Europe/Stockholm'?",
        ],
    ),
    (
        "time_zone_path_is_refused",
        "Europe/Stockholm",
        "../../etc/passwd",
        [
            "s.yaml:25: schedule.timezone: time zone '../../etc/passwd': expected an IANA time"
            " zone name such as UTC or Europe/Stockholm",
        ],
    ),
    (
        "required_field_missing",
        "name: demo\n",
        "",
        ["s.yaml:1: name: required field is missing"],
    ),
    (
        "empty_list_where_one_entry_is_needed",
        "  namespaces: [development, production]",
        "  namespaces: []",
        ["s.yaml:17: matrix.namespaces: expected at least one entry"],
    ),
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
    (
        "bad_name_as_a_mapping_key",
        "  development: {purpose: development}",
        "  Dev_1: {purpose: development}",
        [
            "s.yaml:4: namespaces.Dev_1: namespace name 'Dev_1': expected lowercase letters,"
            " digits and '-', starting and ending with a letter or digit, at most 63 characters",
        ],
    ),
    (
        "list_where_a_mapping_is_expected",
        "namespaces:\n  development: {purpose: development}\n  production: {purpose: production}",
        "namespaces: [development, production]",
        ["s.yaml:3: namespaces: expected a mapping, got a list"],
    ),
    (
        "bad_label_key",
        "{app: webapp, role: backend}",
        '{app: webapp, role: backend, "bad key!": x}',
        [
            "s.yaml:9: targets[0].labels: 'bad key!' is not a valid label key: the name part must"
            " be alphanumerics, '-', '_' or '.', starting and ending with an alphanumeric",
        ],
    ),
]


@pytest.mark.parametrize(
    ("old", "new", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_invalid_scenario_is_reported_as_file_line_field_expected(
    folder: Path, old: str, new: str, expected: list[str]
) -> None:
    assert problems(edited(old, new), folder) == expected


@pytest.mark.parametrize(("old", "new"), [c[1:3] for c in CASES], ids=[c[0] for c in CASES])
def test_no_raw_pydantic_output_ever_reaches_the_user(folder: Path, old: str, new: str) -> None:
    text = "\n".join(problems(edited(old, new), folder))
    for raw in ("pydantic", "Input should", "Field required", "Extra inputs", "Value error"):
        assert raw not in text


def test_problems_of_one_stage_are_all_reported_at_once(folder: Path) -> None:
    text = edited(
        '{from: development, labels: "app=webapp,role=frontend", to: backend,',
        '{from: staging, labels: "app=x", to: backnd,',
    ).replace("[policies/deny-all.yaml]", "[nowhere.yaml]")
    found = problems(text, folder)
    assert [p.split(": ")[1] for p in found] == [
        "versions[1].policies[0]",
        "expectations[0].from",
        "expectations[0].labels",
        "expectations[0].to",
    ]


@pytest.mark.parametrize(
    ("old", "new", "where", "key"),
    [
        (
            "  production: {purpose: production}",
            "  development: {purpose: production}",
            "s.yaml:5: namespaces.development: ",
            "'development'",
        ),
        (
            "    unlabelled: {}",
            "    unlabelled: {}\n    unlabelled: {a: b}",
            "s.yaml:16: matrix.sources.unlabelled: ",
            "'unlabelled'",
        ),
    ],
    ids=["namespace", "source"],
)
def test_duplicate_mapping_names_are_reported_at_the_second(
    folder: Path, old: str, new: str, where: str, key: str
) -> None:
    # Namespaces and sources are YAML mapping keys: the reader refuses duplicates
    # (its wording); the location is ours to check.
    (found,) = problems(edited(old, new), folder)
    assert found.startswith(where + "duplicate key " + key)


def test_malformed_yaml_is_reported_at_its_line(folder: Path) -> None:
    # The exact wording belongs to the manifest reader; the location is ours to check.
    (found,) = problems(
        edited("  production: {purpose: production}", "  production: {purpose: production"),
        folder,
    )
    assert found.startswith("s.yaml:6")
    assert "invalid YAML" in found
    assert "did not find expected ',' or '}'" in found


# --- files: policy files with problems, links, size, alias bombs ----------------------------


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


def _alias_bomb(levels: int = 9) -> str:
    lines = ["b0: &b0 [x, x, x, x, x, x, x, x, x, x]"]
    for i in range(1, levels):
        lines.append(f"b{i}: &b{i} [" + ", ".join([f"*b{i - 1}"] * 10) + "]")
    return "\n".join(lines) + "\n"


def test_alias_bomb_in_the_scenario_is_refused(folder: Path) -> None:
    (found,) = problems(_alias_bomb() + BASE, folder)
    assert found.startswith("s.yaml:5: b4[")
    assert "alias bomb" in found


def test_alias_bomb_in_a_policy_file_is_refused(folder: Path) -> None:
    (folder / "policies" / "bomb.yaml").write_text(_alias_bomb())
    (found,) = problems(edited("policies/deny-all.yaml", "policies/bomb.yaml"), folder)
    assert found.startswith("policies/bomb.yaml:5: b4[")
    assert "alias bomb" in found


def test_few_aliases_are_fine(folder: Path) -> None:
    text = edited("{app: webapp, role: frontend}", "&fe {app: webapp, role: frontend}")
    text = text.replace('labels: "app=webapp,role=frontend"', "labels: *fe")
    s = parse_scenario(text, file="s.yaml", base_dir=folder)
    assert s.expectations[0].source_labels == Labels({"app": "webapp", "role": "frontend"})


def test_scenario_over_the_size_limit_is_refused_before_parsing(folder: Path) -> None:
    padding = "#" * 99 + "\n"
    text = BASE + padding * (MAX_SCENARIO_BYTES // len(padding) + 1)
    assert problems(text, folder) == [
        f"s.yaml: the scenario is {len(text)} bytes, over the limit of {MAX_SCENARIO_BYTES} bytes"
    ]
    (folder / "big.yaml").write_text(text)
    with pytest.raises(InvalidInput) as caught:
        load_scenario(folder / "big.yaml")
    (problem,) = caught.value.problems
    assert problem.file == str(folder / "big.yaml")
    assert "over the limit of 1.0 MiB" in problem.message


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "",
            "s.yaml: the file is empty: expected a scenario: a mapping with name, namespaces,"
            " targets, matrix and versions",
        ),
        (
            "- a\n- b\n",
            "s.yaml:1: expected a scenario: a mapping with name, namespaces, targets,"
            " matrix and versions, got a list",
        ),
        (
            BASE + "---\nname: other\n",
            "s.yaml:27: expected one YAML document, found 2: a scenario"
            " is one document (put policies in their own files)",
        ),
    ],
    ids=["empty", "not_a_mapping", "two_documents"],
)
def test_file_must_hold_one_scenario_mapping(folder: Path, text: str, expected: str) -> None:
    assert problems(text, folder) == [expected]


# --- content hashes -------------------------------------------------------------------------


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


# --- the published JSON Schema --------------------------------------------------------------


def test_published_json_schema_is_up_to_date() -> None:
    published = (REPO / "docs" / "scenario.schema.json").read_text()
    assert published == render_json_schema(), (
        "docs/scenario.schema.json is stale: run"
        " `python -m service.scenario.schema > docs/scenario.schema.json`"
    )


def test_json_schema_refuses_unknown_fields_everywhere() -> None:
    schema = json.loads(render_json_schema())
    assert schema["additionalProperties"] is False
    for name, definition in schema["$defs"].items():
        assert definition.get("additionalProperties") is False, name


# --- the documentation ----------------------------------------------------------------------


def test_full_example_in_the_docs_loads(tmp_path: Path) -> None:
    doc = (REPO / "docs" / "scenarios.md").read_text()
    section = doc.split("## A full example", 1)[1]
    example = section.split("```yaml\n", 1)[1].split("```", 1)[0]
    (tmp_path / "policies").mkdir()
    (tmp_path / "policies" / "deny-all.yaml").write_text(DENY_ALL.replace("development", "api"))
    (tmp_path / "shop.yaml").write_text(example)
    s = load_scenario(tmp_path / "shop.yaml")
    assert [ns.name for ns in s.namespaces] == ["web", "api", "tools"]
    assert [v.name for v in s.versions] == ["none", "locked"]
    assert [p.ref for p in s.version("locked").policies] == ["api/deny-all", "api/allow-web"]
    assert s.schedule == Schedule("30 2 * * mon-fri", "Europe/Stockholm")
    # The second expectation has no port: it stands for every port db is probed on.
    assert [(e.target, e.port, e.version) for e in s.expectations] == [
        ("api", "http", "none"),
        ("api", "http", "locked"),
        ("db", "postgres", "locked"),
    ]
