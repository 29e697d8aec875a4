"""A scenario as one self-contained JSON document, and back.

A stored scenario revision must be enough to run the scenario on a worker on
another machine, where neither the scenario file nor its policy files exist.
So the document holds the *resolved* values, not the YAML: every field of every
value, policy contents inlined, with what the hashes leave out (line numbers,
where a policy was read from, the Calico manifest as written) kept too, so that
the rebuilt scenario equals the original, has the same content hash and
explains its verdicts with the same file and line references.

The encoding follows the dataclasses' type hints: a dataclass is an object of
its init fields, tuples and sets are arrays (sets sorted), enums are their
values, labels and other mappings are objects, IP networks and addresses are
strings. Where the declared type admits more than one class (a union of
dataclasses, or a subclass such as a Calico entry in a list of
NetworkPolicies), the object carries ``"$type"``: the class's name, looked up
only among the classes a Scenario can contain, never imported by name.

Decoding checks the document against those types and raises
:class:`~service.errors.InvalidInput` naming the path of every field that does
not fit (a document written by another version of the service, or damaged).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import enum
import functools
import ipaddress
import json
import sys
import types
import typing
from collections.abc import Mapping, Sequence
from typing import Any, Final, Literal, TypeAlias

from service.errors import FieldPath, InvalidInput, Problem
from service.policy.calico import model as _calico_model  # noqa: F401 - registers CalicoEntry
from service.policy.model import Labels
from service.scenario.model import Scenario

__all__ = [
    "DOCUMENT_FORMAT",
    "scenario_document",
    "scenario_from_document",
    "scenario_from_json",
    "scenario_json",
]

JSON: TypeAlias = bool | int | float | str | list["JSON"] | dict[str, "JSON"] | None

# Bumped when the encoding changes incompatibly; a reader refuses other formats.
DOCUMENT_FORMAT: Final = "netpol-drift/scenario/1"
TYPE_TAG: Final = "$type"

_IP_TYPES: Final = (
    ipaddress.IPv4Network,
    ipaddress.IPv6Network,
    ipaddress.IPv4Address,
    ipaddress.IPv6Address,
)


def scenario_document(scenario: Scenario) -> dict[str, JSON]:
    """``scenario`` as plain JSON data (see the module docstring)."""
    return {"format": DOCUMENT_FORMAT, "scenario": _encode(scenario, Scenario)}


def scenario_json(scenario: Scenario) -> str:
    """The document as compact JSON text with sorted keys: the same scenario, the same text."""
    return json.dumps(
        scenario_document(scenario), sort_keys=True, separators=(",", ":"), ensure_ascii=False
    )


def scenario_from_json(text: str) -> Scenario:
    """The scenario in a document made by :func:`scenario_json`."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as err:
        raise InvalidInput(
            Problem(f"not JSON: {err.msg} at line {err.lineno}, column {err.colno}")
        ) from err
    return scenario_from_document(data)


def scenario_from_document(data: object) -> Scenario:
    """The scenario in a document made by :func:`scenario_document`."""
    if not isinstance(data, Mapping):
        raise InvalidInput(Problem("expected a scenario document: an object with format"))
    if data.get("format") != DOCUMENT_FORMAT:
        raise InvalidInput(
            Problem(
                f"expected format {DOCUMENT_FORMAT!r}, got {data.get('format')!r}",
                path=FieldPath(("format",)),
            )
        )
    problems: list[Problem] = []
    scenario = _decode(data.get("scenario"), Scenario, FieldPath(("scenario",)), problems)
    InvalidInput.collect(problems)
    if not isinstance(scenario, Scenario):  # pragma: no cover - problems were raised above
        raise InvalidInput(Problem("expected a scenario", path=FieldPath(("scenario",))))
    return scenario


# --- the classes a scenario can contain --------------------------------------------------


