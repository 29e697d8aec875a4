"""The janitor: deletes the namespaces of runs that died without tearing down.

It lists namespaces carrying netpol-drift's manager label and deletes those
whose expiry annotation has passed. Everything else is left alone: a namespace
without the label is never listed, one with the label but without a readable
expiry is reported and kept (something else may have labelled it), and the
delete carries the uid it was checked with, so a namespace recreated under the
same name in between is not touched. Deleting a namespace deletes the pods,
Services and policies in it. A run's cluster-scoped Calico objects (tiers, global
policies and network sets, admin policies) carry the same labels and expiry and
are deleted first, policies before tiers (:func:`.calico_objects.delete_calico`).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime

from service.cluster.kubernetes.api import NAMESPACES, KubeApi
from service.cluster.kubernetes.calico_objects import delete_calico
from service.cluster.kubernetes.naming import (
    EXPIRES_ANNOTATION,
    MANAGED_BY_LABEL,
    MANAGER,
    RunNaming,
    is_managed,
    parse_expiry,
)
from service.errors import ClusterError

__all__ = ["SweepReport", "delete_run", "sweep_expired"]

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class SweepReport:
    """``deleted``: namespaces deleted; ``kept``: not expired yet; ``skipped``: (name, why)."""

    deleted: tuple[str, ...] = ()
    kept: tuple[str, ...] = ()
    skipped: tuple[tuple[str, str], ...] = ()

    def lines(self) -> list[str]:
        out = [f"deleted {name}" for name in self.deleted]
        out += [f"kept {name} (not expired)" for name in self.kept]
        out += [f"skipped {name}: {why}" for name, why in self.skipped]
        return out


def sweep_expired(
    api: KubeApi, *, now: datetime | None = None, dry_run: bool = False
) -> SweepReport:
    """Delete every netpol-drift namespace whose expiry has passed (none with ``dry_run``)."""
    instant = (now or datetime.now(UTC)).astimezone(UTC)
    calico = delete_calico(api, now=instant, dry_run=dry_run)
    deleted: list[str] = calico.deleted
    kept: list[str] = calico.kept
    skipped: list[tuple[str, str]] = calico.skipped
    for namespace in api.list(NAMESPACES, label_selector=f"{MANAGED_BY_LABEL}={MANAGER}"):
        meta = namespace.get("metadata") or {}
        name = str(meta.get("name", ""))
        # The server filtered by label; check again, since deleting is what must be right.
        if not is_managed(namespace):
            skipped.append((name, f"no {MANAGED_BY_LABEL}={MANAGER} label"))
            continue
        raw = (meta.get("annotations") or {}).get(EXPIRES_ANNOTATION)
        expires = parse_expiry(raw)
        if expires is None:
            skipped.append((name, f"no readable {EXPIRES_ANNOTATION} annotation ({raw!r})"))
            continue
        if expires > instant:
            kept.append(name)
            continue
        if (namespace.get("status") or {}).get("phase") == "Terminating":
            skipped.append((name, "already being deleted"))
            continue
        if dry_run:
            deleted.append(name)
            continue
        try:
            api.delete(NAMESPACES, name, uid=str(meta.get("uid") or "") or None)
        except ClusterError as err:
            skipped.append((name, str(err)))
            continue
        log.info("janitor deleted expired namespace %s (expired %s)", name, raw)
        deleted.append(name)
    return SweepReport(deleted=tuple(deleted), kept=tuple(kept), skipped=tuple(skipped))


def delete_run(api: KubeApi, *, naming: RunNaming) -> SweepReport:
    """Delete every namespace and Calico object of one run now (the end of a run whose
    shards kept them)."""
    calico = delete_calico(api, naming=naming)
    deleted: list[str] = calico.deleted
    skipped: list[tuple[str, str]] = calico.skipped
    for namespace in api.list(NAMESPACES, label_selector=naming.selector):
        meta = namespace.get("metadata") or {}
        name = str(meta.get("name", ""))
        if not naming.owns(namespace):
            skipped.append((name, f"not owned by run {naming.run_id}"))
            continue
        if (namespace.get("status") or {}).get("phase") == "Terminating":
            continue
        try:
            api.delete(NAMESPACES, name, uid=str(meta.get("uid") or "") or None)
        except ClusterError as err:
            skipped.append((name, str(err)))
            continue
        deleted.append(name)
    return SweepReport(deleted=tuple(deleted), skipped=tuple(skipped))
