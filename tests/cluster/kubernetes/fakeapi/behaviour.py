"""How the fake cluster behaves: latencies, delays and the faults it injects.

A :class:`Behaviour` is mutable so a test can change it between steps (say,
forbid a verb after set-up); the server reads it on every request.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

__all__ = ["Behaviour", "ExecFault", "ExecFaultMode", "Forbid", "Grant"]


@dataclass(frozen=True, slots=True)
class Forbid:
    """RBAC denies ``verb`` on ``resource`` (``*`` for any) in ``namespace`` (None: any;
    a trailing ``*`` matches a prefix; ``""`` cluster scope)."""

    verb: str
    resource: str
    namespace: str | None = None

    def matches(self, verb: str, resource: str, namespace: str | None) -> bool:
        if self.verb not in ("*", verb) or self.resource not in ("*", resource):
            return False
        if self.namespace is None:
            return True
        actual = namespace or ""
        if self.namespace.endswith("*"):
            return actual.startswith(self.namespace[:-1])
        return actual == self.namespace


@dataclass(frozen=True, slots=True)
class Grant:
    """An RBAC rule allowing ``verb`` on ``resource`` of ``group`` (``names``: only those)."""

    verb: str
    resource: str
    group: str = ""
    names: frozenset[str] | None = None

    def allows(self, verb: str, resource: str, group: str, name: str | None) -> bool:
        if self.verb not in ("*", verb) or self.resource not in ("*", resource):
            return False
        if self.group != group:
            return False
        return self.names is None or name in self.names


class ExecFaultMode(StrEnum):
    HANDSHAKE = "handshake"  # the upgrade is refused with 500 (kubelet unreachable)
    STATUS = "status"  # the command "ran" but the status channel says it failed
    DROP = "drop"  # the connection drops after some output, without a status
    HANG = "hang"  # no answer until the client gives up


@dataclass(frozen=True, slots=True)
class ExecFault:
    """Fail execs into a pod: every time (``times`` None) or its first ``times`` execs."""

    mode: ExecFaultMode
    times: int | None = None


@dataclass
class Behaviour:
    token: str = "fake-token-do-not-log"
    user: str = "system:serviceaccount:netpol-drift:runner"
    ready_delay_s: float = 0.0
    exec_latency_s: float = 0.0
    connect_latency_s: float = 0.0005
    # A Service name that does not resolve (DNS egress blocked) fails after this long.
    dns_timeout_s: float = 0.05
    enforcement_delay_s: float = 0.0
    termination_delay_s: float = 0.0
    hang_s: float = 30.0
    image_pull_failures: set[str] = field(default_factory=set)
    unschedulable: set[str] = field(default_factory=set)
    quota_refusals: set[str] = field(default_factory=set)
    forbidden: list[Forbid] = field(default_factory=list)
    # When set, RBAC allows only these (as a ClusterRole would); everything else is 403.
    grants: list[Grant] | None = None
    exec_faults: dict[str, ExecFault] = field(default_factory=dict)
    # Calico's version as the cluster reports it; None: no ClusterInformation.
    calico_version: str | None = "v3.29.1"
    calico_node_image: str | None = "docker.io/calico/node:v3.29.1"
    # Chaos (fakeapi.chaos): calico-node pods in calico-system, how long a replacement
    # takes to be Ready, and how long a new pod stays un-isolated after it is Ready.
    calico_nodes: int = 0
    calico_restart_s: float = 0.0
    isolation_delay_s: float = 0.0
    # The uid of kube-system (the cluster's id); None: the fake's usual one.
    cluster_uid: str | None = None
    # Whether Calico's API server is there (projectcalico.org/v3, the admin policies).
    calico_api: bool = True
    # Calico before v3.30: tiered policies must be named <tier>.<name>.
    calico_tier_prefix: bool = True

    def forbids(
        self,
        verb: str,
        resource: str,
        namespace: str | None,
        *,
        group: str = "",
        name: str | None = None,
        qualified: str | None = None,
    ) -> bool:
        """``qualified`` (``tiers.projectcalico.org``) is what Forbid rules name for kinds of
        other API groups; grants name the plural and the group."""
        shown = qualified or resource
        if any(f.matches(verb, shown, namespace) for f in self.forbidden):
            return True
        if self.grants is None:
            return False
        return not any(g.allows(verb, resource, group, name) for g in self.grants)