@functools.cache
def _hints(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def _init_fields(cls: type) -> list[tuple[str, Any]]:
    hints = _hints(cls)
    return [(f.name, hints[f.name]) for f in dataclasses.fields(cls) if f.init]


@functools.cache
def _registry() -> dict[str, type]:
    """Every dataclass reachable from Scenario's type hints, and their subclasses, by name."""
    found: dict[str, type] = {}
    pending: list[Any] = [Scenario]
    seen: set[Any] = set()
    while pending:
        hint = pending.pop()
        if hint in seen:
            continue
        seen.add(hint)
        pending.extend(typing.get_args(hint))
        if isinstance(hint, type) and dataclasses.is_dataclass(hint):
            # slots=True replaces a class with a new one; the old one lingers among
            # __subclasses__() until collected. The module's attribute is the real one.
            hint = getattr(sys.modules[hint.__module__], hint.__qualname__, hint)
            if hint in found.values():
                continue
            other = found.setdefault(hint.__name__, hint)
            if other is not hint:
                raise TypeError(f"two classes named {hint.__name__}: {other} and {hint}")
            pending.extend(hint.__subclasses__())
            pending.extend(t for _, t in _init_fields(hint))
    return found


def _dataclass_members(hint: Any) -> list[type]:
    """The dataclasses a value declared as ``hint`` may be, subclasses included."""
    candidates = typing.get_args(hint) if _is_union(hint) else (hint,)
    out: list[type] = []
    for candidate in candidates:
        if isinstance(candidate, type) and dataclasses.is_dataclass(candidate):
            out.extend(c for c in _registry().values() if issubclass(c, candidate))
    return out


def _is_union(hint: Any) -> bool:
    return typing.get_origin(hint) in (typing.Union, types.UnionType)


# --- encoding ------------------------------------------------------------------------------


def _encode(value: object, hint: Any) -> JSON:
    if isinstance(value, enum.Enum):
        return _encode(value.value, object)
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return value
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        cls = type(value)
        out: dict[str, JSON] = {
            name: _encode(getattr(value, name), field_hint)
            for name, field_hint in _init_fields(cls)
        }
        if len(_dataclass_members(hint)) != 1:
            out[TYPE_TAG] = cls.__name__
        return out
    if isinstance(value, _IP_TYPES):
        return str(value)
    if isinstance(value, Mapping):
        value_hint = _mapping_value_hint(hint)
        return {str(k): _encode(v, value_hint) for k, v in value.items()}
    if isinstance(value, frozenset | set):
        item_hint = _item_hint(hint)
        encoded = [_encode(v, item_hint) for v in value]
        return sorted(encoded, key=lambda v: json.dumps(v, sort_keys=True))
    if isinstance(value, list | tuple):
        item_hint = _item_hint(hint)
        return [_encode(v, item_hint) for v in value]
    if isinstance(value, dt.datetime | dt.date):
        # YAML reads unquoted timestamps in a manifest as dates; JSON keeps their text.
        return value.isoformat()
    raise TypeError(f"no document form for {type(value).__name__}")


def _item_hint(hint: Any) -> Any:
    args = typing.get_args(hint)
    return args[0] if args else object


def _mapping_value_hint(hint: Any) -> Any:
    args = typing.get_args(hint)
    return args[1] if len(args) == 2 else object


# --- decoding ------------------------------------------------------------------------------


class _MismatchError(Exception):
    """A value does not fit its declared type; the message says what was expected."""


_MISSING: Final = object()


def _decode(data: object, hint: Any, path: FieldPath, problems: list[Problem]) -> Any:
    try:
        return _decode_strict(data, hint, path, problems)
    except _MismatchError as err:
        problems.append(Problem(str(err), path=path))
        return _MISSING


def _decode_strict(data: object, hint: Any, path: FieldPath, problems: list[Problem]) -> Any:
    if hint is object or hint is Any:
        return data
    if _is_union(hint):
        return _decode_union(data, hint, path, problems)
    origin = typing.get_origin(hint)
    if origin is Literal:
        if data not in typing.get_args(hint):
            raise _MismatchError(f"expected one of {list(typing.get_args(hint))}, got {data!r}")
        return data
    if origin is not None:
        return _decode_generic(data, hint, origin, path, problems)
    if hint is type(None):
        if data is not None:
            raise _MismatchError(f"expected null, got {_describe(data)}")
        return None
    if isinstance(hint, type):
        return _decode_class(data, hint, path, problems)
    raise _MismatchError(f"cannot read a value of type {hint!r}")


def _decode_union(data: object, hint: Any, path: FieldPath, problems: list[Problem]) -> Any:
    members = typing.get_args(hint)
    if data is None:
        if type(None) in members:
            return None
        raise _MismatchError(f"expected {_name(hint)}, got null")
    if isinstance(data, Mapping) and TYPE_TAG in data:
        return _decode_class(data, _tagged(data, hint), path, problems)
    for member in members:
        if member is type(None):
            continue
        attempt: list[Problem] = []
        try:
            value = _decode_strict(data, member, path, attempt)
        except _MismatchError:
            continue
        if not attempt:
            return value
    raise _MismatchError(f"expected {_name(hint)}, got {_describe(data)}")


def _tagged(data: Mapping[str, object], hint: Any) -> type:
    tag = data[TYPE_TAG]
    members = _dataclass_members(hint)
    for cls in members:
        if cls.__name__ == tag:
            return cls
    names = ", ".join(sorted(c.__name__ for c in members)) or "none"
    raise _MismatchError(f"{TYPE_TAG} {tag!r} is not allowed here; expected one of: {names}")


def _decode_generic(
    data: object, hint: Any, origin: Any, path: FieldPath, problems: list[Problem]
) -> Any:
    args = typing.get_args(hint)
    if origin in (tuple, list, frozenset, set):
        if not isinstance(data, list):
            raise _MismatchError(f"expected an array, got {_describe(data)}")
        if origin is tuple and not (len(args) == 2 and args[1] is Ellipsis):
            if len(data) != len(args):
                raise _MismatchError(f"expected an array of {len(args)} items, got {len(data)}")
            return tuple(
                _decode(item, arg, path / i, problems)
                for i, (item, arg) in enumerate(zip(data, args, strict=True))
            )
        items = [_decode(item, args[0], path / i, problems) for i, item in enumerate(data)]
        return origin(items) if origin is not list else items
    if origin in (dict, Mapping, typing.Mapping) or (
        isinstance(origin, type) and issubclass(origin, Mapping)
    ):
        if not isinstance(data, Mapping):
            raise _MismatchError(f"expected an object, got {_describe(data)}")
        value_hint = args[1] if len(args) == 2 else object
        return {str(k): _decode(v, value_hint, path / str(k), problems) for k, v in data.items()}
    raise _MismatchError(f"cannot read a value of type {hint!r}")


def _decode_class(data: object, cls: type, path: FieldPath, problems: list[Problem]) -> Any:
    if issubclass(cls, enum.Enum):
        try:
            return cls(data)
        except ValueError as err:
            allowed = ", ".join(repr(m.value) for m in cls)
            raise _MismatchError(f"expected one of {allowed}, got {data!r}") from err
    if cls is bool:
        if not isinstance(data, bool):
            raise _MismatchError(f"expected true or false, got {_describe(data)}")
        return data
    if cls is int:
        if isinstance(data, bool) or not isinstance(data, int):
            raise _MismatchError(f"expected an integer, got {_describe(data)}")
        return data
    if cls is float:
        if isinstance(data, bool) or not isinstance(data, int | float):
            raise _MismatchError(f"expected a number, got {_describe(data)}")
        return float(data)
    if cls is str:
        if not isinstance(data, str):
            raise _MismatchError(f"expected a string, got {_describe(data)}")
        return data
    if cls is Labels:
        if not isinstance(data, Mapping) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in data.items()
        ):
            raise _MismatchError(f"expected labels: an object of strings, got {_describe(data)}")
        return Labels(data)
    if cls in _IP_TYPES:
        if not isinstance(data, str):
            raise _MismatchError(f"expected an address or network as text, got {_describe(data)}")
        try:
            return cls(data)
        except ValueError as err:
            raise _MismatchError(f"expected {cls.__name__}, got {data!r}: {err}") from err
    if dataclasses.is_dataclass(cls):
        return _decode_dataclass(data, cls, path, problems)
    raise _MismatchError(f"cannot read a value of type {cls.__name__}")


