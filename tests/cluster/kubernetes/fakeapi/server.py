"""A protocol-level fake Kubernetes API server on 127.0.0.1, for the real client.

HTTP/1.1 with keep-alive (``ThreadingHTTPServer``, a thread per connection),
JSON bodies, v1 Status errors, bearer-token authentication, RBAC-style 403s
(:mod:`.rbac`), and exec as the API server serves it, upgraded to a WebSocket
(:mod:`.exec_stream`). Paths are resolved by :mod:`.routes`; the objects and
the rules on them are the :class:`~.store.Store`'s.

Every request is recorded in :attr:`FakeApiServer.calls` (and execs in
:attr:`FakeApiServer.exec_calls`), so tests count what a run did.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import yaml

from tests.cluster.kubernetes.fakeapi.behaviour import Behaviour, ExecFaultMode
from tests.cluster.kubernetes.fakeapi.calico import CALICO_RESOURCES
from tests.cluster.kubernetes.fakeapi.dataplane import Dataplane
from tests.cluster.kubernetes.fakeapi.exec_stream import ExecCall, serve_exec
from tests.cluster.kubernetes.fakeapi.rbac import authorize
from tests.cluster.kubernetes.fakeapi.routes import GROUPS, Route, route, verb
from tests.cluster.kubernetes.fakeapi.store import RESOURCES, ApiError, Store

# GROUPS is re-exported: tests check RBAC grants against it.
__all__ = ["GROUPS", "Call", "ExecCall", "FakeApiServer"]

MANAGED_BY = "netpol-drift.io/managed-by"


@dataclass(frozen=True, slots=True)
class Call:
    method: str
    verb: str
    resource: str
    namespace: str | None
    name: str | None
    status: int


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

    # --- what the handlers write -------------------------------------------------------

    def record(
        self, method: str, verb: str, route: Route | None, status: int, *, path: str
    ) -> None:
        """Add a request to :attr:`calls` (a path with no route is named by its path)."""
        resource = route.resource if route is not None else path.split("?")[0].strip("/")
        if route is not None and route.sub:
            resource = f"{route.resource}/{route.sub}"
        call = Call(
            method,
            verb,
            resource,
            route.scoped_namespace if route is not None else None,
            route.name if route is not None else None,
            status,
        )
        with self.lock:
            self.calls.append(call)

    def authorized(self, verb: str, resource: str, group: str) -> None:
        with self.lock:
            self.authorizations.append((verb, resource, group))

    def exec_fault(self, pod: str) -> ExecFaultMode | None:
        """The fault this exec into ``pod`` meets, counting the pod's execs for ``times``."""
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

    def _handle(self, method: str) -> None:
        fake = self.server.fake
        url = urlsplit(self.path)
        query = parse_qs(url.query)
        found = route(url.path)
        request_verb = verb(method, found)
        try:
            body = self._body()
            if self.headers.get("Authorization") != f"Bearer {fake.behaviour.token}":
                raise ApiError(401, "Unauthorized", "Unauthorized")
            if url.path.rstrip("/") == "/version":
                fake.record(method, "get", None, 200, path=self.path)
                self._send(200, {"major": "1", "minor": "31", "gitVersion": "v1.31.2-fake"})
                return
            if found is None or (
                found.resource in CALICO_RESOURCES and not fake.behaviour.calico_api
            ):
                raise ApiError(404, "NotFound", "the server could not find the requested resource")
            authorize(
                fake.behaviour,
                fake.store,
                verb=request_verb,
                route=found,
                body=body,
                on_pass=fake.authorized,
            )
            if found.sub == "exec":
                serve_exec(self, fake, found, query)
                return
            code, answer = self._dispatch(method, found, query, body)
        except ApiError as err:
            fake.record(method, request_verb, found, err.code, path=self.path)
            self._send(err.code, err.status())
            return
        fake.record(method, request_verb, found, code, path=self.path)
        self._send(code, answer)

    def _dispatch(
        self, method: str, route: Route, query: dict[str, list[str]], body: dict[str, Any]
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


def _first(query: dict[str, list[str]], key: str) -> str | None:
    values = query.get(key)
    return values[0] if values else None
