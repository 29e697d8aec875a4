"""Scenario fields and values: every rule, with the exact message users read.

Unknown fields, wrong types, values out of range, names and label syntax; each
case edits one line of BASE and compares every problem reported.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.scenario.load_world import InvalidCase, edit_case_tests, edited, problems

CASES: list[InvalidCase] = [
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
        "bad_probe_port_syntax",
        "  namespaces: [development, production]",
        "  namespaces: [development, production]\n  ports: [80/ICMP]",
        ["s.yaml:18: matrix.ports[0]: protocol 'ICMP': expected TCP, UDP or SCTP"],
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


(
    test_invalid_field_is_reported_as_file_line_field_expected,
    test_no_raw_pydantic_output_ever_reaches_the_user,
) = edit_case_tests(CASES)


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
