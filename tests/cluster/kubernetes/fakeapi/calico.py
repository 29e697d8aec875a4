"""Calico's API in the fake: projectcalico.org/v3 and the admin policies, with Calico's rules.

What Calico's API server (and libcalico-go behind it) enforces, as the fake does:

- objects are validated as the engine validates them (:func:`parse_calico`,
  which follows libcalico-go's v3 validator): 422 with the field and message;
- a (Staged)(Global)NetworkPolicy names a tier that must exist: 404 on the tier
  otherwise (clientv3 reads the tier before creating the policy);
- before v3.30 (:attr:`Behaviour.calico_tier_prefix`) a policy of tier ``T``
  other than ``default`` must be named ``T.<name>``, and one of tier
  ``default`` either ``<name>`` or ``default.<name>`` (names.ValidateTieredPolicyName):
  422 "Incorrectly formatted policy name";
- the server labels tiered policies with ``projectcalico.org/tier``;
- tiers ``default``, ``kube-admin`` and ``kube-baseline`` exist and cannot be
  deleted, and a tier holding policies cannot be deleted: 400;
- tiered RBAC: a request on a tiered policy also needs ``get`` on its tier and
  the verb on ``tier.<plural>`` (:func:`tier_checks`), which the server checks
  against the RBAC grants and records in :attr:`FakeApiServer.authorizations`.

Without :attr:`Behaviour.calico_api` the cluster serves none of it (404), as a
cluster without Calico's API server.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping
from typing import TYPE_CHECKING, Any

from service.errors import InvalidInput
from service.policy.calico.model import BUILTIN_TIERS
from service.policy.calico.parse import parse_calico

if TYPE_CHECKING:
    from tests.cluster.kubernetes.fakeapi.store import Store

__all__ = [
    "BUILTIN_TIERS",
    "CALICO_RESOURCES",
    "CALICO_ROUTES",
    "POLICY_RESOURCES",
    "TIERS",
    "admit_create",
    "admit_delete",
    "builtin_tiers",
    "calico_causes",
    "split",
    "tier_checks",
]

Obj = dict[str, Any]
TIER_LABEL = "projectcalico.org/tier"
_V3 = "projectcalico.org/v3"
_ADMIN1 = "policy.networking.k8s.io/v1alpha1"
_ADMIN2 = "policy.networking.k8s.io/v1alpha2"

# id (plural.group) -> (apiVersion, kind, namespaced)
CALICO_RESOURCES: dict[str, tuple[str, str, bool]] = {
    "networkpolicies.projectcalico.org": (_V3, "NetworkPolicy", True),
    "stagednetworkpolicies.projectcalico.org": (_V3, "StagedNetworkPolicy", True),
    "stagedkubernetesnetworkpolicies.projectcalico.org": (
        _V3,
        "StagedKubernetesNetworkPolicy",
        True,
    ),
    "networksets.projectcalico.org": (_V3, "NetworkSet", True),
    "globalnetworkpolicies.projectcalico.org": (_V3, "GlobalNetworkPolicy", False),
    "stagedglobalnetworkpolicies.projectcalico.org": (_V3, "StagedGlobalNetworkPolicy", False),
    "globalnetworksets.projectcalico.org": (_V3, "GlobalNetworkSet", False),
    "tiers.projectcalico.org": (_V3, "Tier", False),
    "adminnetworkpolicies.policy.networking.k8s.io": (_ADMIN1, "AdminNetworkPolicy", False),
    "baselineadminnetworkpolicies.policy.networking.k8s.io": (
        _ADMIN1,
        "BaselineAdminNetworkPolicy",
        False,
    ),
    "clusternetworkpolicies.policy.networking.k8s.io": (_ADMIN2, "ClusterNetworkPolicy", False),
}
_SEGMENT = r"([^/]+)"
# Calico's API server and the admin policies; the server names their resources plural.group.
CALICO_ROUTES: tuple[tuple[re.Pattern[str], tuple[str, ...]], ...] = (
    (
        re.compile(
            rf"^/apis/(projectcalico\.org)/v3/namespaces/{_SEGMENT}/([a-z]+)(?:/{_SEGMENT})?$"
        ),
        ("group", "namespace", "resource", "name"),
    ),
    (
        re.compile(
            r"^/apis/(projectcalico\.org|policy\.networking\.k8s\.io)/v[0-9a-z]+/([a-z]+)"
            r"(?:/([^/]+))?$"
        ),
        ("group", "resource", "name"),
    ),
)
# What the dataplane enforces (a snapshot is taken whenever one of them changes).
POLICY_RESOURCES = frozenset({"networkpolicies", *CALICO_RESOURCES})
TIERS = "tiers.projectcalico.org"
_TIERED = frozenset(
    {
        "networkpolicies.projectcalico.org",
        "stagednetworkpolicies.projectcalico.org",
        "globalnetworkpolicies.projectcalico.org",
        "stagedglobalnetworkpolicies.projectcalico.org",
    }
)
_ENFORCED_TIERED = ("networkpolicies.projectcalico.org", "globalnetworkpolicies.projectcalico.org")


def split(resource: str) -> tuple[str, str]:
    """(plural, API group) of a resource id: ``tiers.projectcalico.org`` -> (tiers, ...)."""
    if resource in CALICO_RESOURCES:
        plural, _, group = resource.partition(".")
        return plural, group
    return resource, ""


def calico_causes(obj: Mapping[str, Any]) -> list[dict[str, str]]:
    """422 causes of a Calico or admin object, from the engine's API-server validation."""
    try:
        parse_calico(obj)
    except InvalidInput as err:
        return [
            {"reason": "FieldValueInvalid", "message": p.message, "field": str(p.path)}
            for p in err.problems
        ]
    return []


