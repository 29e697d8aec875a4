"""The API calls a run makes, as plain dictionaries, with errors that say what to do.

Objects go in and come out as API-shaped dicts (``_preload_content=False``), so
the rest of the backend reads exactly what the server sent. Every failure
becomes a :class:`~service.errors.ClusterError` subclass whose message names
the call: a 403 from RBAC names the missing permission (verb, resource, API
group, namespace), a 403 from admission or quota says what refused it, a 401
points at the credentials (never showing them).

Calls are counted per (verb, resource) for reports and benchmarks.
"""

from __future__ import annotations

import json
import re
import threading
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from kubernetes import client
from kubernetes.client.exceptions import ApiException
from urllib3.exceptions import HTTPError

from service.cluster.kubernetes.config import Connection, redact
from service.errors import ClusterError

__all__ = [
    "CLUSTER_INFORMATIONS",
    "DAEMON_SETS",
    "EVENTS",
    "NAMESPACES",
    "NETWORK_POLICIES",
    "PODS",
    "SERVICES",
    "ConflictError",
    "ForbiddenError",
    "InvalidObjectError",
    "Kind",
    "KubeApi",
    "NotFoundError",
    "RefusedError",
    "UnreachableError",
    "forbidden_message",
]

RBAC_HINT = "deploy/rbac.yaml grants what a run needs"
REQUEST_TIMEOUT_S = 30.0
_RBAC_DENIAL = re.compile(r"cannot \S+ resource")


@dataclass(frozen=True, slots=True)
class Kind:
    """A resource as RBAC names it: plural, API group, and whether it is namespaced."""

    resource: str
    group: str = ""
    version: str = "v1"
    namespaced: bool = True

    @property
    def qualified(self) -> str:
        return f"{self.resource}.{self.group}" if self.group else self.resource

    @property
    def custom(self) -> bool:
        """Served outside the client's typed APIs (Calico's, the admin policies'): through
        CustomObjectsApi."""
        return self.group not in _TYPED_GROUPS


_TYPED_GROUPS = frozenset({"", "networking.k8s.io", "apps"})
NAMESPACES = Kind("namespaces", namespaced=False)
PODS = Kind("pods")
PODS_EXEC = Kind("pods/exec")
SERVICES = Kind("services")
EVENTS = Kind("events")
NETWORK_POLICIES = Kind("networkpolicies", group="networking.k8s.io")
DAEMON_SETS = Kind("daemonsets", group="apps")
CLUSTER_INFORMATIONS = Kind("clusterinformations", group="crd.projectcalico.org", namespaced=False)


class ForbiddenError(ClusterError):
    """RBAC denied a call: the message names the permission to grant."""


class RefusedError(ClusterError):
    """The API refused a call for another reason (quota, admission, a terminating namespace)."""


class ConflictError(ClusterError):
    """409: the object exists already, or changed since it was read."""


class InvalidObjectError(ClusterError):
    """422/400: the API server rejected the object as invalid."""


class UnreachableError(ClusterError):
    """The API server could not be reached or did not accept the credentials."""


def forbidden_message(
    *, verb: str, kind: Kind, namespace: str | None, server_message: str = ""
) -> str:
    where = f"in namespace {namespace}" if namespace else "at cluster scope"
    group = f'API group "{kind.group}"' if kind.group else 'the core API group ("")'
    said = f" (the API server said: {server_message})" if server_message else ""
    return (
        f"forbidden: netpol-drift needs permission to {verb} {kind.resource} in {group} "
        f"{where}; {RBAC_HINT}{said}"
    )