def _decode_dataclass(data: object, cls: type, path: FieldPath, problems: list[Problem]) -> Any:
    if not isinstance(data, Mapping):
        raise _MismatchError(f"expected an object ({cls.__name__}), got {_describe(data)}")
    if TYPE_TAG in data:
        tagged = _tagged(data, cls)
        if tagged is not cls:
            return _decode_dataclass(data, tagged, path, problems)
    fields = _init_fields(cls)
    known = {name for name, _ in fields} | {TYPE_TAG}
    before = len(problems)
    for extra in sorted(set(data) - known):
        problems.append(Problem(f"unknown field of {cls.__name__}", path=path / str(extra)))
    defaults = {f.name for f in dataclasses.fields(cls) if _has_default(f)}
    kwargs: dict[str, Any] = {}
    for name, field_hint in fields:
        if name not in data:
            if name not in defaults:
                problems.append(Problem(f"missing field of {cls.__name__}", path=path / name))
            continue
        kwargs[name] = _decode(data[name], field_hint, path / name, problems)
    if len(problems) > before:
        return _MISSING
    try:
        return cls(**kwargs)
    except InvalidInput as err:
        problems.extend(p.under(path) for p in err.problems)
    except (TypeError, ValueError) as err:
        problems.append(Problem(f"not a valid {cls.__name__}: {err}", path=path))
    return _MISSING


def _has_default(f: dataclasses.Field[Any]) -> bool:
    return f.default is not dataclasses.MISSING or f.default_factory is not dataclasses.MISSING


def _name(hint: Any) -> str:
    if _is_union(hint):
        return " or ".join(_name(a) for a in typing.get_args(hint) if a is not type(None))
    return getattr(hint, "__name__", str(hint))


def _describe(data: object) -> str:
    if data is None:
        return "null"
    if isinstance(data, bool):
        return "a boolean"
    if isinstance(data, int | float):
        return "a number"
    if isinstance(data, str):
        return "a string"
    if isinstance(data, Sequence):
        return "an array"
    if isinstance(data, Mapping):
        return "an object"
    return type(data).__name__
