"""Calico selectors evaluated over many label sets at once.

:class:`SelectorTable` stores label sets by column (an int32 code per value,
``ABSENT`` where the key is missing), so a selector becomes a few vector
operations whatever its shape: ``==`` and ``!=`` compare codes, ``in`` and
``not in`` test code membership, and ``contains``, ``starts with`` and
``ends with`` first find the codes whose value qualifies (a column has few
distinct values), then test membership. Results are cached per selector.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from service.policy.calico.selector import (
    All,
    And,
    Compare,
    Global,
    Has,
    Membership,
    Node,
    Not,
    Op,
    Or,
    Selector,
)
from service.policy.classes import ABSENT, BoolArray, IntArray

__all__ = ["SelectorTable"]


def _qualifies(op: Op, value: str, found: str) -> bool:
    match op:
        case Op.EQ:
            return found == value
        case Op.NE:
            return found != value
        case Op.CONTAINS:
            return value in found
        case Op.STARTS_WITH:
            return found.startswith(value)
        case Op.ENDS_WITH:
            return found.endswith(value)


class SelectorTable:
    """Label sets by column; :meth:`select` gives the rows a Calico selector matches."""

    __slots__ = ("_cache", "_codes", "_columns", "_size")

    def __init__(self, rows: Sequence[Mapping[str, str]]) -> None:
        self._size = len(rows)
        self._codes: dict[str, dict[str, int]] = {}
        self._columns: dict[str, IntArray] = {}
        self._cache: dict[Selector, BoolArray] = {}
        for row, labels in enumerate(rows):
            for key, value in labels.items():
                codes = self._codes.setdefault(key, {})
                column = self._columns.get(key)
                if column is None:
                    column = self._columns[key] = np.full(self._size, ABSENT, dtype=np.int32)
                column[row] = codes.setdefault(value, len(codes))

    def __len__(self) -> int:
        return self._size

    def select(self, selector: Selector) -> BoolArray:
        """(rows,) read-only: which rows ``selector`` matches."""
        found = self._cache.get(selector)
        if found is None:
            found = self._evaluate(selector.root)
            found.setflags(write=False)
            self._cache[selector] = found
        return found

    def _column(self, key: str) -> IntArray:
        column = self._columns.get(key)
        if column is None:
            return np.full(self._size, ABSENT, dtype=np.int32)
        return column

    def _codes_where(self, key: str, op: Op, value: str) -> list[int]:
        codes = self._codes.get(key, {})
        return [code for text, code in codes.items() if _qualifies(op, value, text)]

    def _member(self, key: str, wanted: list[int]) -> BoolArray:
        """Rows whose code for ``key`` is one of ``wanted``, by a lookup table over the codes."""
        table = np.zeros(len(self._codes.get(key, {})) + 1, dtype=np.bool_)
        table[wanted] = True
        # ABSENT (-1) reads the table's last slot, which no code sets: absent is never wanted.
        found: BoolArray = table[self._column(key)]
        return found

    def _evaluate(self, node: Node) -> BoolArray:
        match node:
            case All() | Global():
                return np.ones(self._size, dtype=np.bool_)
            case Has(key):
                present: BoolArray = self._column(key) != ABSENT
                return present
            case Compare(key, Op.NE, value):
                # An absent label is "not equal" too: ABSENT is never a value's code.
                code = self._codes.get(key, {}).get(value, ABSENT - 1)
                differs: BoolArray = self._column(key) != code
                return differs
            case Compare(key, Op.EQ, value):
                code = self._codes.get(key, {}).get(value, ABSENT - 1)
                equal: BoolArray = self._column(key) == code
                return equal
            case Compare(key, op, value):
                return self._member(key, self._codes_where(key, op, value))
            case Membership(key, values, inverted):
                codes = self._codes.get(key, {})
                inside = self._member(key, [codes[v] for v in values if v in codes])
                return ~inside if inverted else inside
            case Not(operand):
                negated: BoolArray = ~self._evaluate(operand)
                return negated
            case And(operands):
                out = self._evaluate(operands[0]).copy()
                for operand in operands[1:]:
                    out &= self._evaluate(operand)
                return out
            case Or(operands):
                out = self._evaluate(operands[0]).copy()
                for operand in operands[1:]:
                    out |= self._evaluate(operand)
                return out
