"""Label and field selectors in the API's query syntax, as the fake serves lists.

Label selectors: ``k=v``, ``k==v``, ``k!=v``, ``k in (a,b)``, ``k notin (a,b)``,
``k`` (exists) and ``!k`` (does not exist), comma-separated and ANDed. Field
selectors: ``path=v``, ``path==v`` and ``path!=v`` on dotted paths.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

__all__ = ["SelectorError", "field_matcher", "label_matcher"]

Matcher = Callable[[Mapping[str, Any]], bool]
_SET = re.compile(r"^\s*(!?)\s*([^\s!=()]+)\s+(in|notin)\s*\(([^)]*)\)\s*$")
_EQ = re.compile(r"^\s*([^\s!=()]+)\s*(==|=|!=)\s*([^\s!=(),]*)\s*$")
_EXISTS = re.compile(r"^\s*(!?)\s*([^\s!=(),]+)\s*$")


class SelectorError(ValueError):
    """The selector does not parse; the API answers 400."""


def _split(text: str) -> list[str]:
    parts, depth, current = [], 0, ""
    for char in text:
        if char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
        if char == "," and depth == 0:
            parts.append(current)
            current = ""
        else:
            current += char
    if current.strip():
        parts.append(current)
    return parts


def _requirement(text: str) -> Matcher:
    found = _SET.match(text)
    if found is not None:
        if found.group(1):
            raise SelectorError(f"unexpected '!' before a set requirement in {text!r}")
        key, op = found.group(2), found.group(3)
        values = {v.strip() for v in found.group(4).split(",") if v.strip()}
        if not values:
            raise SelectorError(f"{op} needs values in {text!r}")
        if op == "in":
            return lambda labels: labels.get(key) in values
        return lambda labels: labels.get(key) not in values
    found = _EQ.match(text)
    if found is not None:
        key, op, value = found.groups()
        if op == "!=":
            return lambda labels: labels.get(key) != value
        return lambda labels: labels.get(key) == value
    found = _EXISTS.match(text)
    if found is not None:
        negated, key = found.groups()
        if negated:
            return lambda labels: key not in labels
        return lambda labels: key in labels
    raise SelectorError(f"cannot parse requirement {text!r}")


def label_matcher(text: str | None) -> Matcher:
    """A predicate on label maps; an empty selector matches everything."""
    if not text:
        return lambda labels: True
    requirements = [_requirement(part) for part in _split(text)]
    return lambda labels: all(r(labels) for r in requirements)


def _at(obj: Mapping[str, Any], path: str) -> str:
    value: Any = obj
    for part in path.split("."):
        if not isinstance(value, Mapping):
            return ""
        value = value.get(part)
    return "" if value is None else str(value)


def field_matcher(text: str | None) -> Matcher:
    """A predicate on whole objects for a field selector."""
    if not text:
        return lambda obj: True
    checks = []
    for part in _split(text):
        found = _EQ.match(part)
        if found is None:
            raise SelectorError(f"cannot parse field requirement {part!r}")
        checks.append(found.groups())

    def match(obj: Mapping[str, Any]) -> bool:
        for path, op, value in checks:
            actual = _at(obj, path)
            if (actual == value) != (op != "!="):
                return False
        return True

    return match
