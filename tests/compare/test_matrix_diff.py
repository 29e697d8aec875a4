"""The matrix-level version diff: allowed probed ports per (source, target), two versions."""

from __future__ import annotations

from pathlib import Path

import pytest

from service.compare import (
    DiffType,
    MatrixEndpoint,
    MatrixSource,
    MatrixTarget,
    PairDiff,
    PlacedVerdict,
    VerdictSide,
    matrix_diff,
    planned_verdicts,
    run_version_diff,
    scenario_matrix_diff,
)
from service.errors import InvalidInput
from service.policy.connections import ConnectionSet
from service.policy.model import Labels, Protocol
from service.scenario.load import load_scenario
from service.scenario.plan import plan_matrix, plan_version
from tests.compare.builders import LETTER, observation, place, record

WORKSHOP = Path(__file__).resolve().parents[2] / "scenarios" / "calico-workshop.yaml"
FRONTEND = Labels({"app": "webapp", "role": "frontend"})
TCP80 = ConnectionSet.of(Protocol.TCP, 80)


def _workshop(version: str) -> list[PlacedVerdict]:
    matrix = plan_matrix(load_scenario(WORKSHOP))
    return planned_verdicts(plan_version(matrix, version))


def test_scenario_matrix_diff_rejects_unknown_versions() -> None:
    with pytest.raises(InvalidInput, match="unknown policy version 'allow-all'"):
        scenario_matrix_diff(load_scenario(WORKSHOP), "deny-all", "allow-all")


def _row(change: PairDiff[MatrixEndpoint]) -> tuple[str, str, str, str, str]:
    return (
        str(change.diff_type),
        str(change.source),
        str(change.destination),
        str(change.ref1),
        str(change.ref2),
    )


# Hand-written from the workshop's policies: deny-all isolates the backend for
# ingress; allow-pod admits app=webapp,role=frontend pods from any namespace;
# allow-pod-namespace only from namespaces labelled purpose=development. Sources
# sort by namespace, then labels (no labels first).
WORKSHOP_DIFFS = [
    (
        "deny-all",
        "allow-pod",
        [
            (
                "added",
                "development/frontend[app=webapp,role=frontend]",
                "development/backend",
                "No Connections",
                "TCP 80",
            ),
            (
                "added",
                "production/frontend[app=webapp,role=frontend]",
                "development/backend",
                "No Connections",
                "TCP 80",
            ),
        ],
    ),
    (
        "allow-pod",
        "allow-pod-namespace",
        [
            (
                "removed",
                "production/frontend[app=webapp,role=frontend]",
                "development/backend",
                "TCP 80",
                "No Connections",
            ),
        ],
    ),
    (
        "none",
        "deny-all",
        [
            (
                "removed",
                "development/unlabelled[no labels]",
                "development/backend",
                "TCP 80",
                "No Connections",
            ),
            (
                "removed",
                "development/frontend[app=webapp,role=frontend]",
                "development/backend",
                "TCP 80",
                "No Connections",
            ),
            (
                "removed",
                "production/unlabelled[no labels]",
                "development/backend",
                "TCP 80",
                "No Connections",
            ),
            (
                "removed",
                "production/frontend[app=webapp,role=frontend]",
                "development/backend",
                "TCP 80",
                "No Connections",
            ),
        ],
    ),
]


@pytest.mark.parametrize(("ref1", "ref2", "rows"), WORKSHOP_DIFFS)
def test_workshop_versions_differ_by_the_frontend_connections(
    ref1: str, ref2: str, rows: list[tuple[str, str, str, str, str]]
) -> None:
    diff = scenario_matrix_diff(load_scenario(WORKSHOP), ref1, ref2)
    assert (diff.ref1, diff.ref2) == (ref1, ref2)
    assert [_row(c) for c in diff.changes] == rows
    assert diff.added_workloads == diff.removed_workloads == ()


def test_identical_versions_have_an_empty_diff() -> None:
    diff = matrix_diff(_workshop("allow-pod"), _workshop("allow-pod"), names=("a", "b"))
    assert diff.changes == ()
    assert diff.render() == "No connections differ between a (ref1) and b (ref2).\n"


def _cell(
    word: str, verdict: str, *, port: int = 80, target: str = "backend", loopback: bool = False
) -> PlacedVerdict:
    return PlacedVerdict(place(word, port=port, target=target), LETTER[verdict], loopback)


def test_a_pair_open_on_both_sides_with_other_ports_is_changed() -> None:
    ref1 = [_cell("web", "A", port=80), _cell("web", "B", port=81), _cell("web", "B", port=82)]
    ref2 = [_cell("web", "A", port=80), _cell("web", "A", port=81), _cell("web", "B", port=82)]
    (change,) = matrix_diff(ref1, ref2).changes
    assert change.diff_type is DiffType.CHANGED
    assert (str(change.ref1), str(change.ref2)) == ("TCP 80", "TCP 80-81")


def test_targets_and_sources_on_one_side_only_are_added_and_removed_workloads() -> None:
    ref1 = [_cell("web", "A"), _cell("old", "A", target="db")]
    ref2 = [_cell("web", "A"), _cell("web", "A", target="cache"), _cell("web", "B", target="db")]
    diff = matrix_diff(ref1, ref2)
    assert diff.added_workloads == (MatrixTarget("dev", "cache"),)
    assert diff.removed_workloads == (MatrixSource("dev", Labels({"app": "old"})),)
    assert [(_row(c), c.workloads_info) for c in diff.changes] == [
        (
            ("removed", "dev/old[app=old]", "dev/db", "TCP 80", "No Connections"),
            "workload dev/old[app=old] removed",
        ),
        (
            ("added", "dev/web[app=web]", "dev/cache", "No Connections", "TCP 80"),
            "workload dev/cache added",
        ),
    ]
    assert diff.render().splitlines()[-2:] == [
        "workload dev/cache added",
        "workload dev/old[app=old] removed",
    ]


def test_loopback_and_invalid_cells_are_not_connections() -> None:
    ref1 = [_cell("web", "B"), _cell("self", "B", loopback=True), _cell("web", "I", port=53)]
    ref2 = [_cell("web", "B"), _cell("self", "A", loopback=True), _cell("web", "I", port=53)]
    assert matrix_diff(ref1, ref2).changes == ()


def test_run_version_diff_reads_expected_or_observed_verdicts() -> None:
    run = record(
        1,
        [
            observation("web", "B", expected="B", version="v1", version_hash="h1"),
            observation("web", "B", expected="A", version="v2", version_hash="h2"),
        ],
    )
    expected = run_version_diff(run, "v1", "v2")
    assert [(c.diff_type, c.ref2) for c in expected.changes] == [(DiffType.ADDED, TCP80)]
    assert (expected.ref1, expected.ref2) == ("v1", "v2")
    assert run_version_diff(run, "v1", "v2", side=VerdictSide.OBSERVED).changes == ()


def test_run_version_diff_rejects_versions_the_run_lacks() -> None:
    run = record(1, [observation("web", "A")])
    with pytest.raises(InvalidInput) as caught:
        run_version_diff(run, "nope", "v1")
    (problem,) = caught.value.problems
    assert str(problem) == "ref1: expected a policy version of run 1 (v1), got 'nope'"


def test_matrix_source_identity_is_its_labels_not_its_name() -> None:
    assert MatrixSource("dev", FRONTEND, "frontend") == MatrixSource("dev", FRONTEND, "fe")