class KubeApi:
    """The calls a run makes, through the official client, answering plain dicts."""

    def __init__(self, connection: Connection) -> None:
        self.connection = connection
        self._client = connection.new_client()
        self._core = client.CoreV1Api(self._client)
        self._networking = client.NetworkingV1Api(self._client)
        self._apps = client.AppsV1Api(self._client)
        self._custom = client.CustomObjectsApi(self._client)
        self._version = client.VersionApi(self._client)
        self._lock = threading.Lock()
        self.calls: Counter[tuple[str, str]] = Counter()

    def close(self) -> None:
        """Close the client's pooled connections; the object is unusable afterwards."""
        self._client.close()

    def count(self, verb: str, kind: Kind) -> None:
        # Custom kinds by their qualified name: Calico's networkpolicies are not Kubernetes'.
        with self._lock:
            self.calls[(verb, kind.qualified if kind.custom else kind.resource)] += 1

    # --- verbs -------------------------------------------------------------------------

    def create(self, kind: Kind, body: Mapping[str, Any]) -> dict[str, Any]:
        namespace = _namespace_of(body) if kind.namespaced else None
        name = str(body.get("metadata", {}).get("name", ""))
        if kind.custom:
            method, args = self._custom_method("create", kind, namespace)
        else:
            method, args = self._method("create", kind), (namespace,) if kind.namespaced else ()
        return self._call(
            "create", kind, name, namespace, lambda **kw: method(*args, body=dict(body), **kw)
        )

    def read(self, kind: Kind, name: str, namespace: str | None = None) -> dict[str, Any] | None:
        """The object, or None when it does not exist."""
        try:
            return self._read(kind, name, namespace)
        except NotFoundError:
            return None

    def list(
        self,
        kind: Kind,
        namespace: str | None = None,
        *,
        label_selector: str | None = None,
        field_selector: str | None = None,
    ) -> list[dict[str, Any]]:
        if kind.custom:
            method, args = self._custom_method("list", kind, namespace)
        else:
            method, args = self._method("list", kind), (namespace,) if kind.namespaced else ()
        kwargs: dict[str, Any] = {}
        if label_selector:
            kwargs["label_selector"] = label_selector
        if field_selector:
            kwargs["field_selector"] = field_selector
        answer = self._call("list", kind, "", namespace, lambda **kw: method(*args, **kwargs, **kw))
        items = answer.get("items") or []
        return [i for i in items if isinstance(i, dict)]

    def replace(self, kind: Kind, body: Mapping[str, Any]) -> dict[str, Any]:
        namespace = _namespace_of(body) if kind.namespaced else None
        name = str(body.get("metadata", {}).get("name", ""))
        if kind.custom:
            method, args = self._custom_method("replace", kind, namespace, name)
        else:
            method = self._method("replace", kind)
            args = (name, namespace) if kind.namespaced else (name,)
        return self._call(
            "update", kind, name, namespace, lambda **kw: method(*args, body=dict(body), **kw)
        )

    def delete(
        self, kind: Kind, name: str, namespace: str | None = None, *, uid: str | None = None
    ) -> bool:
        """Delete ``name``; with ``uid``, only that very object. False when already gone."""
        if kind.custom:
            method, args = self._custom_method("delete", kind, namespace, name)
        else:
            method = self._method("delete", kind)
            args = (name, namespace) if kind.namespaced else (name,)
        body: dict[str, Any] = {"propagationPolicy": "Background"}
        if uid is not None:
            body["preconditions"] = {"uid": uid}
        try:
            self._call("delete", kind, name, namespace, lambda **kw: method(*args, body=body, **kw))
        except NotFoundError:
            return False
        return True

    def version(self) -> dict[str, Any]:
        return self._call(
            "get", Kind("version", namespaced=False), "", None, self._version.get_code
        )

    # --- plumbing ----------------------------------------------------------------------

    def _read(self, kind: Kind, name: str, namespace: str | None) -> dict[str, Any]:
        if kind.custom:
            method, args = self._custom_method("get", kind, namespace, name)
            return self._call("get", kind, name, namespace, lambda **kw: method(*args, **kw))
        read = self._method("read", kind)
        given: tuple[Any, ...] = (name, namespace) if kind.namespaced else (name,)
        return self._call("get", kind, name, namespace, lambda **kw: read(*given, **kw))

    def _custom_method(
        self, verb: str, kind: Kind, namespace: str | None, name: str | None = None
    ) -> tuple[Callable[..., Any], tuple[Any, ...]]:
        """CustomObjectsApi's method for ``verb`` on ``kind`` and its positional arguments."""
        scope = "namespaced" if kind.namespaced and namespace is not None else "cluster"
        method: Callable[..., Any] = getattr(self._custom, f"{verb}_{scope}_custom_object")
        args: tuple[Any, ...] = (kind.group, kind.version)
        if scope == "namespaced":
            args += (namespace,)
        args += (kind.resource,)
        if name is not None:
            args += (name,)
        return method, args

    def _method(self, verb: str, kind: Kind) -> Callable[..., Any]:
        api, suffix = _METHODS[kind.resource]
        scope = "namespaced_" if kind.namespaced else ""
        target = {
            "core": self._core,
            "networking": self._networking,
            "apps": self._apps,
        }[api]
        method: Callable[..., Any] = getattr(target, f"{verb}_{scope}{suffix}")
        return method

    def _call(
        self,
        verb: str,
        kind: Kind,
        name: str,
        namespace: str | None,
        call: Callable[..., Any],
    ) -> dict[str, Any]:
        self.count(verb, kind)
        try:
            response = _with_raw_answer(call)
        except ApiException as err:
            raise _translate(err, verb=verb, kind=kind, name=name, namespace=namespace) from err
        except HTTPError as err:
            raise UnreachableError(
                f"cannot reach the API server at {self.connection.server}: {redact(str(err))}"
            ) from err
        return response


