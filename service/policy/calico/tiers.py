"""The tiered model of one set of policies: tiers in order, each with its policies in order.

:func:`tiered_model` turns a list of policies (Kubernetes NetworkPolicies and
:class:`CalicoEntry` objects, as a ClusterState or a scenario version holds
them) into what Felix evaluates:

- Kubernetes NetworkPolicies join tier ``default`` at order 1000;
- tiers sort by order (none last), then name; built-in tiers (``default``,
  ``kube-admin``, ``kube-baseline``) exist without a Tier object;
- policies of a tier sort by order (none last), then by Felix's name
  (``ns/name``, ``ns/knp.default.name`` for Kubernetes ones, ``name``);
- staged policies are set aside: never enforced. ``with_staged`` gives the
  view "as if the staged policies were applied" instead (stagedAction Set
  replaces or adds the enforced policy of the same kind, namespace and name;
  Delete removes it), which is what the staged diff compares against.

:func:`check_calico` rejects what Calico's API server would: a policy in a
tier that does not exist, the same object twice.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace

from service.errors import FieldPath, InvalidInput, Problem
from service.policy.calico.model import (
    BUILTIN_TIERS,
    CalicoEntry,
    CalicoObject,
    CalicoPolicy,
    NetworkSet,
    StagedAction,
    Tier,
)
from service.policy.calico.translate import translate_network_policy
from service.policy.model import NetworkPolicy, SourceRef

__all__ = ["TierPolicies", "TieredModel", "check_calico", "tiered_model"]


@dataclass(frozen=True, slots=True)
class TierPolicies:
    tier: Tier
    policies: tuple[CalicoPolicy, ...]


@dataclass(frozen=True, slots=True)
class TieredModel:
    """Tiers in evaluation order (only those holding policies), network sets, staged policies."""

    tiers: tuple[TierPolicies, ...]
    network_sets: tuple[NetworkSet, ...]
    staged: tuple[CalicoPolicy, ...]

    @property
    def policies(self) -> tuple[CalicoPolicy, ...]:
        return tuple(p for t in self.tiers for p in t.policies)


def _order_key(order: float | None, name: str) -> tuple[bool, float, str]:
    return (order is None, 0.0 if order is None else order, name)


def _split(
    policies: Iterable[NetworkPolicy],
) -> tuple[list[CalicoPolicy], list[CalicoPolicy], dict[str, Tier], list[NetworkSet]]:
    enforced: list[CalicoPolicy] = []
    staged: list[CalicoPolicy] = []
    tiers: dict[str, Tier] = dict(BUILTIN_TIERS)
    sets: list[NetworkSet] = []
    for policy in policies:
        if not isinstance(policy, CalicoEntry):
            enforced.append(translate_network_policy(policy))
            continue
        found: CalicoObject = policy.calico
        if isinstance(found, Tier):
            tiers[found.name] = found
        elif isinstance(found, NetworkSet):
            sets.append(found)
        elif found.staged:
            staged.append(found)
        else:
            enforced.append(found)
    return enforced, staged, tiers, sets


def _apply_staged(
    enforced: list[CalicoPolicy], staged: Sequence[CalicoPolicy]
) -> list[CalicoPolicy]:
    by_identity = {p.identity: p for p in enforced}
    for policy in staged:
        match policy.staged_action:
            case StagedAction.SET:
                by_identity[policy.identity] = replace(
                    policy, kind=policy.kind.enforced_kind, staged_action=None
                )
            case StagedAction.DELETE:
                by_identity.pop(policy.identity, None)
            case _:
                pass  # Learn and Ignore change nothing that is enforced
    return list(by_identity.values())


def tiered_model(policies: Iterable[NetworkPolicy], *, with_staged: bool = False) -> TieredModel:
    """The tiers Felix would evaluate for ``policies`` (see the module docstring)."""
    enforced, staged, tiers, sets = _split(policies)
    if with_staged:
        enforced = _apply_staged(enforced, staged)
    by_tier: dict[str, list[CalicoPolicy]] = {}
    for policy in enforced:
        by_tier.setdefault(policy.tier, []).append(policy)
    ordered = sorted(
        (tiers.get(name) or Tier(name, None) for name in by_tier),
        key=lambda t: _order_key(t.order, t.name),
    )
    return TieredModel(
        tiers=tuple(
            TierPolicies(
                tier,
                tuple(sorted(by_tier[tier.name], key=lambda p: _order_key(p.order, p.felix_name))),
            )
            for tier in ordered
        ),
        network_sets=tuple(sets),
        staged=tuple(staged),
    )


def _located(problem: Problem, source: SourceRef | None) -> Problem:
    if source is None:
        return problem
    return problem.located(file=source.file, document=source.document, line=source.line)


def check_calico(policies: Iterable[NetworkPolicy]) -> None:
    """Raise InvalidInput for policies in tiers that do not exist and for objects given twice."""
    problems: list[Problem] = []
    entries = [p for p in policies if isinstance(p, CalicoEntry)]
    tiers = set(BUILTIN_TIERS) | {e.calico.name for e in entries if isinstance(e.calico, Tier)}
    seen: set[str] = set()
    for entry in entries:
        found = entry.calico
        if entry.ref in seen:
            problems.append(
                _located(
                    Problem(
                        f"{entry.ref} is given twice; expected one object per name",
                        path=FieldPath(("metadata", "name")),
                    ),
                    found.source,
                )
            )
        seen.add(entry.ref)
        if isinstance(found, CalicoPolicy) and found.tier not in tiers:
            known = ", ".join(sorted(tiers))
            problems.append(
                _located(
                    Problem(
                        f"{found.label} is in tier {found.tier!r}, which no Tier object defines:"
                        f" expected one of {known}, or a projectcalico.org/v3 Tier named"
                        f" {found.tier!r}",
                        path=FieldPath(("spec", "tier")),
                    ),
                    found.source,
                )
            )
    InvalidInput.collect(problems)
