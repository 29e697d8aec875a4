"""Mutation analysis: how many small policy mistakes a scenario's matrix would catch.

``mutate_scenario(scenario)`` is the one entry point (the CLI's ``mutate`` and
the REST API call it); docs/mutation.md explains the method.
"""

from service.mutate.model import (
    AddMatrixTarget,
    AddProbe,
    AddSource,
    AddSourceNamespace,
    AddTarget,
    AddTargetPort,
    Edit,
    MutantResult,
    Mutation,
    MutationKind,
    MutationReport,
    Observation,
    Outcome,
    Suggestion,
    UniverseSummary,
)
from service.mutate.score import DEFAULT_MAX_LABEL_SETS, mutate_scenario
from service.mutate.snippets import patch_document

__all__ = [
    "DEFAULT_MAX_LABEL_SETS",
    "AddMatrixTarget",
    "AddProbe",
    "AddSource",
    "AddSourceNamespace",
    "AddTarget",
    "AddTargetPort",
    "Edit",
    "MutantResult",
    "Mutation",
    "MutationKind",
    "MutationReport",
    "Observation",
    "Outcome",
    "Suggestion",
    "UniverseSummary",
    "mutate_scenario",
    "patch_document",
]
