"""Calico objects for the Kubernetes backend's tests, from manifests as a user writes them."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from service.policy.calico.parse import parse_calico_entry
from service.scenario.model import PolicyVersion

__all__ = ["BUILTIN", "GNPS", "NO_PRODUCTION", "RUN", "SECURITY_TIER", "TIERS", "calico", "version"]

# The run id of tests.cluster.kubernetes.conftest.FAST, as its names start.
RUN = "npd-t3st01-"
GNPS = "globalnetworkpolicies.projectcalico.org"
TIERS = "tiers.projectcalico.org"
BUILTIN = {"default", "kube-admin", "kube-baseline"}


def calico(kind: str, name: str, spec: Mapping[str, Any], **meta: Any) -> Any:
    api = "projectcalico.org/v3"
    if kind in ("AdminNetworkPolicy", "BaselineAdminNetworkPolicy"):
        api = "policy.networking.k8s.io/v1alpha1"
    manifest = {"apiVersion": api, "kind": kind, "metadata": {"name": name, **meta}}
    if spec:
        manifest["spec"] = dict(spec)
    return parse_calico_entry(manifest)


def version(name: str, *policies: Any) -> PolicyVersion:
    return PolicyVersion(name=name, policies=policies, content_hash=f"hash-of-{name}")


SECURITY_TIER = calico("Tier", "security", {"order": 100})
NO_PRODUCTION = calico(
    "GlobalNetworkPolicy",
    "security.no-production-to-dev-backend",
    {
        "tier": "security",
        "order": 10,
        "namespaceSelector": "purpose == 'development'",
        "selector": "role == 'backend'",
        "types": ["Ingress"],
        "ingress": [
            {"action": "Deny", "source": {"namespaceSelector": "purpose == 'production'"}},
            {"action": "Pass"},
        ],
    },
)
