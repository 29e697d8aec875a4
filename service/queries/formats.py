"""How stored values are shown in JSON: times, label sets, ports.

The store keeps label sets as their canonical text (``app=web,tier=front``,
keys sorted) and ports as written (``"8080"`` or a port name); the read side
hands out objects and numbers, the same way everywhere.
"""

from __future__ import annotations

from datetime import datetime
from functools import lru_cache

__all__ = ["iso", "labels_object", "port_value"]


def iso(value: datetime | None) -> str | None:
    """RFC 3339 in UTC with a ``Z``; None stays None."""
    if value is None:
        return None
    return value.isoformat().replace("+00:00", "Z")


@lru_cache(maxsize=4096)
def _labels(text: str) -> tuple[tuple[str, str], ...]:
    if not text:
        return ()
    # Label keys and values cannot contain "," or "=" (Kubernetes' syntax), so the
    # canonical text splits back unambiguously.
    pairs = []
    for item in text.split(","):
        key, _, value = item.partition("=")
        pairs.append((key, value))
    return tuple(pairs)


def labels_object(text: str) -> dict[str, str]:
    """``{"app": "web"}`` from the stored ``app=web``."""
    return dict(_labels(text))


def port_value(text: str) -> int | str:
    """A port as the scenario wrote it: a number, or a port name (names contain a letter)."""
    return int(text) if text.isdigit() else text
