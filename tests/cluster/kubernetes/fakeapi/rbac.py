"""Authorization as the fake API server applies it: RBAC-style 403s, and Calico's tiers.

A request is refused when :meth:`Behaviour.forbids` says so for its verb,
resource (``pods/exec`` for a subresource) and namespace; the 403 is worded as
the real API server words it, since the backend turns it into an error naming
the permission to grant. Calico's tiered RBAC asks more of a request on a
tiered policy (:func:`~.calico.tier_checks`); each check that passes is
handed to ``on_pass`` as it passes, so tests see what was asked.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from tests.cluster.kubernetes.fakeapi.behaviour import Behaviour
from tests.cluster.kubernetes.fakeapi.calico import CALICO_RESOURCES, split, tier_checks
from tests.cluster.kubernetes.fakeapi.routes import GROUPS, Route
from tests.cluster.kubernetes.fakeapi.store import ApiError, Store

__all__ = ["authorize", "forbidden"]

CALICO_GROUP = "projectcalico.org"


def authorize(
    behaviour: Behaviour,
    store: Store,
    *,
    verb: str,
    route: Route,
    body: dict[str, Any],
    on_pass: Callable[[str, str, str], None],
) -> None:
    """Raise the 403 the request earns, if any; Calico's tier checks that pass go to
    ``on_pass`` as (verb, resource, API group)."""
    resource = f"{route.resource}/{route.sub}" if route.sub else route.resource
    namespace = route.scoped_namespace if route.resource != "namespaces" else None
    group = GROUPS.get(route.resource, "")
    qualified = None
    if route.resource in CALICO_RESOURCES:
        qualified = route.resource
        resource, group = split(route.resource)
    if behaviour.forbids(
        verb, resource, namespace, group=group, name=route.name, qualified=qualified
    ):
        raise forbidden(behaviour.user, verb, resource, namespace, group)
    for check_verb, checked, name in tier_checks(store, verb, route.resource, route.name, body):
        if behaviour.forbids(
            check_verb, checked, namespace, group=CALICO_GROUP, name=name,
            qualified=f"{checked}.{CALICO_GROUP}",
        ):  # fmt: skip
            raise forbidden(behaviour.user, check_verb, checked, namespace, CALICO_GROUP)
        on_pass(check_verb, checked, CALICO_GROUP)


def forbidden(
    user: str, verb: str, resource: str, namespace: str | None, group: str | None = None
) -> ApiError:
    """The API server's 403 for ``user`` lacking ``verb`` on ``resource``."""
    group = GROUPS.get(resource.split("/")[0], "") if group is None else group
    where = f'in the namespace "{namespace}"' if namespace else "at the cluster scope"
    return ApiError(
        403,
        "Forbidden",
        f'{resource} is forbidden: User "{user}" cannot {verb} resource "{resource}" in API '
        f'group "{group}" {where}',
        {"kind": resource},
    )
