"""A run's Calico objects on the cluster: applied in order, replaced in place, deleted.

Order matters to Calico's API server: a policy names a tier that must exist, and
a tier that still holds policies cannot be deleted. So objects are created
tiers first, network sets next, policies last, and deleted in the reverse
order. As with NetworkPolicies, an object kept across versions is replaced in
place (never deleted and re-created), only objects carrying this run's
ownership labels are replaced or deleted, and an object already as wanted is
left alone (another worker of the same run put it there).

Calico's API server adds labels of its own (``projectcalico.org/tier``), and
each worker of a run computes its own expiry, so "as wanted" compares the
spec, the labels and annotations the run sets, expiry aside.

Namespaced objects go with their namespace, but deleting a namespace takes a
while, and a tier cannot be deleted while its namespaced policies are still
there: :func:`delete_calico` deletes policies explicitly, before the tiers.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from service.cluster.kubernetes.api import ConflictError, Kind, KubeApi, NotFoundError
from service.cluster.kubernetes.calico_rewrite import CALICO_KINDS, CalicoManifest
from service.cluster.kubernetes.naming import (
    EXPIRES_ANNOTATION,
    MANAGED_BY_LABEL,
    MANAGER,
    RUN_LABEL,
    RunNaming,
    is_managed,
    parse_expiry,
)
from service.errors import ClusterError

__all__ = ["CalicoObjects", "CalicoSweep", "delete_calico"]

log = logging.getLogger(__name__)

NO_CALICO_API = (
    "the cluster does not serve this API: runs with Calico objects need Calico's API server"
    " (projectcalico.org/v3; `kubectl api-resources | grep projectcalico.org`) and, for admin"
    " policies, the policy.networking.k8s.io CRDs"
)
# Deletion order: policies (they name tiers), then network sets, then tiers. Namespaced
# network sets and staged Kubernetes policies go with their namespaces.
_DELETION = tuple(
    CALICO_KINDS[kind]
    for kind in (
        "NetworkPolicy",
        "StagedNetworkPolicy",
        "GlobalNetworkPolicy",
        "StagedGlobalNetworkPolicy",
        "AdminNetworkPolicy",
        "ClusterNetworkPolicy",
        "GlobalNetworkSet",
        "Tier",
    )
)

Key = tuple[str, str, str]


class CalicoObjects:
    """The Calico objects of one run, as far as this process applied them."""

    def __init__(self, api: KubeApi, naming: RunNaming) -> None:
        self.api = api
        self.naming = naming
        self._applied: dict[Key, CalicoManifest] = {}

    def apply(self, desired: Sequence[CalicoManifest]) -> bool:
        """Make the run's Calico objects ``desired``; True when anything changed."""
        changed = False
        for manifest in sorted(desired, key=lambda m: m.rank):
            changed |= self._put(manifest)
        wanted = {m.key for m in desired}
        stale = [m for key, m in self._applied.items() if key not in wanted]
        for manifest in sorted(stale, key=lambda m: -m.rank):
            changed |= self._delete(manifest)
        self._applied = {m.key: m for m in desired}
        return changed

    def delete_all(self) -> list[str]:
        """Delete what this process applied (policies first); what could not be deleted."""
        leftovers = []
        for manifest in sorted(self._applied.values(), key=lambda m: -m.rank):
            try:
                self._delete(manifest)
            except ClusterError as err:
                log.warning("teardown left %s: %s", manifest, err)
                leftovers.append(f"{manifest}: {err}")
        self._applied.clear()
        return leftovers

    def forget(self) -> None:
        self._applied.clear()

    def _put(self, manifest: CalicoManifest) -> bool:
        kind, name, namespace = manifest.kind, manifest.name, manifest.namespace
        body = manifest.body
        existing = self.api.read(kind, name, namespace)
        if existing is None:
            try:
                self.api.create(kind, body)
                return True
            except ConflictError:
                existing = self.api.read(kind, name, namespace)
                if existing is None:
                    raise
            except NotFoundError as err:
                raise ClusterError(f"cannot create {manifest}: {err}; {NO_CALICO_API}") from err
        self._check_owned(existing, manifest)
        if _same(existing, body):
            return False
        replacement = {**body, "metadata": dict(body["metadata"])}
        replacement["metadata"]["resourceVersion"] = existing["metadata"].get("resourceVersion")
        self.api.replace(kind, replacement)
        return True

    def _delete(self, manifest: CalicoManifest) -> bool:
        existing = self.api.read(manifest.kind, manifest.name, manifest.namespace)
        if existing is None:
            return False
        self._check_owned(existing, manifest)
        uid = str(existing["metadata"].get("uid") or "") or None
        return self.api.delete(manifest.kind, manifest.name, manifest.namespace, uid=uid)

    def _check_owned(self, obj: Mapping[str, Any], manifest: CalicoManifest) -> None:
        if not self.naming.owns(obj):
            raise ClusterError(
                f"refusing to touch {manifest}: it does not carry this run's ownership label "
                f"{RUN_LABEL}={self.naming.run_id}"
            )


