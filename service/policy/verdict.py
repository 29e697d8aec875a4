"""What the engine says about one connection, and why.

An :class:`Explanation` is the engine's verdict for one (source, destination,
port, protocol): for each direction, whether the endpoint is isolated and by
which policies, and which rules allowed the traffic, or that none did. The
connection is allowed when egress of the source AND ingress of the destination
allow it (replies are implicit), or when it is loopback.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from service.policy.model import Direction, Protocol


class Connectivity(StrEnum):
    """The engine's expected outcome for one cell."""

    ALLOWED = "allowed"
    BLOCKED = "blocked"


class Action(StrEnum):
    """What a matching rule does. Kubernetes NetworkPolicy rules only allow."""

    ALLOW = "Allow"
    DENY = "Deny"
    PASS = "Pass"
    LOG = "Log"


@dataclass(frozen=True, slots=True)
class RuleMatch:
    """One rule that matched: ``policy`` is ``namespace/name``; indexes are 0-based.

    ``peer_index`` is None when the rule has no peers (it admits every peer) and
    ``port_index`` None when it has no ports (every port). ``detail`` says in
    words what matched, e.g. ``from podSelector app=web; TCP http=8080``.
    """

    policy: str
    direction: Direction
    rule_index: int
    peer_index: int | None = None
    port_index: int | None = None
    action: Action = Action.ALLOW
    tier: str | None = None
    detail: str = ""

    def __str__(self) -> str:
        where = f"{self.policy} {self.direction.lower()}[{self.rule_index}]"
        detail = []
        if self.peer_index is not None:
            detail.append(f"peer {self.peer_index}")
        if self.port_index is not None:
            detail.append(f"port {self.port_index}")
        tier = f"tier {self.tier}: " if self.tier else ""
        suffix = f" ({', '.join(detail)})" if detail else ""
        words = f": {self.detail}" if self.detail else ""
        return f"{tier}{where}{suffix} -> {self.action}{words}"


@dataclass(frozen=True, slots=True)
class DirectionVerdict:
    """One side of a connection: the source's egress or the destination's ingress."""

    direction: Direction
    endpoint: str
    isolated: bool
    isolating_policies: tuple[str, ...]
    allowed: bool
    matches: tuple[RuleMatch, ...] = ()
    reason: str = ""

    def render(self, indent: str = "") -> str:
        """A headline and, below it, the rules that allowed the traffic or why none did."""
        side = self.direction.lower()
        outcome = "allowed" if self.allowed else "blocked"
        if not self.isolated:
            head = f"{indent}{side} of {self.endpoint}: {outcome}, not isolated"
        else:
            head = (
                f"{indent}{side} of {self.endpoint}: {outcome}, "
                f"isolated by {', '.join(self.isolating_policies)}"
            )
        lines = [head]
        lines.extend(f"{indent}  {m}" for m in self.matches)
        # A reason may span lines (the verdict, then near misses): indent each.
        lines.extend(f"{indent}  {line}" for line in self.reason.splitlines())
        return "\n".join(lines)


@dataclass(frozen=True, slots=True)
class Explanation:
    source: str
    destination: str
    port: int
    protocol: Protocol
    egress: DirectionVerdict
    ingress: DirectionVerdict
    loopback: bool = False

    @property
    def allowed(self) -> bool:
        return self.loopback or (self.egress.allowed and self.ingress.allowed)

    @property
    def connectivity(self) -> Connectivity:
        return Connectivity.ALLOWED if self.allowed else Connectivity.BLOCKED

    def render(self) -> str:
        head = (
            f"{self.source} -> {self.destination} {self.protocol} {self.port}: "
            f"{self.connectivity.value}"
        )
        if self.loopback:
            # Still show what the policies say: a CNI that blocks hairpin traffic
            # (Calico through a Service) would apply exactly these.
            return "\n".join(
                [
                    head,
                    "  loopback: a pod is never blocked from itself; the policies alone say:",
                    self.egress.render("    "),
                    self.ingress.render("    "),
                ]
            )
        return "\n".join([head, self.egress.render("  "), self.ingress.render("  ")])
