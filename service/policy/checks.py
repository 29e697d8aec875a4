"""Checks that give a set of Kubernetes NetworkPolicies, and a probed port, a defined meaning.

Shared by the per-cell evaluators (Kubernetes and Calico) and the truth table,
so all of them reject exactly the same input with the same problems.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from service.errors import FieldPath, InvalidInput, Problem
from service.policy.connections import MAX_PORT, MIN_PORT
from service.policy.model import NetworkPolicy

__all__ = ["check_policies", "check_probe_port"]


def _check_port(port: int | str | None, path: FieldPath, ref: str) -> Iterator[Problem]:
    if isinstance(port, int) and not MIN_PORT <= port <= MAX_PORT:
        yield Problem(f"NetworkPolicy {ref}: expected a port 1-65535, got {port}", path=path)


def _policy_problems(policy: NetworkPolicy) -> Iterator[Problem]:
    """What the API server would have rejected and this evaluator could not give a meaning."""
    ref = policy.ref
    for key, peers_key, rules in (
        ("ingress", "from", policy.ingress),
        ("egress", "to", policy.egress),
    ):
        for r, rule in enumerate(rules):
            base = FieldPath(("spec", key, r))
            for i, peer in enumerate(rule.peers):
                has_selector = peer.pod_selector is not None or peer.namespace_selector is not None
                if peer.ip_block is not None and has_selector:
                    yield Problem(
                        f"NetworkPolicy {ref}: expected ipBlock alone, "
                        "not with podSelector or namespaceSelector",
                        path=base / peers_key / i,
                    )
                elif peer.ip_block is None and not has_selector:
                    yield Problem(
                        f"NetworkPolicy {ref}: expected podSelector, namespaceSelector or ipBlock",
                        path=base / peers_key / i,
                    )
            for i, spec in enumerate(rule.ports):
                at = base / "ports" / i
                yield from _check_port(spec.port, at / "port", ref)
                if spec.end_port is None:
                    continue
                yield from _check_port(spec.end_port, at / "endPort", ref)
                if not isinstance(spec.port, int):
                    yield Problem(
                        f"NetworkPolicy {ref}: expected a numeric port with endPort",
                        path=at / "port",
                    )
                elif spec.end_port < spec.port:
                    yield Problem(
                        f"NetworkPolicy {ref}: expected endPort >= port ({spec.port}), "
                        f"got {spec.end_port}",
                        path=at / "endPort",
                    )


def check_policies(policies: Sequence[NetworkPolicy]) -> None:
    """Raise InvalidInput with every problem that leaves a policy without a defined meaning.

    Rules of an unlisted policyType are checked too: the API server validates
    them even though they are never enforced. Problems are located with the
    policy's ``source`` when it has one.
    """
    problems: list[Problem] = []
    seen: set[str] = set()
    for policy in policies:
        found = list(_policy_problems(policy))
        if policy.ref in seen:
            found.append(
                Problem(
                    f"NetworkPolicy {policy.ref} is given twice; expected one object per name",
                    path=FieldPath(("metadata", "name")),
                )
            )
        seen.add(policy.ref)
        if policy.source is not None:
            src = policy.source
            found = [p.located(file=src.file, document=src.document, line=src.line) for p in found]
        problems.extend(found)
    InvalidInput.collect(problems)


def check_probe_port(port: int) -> None:
    """Raise InvalidInput unless ``port`` is a port number a connection can use."""
    if not MIN_PORT <= port <= MAX_PORT:
        raise InvalidInput(
            Problem(f"expected a port {MIN_PORT}-{MAX_PORT}, got {port}", path=FieldPath(("port",)))
        )
