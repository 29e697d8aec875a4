"""Running a command in a pod over the exec WebSocket, with a deadline.

The official client's ``stream`` speaks the channel protocol (stdout, stderr,
and the status on channel 3). It swaps the API client's transport for the
duration of a call, so concurrent execs each get their own client (one per
thread). Nothing here raises for a failed exec: the failure is returned, named
(handshake refused, 403 naming the permission, no answer in time, stream
lost), and the caller turns the cells into errors, never into "blocked".
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from kubernetes import client
from kubernetes.client.exceptions import ApiException
from kubernetes.stream import stream
from websocket import WebSocketException

from service.cluster.kubernetes.api import PODS_EXEC, forbidden_message
from service.cluster.kubernetes.config import Connection, redact

__all__ = ["ExecResult", "PodExec"]

STDOUT, STDERR, ERROR = 1, 2, 3
_HANDSHAKE = re.compile(r"Handshake status (\d{3})")
_STATUS_MESSAGE = re.compile(r'"message"\s*:\s*"((?:[^"\\]|\\.)*)"')


@dataclass(frozen=True, slots=True)
class ExecResult:
    """What one exec gave. ``failure`` is empty when the command ran to its end (whatever
    its exit code); otherwise it says why there is no trustworthy output."""

    stdout: str
    stderr: str
    exit_code: int | None
    failure: str
    duration_ms: float

    @property
    def ok(self) -> bool:
        return not self.failure


class PodExec:
    """Runs commands in pods of one cluster; safe to call from many threads at once."""

    def __init__(
        self, connection: Connection, *, on_call: Callable[[], None] | None = None
    ) -> None:
        self._connection = connection
        self._local = threading.local()
        self._on_call = on_call
        self._clients: list[Any] = []
        self._lock = threading.Lock()

    def _api(self) -> Any:
        api = getattr(self._local, "api", None)
        if api is None:
            api_client = self._connection.new_client()
            with self._lock:
                self._clients.append(api_client)
            api = self._local.api = client.CoreV1Api(api_client)
        return api

    def close(self) -> None:
        """Close every client handed to a thread."""
        with self._lock:
            clients, self._clients = self._clients, []
        for api_client in clients:
            api_client.close()
        self._local = threading.local()

    def run(
        self,
        *,
        namespace: str,
        pod: str,
        container: str,
        command: Sequence[str],
        timeout_s: float,
    ) -> ExecResult:
        if self._on_call is not None:
            self._on_call()
        start = time.monotonic()

        def failed(why: str) -> ExecResult:
            return ExecResult("", "", None, why, (time.monotonic() - start) * 1000)

        try:
            ws = stream(
                self._api().connect_get_namespaced_pod_exec,
                pod,
                namespace,
                command=list(command),
                container=container,
                stderr=True,
                stdin=False,
                stdout=True,
                tty=False,
                _preload_content=False,
            )
        except ApiException as err:
            return failed(_handshake_failure(err, namespace=namespace, pod=pod))
        try:
            ws.run_forever(timeout=timeout_s)
            still_open = ws.is_open()
            stdout = ws.read_channel(STDOUT)
            stderr = ws.read_channel(STDERR)
            status = ws.read_channel(ERROR)
        except (WebSocketException, OSError) as err:
            return failed(f"the exec stream into {namespace}/{pod} broke: {redact(str(err))}")
        finally:
            # A peer that never answers the close handshake must not hold us for long.
            ws.close(timeout=1.0)
            # After the server's close frame websocket-client marks itself disconnected
            # and its close() returns early, leaving the socket open: shut it here.
            ws.sock.shutdown()
        elapsed = (time.monotonic() - start) * 1000
        if still_open:
            return ExecResult(
                stdout,
                stderr,
                None,
                f"the exec into {namespace}/{pod} gave no answer within {timeout_s:g} s",
                elapsed,
            )
        exit_code, failure = _read_status(status, namespace=namespace, pod=pod)
        return ExecResult(stdout, stderr, exit_code, failure, elapsed)


def _read_status(raw: str, *, namespace: str, pod: str) -> tuple[int | None, str]:
    """The exit code from the status channel, or why the command's end is unknown."""
    if not raw:
        return None, f"the exec into {namespace}/{pod} ended without a status (connection lost)"
    try:
        status = json.loads(raw)
    except ValueError:
        return None, f"the exec into {namespace}/{pod} sent an unreadable status: {raw[:200]!r}"
    if not isinstance(status, dict):
        return None, f"the exec into {namespace}/{pod} sent an unreadable status: {raw[:200]!r}"
    if status.get("status") == "Success":
        return 0, ""
    if status.get("reason") == "NonZeroExitCode":
        for cause in (status.get("details") or {}).get("causes") or []:
            if isinstance(cause, dict) and cause.get("reason") == "ExitCode":
                try:
                    return int(cause.get("message", "")), ""
                except ValueError:
                    break
    message = status.get("message") or status.get("reason") or "unknown failure"
    return None, f"the exec into {namespace}/{pod} failed: {redact(str(message))}"


def _handshake_failure(err: ApiException, *, namespace: str, pod: str) -> str:
    reason = redact(str(err.reason or err))
    found = _HANDSHAKE.search(reason)
    code = int(found.group(1)) if found else err.status
    said = _STATUS_MESSAGE.search(reason)
    message = said.group(1) if said else reason
    if code == 403:
        return forbidden_message(
            verb="create", kind=PODS_EXEC, namespace=namespace, server_message=message
        )
    if code == 404:
        return f"cannot exec into {namespace}/{pod}: not found ({message})"
    return f"cannot exec into {namespace}/{pod}: {message}"
