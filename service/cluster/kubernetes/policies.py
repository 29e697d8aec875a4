"""Policies as the API takes them, rewritten for the run's namespaces.

A scenario's policies name the scenario's namespaces; on the cluster those are
``<prefix>-<run>-<name>``. Rewriting changes exactly what names a namespace:

- the policy's own ``metadata.namespace`` (which also scopes podSelector-only
  peers, so those need no change);
- values of ``kubernetes.io/metadata.name`` in a peer's ``namespaceSelector``,
  in ``matchLabels`` and in ``In``/``NotIn`` ``matchExpressions``, when they
  name a namespace of the run. Names of other namespaces (``kube-system`` for
  DNS, say) are kept: they still mean the cluster's own namespaces, which hold
  none of the run's pods, so the verdicts between the run's pods are the same
  as the engine's either way, and a rule allowing DNS still allows it.

Other labels are kept as written: the run's namespaces carry the scenario's
labels, and pods their own. ``policyTypes`` is written out in full since the
engine's values are already defaulted.

Calico objects ride in a version's policies as inert NetworkPolicies
(:class:`~service.policy.calico.model.CalicoEntry`); written out here, one would
become an empty policy, which denies all ingress. They go to Calico's API
instead (:mod:`.calico_rewrite`), and :func:`policy_manifest` refuses them.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from typing import Any

from service.cluster.kubernetes.naming import RESERVED_PREFIX, RunNaming
from service.errors import FieldPath, Problem
from service.policy.calico.model import CalicoEntry
from service.policy.model import (
    NAMESPACE_NAME_LABEL,
    Direction,
    IPBlock,
    Labels,
    LabelSelector,
    NetworkPolicy,
    Operator,
    Peer,
    PolicyPort,
    Rule,
)

__all__ = [
    "labels_problems",
    "policy_manifest",
    "reserved_label_problems",
    "selector_manifest",
]

Rename = Callable[[str], str]


def policy_manifest(
    policy: NetworkPolicy,
    *,
    naming: RunNaming,
    namespaces: Collection[str],
    labels: Mapping[str, str] | None = None,
    annotations: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """``policy`` as a networking.k8s.io/v1 object in the run's namespaces.

    ``namespaces`` are the scenario's names of the namespaces the run creates:
    selectors naming them are rewritten, other names are kept. A Calico object is
    a ValueError (see the module docstring).
    """
    if isinstance(policy, CalicoEntry):
        raise ValueError(
            f"{policy.ref} is a Calico object: it is applied through Calico's API"
            " (calico_rewrite.calico_manifests), never as a networking.k8s.io NetworkPolicy"
        )
    run_namespaces = frozenset(namespaces)

    def rename(name: str) -> str:
        return naming.namespace(name) if name in run_namespaces else name

    metadata: dict[str, Any] = {
        "name": policy.name,
        "namespace": naming.namespace(policy.namespace),
    }
    if labels:
        metadata["labels"] = dict(labels)
    if annotations:
        metadata["annotations"] = dict(annotations)
    spec: dict[str, Any] = {
        "podSelector": selector_manifest(policy.pod_selector),
        "policyTypes": [d.value for d in Direction if d in policy.policy_types],
    }
    if Direction.INGRESS in policy.policy_types or policy.ingress:
        spec["ingress"] = [_rule(r, "from", rename) for r in policy.ingress]
    if Direction.EGRESS in policy.policy_types or policy.egress:
        spec["egress"] = [_rule(r, "to", rename) for r in policy.egress]
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": metadata,
        "spec": spec,
    }


def selector_manifest(
    selector: LabelSelector, *, rename_namespaces: Rename | None = None
) -> dict[str, Any]:
    """A LabelSelector as the API writes it; ``rename_namespaces`` maps namespace-name values."""
    out: dict[str, Any] = {}

    def value(key: str, v: str) -> str:
        if rename_namespaces is not None and key == NAMESPACE_NAME_LABEL:
            return rename_namespaces(v)
        return v

    if selector.match_labels:
        out["matchLabels"] = {k: value(k, v) for k, v in selector.match_labels.items()}
    if selector.match_expressions:
        expressions = []
        for req in selector.match_expressions:
            item: dict[str, Any] = {"key": req.key, "operator": req.operator.value}
            if req.operator in (Operator.IN, Operator.NOT_IN):
                item["values"] = sorted(value(req.key, v) for v in req.values)
            expressions.append(item)
        out["matchExpressions"] = expressions
    return out


def _rule(rule: Rule, peers_field: str, rename: Rename) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if rule.peers:
        out[peers_field] = [_peer(p, rename) for p in rule.peers]
    if rule.ports:
        out["ports"] = [_port(p) for p in rule.ports]
    return out


def _peer(peer: Peer, rename: Rename) -> dict[str, Any]:
    if peer.ip_block is not None:
        return {"ipBlock": _ip_block(peer.ip_block)}
    out: dict[str, Any] = {}
    if peer.pod_selector is not None:
        out["podSelector"] = selector_manifest(peer.pod_selector)
    if peer.namespace_selector is not None:
        out["namespaceSelector"] = selector_manifest(
            peer.namespace_selector, rename_namespaces=rename
        )
    return out


def _ip_block(block: IPBlock) -> dict[str, Any]:
    out: dict[str, Any] = {"cidr": str(block.cidr)}
    if block.excepts:
        out["except"] = [str(e) for e in block.excepts]
    return out


def _port(port: PolicyPort) -> dict[str, Any]:
    out: dict[str, Any] = {"protocol": port.protocol.value}
    if port.port is not None:
        out["port"] = port.port
    if port.end_port is not None:
        out["endPort"] = port.end_port
    return out


# --- reserved labels -------------------------------------------------------------------


def reserved_label_problems(policies: Sequence[NetworkPolicy], *, version: str) -> list[Problem]:
    """A problem for every selector of ``policies`` that reads a ``netpol-drift.io/`` key.

    The run's own ownership labels sit under that prefix; a policy selecting on
    them would select differently on the cluster than in the engine.
    """
    problems = []
    for policy in policies:
        base = FieldPath(("versions", version, "policies", policy.ref))
        for path, selector in _selectors(policy, base):
            for key in _keys(selector):
                if key.startswith(RESERVED_PREFIX):
                    problems.append(
                        Problem(
                            f"selects on {key!r}: keys under {RESERVED_PREFIX} are netpol-drift's "
                            f"ownership labels and cannot be used by scenario policies",
                            path,
                        )
                    )
    return problems


def labels_problems(labels: Labels, path: FieldPath) -> list[Problem]:
    """A problem for every ``netpol-drift.io/`` key in labels of the scenario's objects."""
    return [
        Problem(
            f"label {key!r} is reserved: keys under {RESERVED_PREFIX} are netpol-drift's "
            f"ownership labels",
            path / key,
        )
        for key in labels
        if key.startswith(RESERVED_PREFIX)
    ]


def _keys(selector: LabelSelector) -> Iterable[str]:
    yield from selector.match_labels
    yield from (req.key for req in selector.match_expressions)


def _selectors(policy: NetworkPolicy, base: FieldPath) -> Iterable[tuple[FieldPath, LabelSelector]]:
    yield base / "spec" / "podSelector", policy.pod_selector
    for field, peers, rules in (
        ("ingress", "from", policy.ingress),
        ("egress", "to", policy.egress),
    ):
        for i, rule in enumerate(rules):
            for j, peer in enumerate(rule.peers):
                where = base / "spec" / field / i / peers / j
                if peer.pod_selector is not None:
                    yield where / "podSelector", peer.pod_selector
                if peer.namespace_selector is not None:
                    yield where / "namespaceSelector", peer.namespace_selector
