"""The fake API server's URL space: which path names which resource, and the RBAC verb.

Paths are matched as the real API server lays them out (core ``/api/v1``,
named groups under ``/apis``, Calico's and the admin policies' groups from
:mod:`.calico`); a path that names nothing the fake serves is no route (404).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import unquote

from tests.cluster.kubernetes.fakeapi.calico import CALICO_RESOURCES, CALICO_ROUTES

__all__ = ["GROUPS", "Route", "route", "verb"]

# The API group of each resource outside the core group and Calico's (RBAC names it).
GROUPS = {
    "networkpolicies": "networking.k8s.io",
    "daemonsets": "apps",
    "clusterinformations": "crd.projectcalico.org",
}
_SEGMENT = r"([^/]+)"
_ROUTES: tuple[tuple[re.Pattern[str], tuple[str, ...]], ...] = (
    (re.compile(r"^/api/v1/(namespaces)(?:/([^/]+))?$"), ("resource", "name")),
    (
        re.compile(
            rf"^/api/v1/namespaces/{_SEGMENT}/(pods|services|events)(?:/{_SEGMENT})?(?:/(exec))?$"
        ),
        ("namespace", "resource", "name", "sub"),
    ),
    (re.compile(r"^/api/v1/(pods|services|events)$"), ("resource",)),
    (
        re.compile(
            rf"^/apis/networking\.k8s\.io/v1/namespaces/{_SEGMENT}/(networkpolicies)(?:/{_SEGMENT})?$"
        ),
        ("namespace", "resource", "name"),
    ),
    (re.compile(r"^/apis/networking\.k8s\.io/v1/(networkpolicies)$"), ("resource",)),
    (
        re.compile(rf"^/apis/apps/v1/namespaces/{_SEGMENT}/(daemonsets)(?:/{_SEGMENT})?$"),
        ("namespace", "resource", "name"),
    ),
    (
        re.compile(r"^/apis/crd\.projectcalico\.org/v1/(clusterinformations)(?:/([^/]+))?$"),
        ("resource", "name"),
    ),
    *CALICO_ROUTES,
)


@dataclass(frozen=True, slots=True)
class Route:
    """What a path names: a resource (``plural.group`` for Calico's), maybe one object of
    it in a namespace, maybe a subresource (``exec``)."""

    resource: str
    namespace: str | None
    name: str | None
    sub: str | None

    @property
    def scoped_namespace(self) -> str | None:
        """The namespace the request is about (a namespace's own name, for namespaces)."""
        if self.resource == "namespaces":
            return self.name
        return self.namespace


def route(path: str) -> Route | None:
    """The route of ``path``; None when the fake serves nothing there."""
    for pattern, names in _ROUTES:
        found = pattern.match(path)
        if found is not None:
            values = dict(zip(names, found.groups(), strict=True))
            resource = str(values["resource"])
            if values.get("group"):
                resource = f"{resource}.{values['group']}"
                if resource not in CALICO_RESOURCES:
                    return None
            return Route(
                resource=resource,
                namespace=unquote(values["namespace"]) if values.get("namespace") else None,
                name=unquote(values["name"]) if values.get("name") else None,
                sub=values.get("sub"),
            )
    return None


def verb(method: str, route: Route | None) -> str:
    """The RBAC verb of a request (an exec is ``create`` on ``pods/exec``)."""
    if route is not None and route.sub == "exec":
        return "create"
    if method == "GET":
        return "get" if route is not None and route.name is not None else "list"
    return {"POST": "create", "PUT": "update", "DELETE": "delete", "PATCH": "patch"}.get(
        method, method.lower()
    )
