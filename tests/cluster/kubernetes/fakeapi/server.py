"""A protocol-level fake Kubernetes API server on 127.0.0.1, for the real client.

HTTP/1.1 with keep-alive (``ThreadingHTTPServer``, a thread per connection),
JSON bodies, v1 Status errors, bearer-token authentication, RBAC-style 403s
(:class:`~.behaviour.Forbid`), and exec as the API server serves it: a GET
upgraded to a WebSocket speaking ``v4.channel.k8s.io``, stdout and stderr on
channels 1 and 2, the command's status on channel 3, then a close frame.

Every request is recorded in :attr:`FakeApiServer.calls` (and execs in
:attr:`FakeApiServer.exec_calls`), so tests count what a run did.
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import yaml

from tests.cluster.kubernetes.fakeapi.behaviour import Behaviour, ExecFaultMode
from tests.cluster.kubernetes.fakeapi.calico import (
    CALICO_RESOURCES,
    CALICO_ROUTES,
    split,
    tier_checks,
)
from tests.cluster.kubernetes.fakeapi.dataplane import Dataplane
from tests.cluster.kubernetes.fakeapi.execs import emulate
from tests.cluster.kubernetes.fakeapi.store import RESOURCES, ApiError, Store
from tests.cluster.kubernetes.fakeapi.websocket import (
    CHANNEL_PROTOCOL,
    CLOSE,
    FrameError,
    accept_key,
    channel_message,
    close_payload,
    encode_frame,
    read_frame,
)

__all__ = ["Call", "ExecCall", "FakeApiServer"]

MANAGED_BY = "netpol-drift.io/managed-by"
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
class Call:
    method: str
    verb: str
    resource: str
    namespace: str | None
    name: str | None
    status: int


@dataclass(frozen=True, slots=True)
class ExecCall:
    namespace: str
    pod: str
    container: str
    command: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class _Route:
    resource: str
    namespace: str | None
    name: str | None
    sub: str | None

    @property
    def scoped_namespace(self) -> str | None:
        if self.resource == "namespaces":
            return self.name
        return self.namespace


def _route(path: str) -> _Route | None:
    for pattern, names in _ROUTES:
        found = pattern.match(path)
        if found is not None:
            values = dict(zip(names, found.groups(), strict=True))
            resource = str(values["resource"])
            if values.get("group"):
                resource = f"{resource}.{values['group']}"
                if resource not in CALICO_RESOURCES:
                    return None
            return _Route(
                resource=resource,
                namespace=unquote(values["namespace"]) if values.get("namespace") else None,
                name=unquote(values["name"]) if values.get("name") else None,
                sub=values.get("sub"),
            )
    return None


class FakeApiServer:
    """Start with ``with FakeApiServer() as fake:``; point a kubeconfig at it."""

    def __init__(self, behaviour: Behaviour | None = None) -> None:
        self.behaviour = behaviour if behaviour is not None else Behaviour()
        self.store = Store(self.behaviour)
        self.dataplane = Dataplane(self.store)
        self.calls: list[Call] = []
        self.exec_calls: list[ExecCall] = []
        # Calico's tiered-RBAC checks that passed, as (verb, resource, API group).
        self.authorizations: list[tuple[str, str, str]] = []
        # (start, end) on the monotonic clock of every exec that ran to its end.
        self.exec_spans: list[tuple[float, float]] = []
        self._exec_tries: dict[str, int] = {}
        self.lock = threading.Lock()
        self.stopping = threading.Event()
        self._httpd = _HTTPServer(("127.0.0.1", 0), _Handler)
        self._httpd.fake = self
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._httpd.server_address[1]}"

    def start(self) -> FakeApiServer:
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self.stopping.set()
        self._httpd.shutdown()
        self._httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> FakeApiServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def write_kubeconfig(
        self, path: Path, *, context: str = "fake", token: str | None = None
    ) -> Path:
        config = {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [{"name": "fake-cluster", "cluster": {"server": self.url}}],
            "users": [{"name": "fake-user", "user": {"token": token or self.behaviour.token}}],
            "contexts": [
                {"name": context, "context": {"cluster": "fake-cluster", "user": "fake-user"}}
            ],
            "current-context": context,
        }
        path.write_text(yaml.safe_dump(config), encoding="utf-8")
        return path

    # --- what tests read ---------------------------------------------------------------

    def count(self, verb: str, resource: str) -> int:
        with self.lock:
            return sum(1 for c in self.calls if c.verb == verb and c.resource == resource)

    def exec_count(self, pod: str | None = None) -> int:
        with self.lock:
            return sum(1 for e in self.exec_calls if pod is None or e.pod == pod)

    def most_execs_at_once(self) -> int:
        """The largest number of execs that were running at the same moment."""
        with self.lock:
            edges = sorted(
                [(start, 1) for start, _ in self.exec_spans]
                + [(end, -1) for _, end in self.exec_spans]
            )
        running = most = 0
        for _, step in edges:
            running += step
            most = max(most, running)
        return most

    def managed_objects(self) -> list[tuple[str, str, str]]:
        """(resource, namespace, name) of every object carrying netpol-drift's label."""
        found = []
        for resource in ("namespaces", "pods", "services", "networkpolicies", *CALICO_RESOURCES):
            for obj in self.store.all(resource):
                meta = obj["metadata"]
                if MANAGED_BY in (meta.get("labels") or {}):
                    found.append((resource, meta.get("namespace", ""), meta["name"]))
        return found

    def objects(self, resource: str) -> Iterator[dict[str, Any]]:
        yield from self.store.all(resource)

    def _exec_fault(self, pod: str) -> ExecFaultMode | None:
        fault = self.behaviour.exec_faults.get(pod)
        if fault is None:
            return None
        with self.lock:
            tries = self._exec_tries[pod] = self._exec_tries.get(pod, 0) + 1
        if fault.times is not None and tries > fault.times:
            return None
        return fault.mode


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    fake: FakeApiServer


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Headers and body go out as separate writes; with Nagle on, the body would wait
    # for the client's delayed ACK (40 ms a request).
    disable_nagle_algorithm = True
    server: _HTTPServer

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        self._handle("GET")

    def do_POST(self) -> None:
        self._handle("POST")

    def do_PUT(self) -> None:
        self._handle("PUT")

    def do_DELETE(self) -> None:
        self._handle("DELETE")

    def do_PATCH(self) -> None:
        self._handle("PATCH")

    # --- plumbing ----------------------------------------------------------------------

    def _send(self, code: int, body: dict[str, Any]) -> None:
        data = json.dumps(body).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _body(self) -> dict[str, Any]:
        size = int(self.headers.get("Content-Length") or 0)
        if not size:
            return {}
        raw = self.rfile.read(size)
        try:
            body = json.loads(raw)
        except ValueError as err:
            raise ApiError(400, "BadRequest", f"the body is not JSON: {err}") from err
        if not isinstance(body, dict):
            raise ApiError(400, "BadRequest", "the body is not a JSON object")
        return body

    def _record(self, method: str, verb: str, route: _Route | None, status: int) -> None:
        fake = self.server.fake
        resource = route.resource if route is not None else self.path.split("?")[0].strip("/")
        if route is not None and route.sub:
            resource = f"{route.resource}/{route.sub}"
        with fake.lock:
            fake.calls.append(
                Call(
                    method,
                    verb,
                    resource,
                    route.scoped_namespace if route is not None else None,
                    route.name if route is not None else None,
                    status,
                )
            )

    def _handle(self, method: str) -> None:
        fake = self.server.fake
        url = urlsplit(self.path)
        query = parse_qs(url.query)
        route = _route(url.path)
        verb = _verb(method, route)
        try:
            body = self._body()
            if self.headers.get("Authorization") != f"Bearer {fake.behaviour.token}":
                raise ApiError(401, "Unauthorized", "Unauthorized")
            if url.path.rstrip("/") == "/version":
                self._record(method, "get", None, 200)
                self._send(200, {"major": "1", "minor": "31", "gitVersion": "v1.31.2-fake"})
                return
            if route is None or (
                route.resource in CALICO_RESOURCES and not fake.behaviour.calico_api
            ):
                raise ApiError(404, "NotFound", "the server could not find the requested resource")
            rbac_resource = f"{route.resource}/{route.sub}" if route.sub else route.resource
            namespace = route.scoped_namespace if route.resource != "namespaces" else None
            group = GROUPS.get(route.resource, "")
            qualified = None
            if route.resource in CALICO_RESOURCES:
                qualified = route.resource
                rbac_resource, group = split(route.resource)
            if fake.behaviour.forbids(
                verb, rbac_resource, namespace, group=group, name=route.name, qualified=qualified
            ):
                raise _forbidden(fake.behaviour.user, verb, rbac_resource, namespace, group)
            for check_verb, resource, name in tier_checks(
                fake.store, verb, route.resource, route.name, body
            ):
                qualified = f"{resource}.projectcalico.org"
                if fake.behaviour.forbids(
                    check_verb, resource, namespace, group="projectcalico.org", name=name,
                    qualified=qualified,
                ):  # fmt: skip
                    raise _forbidden(
                        fake.behaviour.user, check_verb, resource, namespace, "projectcalico.org"
                    )
                with fake.lock:
                    fake.authorizations.append((check_verb, resource, "projectcalico.org"))
            if route.sub == "exec":
                self._exec(route, query)
                return
            code, answer = self._dispatch(method, route, query, body)
        except ApiError as err:
            self._record(method, verb, route, err.code)
            self._send(err.code, err.status())
            return
        self._record(method, verb, route, code)
        self._send(code, answer)

    def _dispatch(
        self, method: str, route: _Route, query: dict[str, list[str]], body: dict[str, Any]
    ) -> tuple[int, dict[str, Any]]:
        store = self.server.fake.store
        namespace = route.namespace
        if method == "GET" and route.name is None:
            return 200, store.select(
                route.resource,
                namespace,
                label_selector=_first(query, "labelSelector"),
                field_selector=_first(query, "fieldSelector"),
            )
        if method == "GET" and route.name is not None:
            return 200, store.get(route.resource, namespace, route.name)
        if method == "POST" and route.name is None:
            if route.resource in ("daemonsets", "clusterinformations") or (
                route.namespace is None and RESOURCES[route.resource][2]
            ):
                raise ApiError(405, "MethodNotAllowed", "the fake does not create these")
            return 201, store.create(route.resource, namespace, body)
        if method == "PUT" and route.name is not None:
            return 200, store.replace(route.resource, namespace, route.name, body)
        if method == "DELETE" and route.name is not None:
            return 200, store.delete(route.resource, namespace, route.name, body)
        raise ApiError(405, "MethodNotAllowed", f"{method} is not supported on {self.path}")

    # --- exec --------------------------------------------------------------------------

    def _exec(self, route: _Route, query: dict[str, list[str]]) -> None:
        fake = self.server.fake
        store = fake.store
        namespace, name = route.namespace or "", route.name or ""
        if self.headers.get("Upgrade", "").lower() != "websocket":
            raise ApiError(400, "BadRequest", "Upgrade request required")
        pod = store.get("pods", namespace, name)
        containers = [c["name"] for c in pod["spec"]["containers"]]
        container = (query.get("container") or [containers[0]])[0]
        if container not in containers:
            raise ApiError(400, "BadRequest", f"container {container} is not valid for pod {name}")
        if not store.pod_ready(namespace, name):
            raise ApiError(
                400,
                "BadRequest",
                f'container "{container}" in pod "{name}" is waiting to start: ContainerCreating',
            )
        offered = [p.strip() for p in self.headers.get("Sec-WebSocket-Protocol", "").split(",")]
        if CHANNEL_PROTOCOL not in offered:
            raise ApiError(400, "BadRequest", f"no supported subprotocol in {offered}")
        fault = fake._exec_fault(name)
        if fault is ExecFaultMode.HANDSHAKE:
            raise ApiError(
                500,
                "InternalError",
                "error dialing backend: dial tcp 192.168.0.2:10250: connect: connection refused",
            )
        command = query.get("command") or []
        self.send_response(101, "Switching Protocols")
        self.send_header("Upgrade", "websocket")
        self.send_header("Connection", "Upgrade")
        self.send_header("Sec-WebSocket-Accept", accept_key(self.headers["Sec-WebSocket-Key"]))
        self.send_header("Sec-WebSocket-Protocol", CHANNEL_PROTOCOL)
        self.end_headers()
        self.close_connection = True
        self._record("GET", "create", route, 101)
        with fake.lock:
            fake.exec_calls.append(ExecCall(namespace, name, container, tuple(command)))
        if fault is ExecFaultMode.HANG:
            self._wait_for_client(fake.behaviour.hang_s)
            return
        started = time.monotonic()
        output = emulate(
            command, source=f"{namespace}/{name}", dataplane=fake.dataplane, at=store.clock()
        )
        fake.stopping.wait(fake.behaviour.exec_latency_s + output.seconds)
        with fake.lock:
            fake.exec_spans.append((started, time.monotonic()))
        if fault is ExecFaultMode.DROP:
            self.wfile.write(channel_message(1, output.stdout[: len(output.stdout) // 2].encode()))
            return
        if output.stdout:
            self.wfile.write(channel_message(1, output.stdout.encode()))
        if output.stderr:
            self.wfile.write(channel_message(2, output.stderr.encode()))
        self.wfile.write(channel_message(3, json.dumps(_status(output.exit_code, fault)).encode()))
        self.wfile.write(encode_frame(close_payload(), CLOSE))
        self._wait_for_client(1.0)

    def _wait_for_client(self, seconds: float) -> None:
        """Read until the client closes (or ``seconds`` pass): a polite end of the stream."""
        self.connection.settimeout(seconds)
        deadline = time.monotonic() + seconds
        try:
            while time.monotonic() < deadline:
                opcode, _ = read_frame(self.rfile)
                if opcode == CLOSE:
                    return
        except (FrameError, OSError, ValueError):
            return


def _first(query: dict[str, list[str]], key: str) -> str | None:
    values = query.get(key)
    return values[0] if values else None


def _status(exit_code: int, fault: ExecFaultMode | None) -> dict[str, Any]:
    if fault is ExecFaultMode.STATUS:
        return {
            "metadata": {},
            "status": "Failure",
            "message": "error executing command in container: container is not running",
            "reason": "InternalError",
        }
    if exit_code == 0:
        return {"metadata": {}, "status": "Success"}
    return {
        "metadata": {},
        "status": "Failure",
        "message": f"command terminated with non-zero exit code: exit status {exit_code}",
        "reason": "NonZeroExitCode",
        "details": {"causes": [{"reason": "ExitCode", "message": str(exit_code)}]},
    }


def _verb(method: str, route: _Route | None) -> str:
    if route is not None and route.sub == "exec":
        return "create"
    if method == "GET":
        return "get" if route is not None and route.name is not None else "list"
    return {"POST": "create", "PUT": "update", "DELETE": "delete", "PATCH": "patch"}.get(
        method, method.lower()
    )


def _forbidden(
    user: str, verb: str, resource: str, namespace: str | None, group: str | None = None
) -> ApiError:
    group = GROUPS.get(resource.split("/")[0], "") if group is None else group
    where = f'in the namespace "{namespace}"' if namespace else "at the cluster scope"
    return ApiError(
        403,
        "Forbidden",
        f'{resource} is forbidden: User "{user}" cannot {verb} resource "{resource}" in API '
        f'group "{group}" {where}',
        {"kind": resource},
    )
