"""Exec as the API server serves it: a GET upgraded to a WebSocket, then the channels.

The upgrade speaks ``v4.channel.k8s.io`` (:mod:`.websocket` frames it):
stdout and stderr on channels 1 and 2, the command's status on channel 3, then
a close frame. The command itself is emulated against the dataplane
(:mod:`.execs`). What can go wrong goes wrong as it would on a cluster: a pod
not Ready or a wrong container is a 400 before the upgrade, and the exec faults
of :class:`~.behaviour.Behaviour` refuse the handshake, report a failed status,
drop the stream halfway, or hang until the client gives up.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler
from typing import TYPE_CHECKING, Any

from tests.cluster.kubernetes.fakeapi.behaviour import ExecFaultMode
from tests.cluster.kubernetes.fakeapi.execs import emulate
from tests.cluster.kubernetes.fakeapi.routes import Route
from tests.cluster.kubernetes.fakeapi.store import ApiError
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

if TYPE_CHECKING:
    from tests.cluster.kubernetes.fakeapi.server import FakeApiServer

__all__ = ["ExecCall", "serve_exec"]


@dataclass(frozen=True, slots=True)
class ExecCall:
    namespace: str
    pod: str
    container: str
    command: tuple[str, ...]


def serve_exec(
    handler: BaseHTTPRequestHandler,
    fake: FakeApiServer,
    route: Route,
    query: dict[str, list[str]],
) -> None:
    """Answer an exec request on ``handler``'s connection (ApiError before the upgrade)."""
    store = fake.store
    namespace, name = route.namespace or "", route.name or ""
    headers = handler.headers
    if headers.get("Upgrade", "").lower() != "websocket":
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
    offered = [p.strip() for p in headers.get("Sec-WebSocket-Protocol", "").split(",")]
    if CHANNEL_PROTOCOL not in offered:
        raise ApiError(400, "BadRequest", f"no supported subprotocol in {offered}")
    fault = fake.exec_fault(name)
    if fault is ExecFaultMode.HANDSHAKE:
        raise ApiError(
            500,
            "InternalError",
            "error dialing backend: dial tcp 192.168.0.2:10250: connect: connection refused",
        )
    command = query.get("command") or []
    handler.send_response(101, "Switching Protocols")
    handler.send_header("Upgrade", "websocket")
    handler.send_header("Connection", "Upgrade")
    handler.send_header("Sec-WebSocket-Accept", accept_key(headers["Sec-WebSocket-Key"]))
    handler.send_header("Sec-WebSocket-Protocol", CHANNEL_PROTOCOL)
    handler.end_headers()
    handler.close_connection = True
    fake.record("GET", "create", route, 101, path=handler.path)
    with fake.lock:
        fake.exec_calls.append(ExecCall(namespace, name, container, tuple(command)))
    if fault is ExecFaultMode.HANG:
        _wait_for_client(handler, fake.behaviour.hang_s)
        return
    started = time.monotonic()
    output = emulate(
        command, source=f"{namespace}/{name}", dataplane=fake.dataplane, at=store.clock()
    )
    fake.stopping.wait(fake.behaviour.exec_latency_s + output.seconds)
    with fake.lock:
        fake.exec_spans.append((started, time.monotonic()))
    out = handler.wfile
    if fault is ExecFaultMode.DROP:
        out.write(channel_message(1, output.stdout[: len(output.stdout) // 2].encode()))
        return
    if output.stdout:
        out.write(channel_message(1, output.stdout.encode()))
    if output.stderr:
        out.write(channel_message(2, output.stderr.encode()))
    out.write(channel_message(3, json.dumps(_status(output.exit_code, fault)).encode()))
    out.write(encode_frame(close_payload(), CLOSE))
    _wait_for_client(handler, 1.0)


def _wait_for_client(handler: BaseHTTPRequestHandler, seconds: float) -> None:
    """Read until the client closes (or ``seconds`` pass): a polite end of the stream."""
    handler.connection.settimeout(seconds)
    deadline = time.monotonic() + seconds
    try:
        while time.monotonic() < deadline:
            opcode, _ = read_frame(handler.rfile)
            if opcode == CLOSE:
                return
    except (FrameError, OSError, ValueError):
        return


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