class NotFoundError(ClusterError):
    """404: the object, or the API serving its kind, does not exist."""


_METHODS: dict[str, tuple[str, str]] = {
    "namespaces": ("core", "namespace"),
    "pods": ("core", "pod"),
    "services": ("core", "service"),
    "events": ("core", "event"),
    "networkpolicies": ("networking", "network_policy"),
    "daemonsets": ("apps", "daemon_set"),
}


def _with_raw_answer(call: Callable[..., Any]) -> dict[str, Any]:
    """Run a generated client call and decode the JSON it answered, undeserialized."""
    response = call(_preload_content=False, _request_timeout=REQUEST_TIMEOUT_S)
    data = response.data if hasattr(response, "data") else response
    if not data:
        return {}
    decoded = json.loads(data)
    return decoded if isinstance(decoded, dict) else {}


def _namespace_of(body: Mapping[str, Any]) -> str:
    namespace = body.get("metadata", {}).get("namespace")
    if not isinstance(namespace, str) or not namespace:
        raise ValueError("a namespaced object needs metadata.namespace")
    return namespace


def _status_message(err: ApiException) -> str:
    body: object = err.body
    if isinstance(body, bytes):
        body = body.decode("utf-8", "replace")
    if isinstance(body, str) and body:
        try:
            status = json.loads(body)
        except ValueError:
            return redact(body.strip()[:500])
        if isinstance(status, dict) and isinstance(status.get("message"), str):
            return redact(status["message"])
    return redact(str(err.reason or ""))


def _translate(
    err: ApiException, *, verb: str, kind: Kind, name: str, namespace: str | None
) -> ClusterError:
    message = _status_message(err)
    what = f"{kind.qualified} {name}".strip()
    where = f" in namespace {namespace}" if namespace else ""
    match err.status:
        case 403 if _RBAC_DENIAL.search(message) or not message:
            return ForbiddenError(
                forbidden_message(verb=verb, kind=kind, namespace=namespace, server_message=message)
            )
        case 403:
            return RefusedError(f"the API server refused to {verb} {what}{where}: {message}")
        case 401:
            return UnreachableError(
                "the API server rejected the credentials (401 Unauthorized): check the "
                "kubeconfig and context, or the service account"
            )
        case 404:
            return NotFoundError(f"{what}{where} not found: {message}")
        case 409:
            return ConflictError(f"cannot {verb} {what}{where}: {message}")
        case 400 | 422:
            return InvalidObjectError(
                f"the API server rejected {what}{where} as invalid: {message}"
            )
        case 0:
            return UnreachableError(f"cannot reach the API server: {message}")
        case _:
            return ClusterError(
                f"cannot {verb} {what}{where}: the API server answered {err.status}: {message}"
            )
