"""``analyze --explain SRC DST PORT/PROTO``: from the user's words to one explained connection.

SRC and DST are a pod (``namespace/name``), a workload (``namespace/name``, or
``namespace/name[Kind]`` when two kinds share a name; its representative pod
stands for it) or an IP address (an endpoint outside the cluster). PORT/PROTO is
a number or a container port name of the destination, and a protocol (``80/TCP``,
``53/udp``, ``http/TCP``); the protocol defaults to TCP as it does in a policy.
Every problem with the three arguments is reported at once.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass

from service.errors import FieldPath, InvalidInput, Problem
from service.policy.connections import MAX_PORT, MIN_PORT
from service.policy.evaluate import Endpoint, Evaluator
from service.policy.model import ClusterState, Pod, Protocol
from service.policy.verdict import Explanation
from service.report.connlist import representative_pods

__all__ = ["ExplainRequest", "explain_connection", "parse_explain"]

_PORT = re.compile(r"^(?P<port>[^/\s]+)(?:/(?P<protocol>[^/\s]+))?$")
_WORKLOAD = re.compile(r"^(?P<namespace>[^/\s]+)/(?P<name>[^/\[\s]+)(?:\[(?P<kind>[^\]\s]+)\])?$")
_PROTOCOLS = ", ".join(p.value for p in Protocol)


@dataclass(frozen=True, slots=True)
class ExplainRequest:
    """The three arguments, resolved against a cluster state."""

    source: Endpoint
    destination: Endpoint
    port: int
    protocol: Protocol


def _argument(name: str) -> FieldPath:
    return FieldPath((f"--explain {name}",))


def _endpoint(state: ClusterState, text: str, name: str) -> Endpoint | Problem:
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        pass
    expected = "expected namespace/name of a pod or workload, or an IP address"
    match = _WORKLOAD.match(text)
    if match is None:
        return Problem(f"{text!r} is malformed: {expected}", path=_argument(name))
    namespace, short, kind = match["namespace"], match["name"], match["kind"]
    if kind is None:
        for pod in state.pods:
            if pod.namespace == namespace and pod.name == short:
                return pod
    owners = {
        ref: pod
        for ref, pod in representative_pods(state.pods).items()
        if ref.namespace == namespace and ref.name == short and kind in (None, ref.kind)
    }
    if len(owners) == 1:
        return next(iter(owners.values()))
    if len(owners) > 1:
        choices = ", ".join(sorted(str(ref) for ref in owners))
        return Problem(
            f"{text!r} names more than one workload; expected one of {choices}",
            path=_argument(name),
        )
    return Problem(
        f"no pod or workload {text!r} in the manifests: {expected}", path=_argument(name)
    )


def _port(text: str, destination: Endpoint | Problem) -> tuple[int, Protocol] | Problem:
    path = _argument("PORT/PROTO")
    match = _PORT.match(text)
    if match is None:
        message = f"{text!r} is malformed: expected PORT/PROTO such as 80/TCP, 53/udp or http/TCP"
        return Problem(message, path=path)
    protocol_text = (match["protocol"] or Protocol.TCP.value).upper()
    if protocol_text not in Protocol.__members__:
        message = f"unknown protocol {match['protocol']!r}: expected one of {_PROTOCOLS}"
        return Problem(message, path=path)
    protocol = Protocol(protocol_text)
    port_text = match["port"]
    if port_text.isdigit():
        number = int(port_text)
        if not MIN_PORT <= number <= MAX_PORT:
            message = f"port {number} is out of range: expected {MIN_PORT}-{MAX_PORT}"
            return Problem(message, path=path)
        return number, protocol
    if isinstance(destination, Problem):
        # The destination is already reported; a name cannot be resolved without it.
        return 0, protocol
    if not isinstance(destination, Pod):
        message = (
            f"named port {port_text!r} needs a pod destination (an IP address has no "
            "named ports): expected a port number"
        )
        return Problem(message, path=path)
    number_or_none = destination.named_port(port_text, protocol)
    if number_or_none is None:
        known = [f"{p.name}/{p.protocol}" for p in destination.ports if p.name is not None]
        names = f"one of its named ports {', '.join(known)}" if known else "(it has no named port)"
        message = (
            f"{destination.ref} has no {protocol} port named {port_text!r}: "
            f"expected a port number or {names}"
        )
        return Problem(message, path=path)
    return number_or_none, protocol


def parse_explain(state: ClusterState, source: str, destination: str, port: str) -> ExplainRequest:
    """Resolve the three ``--explain`` arguments, raising InvalidInput with every problem."""
    src = _endpoint(state, source, "SRC")
    dst = _endpoint(state, destination, "DST")
    port_protocol = _port(port, dst)
    if isinstance(src, Problem) or isinstance(dst, Problem) or isinstance(port_protocol, Problem):
        raise InvalidInput([p for p in (src, dst, port_protocol) if isinstance(p, Problem)])
    number, protocol = port_protocol
    return ExplainRequest(src, dst, number, protocol)


def explain_connection(
    state: ClusterState, source: str, destination: str, port: str
) -> Explanation:
    """The engine's explanation for the connection the three arguments name."""
    request = parse_explain(state, source, destination, port)
    return Evaluator(state).explain(
        request.source, request.destination, port=request.port, protocol=request.protocol
    )
