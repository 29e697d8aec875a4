"""The small languages inside a scenario file: names, labels, port references, cron, time zones.

Each reader takes what YAML produced and returns a normalised value or raises
:class:`ValueSyntaxError` whose message says what was expected. The pydantic
schema (:mod:`service.scenario.schema`) calls them from its validators; the
label and port-name rules are the API server's, from :mod:`service.policy.syntax`.
"""

from __future__ import annotations

import difflib
import re
import zoneinfo
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import cache

from service.policy.model import NAMESPACE_NAME_LABEL, Protocol
from service.policy.syntax import label_key_error, label_value_error, port_name_error

__all__ = [
    "CRON_MACROS",
    "PortRef",
    "ValueSyntaxError",
    "did_you_mean",
    "parse_cron",
    "parse_labels",
    "parse_port_ref",
    "parse_timezone",
    "yaml_type_hint",
]


class ValueSyntaxError(ValueError):
    """A value is not in the shape its field needs; the message says what was expected."""


# RFC 1123 label: what Kubernetes accepts as a namespace name.
DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
# RFC 1035 label: a Service name must also start with a letter.
DNS_1035_LABEL = re.compile(r"^[a-z]([-a-z0-9]*[a-z0-9])?$")


def yaml_type_hint(value: object) -> str:
    """A hint for values YAML typed differently from what the user meant (``yes``, ``8080``)."""
    if isinstance(value, bool):
        return " (YAML reads unquoted true/false/yes/no/on/off as a boolean: quote it)"
    if isinstance(value, int | float):
        return " (YAML read it as a number: quote it)"
    if value is None:
        return " (the value is empty)"
    return ""


def parse_labels(value: object) -> dict[str, str]:
    """Labels written as a mapping, as ``"k=v,k=v"``, or left empty (no labels)."""
    if value is None:
        return {}
    pairs: list[tuple[str, str]] = []
    if isinstance(value, str):
        for item in value.split(","):
            item = item.strip()
            if not item:
                continue
            key, eq, val = item.partition("=")
            if not eq:
                raise ValueSyntaxError(
                    f"expected labels as key=value pairs separated by commas; {item!r} has no '='"
                )
            pairs.append((key.strip(), val.strip()))
    elif isinstance(value, Mapping):
        for key, val in value.items():
            if not isinstance(val, str):
                raise ValueSyntaxError(f"label {key}: expected a string value{yaml_type_hint(val)}")
            pairs.append((str(key), val))
    else:
        raise ValueSyntaxError(
            'expected labels as a mapping ({app: web}) or a string ("app=web,role=api")'
            + yaml_type_hint(value)
        )
    labels: dict[str, str] = {}
    for key, val in pairs:
        if key in labels:
            raise ValueSyntaxError(f"label key {key!r} is given twice")
        error = label_key_error(key) or label_value_error(val)
        if error is not None:
            raise ValueSyntaxError(error)
        labels[key] = val
    return labels


def check_namespace_labels(namespace: str, labels: Mapping[str, str]) -> None:
    given = labels.get(NAMESPACE_NAME_LABEL)
    if given is not None and given != namespace:
        raise ValueSyntaxError(
            f"label {NAMESPACE_NAME_LABEL} is set by Kubernetes to the namespace's name;"
            f" expected {namespace!r} or no such label"
        )


def check_port_name(name: str) -> None:
    error = port_name_error(name)
    if error is not None:
        raise ValueSyntaxError(f"{error} (expected an IANA service name)")


def check_port_number(port: int) -> None:
    if not 1 <= port <= 65535:
        raise ValueSyntaxError(f"port {port}: expected a number from 1 to 65535")


@dataclass(frozen=True, slots=True)
class PortRef:
    """A probed or expected port as written: a number or a port name, with a protocol."""

    port: int | str
    protocol: Protocol = Protocol.TCP

    def __str__(self) -> str:
        return f"{self.port}/{self.protocol}"


_PORT_REF_EXPECTED = (
    "expected a port number or name, optionally with a protocol: 80, 80/TCP, http/TCP, 53/UDP"
)


