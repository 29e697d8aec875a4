"""Content hashes: what makes two scenarios, or two policy versions, "the same".

A hash is the sha256 of canonical JSON (sorted keys, no spaces) built from the
*resolved* values, never from the YAML text, so comments, quoting, flow versus
block style and key order do not change it; neither does the order of anything
that is a set (namespaces, targets, sources, probes, expectations, the policies
of a version), while the order of versions, which are applied in turn, does.
Where things were written (file names, line numbers) is left out too: a run
points at a revision of the content, and moving a policy file is not a change
of policy.
"""

from __future__ import annotations

import dataclasses
import enum
import hashlib
import ipaddress
import json
from collections.abc import Iterable, Mapping
from typing import TypeAlias

from service.policy.model import NetworkPolicy
from service.scenario.chaos import ChaosSpec
from service.scenario.model import PolicyVersion, Scenario

__all__ = ["canonical", "policies_hash", "scenario_hash", "sha256_json"]

JSON: TypeAlias = bool | int | float | str | list["JSON"] | dict[str, "JSON"] | None

# Bumped if the recipe ever changes, so old and new hashes never collide.
_SCENARIO_RECIPE = "scenario/1"
_POLICIES_RECIPE = "policies/1"


def canonical(value: object) -> JSON:
    """``value`` as plain JSON data; dataclass fields with ``compare=False`` are left out."""
    # Before the scalars: a StrEnum is a str, but its value is the canonical spelling.
    if isinstance(value, enum.Enum):
        return canonical(value.value)
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {
            f.name: canonical(getattr(value, f.name))
            for f in dataclasses.fields(value)
            if f.compare
        }
    if isinstance(value, Mapping):
        return {str(k): canonical(v) for k, v in value.items()}
    if isinstance(value, frozenset | set):
        return _sorted(canonical(v) for v in value)
    if isinstance(value, list | tuple):
        return [canonical(v) for v in value]
    if isinstance(value, ipaddress.IPv4Network | ipaddress.IPv6Network):
        return str(value)
    if isinstance(value, ipaddress.IPv4Address | ipaddress.IPv6Address):
        return str(value)
    raise TypeError(f"no canonical form for {type(value).__name__}")


def _dump(value: JSON) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def _sorted(values: Iterable[JSON]) -> list[JSON]:
    return sorted(values, key=_dump)


def sha256_json(value: JSON) -> str:
    return hashlib.sha256(_dump(value).encode("utf-8")).hexdigest()


def policies_hash(policies: Iterable[NetworkPolicy]) -> str:
    """The hash of a set of policies; their order does not matter to enforcement, nor here."""
    return sha256_json([_POLICIES_RECIPE, _sorted(canonical(p) for p in policies)])


def scenario_hash(scenario: Scenario) -> str:
    """The hash of a resolved scenario, policy content included (through each version's hash)."""
    matrix = scenario.matrix
    content: dict[str, JSON] = {
        "recipe": _SCENARIO_RECIPE,
        "name": scenario.name,
        "description": scenario.description,
        # Only the versions are a sequence (applied in order); everything else is a
        # set whose written order means nothing.
        "namespaces": _sorted(canonical(ns) for ns in scenario.namespaces),
        "targets": _sorted(canonical(t) for t in scenario.targets),
        "matrix": {
            "sources": _sorted(canonical(s) for s in matrix.sources),
            "namespaces": _sorted(matrix.namespaces),
            "targets": _sorted(matrix.targets),
            "probes": _sorted(canonical(p) for p in matrix.probes),
        },
        "versions": [_version(v) for v in scenario.versions],
        "expectations": _sorted(_without(canonical(e), "line") for e in scenario.expectations),
        "schedule": canonical(scenario.schedule),
    }
    if scenario.chaos is not None:
        # Only when present, so that scenarios without chaos keep their hashes.
        content["chaos"] = _chaos(scenario.chaos)
    return sha256_json(content)


def _chaos(spec: ChaosSpec) -> JSON:
    data = canonical(spec)
    assert isinstance(data, dict)
    steps: list[JSON] = []
    for step in spec.steps:
        item = canonical(step)
        assert isinstance(item, dict)
        # Tagged with its kind: two kinds of action could have fields of the same names.
        steps.append({**item, "kind": str(step.kind)})
    # Steps run in order; which cells are watched is a set.
    return {**data, "steps": steps, "watch": _sorted(canonical(w) for w in spec.watch)}


def _version(version: PolicyVersion) -> JSON:
    return {
        "name": version.name,
        "description": version.description,
        "policies": version.content_hash or policies_hash(version.policies),
    }


def _without(value: JSON, key: str) -> JSON:
    if isinstance(value, dict):
        return {k: v for k, v in value.items() if k != key}
    return value
