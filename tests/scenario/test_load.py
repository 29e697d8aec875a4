"""Loading scenario files: what a valid scenario resolves to, the schema, the docs.

The rules a scenario can break are tested by family beside this file
(``test_load_fields``, ``test_load_references``, ``test_load_schedule``,
``test_load_policies``, ``test_load_limits``); content hashes in
``test_content_hash``.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from service.policy.model import Labels, Protocol
from service.scenario.load import load_scenario, parse_scenario
from service.scenario.model import (
    Expectation,
    PortSpec,
    ProbeSpec,
    Schedule,
    ServiceSpec,
    Verdict,
)
from service.scenario.schema import render_json_schema
from tests.scenario.load_world import BASE, DENY_ALL, REPO, edited

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
