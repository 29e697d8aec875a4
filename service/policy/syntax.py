"""The API server's syntax rules for names, labels, ports and CIDRs, and typed field access.

:class:`Problems` reads raw API-shaped data (what a YAML or JSON reader gives)
field by field, recording one :class:`~service.errors.Problem` per defect
instead of stopping at the first, so a user fixes a file in one pass. The
``*_error`` functions return why a string breaks an apimachinery rule, or None.
"""

from __future__ import annotations

import difflib
import ipaddress
import re
from collections.abc import Collection, Mapping, Sequence

from service.errors import FieldPath, InvalidInput, Problem
from service.policy.model import IPNetwork, Labels, Protocol

__all__ = [
    "Problems",
    "cidr",
    "describe",
    "dns1035_label_error",
    "dns1123_label_error",
    "dns1123_subdomain_error",
    "label_key_error",
    "label_value_error",
    "one_of",
    "port_name_error",
]

_DNS_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?")
_DNS1035_LABEL = re.compile(r"[a-z]([-a-z0-9]*[a-z0-9])?")
_DNS_SUBDOMAIN = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*")
_LABEL_NAME = re.compile(r"[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?")
_PORT_NAME = re.compile(r"[a-z0-9]([a-z0-9-]*[a-z0-9])?")

_LABEL_CHARSET = "alphanumerics, '-', '_' or '.', starting and ending with an alphanumeric"
_DNS_CHARSET = "lowercase alphanumerics and '-', starting and ending with an alphanumeric"


