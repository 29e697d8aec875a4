"""How problems in a scenario are told: field path, line, what was expected.

Users never see pydantic's own wording or its error URLs: every error type the
scenario schema can raise is translated here, and an unknown field gets the
list of fields allowed at that place, with a did-you-mean for the likely typo.
:class:`Reporter` collects the problems of the later cross-checks the same way.
"""

from __future__ import annotations

import types
import typing
from collections.abc import Hashable, Iterator, Sequence
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from service.errors import FieldPath, Problem
from service.manifests.source import Document
from service.policy.syntax import describe
from service.scenario.schema import CUSTOM_ERROR, TAG_PREFIX, ScenarioModel
from service.scenario.syntax import did_you_mean, yaml_type_hint

__all__ = ["Reporter", "translate", "undeclared"]

# Pydantic marks an invalid mapping key by appending this to the key's path.
_KEY_MARK = "[key]"


def translate(
    err: ValidationError, document: Document, *, root: type[BaseModel] = ScenarioModel
) -> list[Problem]:
    """One Problem per pydantic error, located in ``document``, in document order."""
    problems = [_problem(detail, document, root) for detail in err.errors()]
    # Pydantic reports by model field order; users read files top to bottom.
    return sorted(problems, key=lambda p: (p.line or 0, str(p.path)))


def _problem(detail: ErrorDetails, document: Document, root: type[BaseModel]) -> Problem:
    loc = detail["loc"]
    parts: list[str | int] = [p for p in loc if not (isinstance(p, str) and _is_tag(p))]
    if parts and parts[-1] == _KEY_MARK:
        parts.pop()
    path = FieldPath(tuple(parts))
    # A bad mapping key is reported at the key itself; our name rules quote the key.
    message = _message(detail, root, loc)
    return Problem(message, path=path, file=document.file, line=document.line_of(path))


def _is_tag(part: str) -> bool:
    return part.startswith(TAG_PREFIX)


def _message(detail: ErrorDetails, root: type[BaseModel], loc: tuple[int | str, ...]) -> str:
    kind = detail["type"]
    ctx: dict[str, Any] = dict(detail.get("ctx") or {})
    value = detail.get("input")
    if kind == CUSTOM_ERROR:
        return str(ctx.get("message", detail["msg"]))
    if kind == "extra_forbidden":
        return _unknown_field(root, loc)
    if kind == "missing":
        return "required field is missing"
    expected = _EXPECTED.get(kind)
    if expected is not None:
        return f"expected {expected}, got {describe(value)}{yaml_type_hint(value)}"
    if kind == "literal_error":
        return f"expected one of {ctx.get('expected', '')}, got {_shown(value)}"
    if kind in ("too_short", "too_long"):
        return _length(kind, ctx)
    if kind in _BOUNDS:
        word, key = _BOUNDS[kind]
        return f"expected a number {word} {ctx.get(key)}, got {_shown(value)}"
    # A type the schema does not raise today; still not pydantic's phrasing.
    text = str(detail["msg"])
    text = text.removeprefix("Input should be ").removeprefix("Value error, ")
    return f"expected {text[:1].lower()}{text[1:]}" if text else "invalid value"


_EXPECTED: dict[str, str] = {
    "string_type": "a string",
    "int_type": "an integer",
    "bool_type": "true or false",
    "list_type": "a list",
    "dict_type": "a mapping",
    "model_type": "a mapping",
    "model_attributes_type": "a mapping",
    "float_type": "a number",
}
_BOUNDS: dict[str, tuple[str, str]] = {
    "greater_than_equal": (">=", "ge"),
    "greater_than": (">", "gt"),
    "less_than_equal": ("<=", "le"),
    "less_than": ("<", "lt"),
}


def _shown(value: object) -> str:
    return repr(value) if isinstance(value, str | int | float | bool) else describe(value)


def _length(kind: str, ctx: dict[str, Any]) -> str:
    if kind == "too_short":
        least = ctx.get("min_length", 1)
        return "expected at least one entry" if least == 1 else f"expected at least {least} entries"
    return f"expected at most {ctx.get('max_length')} entries"


def _unknown_field(root: type[BaseModel], loc: Sequence[int | str]) -> str:
    allowed = _allowed_fields(root, loc[:-1])
    if not allowed:
        return "unknown field; no fields are accepted here yet"
    hint = did_you_mean(str(loc[-1]), allowed)
    if hint:
        return "unknown field" + hint
    return f"unknown field; expected one of {', '.join(allowed)}"


def _allowed_fields(root: type[BaseModel], loc: Sequence[int | str]) -> list[str]:
    """The fields (by their YAML names) of the model found at ``loc`` under ``root``."""
    candidates: list[Any] = [root]
    for part in loc:
        if isinstance(part, str) and _is_tag(part):
            continue  # a union tag: keep every member, the next step picks the right one
        candidates = [child for c in candidates for child in _children(c, part)]
    for candidate in candidates:
        for tp in _members(candidate):
            if isinstance(tp, type) and issubclass(tp, BaseModel):
                return [info.alias or name for name, info in tp.model_fields.items()]
    return []


def _members(tp: Any) -> Iterator[Any]:
    """``tp`` with Annotated unwrapped and unions split into their members."""
    origin = typing.get_origin(tp)
    if origin is typing.Annotated:
        yield from _members(typing.get_args(tp)[0])
    elif origin is typing.Union or origin is types.UnionType:
        for arg in typing.get_args(tp):
            yield from _members(arg)
    else:
        yield tp


def _children(tp: Any, part: int | str) -> Iterator[Any]:
    for member in _members(tp):
        origin = typing.get_origin(member)
        if isinstance(member, type) and issubclass(member, BaseModel) and isinstance(part, str):
            for name, info in member.model_fields.items():
                if part in (name, info.alias):
                    yield info.annotation
        elif origin is list and isinstance(part, int):
            yield typing.get_args(member)[0]
        elif origin is dict and isinstance(part, str):
            yield typing.get_args(member)[1]


_K = TypeVar("_K", bound=Hashable)


class Reporter:
    """Collects problems found in one scenario document, each located at its field's line."""

    def __init__(self, document: Document) -> None:
        self.document = document
        self.problems: list[Problem] = []

    def at(self, path: FieldPath, message: str) -> None:
        self.problems.append(
            Problem(message, path=path, file=self.document.file, line=self.document.line_of(path))
        )

    def line(self, path: FieldPath) -> int | None:
        return self.document.line_of(path)

    def first_seen(
        self, seen: dict[_K, FieldPath], key: _K, path: FieldPath, what: str, shown: str = ""
    ) -> bool:
        """Record ``key``; report it (and return False) when it was already used."""
        earlier = seen.get(key)
        if earlier is None:
            seen[key] = path
            return True
        name = shown or repr(key)
        self.at(path, f"duplicate {what} {name} (first at line {self.line(earlier)})")
        return False


def undeclared(what: str, name: str, known: Sequence[str], where: str) -> str:
    """``"target 'x' is not declared in targets: expected one of a, b; did you mean 'a'?"``"""
    listed = ", ".join(known) if known else "none"
    hint = did_you_mean(name, known)
    return f"{what} {name!r} is not declared in {where}: expected one of {listed}{hint}"