def builtin_tiers(next_rv: Callable[[], str]) -> Iterator[tuple[str, Obj]]:
    """The tiers every Calico cluster has, by name."""
    for name, tier in BUILTIN_TIERS.items():
        yield (
            name,
            {
                "apiVersion": _V3,
                "kind": "Tier",
                "metadata": {"name": name, "uid": f"tier-{name}", "resourceVersion": next_rv()},
                "spec": {"order": tier.order, "defaultAction": str(tier.default_action)},
            },
        )


def admit_create(store: Store, resource: str, obj: Obj) -> None:
    """Calico's checks of a new or replaced object (tier exists, tiered names); adds the
    tier label."""
    if resource not in _TIERED:
        return
    from tests.cluster.kubernetes.fakeapi.store import ApiError

    spec = obj.get("spec") or {}
    tier = str(spec.get("tier") or "default")
    name = str(obj["metadata"].get("name", ""))
    if not any(t["metadata"]["name"] == tier for t in store.all(TIERS)):
        raise ApiError(
            404,
            "NotFound",
            f'tiers.projectcalico.org "{tier}" not found',
            {"name": tier, "group": "projectcalico.org", "kind": "tiers"},
        )
    if store.behaviour.calico_tier_prefix:
        dotted = "." in name
        well_formed = (
            name.startswith(f"{tier}.")
            if tier != "default"
            else not dotted or name.startswith("default.")
        )
        if not well_formed:
            raise ApiError(
                422,
                "Invalid",
                f"Incorrectly formatted policy name {name}: a policy of tier {tier!r} must be "
                f"named {tier}.<name>",
                {"name": name, "kind": resource},
            )
    obj["metadata"].setdefault("labels", {})[TIER_LABEL] = tier


def admit_delete(store: Store, resource: str, name: str) -> None:
    """Built-in tiers cannot be deleted, nor a tier that still holds policies."""
    if resource != TIERS:
        return
    from tests.cluster.kubernetes.fakeapi.store import ApiError

    if name in BUILTIN_TIERS:
        raise ApiError(400, "BadRequest", f"Cannot delete {name} tier")
    for held in _ENFORCED_TIERED:
        for policy in store.all(held):
            if str((policy.get("spec") or {}).get("tier") or "default") == name:
                raise ApiError(
                    400,
                    "BadRequest",
                    f"Cannot delete a non-empty tier: {name} holds {policy['metadata']['name']}",
                )


def tier_checks(
    store: Store, verb: str, resource: str, name: str | None, body: Obj
) -> list[tuple[str, str, str | None]]:
    """What Calico's tiered RBAC asks of the user besides the request itself, as
    (verb, resource, resource name): ``get`` on the policy's tier, and the verb on
    ``tier.<plural>`` for ``<tier>.*``. A list asks for ``list`` on ``tier.<plural>``."""
    if resource not in _TIERED:
        return []
    plural, _ = split(resource)
    if verb == "list":
        return [(verb, f"tier.{plural}", None)]
    name = name or str((body.get("metadata") or {}).get("name") or "")
    if not name:
        return []
    tier = str((body.get("spec") or {}).get("tier") or "")
    if not tier:
        stored = [o for o in store.all(resource) if o["metadata"]["name"] == name]
        spec = stored[0].get("spec") or {} if stored else {}
        tier = str(spec.get("tier") or "") or (name.split(".", 1)[0] if "." in name else "default")
    return [("get", "tiers", tier), (verb, f"tier.{plural}", f"{tier}.*")]
