"""Calico selectors rewritten for a run: the run's namespace names, and moved network-set labels.

Two things change when a version's Calico objects go onto a shared cluster:

- **Namespace names.** The scenario's ``development`` is the run's
  ``npd-3f9a1c-development``. Selectors name namespaces through
  ``projectcalico.org/namespace`` (an endpoint's namespace),
  ``projectcalico.org/name`` and ``kubernetes.io/metadata.name`` (a namespace's
  name, in a namespaceSelector) and their ``pcns.`` forms. A comparison with a
  name of the run's namespaces gets the run's name; other names are kept, as in
  the Kubernetes rewriting (``kube-system`` still means the cluster's own). The
  string operators keep their test and also accept the run's names of the
  namespaces they matched (``starts with 'dev'`` -> ``(starts with 'dev' ||
  in {'npd-3f9a1c-development'})``). Every rewritten comparison is then checked
  on each namespace of the run: it must hold of the run's name exactly when the
  original held of the scenario's name. One that does not (``contains 'npd'``,
  which every run namespace would satisfy) makes the object unusable:
  :class:`UnsafeRewriteError`, and the version is refused.
- **Network-set labels.** A (Global)NetworkSet's labels are what selectors of
  *any* policy in the cluster match it by, so a run's network set labelled
  ``role: db`` with ``0.0.0.0/0`` would widen every policy of the cluster that
  allows ``role == 'db'``. The run moves each such label under a run-scoped key
  (:func:`moved_key`) that no other policy reads, and rule selectors of its own
  policies read both keys: ``role == 'db'`` becomes ``(role == 'db' ||
  <key> == 'db')``, and the negative tests (``!=``, ``not in``) an AND, so each
  selector means for the run exactly what it meant before.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field, replace

from service.errors import FieldPath, InvalidInput
from service.policy.calico.selector import (
    NAMESPACE_LABEL,
    And,
    Compare,
    Has,
    Membership,
    Node,
    Not,
    Op,
    Or,
    Selector,
)
from service.policy.calico.selector_parse import parse_selector
from service.policy.model import NAMESPACE_NAME_LABEL

__all__ = [
    "CALICO_NAME_LABEL",
    "NAMESPACE_NAME_KEYS",
    "SelectorRewrite",
    "UnsafeRewriteError",
    "moved_key",
    "selector_keys",
]

# A namespace's name as Calico labels its profile (the pcns. form on endpoints).
CALICO_NAME_LABEL = "projectcalico.org/name"
NAMESPACE_NAME_KEYS = frozenset(
    {
        NAMESPACE_LABEL,
        CALICO_NAME_LABEL,
        NAMESPACE_NAME_LABEL,
        "pcns." + CALICO_NAME_LABEL,
        "pcns." + NAMESPACE_NAME_LABEL,
    }
)
MOVED_SUFFIX = "netset.netpol-drift.io"
_HASH = 10


class UnsafeRewriteError(Exception):
    """A selector cannot mean for the run's namespaces what it meant for the scenario's."""


def moved_key(run_id: str, key: str) -> str:
    """Where a run puts a network set's label ``key``: a key only this run's selectors read.

    The prefix is a hash of the run and the key (two keys with one name part stay
    apart); the name part is kept, so the object still reads well.
    """
    digest = hashlib.sha256(f"{run_id}\x1f{key}".encode()).hexdigest()[:_HASH]
    return f"n{digest}.{run_id}.{MOVED_SUFFIX}/{key.rsplit('/', 1)[-1]}"


def selector_keys(text: str) -> frozenset[str]:
    """The label keys a selector string reads (an unparseable one reads none: the engine
    has rejected it long before)."""
    try:
        return parse_selector(text, FieldPath()).keys()
    except InvalidInput:
        return frozenset()


@dataclass(frozen=True, slots=True)
class SelectorRewrite:
    """``namespaces``: scenario name -> run name of each of the run's namespaces;
    ``moved``: network-set label key -> the key the run moved it to."""

    namespaces: Mapping[str, str]
    moved: Mapping[str, str] = field(default_factory=dict)

    def rewrite(self, text: str, *, move_keys: bool = False) -> str:
        """``text`` for the run; unchanged (as written) when nothing in it changes.

        ``move_keys``: also read the moved network-set keys (rule selectors, which
        match network sets; a policy's own selector matches endpoints only).
        """
        selector = parse_selector(text, FieldPath())
        root = self._node(selector.root, move_keys)
        return text if root == selector.root else str(Selector.of(root))

    @staticmethod
    def restrict(text: str | None, *, key: str, names: tuple[str, ...]) -> str:
        """``(text) && key in {names}``: ``text`` (already rewritten) narrowed to ``names``."""
        only = Membership(key, tuple(sorted(set(names))))
        if not text:
            return str(Selector.of(only))
        return str(Selector.of(And((parse_selector(text, FieldPath()).root, only))))

    def _node(self, node: Node, move_keys: bool) -> Node:
        match node:
            case Not(operand):
                return Not(self._node(operand, move_keys))
            case And(operands):
                return And(tuple(self._node(op, move_keys) for op in operands))
            case Or(operands):
                return Or(tuple(self._node(op, move_keys) for op in operands))
            case Has(key) if move_keys and key in self.moved:
                return Or((node, Has(self.moved[key])))
            case Compare(key, _, _) | Membership(key, _, _) if key in NAMESPACE_NAME_KEYS:
                return self._namespace_atom(node)
            case Compare(key, _, _) | Membership(key, _, _) if move_keys and key in self.moved:
                return _moved_atom(node, self.moved[key])
            case _:
                return node

    def _namespace_atom(self, node: Compare | Membership) -> Node:
        rewritten: Node
        if isinstance(node, Membership):
            values = tuple(sorted({self.namespaces.get(v, v) for v in node.values}))
            rewritten = replace(node, values=values)
        elif node.op in (Op.EQ, Op.NE):
            rewritten = replace(node, value=self.namespaces.get(node.value, node.value))
        else:
            matched = tuple(
                sorted(r for o, r in self.namespaces.items() if node.matches({node.key: o}))
            )
            rewritten = Or((node, Membership(node.key, matched))) if matched else node
        for original, renamed in self.namespaces.items():
            before = node.matches({node.key: original})
            after = rewritten.matches({node.key: renamed})
            if before != after:
                raise UnsafeRewriteError(
                    f"{node} {'holds' if before else 'does not hold'} for namespace "
                    f"{original!r} but {'holds' if after else 'does not hold'} for its run name "
                    f"{renamed!r}"
                )
        return rewritten


def _moved_atom(node: Compare | Membership, key: str) -> Node:
    moved = replace(node, key=key)
    # Absent labels make != and not in true: a set that has the label under either key
    # must pass both tests; the positive tests pass when either key does.
    negative = (isinstance(node, Compare) and node.op is Op.NE) or (
        isinstance(node, Membership) and node.inverted
    )
    return And((node, moved)) if negative else Or((node, moved))
