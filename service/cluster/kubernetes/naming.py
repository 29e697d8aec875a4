"""Run-scoped names, ownership labels and the expiry annotation.

Every object a run creates lives in a namespace named ``<prefix>-<run id>-<original>``
(``npd-3f9a1c-development``), so runs and policy versions never collide with
each other or with the user's own namespaces. Kubernetes caps namespace names
at 63 characters: a longer name keeps as much of the original as fits and ends
in a short hash of it, so two long originals never map to the same name.

Ownership: every object carries :data:`MANAGED_BY_LABEL` and :data:`RUN_LABEL`;
namespaces also carry the :data:`EXPIRES_ANNOTATION` the janitor reads. The
backend deletes or replaces nothing that lacks them. The keys sit under the
``netpol-drift.io/`` prefix, which scenario policies must not select on (see
:func:`service.cluster.kubernetes.policies.reserved_label_problems`): an
ownership label a policy could see would change what the policy selects.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from service.errors import FieldPath, InvalidInput, Problem
from service.policy.model import Labels

__all__ = [
    "EXPIRES_ANNOTATION",
    "MANAGED_BY_LABEL",
    "MANAGER",
    "ORIGINAL_NAMESPACE_ANNOTATION",
    "RESERVED_PREFIX",
    "ROLE_LABEL",
    "RUN_LABEL",
    "VERSION_ANNOTATION",
    "RunNaming",
    "format_expiry",
    "is_managed",
    "new_run_id",
    "parse_expiry",
]

RESERVED_PREFIX = "netpol-drift.io/"
MANAGED_BY_LABEL = RESERVED_PREFIX + "managed-by"
RUN_LABEL = RESERVED_PREFIX + "run"
ROLE_LABEL = RESERVED_PREFIX + "role"
MANAGER = "netpol-drift"
EXPIRES_ANNOTATION = RESERVED_PREFIX + "expires-at"
ORIGINAL_NAMESPACE_ANNOTATION = RESERVED_PREFIX + "original-namespace"
VERSION_ANNOTATION = RESERVED_PREFIX + "policy-version"

MAX_NAMESPACE = 63
MAX_PREFIX = 20
RUN_ID_LENGTH = 6
HASH_LENGTH = 6
_PREFIX_RE = re.compile(r"[a-z]([a-z0-9-]*[a-z0-9])?")
_RUN_ID_RE = re.compile(r"[a-z0-9]{4,12}")
_EXPIRY_FORMAT = "%Y-%m-%dT%H:%M:%SZ"


def new_run_id() -> str:
    """Six random hex digits: short enough to leave room for the original name."""
    return secrets.token_hex(RUN_ID_LENGTH // 2)


def _problems(prefix: str, run_id: str) -> list[Problem]:
    problems = []
    if len(prefix) > MAX_PREFIX or not _PREFIX_RE.fullmatch(prefix):
        problems.append(
            Problem(
                f"expected up to {MAX_PREFIX} lowercase letters, digits and '-', starting "
                f"with a letter and ending with a letter or digit, got {prefix!r}",
                FieldPath(("namespace_prefix",)),
            )
        )
    if not _RUN_ID_RE.fullmatch(run_id):
        problems.append(
            Problem(
                f"expected 4 to 12 lowercase letters or digits, got {run_id!r}",
                FieldPath(("run_id",)),
            )
        )
    return problems


@dataclass(frozen=True, slots=True)
class RunNaming:
    """The names and ownership marks of one run."""

    prefix: str
    run_id: str

    def __post_init__(self) -> None:
        InvalidInput.collect(_problems(self.prefix, self.run_id))

    def namespace(self, original: str) -> str:
        """The run's name for the scenario namespace ``original`` (a pure function of it)."""
        head = f"{self.prefix}-{self.run_id}-"
        name = head + original
        if len(name) <= MAX_NAMESPACE:
            return name
        digest = hashlib.sha256(original.encode()).hexdigest()[:HASH_LENGTH]
        room = MAX_NAMESPACE - len(head) - HASH_LENGTH - 1
        kept = original[:room].rstrip("-")
        return f"{head}{kept}-{digest}"

    @property
    def labels(self) -> Labels:
        """The ownership labels every object of this run carries."""
        return Labels({MANAGED_BY_LABEL: MANAGER, RUN_LABEL: self.run_id})

    @property
    def selector(self) -> str:
        """A label selector for this run's objects, as the API takes it."""
        return f"{MANAGED_BY_LABEL}={MANAGER},{RUN_LABEL}={self.run_id}"

    def owns(self, obj: Mapping[str, object]) -> bool:
        """True when ``obj`` (an API object as a dict) carries this run's ownership labels."""
        labels = _labels_of(obj)
        return labels.get(MANAGED_BY_LABEL) == MANAGER and labels.get(RUN_LABEL) == self.run_id


def is_managed(obj: Mapping[str, object]) -> bool:
    """True when ``obj`` carries netpol-drift's manager label, whatever its run."""
    return _labels_of(obj).get(MANAGED_BY_LABEL) == MANAGER


def _labels_of(obj: Mapping[str, object]) -> Mapping[str, object]:
    meta = obj.get("metadata")
    if not isinstance(meta, Mapping):
        return {}
    labels = meta.get("labels")
    return labels if isinstance(labels, Mapping) else {}


def format_expiry(now: datetime, ttl: timedelta) -> str:
    """The expiry annotation's value: RFC 3339 in UTC, to the second."""
    return (now.astimezone(UTC) + ttl).strftime(_EXPIRY_FORMAT)


def parse_expiry(value: object) -> datetime | None:
    """The instant an expiry annotation names, or None when it is not one we wrote."""
    if not isinstance(value, str):
        return None
    try:
        return datetime.strptime(value, _EXPIRY_FORMAT).replace(tzinfo=UTC)
    except ValueError:
        return None
