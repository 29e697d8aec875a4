"""Response shapes of the API beyond the read side's (:mod:`service.queries`) own."""

from __future__ import annotations

from typing import Any

from typing_extensions import TypedDict

from service.queries.scenarios import ScenarioDetail

__all__ = [
    "Check",
    "Health",
    "MutationReportView",
    "Readiness",
    "ScenarioWritten",
    "TokenIssued",
    "TokenView",
    "Validation",
]


class Health(TypedDict):
    status: str


class Check(TypedDict):
    ok: bool
    detail: str


class Readiness(TypedDict):
    status: str
    checks: dict[str, Check]


class ScenarioWritten(ScenarioDetail):
    """The scenario after a create or update; ``revision_id`` is the revision the body is."""

    revision_id: int
    new_revision: bool


class VersionSummary(TypedDict):
    name: str
    content_hash: str
    description: str


class Validation(TypedDict):
    """A scenario that validated: what it holds and how many cells a full run plans."""

    valid: bool
    name: str
    content_hash: str
    versions: list[VersionSummary]
    namespaces: list[str]
    targets: list[str]
    sources: list[str]
    cells: int


class TokenView(TypedDict):
    id: int
    name: str
    role: str
    prefix: str
    created_at: str | None
    last_used_at: str | None
    revoked_at: str | None
    active: bool


class TokenIssued(TokenView):
    """The new token: ``token`` is shown this once and never again."""

    token: str


class UniverseView(TypedDict):
    label_sets: int
    namespaces: int
    pods: int
    probes: int
    exhaustive: bool


class MutationView(TypedDict):
    id: str
    kind: str
    version: str | None
    policy: str | None
    path: str
    description: str
    outcome: str
    evidence: dict[str, Any] | None


class SuggestionView(TypedDict):
    kills: list[str]
    edits: list[dict[str, Any]]
    yaml: str


class MutationReportView(TypedDict):
    """Mutation analysis of a scenario's matrix (see docs/mutation.md)."""

    scenario: str
    versions: list[str]
    score: float | None
    killed: int
    survived: int
    equivalent: int
    universe: UniverseView
    mutations: list[MutationView]
    suggestions: list[SuggestionView]
    unkillable: list[str]
