"""The fake API server's objects and the rules the real one enforces on them.

One global resourceVersion counter (as etcd's revision); uids; creation
timestamps; 422 for invalid objects, 409 for an existing name, a stale
resourceVersion or a failed uid precondition, 404 for what does not exist,
403 for new objects in a terminating namespace. Namespaces carry
``kubernetes.io/metadata.name``; deleting one deletes what is in it (after
``termination_delay_s``, during which it is Terminating).

Pods get an IP when created; their status and events are what a kubelet and
scheduler would write (:mod:`.kubelet`). Services get a ClusterIP. Every change
of NetworkPolicies appends a snapshot to :attr:`Store.policy_history`, which
the dataplane reads (with its enforcement delay). A new store holds what every
cluster has before a run (:mod:`.seed`).
"""

from __future__ import annotations

import copy
import itertools
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from typing import Any

from service.policy.model import NAMESPACE_NAME_LABEL
from tests.cluster.kubernetes.fakeapi import calico, chaos, kubelet, seed
from tests.cluster.kubernetes.fakeapi.behaviour import Behaviour
from tests.cluster.kubernetes.fakeapi.kubelet import now_text
from tests.cluster.kubernetes.fakeapi.seed import KUBE_DNS_IP, KUBE_SYSTEM_UID
from tests.cluster.kubernetes.fakeapi.selectors import SelectorError, field_matcher, label_matcher
from tests.cluster.kubernetes.fakeapi.validation import validate

# The seed's addresses are re-exported: the dataplane and tests import them from here.
__all__ = ["KUBE_DNS_IP", "KUBE_SYSTEM_UID", "RESOURCES", "ApiError", "Store"]

Obj = dict[str, Any]
Key = tuple[str, str]

# resource -> (apiVersion, kind, namespaced)
RESOURCES: dict[str, tuple[str, str, bool]] = {
    "namespaces": ("v1", "Namespace", False),
    "pods": ("v1", "Pod", True),
    "services": ("v1", "Service", True),
    "events": ("v1", "Event", True),
    "networkpolicies": ("networking.k8s.io/v1", "NetworkPolicy", True),
    "daemonsets": ("apps/v1", "DaemonSet", True),
    "clusterinformations": ("crd.projectcalico.org/v1", "ClusterInformation", False),
    **calico.CALICO_RESOURCES,
}


