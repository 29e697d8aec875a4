"""Calico's selector language: the syntax tree, its evaluation and its canonical printing.

A :class:`Selector` is what a Calico ``selector``, ``notSelector``,
``namespaceSelector`` or ``serviceAccountSelector`` string means. It is built
by :func:`service.policy.calico.selector_parse.parse_selector` (which rejects
bad input with the position and what was expected) or by the constructors
here, and compares, hashes and prints by its canonical text, the form Calico
itself prints (``(a == "x" && has(b))``), so two spellings of one selector are
one value.

Semantics, as Calico evaluates them (policy-semantics.md section 2):

- ``==``, ``contains``, ``starts with``, ``ends with`` and ``in`` are false
  when the label is absent; ``!=`` and ``not in`` are true;
- ``all()`` and ``global()`` match everything (``global()`` only has a
  meaning of its own in a rule's namespaceSelector, where :func:`for_namespaces`
  turns it into "not namespaced");
- leading ``!`` negate, ``&&`` binds tighter than ``||``.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TypeAlias

__all__ = [
    "ALL",
    "NAMESPACE_LABEL",
    "All",
    "And",
    "Compare",
    "Global",
    "Has",
    "Membership",
    "Node",
    "Not",
    "Op",
    "Or",
    "Selector",
    "conjunction",
    "for_namespaces",
    "prefixed",
    "quote",
]

# The label Calico gives every namespaced endpoint and network set.
NAMESPACE_LABEL = "projectcalico.org/namespace"


class Op(StrEnum):
    """A comparison of one label with one string, spelt as Calico prints it."""

    EQ = "=="
    NE = "!="
    CONTAINS = "contains"
    STARTS_WITH = "starts with"
    ENDS_WITH = "ends with"


def quote(value: str) -> str:
    """A string literal as Calico prints it: double quotes unless the value holds one."""
    return f"'{value}'" if '"' in value else f'"{value}"'


@dataclass(frozen=True, slots=True)
class All:
    def matches(self, labels: Mapping[str, str]) -> bool:
        return True

    def __str__(self) -> str:
        return "all()"


@dataclass(frozen=True, slots=True)
class Global:
    def matches(self, labels: Mapping[str, str]) -> bool:
        # Outside a rule's namespaceSelector, Calico's global() selects like all().
        return True

    def __str__(self) -> str:
        return "global()"


@dataclass(frozen=True, slots=True)
class Has:
    key: str

    def matches(self, labels: Mapping[str, str]) -> bool:
        return self.key in labels

    def __str__(self) -> str:
        return f"has({self.key})"


@dataclass(frozen=True, slots=True)
class Compare:
    key: str
    op: Op
    value: str

    def matches(self, labels: Mapping[str, str]) -> bool:
        found = labels.get(self.key)
        if found is None:
            return self.op is Op.NE
        match self.op:
            case Op.EQ:
                return found == self.value
            case Op.NE:
                return found != self.value
            case Op.CONTAINS:
                return self.value in found
            case Op.STARTS_WITH:
                return found.startswith(self.value)
            case Op.ENDS_WITH:
                return found.endswith(self.value)

    def __str__(self) -> str:
        return f"{self.key} {self.op.value} {quote(self.value)}"


@dataclass(frozen=True, slots=True)
class Membership:
    """``key in {...}`` or, ``inverted``, ``key not in {...}``; values sorted and unique."""

    key: str
    values: tuple[str, ...]
    inverted: bool = False

    def matches(self, labels: Mapping[str, str]) -> bool:
        found = labels.get(self.key)
        if found is None:
            return self.inverted
        return (found in self.values) != self.inverted

    def __str__(self) -> str:
        word = "not in" if self.inverted else "in"
        return f"{self.key} {word} {{{', '.join(quote(v) for v in self.values)}}}"


@dataclass(frozen=True, slots=True)
class Not:
    operand: Node

    def matches(self, labels: Mapping[str, str]) -> bool:
        return not self.operand.matches(labels)

    def __str__(self) -> str:
        return f"!{self.operand}"


@dataclass(frozen=True, slots=True)
class And:
    operands: tuple[Node, ...]

    def matches(self, labels: Mapping[str, str]) -> bool:
        return all(op.matches(labels) for op in self.operands)

    def __str__(self) -> str:
        return "(" + " && ".join(str(op) for op in self.operands) + ")"


@dataclass(frozen=True, slots=True)
class Or:
    operands: tuple[Node, ...]

    def matches(self, labels: Mapping[str, str]) -> bool:
        return any(op.matches(labels) for op in self.operands)

    def __str__(self) -> str:
        return "(" + " || ".join(str(op) for op in self.operands) + ")"


Node: TypeAlias = All | Global | Has | Compare | Membership | Not | And | Or


def walk(node: Node) -> Iterator[Node]:
    """``node`` and every node below it, depth first."""
    yield node
    if isinstance(node, Not):
        yield from walk(node.operand)
    elif isinstance(node, And | Or):
        for op in node.operands:
            yield from walk(op)


@dataclass(frozen=True, slots=True)
class Selector:
    """A parsed selector. Equal, hashed and printed by its canonical ``text``."""

    text: str
    root: Node = field(compare=False, repr=False)

    @classmethod
    def of(cls, root: Node) -> Selector:
        return cls(str(root), root)

    def matches(self, labels: Mapping[str, str]) -> bool:
        return self.root.matches(labels)

    def keys(self) -> frozenset[str]:
        """Every label key the selector reads."""
        return frozenset(
            n.key for n in walk(self.root) if isinstance(n, Has | Compare | Membership)
        )

    @property
    def uses_global(self) -> bool:
        return any(isinstance(n, Global) for n in walk(self.root))

    @property
    def is_all(self) -> bool:
        return isinstance(self.root, All)

    def __str__(self) -> str:
        return self.text


ALL = Selector.of(All())


def _rename(node: Node, prefix: str, namespaces: bool) -> Node:
    match node:
        case Has(key):
            return Has(prefix + key)
        case Compare(key, op, value):
            return Compare(prefix + key, op, value)
        case Membership(key, values, inverted):
            return Membership(prefix + key, values, inverted)
        case Not(operand):
            return Not(_rename(operand, prefix, namespaces))
        case And(operands):
            return And(tuple(_rename(op, prefix, namespaces) for op in operands))
        case Or(operands):
            return Or(tuple(_rename(op, prefix, namespaces) for op in operands))
        case All() if namespaces:
            # A namespaceSelector's all() means "any namespace", so only namespaced things.
            return Has(NAMESPACE_LABEL)
        case Global() if namespaces:
            return Not(Has(NAMESPACE_LABEL))
        case _:
            return node


def prefixed(selector: Selector, prefix: str) -> Selector:
    """``selector`` reading ``prefix + key`` for every key (Calico's pcsa. / pcns. views)."""
    return Selector.of(_rename(selector.root, prefix, namespaces=False))


def for_namespaces(selector: Selector) -> Selector:
    """A rule's namespaceSelector as an endpoint selector over the ``pcns.`` labels.

    ``all()`` becomes ``has(projectcalico.org/namespace)`` (every namespaced
    endpoint or network set) and ``global()`` its negation (global network sets).
    """
    return Selector.of(_rename(selector.root, "pcns.", namespaces=True))


def conjunction(*selectors: Selector | None) -> Selector | None:
    """The AND of the given selectors (None ones left out); None when none is given."""
    given = [s for s in selectors if s is not None]
    if not given:
        return None
    if len(given) == 1:
        return given[0]
    return Selector.of(And(tuple(s.root for s in given)))