def describe(value: object) -> str:
    """A value's JSON type in words, for "expected X, got Y" messages."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int):
        return "an integer"
    if isinstance(value, float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, Mapping):
        return "a mapping"
    if isinstance(value, Sequence):
        return "a list"
    return type(value).__name__


def one_of(choices: Sequence[str]) -> str:
    return ", ".join(choices)


def dns1123_label_error(value: str) -> str | None:
    if len(value) > 63:
        return f"{value!r} is longer than 63 characters"
    if not _DNS_LABEL.fullmatch(value):
        return f"{value!r} is not a DNS-1123 label ({_DNS_CHARSET})"
    return None


def dns1035_label_error(value: str) -> str | None:
    if len(value) > 63:
        return f"{value!r} is longer than 63 characters"
    if not _DNS1035_LABEL.fullmatch(value):
        return (
            f"{value!r} is not a DNS-1035 label (lowercase alphanumerics and '-', starting"
            " with a letter and ending with an alphanumeric)"
        )
    return None


def dns1123_subdomain_error(value: str) -> str | None:
    if len(value) > 253:
        return f"{value!r} is longer than 253 characters"
    if not _DNS_SUBDOMAIN.fullmatch(value):
        return f"{value!r} is not a DNS-1123 subdomain ({_DNS_CHARSET}, in parts separated by '.')"
    return None


def label_key_error(key: str) -> str | None:
    """Why ``key`` is not a qualified name (``[prefix/]name``), as label keys must be."""
    prefix, slash, name = key.rpartition("/")
    if slash:
        if not prefix:
            return f"{key!r} is not a valid label key: the prefix before '/' is empty"
        if "/" in prefix:
            return f"{key!r} is not a valid label key: at most one '/' is allowed"
        if len(prefix) > 253 or not _DNS_SUBDOMAIN.fullmatch(prefix):
            return (
                f"{key!r} is not a valid label key: the prefix {prefix!r} must be a DNS-1123"
                f" subdomain ({_DNS_CHARSET}, in parts separated by '.')"
            )
    if not name:
        return f"{key!r} is not a valid label key: the name part is empty"
    if len(name) > 63:
        return f"{key!r} is not a valid label key: the name part is longer than 63 characters"
    if not _LABEL_NAME.fullmatch(name):
        return f"{key!r} is not a valid label key: the name part must be {_LABEL_CHARSET}"
    return None


def label_value_error(value: str) -> str | None:
    if len(value) > 63:
        return f"{value!r} is not a valid label value: longer than 63 characters"
    if value and not _LABEL_NAME.fullmatch(value):
        return f"{value!r} is not a valid label value: it must be empty or {_LABEL_CHARSET}"
    return None


def port_name_error(name: str) -> str | None:
    """Why ``name`` is not an IANA_SVC_NAME, the syntax of named ports."""
    if len(name) > 15:
        return f"port name {name!r} is longer than 15 characters"
    if not _PORT_NAME.fullmatch(name):
        return (
            f"port name {name!r} must be lowercase alphanumerics and '-', not starting or"
            " ending with '-'"
        )
    if "--" in name:
        return f"port name {name!r} must not contain '--'"
    if not any(c.isalpha() for c in name):
        return f"port name {name!r} must contain at least one letter"
    return None


def cidr(text: str) -> tuple[IPNetwork | None, str | None]:
    """The network ``text`` names, or why it is not a canonical CIDR.

    Strict like the API server's CIDR validation: a prefix length is required,
    and host bits set (``10.0.0.1/8``) is an error, not silently truncated.
    """
    if "/" not in text:
        return None, f"{text!r} is not a CIDR: it needs a prefix length, such as {text}/32"
    try:
        return ipaddress.ip_network(text, strict=True), None
    except ValueError as err:
        if "host bits set" in str(err):
            try:
                network = ipaddress.ip_network(text, strict=False)
            except ValueError:  # pragma: no cover - strict=False accepts a superset
                network = None
            hint = f"; did you mean {network}?" if network is not None else ""
            return None, f"{text!r} has host bits set{hint}"
        return None, f"{text!r} is not a valid CIDR: {err}"


class Problems:
    """Collects problems while reading raw data; :meth:`raise_any` raises them all at once."""

    def __init__(self) -> None:
        self.found: list[Problem] = []

    def add(self, path: FieldPath, message: str) -> None:
        self.found.append(Problem(message, path=path))

    def extend(self, err: InvalidInput, prefix: FieldPath | None = None) -> None:
        """Adopt ``err``'s problems, seen from ``prefix`` when given."""
        self.found.extend(p if prefix is None else p.under(prefix) for p in err.problems)

    def raise_any(self) -> None:
        InvalidInput.collect(self.found)

    def expect(self, value: object, expected: str, path: FieldPath) -> None:
        self.add(path, f"expected {expected}, got {describe(value)}")

    def mapping(self, value: object, path: FieldPath) -> Mapping[str, object] | None:
        """``value`` as a mapping; None (absent) stays None, other types are a problem."""
        if value is None:
            return None
        if isinstance(value, Mapping):
            return value
        self.expect(value, "a mapping", path)
        return None

    def fields(self, obj: Mapping[str, object], allowed: Collection[str], path: FieldPath) -> None:
        """Reject keys outside ``allowed``, suggesting the closest: a typo is the usual cause."""
        for key in obj:
            if key in allowed:
                continue
            by_case = [a for a in allowed if a.lower() == str(key).lower()]
            close = by_case or difflib.get_close_matches(str(key), list(allowed), n=1)
            if close:
                self.add(path / key, f"unknown field; did you mean {close[0]!r}?")
            else:
                self.add(path / key, f"unknown field; expected one of {one_of(sorted(allowed))}")

    def field_mapping(
        self, obj: Mapping[str, object], key: str, path: FieldPath
    ) -> Mapping[str, object] | None:
        return self.mapping(obj.get(key), path / key)

    def field_list(self, obj: Mapping[str, object], key: str, path: FieldPath) -> list[object]:
        """A list field; absent or null reads as empty, as Kubernetes decodes it."""
        value = obj.get(key)
        if value is None:
            return []
        if isinstance(value, list):
            return value
        self.expect(value, "a list", path / key)
        return []

    def field_str(
        self, obj: Mapping[str, object], key: str, path: FieldPath, *, required: bool = False
    ) -> str | None:
        value = obj.get(key)
        if value is None:
            if required:
                self.add(path / key, "required")
            return None
        if isinstance(value, str):
            if required and not value:
                self.add(path / key, "required: must not be empty")
                return None
            return value
        self.expect(value, "a string", path / key)
        return None

    def field_int(self, obj: Mapping[str, object], key: str, path: FieldPath) -> int | None:
        value = obj.get(key)
        if value is None:
            return None
        # bool is an int in Python but not in JSON; Go would refuse it too.
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        self.expect(value, "an integer", path / key)
        return None

    def field_bool(self, obj: Mapping[str, object], key: str, path: FieldPath) -> bool | None:
        value = obj.get(key)
        if value is None or isinstance(value, bool):
            return value
        self.expect(value, "a boolean (true or false)", path / key)
        return None

    def port_number(self, value: int, path: FieldPath) -> int | None:
        if 1 <= value <= 65535:
            return value
        self.add(path, f"{value} is not a valid port number: expected 1-65535")
        return None

    def port_or_name(self, value: object, path: FieldPath) -> int | str | None:
        """A port number or an IANA_SVC_NAME, as IntOrString port fields take."""
        if value is None:
            return None
        if isinstance(value, int) and not isinstance(value, bool):
            return self.port_number(value, path)
        if isinstance(value, str):
            if value.isdigit():
                self.add(path, f"{value!r} is a string; write a port number without quotes")
            elif error := port_name_error(value):
                self.add(path, error)
            return value
        self.expect(value, "a port number or a port name", path)
        return None

    def protocol(self, obj: Mapping[str, object], path: FieldPath) -> Protocol | None:
        """``protocol``, TCP when absent (the API server's default)."""
        text = self.field_str(obj, "protocol", path)
        if text is None:
            return Protocol.TCP if obj.get("protocol") is None else None
        try:
            return Protocol(text)
        except ValueError:
            tail = f"; did you mean {text.upper()!r}?" if text.upper() in list(Protocol) else ""
            self.add(path / "protocol", f"{text!r} is not one of {one_of(list(Protocol))}{tail}")
            return None

    def labels(self, value: object, path: FieldPath, *, keys_only: bool = False) -> Labels:
        """A label map: every key a qualified name and every value a label value.

        ``keys_only`` checks only the keys, for annotations, whose values are free text.
        """
        obj = self.mapping(value, path)
        if obj is None:
            return Labels()
        out: dict[str, str] = {}
        for key, item in obj.items():
            error = label_key_error(key)
            if error is not None:
                self.add(path / key, error)
            if not isinstance(item, str):
                self.expect(item, "a string (quote numbers and booleans)", path / key)
                continue
            if not keys_only:
                value_error = label_value_error(item)
                if value_error is not None:
                    self.add(path / key, value_error)
                    continue
            if error is None:
                out[key] = item
        return Labels(out)
