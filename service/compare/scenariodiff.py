"""Version diffs of a scenario, without a run: its planned layout under two policy versions.

The layout is the planner's (:func:`service.scenario.plan.plan_matrix`): the
scenario's namespaces, one pod per target and one probe pod per source and
namespace. Pods have no IP addresses here, so an ipBlock never matches a pod
(on a cluster it may match pod IPs); every other rule is judged as the run
would judge it.
"""

from __future__ import annotations

from service.compare.enginediff import engine_diff
from service.compare.matrixdiff import MatrixEndpoint, matrix_diff, planned_verdicts
from service.compare.pairdiff import VersionDiff
from service.report.connlist import Endpoint
from service.scenario.model import Scenario
from service.scenario.plan import Matrix, plan_matrix, plan_version

__all__ = ["scenario_matrix_diff", "scenario_version_diff"]


def _plan(scenario: Scenario, ref1: str, ref2: str) -> Matrix:
    # Raises InvalidInput naming each unknown version.
    return plan_matrix(scenario, versions=[ref1, ref2])


def scenario_version_diff(scenario: Scenario, ref1: str, ref2: str) -> VersionDiff[Endpoint]:
    """Every connection (all ports) added, removed or changed from version ``ref1`` to ``ref2``."""
    matrix = _plan(scenario, ref1, ref2)
    layout = matrix.layout
    return engine_diff(
        layout.cluster_state(policies=matrix.version(ref1).policies),
        layout.cluster_state(policies=matrix.version(ref2).policies),
        names=(ref1, ref2),
    )


def scenario_matrix_diff(scenario: Scenario, ref1: str, ref2: str) -> VersionDiff[MatrixEndpoint]:
    """The probed connections the engine expects to change from version ``ref1`` to ``ref2``."""
    matrix = _plan(scenario, ref1, ref2)
    return matrix_diff(
        planned_verdicts(plan_version(matrix, ref1)),
        planned_verdicts(plan_version(matrix, ref2)),
        names=(ref1, ref2),
    )
