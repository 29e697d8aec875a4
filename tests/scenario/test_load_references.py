"""Names and references between a scenario's parts, and its expectations.

Duplicates, namespaces and ports a target or the matrix names, and
expectations about sources, targets, ports and versions the scenario does not
have (or that contradict each other); each case edits one line of BASE.
"""

from __future__ import annotations

from pathlib import Path

from tests.scenario.load_world import InvalidCase, edit_case_tests, edited, problems

CASES: list[InvalidCase] = [
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
]


(
    test_broken_reference_is_reported_as_file_line_field_expected,
    test_no_raw_pydantic_output_ever_reaches_the_user,
) = edit_case_tests(CASES)


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