def _same(existing: Mapping[str, Any], wanted: Mapping[str, Any]) -> bool:
    have, want = existing.get("metadata") or {}, wanted.get("metadata") or {}
    labels = have.get("labels") or {}
    annotations = have.get("annotations") or {}
    return (
        existing.get("spec") == wanted.get("spec")
        and all(labels.get(k) == v for k, v in (want.get("labels") or {}).items())
        and all(
            annotations.get(k) == v
            for k, v in (want.get("annotations") or {}).items()
            if k != EXPIRES_ANNOTATION
        )
    )


@dataclass
class CalicoSweep:
    """What a deletion pass did: ``deleted`` and ``kept`` (not expired) objects, and
    ``skipped`` ones with the reason."""

    deleted: list[str] = field(default_factory=list)
    kept: list[str] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)


def delete_calico(
    api: KubeApi,
    *,
    naming: RunNaming | None = None,
    now: datetime | None = None,
    dry_run: bool = False,
) -> CalicoSweep:
    """Delete Calico objects of one run (``naming``) or every expired one (``now``).

    Listed by label: the run's ownership labels, or netpol-drift's manager label
    with an expiry that has passed. A cluster without Calico's API has nothing to
    delete; a list the API refuses is reported and the rest goes on.
    """
    selector = naming.selector if naming is not None else f"{MANAGED_BY_LABEL}={MANAGER}"
    owns: Callable[[Mapping[str, Any]], bool] = naming.owns if naming is not None else is_managed
    sweep = CalicoSweep()
    for kind in _DELETION:
        for obj in _listed(api, kind, selector, sweep):
            meta = obj.get("metadata") or {}
            shown = _shown(kind, meta)
            if not owns(obj):
                sweep.skipped.append((shown, "not owned by this run or by netpol-drift"))
                continue
            if now is not None:
                raw = (meta.get("annotations") or {}).get(EXPIRES_ANNOTATION)
                expires = parse_expiry(raw)
                if expires is None:
                    sweep.skipped.append(
                        (shown, f"no readable {EXPIRES_ANNOTATION} annotation ({raw!r})")
                    )
                    continue
                if expires > now:
                    sweep.kept.append(shown)
                    continue
            if dry_run:
                sweep.deleted.append(shown)
                continue
            try:
                api.delete(
                    kind,
                    str(meta.get("name", "")),
                    meta.get("namespace") if kind.namespaced else None,
                    uid=str(meta.get("uid") or "") or None,
                )
            except ClusterError as err:
                sweep.skipped.append((shown, str(err)))
                continue
            sweep.deleted.append(shown)
    return sweep


def _listed(
    api: KubeApi, kind: Kind, selector: str, sweep: CalicoSweep
) -> Iterable[dict[str, Any]]:
    try:
        return api.list(kind, None, label_selector=selector)
    except NotFoundError:
        return ()  # the cluster does not serve this kind: the run cannot have created any
    except ClusterError as err:
        sweep.skipped.append((kind.qualified, f"cannot list: {err}"))
        return ()


def _shown(kind: Kind, meta: Mapping[str, Any]) -> str:
    namespace = meta.get("namespace")
    where = f"{namespace}/" if kind.namespaced and namespace else ""
    return f"{kind.qualified}/{where}{meta.get('name', '')}"
