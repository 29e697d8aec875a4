"""A run's Kubernetes NetworkPolicies on the cluster: replaced in place, deleted when dropped.

Each version's policies are rewritten for the run's namespaces
(:mod:`.policies`) and applied in place: a policy kept across versions is
replaced (carrying the resourceVersion just read), never deleted and re-created,
so no window opens between versions that the scenario lacks. A policy already
as wanted is left alone (another process of the same run applied it), and only
policies carrying this run's ownership labels are replaced or deleted.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from typing import Any

from service.cluster.kubernetes.api import NETWORK_POLICIES, ConflictError, KubeApi
from service.cluster.kubernetes.naming import VERSION_ANNOTATION, RunNaming
from service.cluster.kubernetes.policies import policy_manifest
from service.cluster.kubernetes.run_objects import require_owned
from service.policy.model import NetworkPolicy

__all__ = ["NetworkPolicies"]

# (run namespace, policy name)
Key = tuple[str, str]


class NetworkPolicies:
    """The NetworkPolicies of one run, as far as this process applied them."""

    def __init__(self, api: KubeApi, naming: RunNaming) -> None:
        self.api = api
        self.naming = naming
        self._applied: set[Key] = set()

    def apply(
        self, policies: Sequence[NetworkPolicy], *, version: str, namespaces: Collection[str]
    ) -> bool:
        """Make the run's NetworkPolicies ``policies``; True when anything changed.

        ``namespaces`` are the scenario's names of the run's namespaces, the ones
        whose names selectors are rewritten for.
        """
        desired: dict[Key, dict[str, Any]] = {}
        for policy in policies:
            body = policy_manifest(
                policy,
                naming=self.naming,
                namespaces=namespaces,
                labels=self.naming.labels,
                annotations={VERSION_ANNOTATION: version},
            )
            desired[(body["metadata"]["namespace"], policy.name)] = body
        changed = False
        for key, body in desired.items():
            changed |= self._put(key, body)
        for key in sorted(self._applied - desired.keys()):
            changed |= self._delete(key)
        self._applied = set(desired)
        return changed

    def forget(self) -> None:
        """Drop what this process applied from memory (the namespaces take the objects)."""
        self._applied.clear()

    def _put(self, key: Key, body: dict[str, Any]) -> bool:
        """Create or replace; False when it was in place already."""
        namespace, name = key
        existing = self.api.read(NETWORK_POLICIES, name, namespace)
        if existing is None:
            try:
                self.api.create(NETWORK_POLICIES, body)
                return True
            except ConflictError:
                existing = self.api.read(NETWORK_POLICIES, name, namespace)
                if existing is None:
                    raise
        require_owned(self.naming, existing, f"NetworkPolicy {namespace}/{name}")
        if _same_policy(existing, body):
            return False
        body["metadata"]["resourceVersion"] = existing["metadata"].get("resourceVersion")
        self.api.replace(NETWORK_POLICIES, body)
        return True

    def _delete(self, key: Key) -> bool:
        namespace, name = key
        existing = self.api.read(NETWORK_POLICIES, name, namespace)
        if existing is None:
            return False
        require_owned(self.naming, existing, f"NetworkPolicy {namespace}/{name}")
        uid = str(existing["metadata"].get("uid") or "") or None
        return self.api.delete(NETWORK_POLICIES, name, namespace, uid=uid)


def _same_policy(existing: Mapping[str, Any], wanted: Mapping[str, Any]) -> bool:
    """True when ``existing`` already is ``wanted`` (spec, labels and annotations)."""
    have, want = existing.get("metadata") or {}, wanted.get("metadata") or {}
    return (
        existing.get("spec") == wanted.get("spec")
        and (have.get("labels") or {}) == (want.get("labels") or {})
        and (have.get("annotations") or {}) == (want.get("annotations") or {})
    )