def parse_port_ref(value: object) -> PortRef:
    """``80``, ``"80/UDP"``, ``"http"`` or ``"http/TCP"``; the protocol defaults to TCP."""
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise ValueSyntaxError(_PORT_REF_EXPECTED + yaml_type_hint(value))
    if isinstance(value, int):
        check_port_number(value)
        return PortRef(value)
    text, slash, proto_text = value.strip().partition("/")
    protocol = Protocol.TCP
    if slash:
        try:
            protocol = Protocol(proto_text.strip().upper())
        except ValueError:
            raise ValueSyntaxError(f"protocol {proto_text!r}: expected TCP, UDP or SCTP") from None
    text = text.strip()
    if not text:
        raise ValueSyntaxError(_PORT_REF_EXPECTED)
    if text.isdigit():
        number = int(text)
        check_port_number(number)
        return PortRef(number, protocol)
    check_port_name(text)
    return PortRef(text, protocol)


# Cron in the classic five fields. Macros are rewritten to five fields so every
# consumer (the beat tick, the dashboard) reads one form.
CRON_MACROS: dict[str, str] = {
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
    "@monthly": "0 0 1 * *",
    "@weekly": "0 0 * * 0",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@hourly": "0 * * * *",
}
_MONTHS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
_DAYS = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")


@dataclass(frozen=True, slots=True)
class _CronField:
    name: str
    low: int
    high: int
    names: tuple[str, ...] = ()
    # The number the first name stands for (months count from 1, days from 0).
    names_start: int = 0


_CRON_FIELDS = (
    _CronField("minute", 0, 59),
    _CronField("hour", 0, 23),
    _CronField("day of month", 1, 31),
    _CronField("month", 1, 12, _MONTHS, 1),
    _CronField("day of week", 0, 7, _DAYS, 0),  # 0 and 7 are both Sunday
)


def parse_cron(value: str) -> str:
    """A validated cron expression with its fields separated by single spaces."""
    text = value.strip()
    if text.startswith("@"):
        macro = CRON_MACROS.get(text.lower())
        if macro is None:
            raise ValueSyntaxError(
                f"cron {text!r}: expected five fields or one of {', '.join(CRON_MACROS)}"
            )
        return macro
    fields = text.split()
    if len(fields) != len(_CRON_FIELDS):
        raise ValueSyntaxError(
            f"cron {text!r}: expected 5 fields (minute hour day-of-month month day-of-week),"
            f" got {len(fields)}"
        )
    for spec, field_text in zip(_CRON_FIELDS, fields, strict=True):
        for item in field_text.split(","):
            _check_cron_item(spec, item)
    return " ".join(fields)


def _check_cron_item(spec: _CronField, item: str) -> None:
    where = f"cron {spec.name} field {item!r}"
    span = spec.high - spec.low + 1
    base, slash, step_text = item.partition("/")
    if slash and (not step_text.isdigit() or not 1 <= int(step_text) <= span):
        raise ValueSyntaxError(f"{where}: expected a step from 1 to {span} after '/'")
    if base == "*":
        return
    low_text, dash, high_text = base.partition("-")
    low = _cron_value(spec, low_text, where)
    if dash:
        high = _cron_value(spec, high_text, where)
        if low > high:
            raise ValueSyntaxError(f"{where}: expected a range low-high with low <= high")
    elif slash:
        raise ValueSyntaxError(f"{where}: expected '*' or a range before '/'")


def _cron_value(spec: _CronField, text: str, where: str) -> int:
    if text.isdigit():
        number = int(text)
    elif text.lower() in spec.names:
        number = spec.names.index(text.lower()) + spec.names_start
    else:
        names = f", or a name ({spec.names[0]}-{spec.names[-1]})" if spec.names else ""
        raise ValueSyntaxError(f"{where}: expected a number from {spec.low} to {spec.high}{names}")
    if not spec.low <= number <= spec.high:
        raise ValueSyntaxError(f"{where}: {number} is out of range {spec.low}-{spec.high}")
    return number


@cache
def _zone_names() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones())


def parse_timezone(value: str) -> str:
    """An IANA time zone name that this machine's time zone database knows."""
    try:
        zoneinfo.ZoneInfo(value)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError):
        hint = did_you_mean(value, _zone_names())
        raise ValueSyntaxError(
            f"time zone {value!r}: expected an IANA time zone name such as UTC or"
            f" Europe/Stockholm{hint}"
        ) from None
    return value


def did_you_mean(word: str, choices: Iterable[str]) -> str:
    """``"; did you mean 'x'?"`` for the closest choice, or nothing when none is close."""
    close = difflib.get_close_matches(word, sorted(choices), n=1, cutoff=0.6)
    return f"; did you mean {close[0]!r}?" if close else ""