class ApiError(Exception):
    """An error answer: becomes a v1 Status with this code."""

    def __init__(self, code: int, reason: str, message: str, details: Obj | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.reason = reason
        self.message = message
        self.details = details or {}

    def status(self) -> Obj:
        return {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.message,
            "reason": self.reason,
            "details": self.details,
            "code": self.code,
        }


class Store:
    def __init__(self, behaviour: Behaviour, clock: Callable[[], float] = time.monotonic) -> None:
        self.behaviour = behaviour
        self.clock = clock
        self.lock = threading.RLock()
        self._rv = 1000
        self._objects: dict[str, dict[Key, Obj]] = {r: {} for r in RESOURCES}
        self._born: dict[tuple[str, str, str], float] = {}
        self._terminating: dict[str, float] = {}
        self._pod_ips = itertools.count(2)
        self._service_ips = itertools.count(20)
        self.policy_history: list[tuple[float, tuple[Obj, ...]]] = [(clock(), ())]
        # Bumped on every change the dataplane's view depends on (pods, namespaces, Services).
        self.topology = 0
        self._seed()

    # --- public verbs --------------------------------------------------------------------

    def create(self, resource: str, namespace: str | None, body: Obj) -> Obj:
        with self.lock:
            self._reap()
            obj = copy.deepcopy(body)
            meta = obj.setdefault("metadata", {})
            if not isinstance(meta, dict):
                raise ApiError(400, "BadRequest", "metadata must be an object")
            if RESOURCES[resource][2]:
                assert namespace is not None
                given = meta.get("namespace")
                if given not in (None, namespace):
                    raise ApiError(
                        400,
                        "BadRequest",
                        "the namespace of the provided object does not match the namespace "
                        "sent on the request",
                    )
                meta["namespace"] = namespace
                self._require_namespace(namespace, creating=True)
            self._check_kind(resource, obj)
            name = str(meta.get("name") or "")
            self._validate(resource, obj, name)
            key = (namespace or "", name)
            if key in self._objects[resource]:
                raise ApiError(
                    409,
                    "AlreadyExists",
                    f'{resource} "{name}" already exists',
                    {"name": name, "kind": resource},
                )
            self._admit(resource, obj, name, namespace)
            calico.admit_create(self, resource, obj)
            meta["uid"] = str(uuid.uuid4())
            meta["creationTimestamp"] = now_text()
            meta["resourceVersion"] = self._next_rv()
            if resource == "namespaces":
                meta.setdefault("labels", {})[NAMESPACE_NAME_LABEL] = name
                obj["status"] = {"phase": "Active"}
                self.topology += 1
            elif resource == "pods":
                self._new_pod(obj, namespace or "", name)
            elif resource == "services":
                obj["spec"]["clusterIP"] = self._next_service_ip()
                self.topology += 1
            self._objects[resource][key] = obj
            self._born[(resource, key[0], name)] = self.clock()
            if resource in calico.POLICY_RESOURCES:
                self._record_policies()
            return self._view(resource, obj)

    def get(self, resource: str, namespace: str | None, name: str) -> Obj:
        with self.lock:
            self._reap()
            obj = self._objects[resource].get((namespace or "", name))
            if obj is None:
                raise _not_found(resource, name)
            return self._view(resource, obj)

    def select(
        self,
        resource: str,
        namespace: str | None,
        *,
        label_selector: str | None = None,
        field_selector: str | None = None,
    ) -> Obj:
        try:
            labels = label_matcher(label_selector)
            fields = field_matcher(field_selector)
        except SelectorError as err:
            raise ApiError(400, "BadRequest", f"unable to parse requirement: {err}") from err
        with self.lock:
            self._reap()
            items = []
            for (ns, _), obj in sorted(self._objects[resource].items()):
                if namespace is not None and ns != namespace:
                    continue
                view = self._view(resource, obj)
                if labels(view["metadata"].get("labels") or {}) and fields(view):
                    items.append(view)
            api_version, kind, _ = RESOURCES[resource]
            return {
                "kind": f"{kind}List",
                "apiVersion": api_version,
                "metadata": {"resourceVersion": str(self._rv)},
                "items": items,
            }

    def replace(self, resource: str, namespace: str | None, name: str, body: Obj) -> Obj:
        with self.lock:
            self._reap()
            key = (namespace or "", name)
            current = self._objects[resource].get(key)
            if current is None:
                raise _not_found(resource, name)
            obj = copy.deepcopy(body)
            meta = obj.setdefault("metadata", {})
            if meta.get("name") != name:
                raise ApiError(
                    400, "BadRequest", "the name of the object does not match the name on the URL"
                )
            self._check_kind(resource, obj)
            self._validate(resource, obj, name)
            given = meta.get("resourceVersion")
            if given != current["metadata"]["resourceVersion"]:
                raise ApiError(
                    409,
                    "Conflict",
                    f'Operation cannot be fulfilled on {resource} "{name}": the object has been '
                    f"modified; please apply your changes to the latest version and try again",
                )
            if namespace is not None:
                meta["namespace"] = namespace
            calico.admit_create(self, resource, obj)
            meta["uid"] = current["metadata"]["uid"]
            meta["creationTimestamp"] = current["metadata"]["creationTimestamp"]
            meta["resourceVersion"] = self._next_rv()
            if resource == "namespaces":
                meta.setdefault("labels", {})[NAMESPACE_NAME_LABEL] = name
                obj["status"] = current.get("status", {})
            if resource == "pods":
                # The kubelet's side of a pod (its IP, when it started) survives a replace.
                obj["_fake"] = current.get("_fake")
            if resource in ("pods", "namespaces"):
                self.topology += 1  # their labels are what selectors see
            self._objects[resource][key] = obj
            if resource in calico.POLICY_RESOURCES:
                self._record_policies()
            return self._view(resource, obj)

    def delete(self, resource: str, namespace: str | None, name: str, options: Obj) -> Obj:
        with self.lock:
            self._reap()
            key = (namespace or "", name)
            current = self._objects[resource].get(key)
            if current is None:
                raise _not_found(resource, name)
            wanted = (options.get("preconditions") or {}).get("uid")
            actual = current["metadata"]["uid"]
            if wanted is not None and wanted != actual:
                raise ApiError(
                    409,
                    "Conflict",
                    f"Precondition failed: UID in precondition: {wanted}, UID in object meta: "
                    f"{actual}",
                )
            if resource == "namespaces":
                return self._delete_namespace(name, current)
            calico.admit_delete(self, resource, name)
            if resource == "pods":
                chaos.on_pod_delete(self, current)
            del self._objects[resource][key]
            if resource in calico.POLICY_RESOURCES:
                self._record_policies()
            if resource in ("pods", "services"):
                self.topology += 1
            return self._view(resource, current)

    # --- what the dataplane and tests read ---------------------------------------------------

    def all(self, resource: str) -> list[Obj]:
        with self.lock:
            self._reap()
            return [self._view(resource, o) for _, o in sorted(self._objects[resource].items())]

    def policies_in_force(self, at: float) -> tuple[int, tuple[Obj, ...]]:
        """The policy snapshot the dataplane enforces at ``at`` and its index in the history."""
        cutoff = at - self.behaviour.enforcement_delay_s
        with self.lock:
            index = 0
            for i, (when, _) in enumerate(self.policy_history):
                if when <= cutoff:
                    index = i
            return index, self.policy_history[index][1]

    # --- internals -----------------------------------------------------------------------

    def _next_rv(self) -> str:
        self._rv += 1
        return str(self._rv)

    def _next_service_ip(self) -> str:
        n = next(self._service_ips)
        return f"10.96.{n // 250}.{n % 250 + 1}"

    def _check_kind(self, resource: str, obj: Obj) -> None:
        api_version, kind, _ = RESOURCES[resource]
        if obj.get("kind") not in (None, kind) or obj.get("apiVersion") not in (None, api_version):
            raise ApiError(
                400,
                "BadRequest",
                f"the body is a {obj.get('apiVersion')}/{obj.get('kind')}, not a "
                f"{api_version}/{kind}",
            )
        obj["kind"], obj["apiVersion"] = kind, api_version

    def _validate(self, resource: str, obj: Obj, name: str) -> None:
        causes = validate(resource, obj)
        if causes:
            _, kind, _ = RESOURCES[resource]
            text = "; ".join(f"{c['field']}: {c['message']}" for c in causes)
            raise ApiError(
                422,
                "Invalid",
                f'{kind} "{name}" is invalid: {text}',
                {"name": name, "kind": resource, "causes": causes},
            )

    def _require_namespace(self, namespace: str, *, creating: bool) -> None:
        if ("", namespace) not in self._objects["namespaces"]:
            raise ApiError(404, "NotFound", f'namespaces "{namespace}" not found')
        if creating and namespace in self._terminating:
            raise ApiError(
                403,
                "Forbidden",
                f"unable to create new content in namespace {namespace} because it is being "
                f"terminated",
            )

    def _admit(self, resource: str, obj: Obj, name: str, namespace: str | None) -> None:
        if resource == "pods" and name in self.behaviour.quota_refusals:
            raise ApiError(
                403,
                "Forbidden",
                f'pods "{name}" is forbidden: exceeded quota: compute, requested: '
                f"limits.memory=256Mi, used: limits.memory=1Gi, limited: limits.memory=1Gi",
            )

    def _new_pod(self, pod: Obj, namespace: str, name: str) -> None:
        n = next(self._pod_ips)
        pod["status"] = {"phase": "Pending", "hostIP": kubelet.NODE_IP}
        pod["spec"]["nodeName"] = kubelet.NODE
        pod.setdefault("_fake", {})["ip"] = f"10.244.{n // 250}.{n % 250 + 2}"
        self.topology += 1
        events = kubelet.scheduling_events(
            pod, namespace=namespace, name=name, behaviour=self.behaviour
        )
        for kind, reason, message in events:
            event = kubelet.event(
                namespace, name, kind, reason, message, resource_version=self._next_rv()
            )
            self._objects["events"][(namespace, event["metadata"]["name"])] = event

    def _view(self, resource: str, obj: Obj) -> Obj:
        view = copy.deepcopy(obj)
        fake = view.pop("_fake", None)
        if resource == "pods" and fake is not None:
            view["status"] = self._pod_status(obj, fake)
        return view

    def _pod_status(self, pod: Obj, fake: Mapping[str, Any]) -> Obj:
        meta = pod["metadata"]
        age = self.clock() - self._born.get(("pods", meta["namespace"], meta["name"]), 0.0)
        return kubelet.pod_status(pod, fake, behaviour=self.behaviour, age_s=age)

    def pod_ready(self, namespace: str, name: str) -> bool:
        with self.lock:
            pod = self._objects["pods"].get((namespace, name))
            if pod is None:
                return False
            status = self._pod_status(pod, pod.get("_fake") or {"ip": ""})
            return status.get("phase") == "Running"

    def pod_ip(self, namespace: str, name: str) -> str | None:
        with self.lock:
            pod = self._objects["pods"].get((namespace, name))
            return None if pod is None else str((pod.get("_fake") or {}).get("ip") or "") or None

    def _delete_namespace(self, name: str, current: Obj) -> Obj:
        if name in self._terminating:
            return self._view("namespaces", current)
        self._terminating[name] = self.clock() + self.behaviour.termination_delay_s
        current["status"] = {"phase": "Terminating"}
        current["metadata"]["deletionTimestamp"] = now_text()
        current["metadata"]["resourceVersion"] = self._next_rv()
        view = self._view("namespaces", current)
        self._reap()
        return view

    def _reap(self) -> None:
        now = self.clock()
        done = [ns for ns, at in self._terminating.items() if at <= now]
        for namespace in done:
            del self._terminating[namespace]
            for resource, objects in self._objects.items():
                for key in [k for k in objects if k[0] == namespace and RESOURCES[resource][2]]:
                    del objects[key]
            self._objects["namespaces"].pop(("", namespace), None)
            self.topology += 1
            self._record_policies()

    def _record_policies(self) -> None:
        # Every kind the dataplane enforces; the built-in tiers are the engine's own.
        snapshot = tuple(
            copy.deepcopy(o)
            for resource in sorted(calico.POLICY_RESOURCES)
            for _, o in sorted(self._objects[resource].items())
            if not (resource == calico.TIERS and o["metadata"]["name"] in calico.BUILTIN_TIERS)
        )
        if snapshot != self.policy_history[-1][1]:
            self.policy_history.append((self.clock(), snapshot))

    def _seed(self) -> None:
        """What every cluster has before a run: system namespaces, DNS, Calico."""
        for resource, key, obj in seed.kubernetes_system(
            self.behaviour, self._next_rv, created=now_text()
        ):
            self._objects[resource][key] = obj
        chaos.seed_calico_nodes(self)
        for resource, key, obj in seed.calico_system(self.behaviour, self._next_rv):
            self._objects[resource][key] = obj


def _not_found(resource: str, name: str) -> ApiError:
    return ApiError(
        404, "NotFound", f'{resource} "{name}" not found', {"name": name, "kind": resource}
    )
