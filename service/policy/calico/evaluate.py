"""Felix's tiered evaluation, one connection at a time, with explanations.

This is the engine's reference for clusters with Calico objects
(policy-semantics.md section 2); the vectorised table is checked against it.
For each side of a connection (the source's egress, the destination's
ingress), for each tier in order:

- the tier's policies that apply to the endpoint (select it and list the
  direction) are taken in order; none: the tier is skipped, with no
  end-of-tier action;
- the first matching rule decides: Allow or Deny ends the evaluation; Pass
  skips the rest of the tier; Log records and goes on;
- no rule matched: the tier's defaultAction (Deny, or Pass to the next tier).

After the last tier a pod falls to its namespace profile, which allows. An
endpoint outside the cluster, or a host-network pod (no workload endpoint), has
no policy of its own. The trap the explanations point out: a tier that
selects an endpoint and matches nothing denies at its end, before a later
tier (say, the Kubernetes NetworkPolicies in ``default``) is ever consulted.
"""

from __future__ import annotations

from collections.abc import Sequence

from service.policy.calico.model import CalicoEntry, CalicoPolicy, PolicyKind, Tier
from service.policy.calico.rules import CompiledRule, Context
from service.policy.calico.scope import policy_selector
from service.policy.calico.selector import Selector
from service.policy.calico.tiers import TieredModel, check_calico, tiered_model
from service.policy.checks import check_policies, check_probe_port
from service.policy.connections import ConnectionSet
from service.policy.model import (
    ClusterState,
    Direction,
    Endpoint,
    Labels,
    NetworkPolicy,
    Pod,
    Protocol,
    endpoint_name,
)
from service.policy.verdict import Action, DirectionVerdict, Explanation, RuleMatch

__all__ = ["CompiledPolicy", "TieredEvaluator"]


class CompiledPolicy:
    """A policy bound to the cluster: its endpoint selector and (compiled on first use) rules.

    ``kubernetes`` is the NetworkPolicy a policy of kind KubernetesNetworkPolicy
    was translated from, for the truth table's faster Kubernetes vectors.
    """

    __slots__ = ("_context", "_rules", "_selector", "kubernetes", "label", "policy")

    def __init__(
        self, policy: CalicoPolicy, context: Context, kubernetes: NetworkPolicy | None = None
    ) -> None:
        self.policy = policy
        self.label = policy.label
        self.kubernetes = kubernetes
        self._context = context
        self._selector: Selector | None = None
        self._rules: dict[Direction, tuple[CompiledRule, ...]] = {}

    @property
    def selector(self) -> Selector:
        """The endpoints the policy applies to, as one selector (built on first use)."""
        if self._selector is None:
            self._selector = policy_selector(self.policy)
        return self._selector

    def rules(self, direction: Direction) -> tuple[CompiledRule, ...]:
        found = self._rules.get(direction)
        if found is None:
            policy = self.policy
            found = self._rules[direction] = tuple(
                CompiledRule(i, r, policy.namespace, self._context)
                for i, r in enumerate(policy.rules(direction))
            )
        return found

    def match(self, rule: CompiledRule, tier: Tier, direction: Direction) -> RuleMatch:
        origin = rule.rule.origin
        return RuleMatch(
            policy=self.label,
            direction=direction,
            rule_index=rule.index if origin is None else origin.rule,
            peer_index=None if origin is None else origin.peer,
            port_index=None if origin is None else origin.port,
            action=rule.action,
            tier=tier.name,
            detail=rule.describe(),
        )


_Applying = tuple[tuple[Tier, tuple[CompiledPolicy, ...]], ...]


class TieredEvaluator:
    """Answers "is this connection allowed, and why" for a state with Calico objects.

    ``with_staged`` evaluates as if the staged policies were applied (see
    :func:`~service.policy.calico.tiers.tiered_model`). Raises InvalidInput for
    what the API servers would reject (Kubernetes policy shapes, unknown
    tiers, objects given twice).
    """

    def __init__(self, state: ClusterState, *, with_staged: bool = False) -> None:
        check_policies([p for p in state.policies if not isinstance(p, CalicoEntry)])
        check_calico(state.policies)
        self.model: TieredModel = tiered_model(state.policies, with_staged=with_staged)
        self.context = Context(state, self.model.network_sets)
        originals = {
            (p.namespace, p.name): p for p in state.policies if not isinstance(p, CalicoEntry)
        }

        def compiled(policy: CalicoPolicy) -> CompiledPolicy:
            source = None
            if policy.kind is PolicyKind.KUBERNETES:
                source = originals.get((policy.namespace or "", policy.name))
            return CompiledPolicy(policy, self.context, source)

        self.compiled_tiers = tuple(
            (t.tier, tuple(compiled(p) for p in t.policies)) for t in self.model.tiers
        )
        self._applying: dict[tuple[Direction, str, Labels, str], _Applying] = {}

    def applying(self, direction: Direction, pod: Pod) -> _Applying:
        """Per tier (in order), the policies that apply to ``pod`` for ``direction``, in order."""
        if pod.host_network:
            return ()
        key = (direction, pod.namespace, pod.labels, pod.service_account)
        found = self._applying.get(key)
        if found is None:
            view = self.context.view(pod)
            tiers = []
            for tier, policies in self.compiled_tiers:
                chosen = tuple(
                    p
                    for p in policies
                    if direction in p.policy.types
                    and not p.policy.host_only
                    and p.selector.matches(view)
                )
                if chosen:
                    tiers.append((tier, chosen))
            found = self._applying[key] = tuple(tiers)
        return found

    def isolating_policies(self, pod: Pod, direction: Direction) -> tuple[str, ...]:
        return tuple(p.label for _, ps in self.applying(direction, pod) for p in ps)

    # --- booleans -------------------------------------------------------------------------

    def is_allowed(self, src: Endpoint, dst: Endpoint, *, port: int, protocol: Protocol) -> bool:
        check_probe_port(port)
        if isinstance(src, Pod) and src == dst:
            return True
        return self._side(Direction.EGRESS, src, src, dst, port, protocol) and self._side(
            Direction.INGRESS, dst, src, dst, port, protocol
        )

    def _side(
        self,
        direction: Direction,
        subject: Endpoint,
        src: Endpoint,
        dst: Endpoint,
        port: int,
        protocol: Protocol,
    ) -> bool:
        if not isinstance(subject, Pod):
            return True
        for tier, policies in self.applying(direction, subject):
            action = _first_action(policies, direction, src, dst, port, protocol)
            if action is None:
                action = tier.default_action
            if action is Action.ALLOW:
                return True
            if action is Action.DENY:
                return False
        return True

    # --- every port at once ---------------------------------------------------------------

    def connections(self, src: Endpoint, dst: Endpoint) -> ConnectionSet:
        if isinstance(src, Pod) and src == dst:
            return ConnectionSet.all()
        out = self._side_connections(Direction.EGRESS, src, src, dst)
        if not out:
            return out
        return out & self._side_connections(Direction.INGRESS, dst, src, dst)

    def _side_connections(
        self, direction: Direction, subject: Endpoint, src: Endpoint, dst: Endpoint
    ) -> ConnectionSet:
        if not isinstance(subject, Pod):
            return ConnectionSet.all()
        remaining = ConnectionSet.all()
        allowed = ConnectionSet.none()
        for tier, policies in self.applying(direction, subject):
            open_in_tier = remaining
            for policy in policies:
                for rule in policy.rules(direction):
                    if not open_in_tier:
                        break
                    if rule.action is Action.LOG:
                        continue
                    hit = rule.connections(src, dst) & open_in_tier
                    if not hit:
                        continue
                    open_in_tier -= hit
                    if rule.action is Action.ALLOW:
                        allowed |= hit
                    if rule.action is not Action.PASS:
                        remaining -= hit
            if tier.default_action is Action.DENY:
                remaining -= open_in_tier
        return allowed | remaining

    # --- explanations ---------------------------------------------------------------------

    def explain(
        self, src: Endpoint, dst: Endpoint, *, port: int, protocol: Protocol
    ) -> Explanation:
        check_probe_port(port)
        return Explanation(
            source=endpoint_name(src),
            destination=endpoint_name(dst),
            port=port,
            protocol=protocol,
            egress=self._verdict(Direction.EGRESS, src, src, dst, port, protocol),
            ingress=self._verdict(Direction.INGRESS, dst, src, dst, port, protocol),
            loopback=isinstance(src, Pod) and src == dst,
        )

    def _verdict(
        self,
        direction: Direction,
        subject: Endpoint,
        src: Endpoint,
        dst: Endpoint,
        port: int,
        protocol: Protocol,
    ) -> DirectionVerdict:
        name = endpoint_name(subject)

        def open_side(reason: str) -> DirectionVerdict:
            return DirectionVerdict(direction, name, False, (), True, reason=reason)

        if not isinstance(subject, Pod):
            return open_side(
                f"{name} is outside the cluster or known only by IP: no policy applies"
            )
        if subject.host_network:
            return open_side(
                f"{name} uses the host network: it has no workload endpoint, no policy applies"
            )
        applying = self.applying(direction, subject)
        if not applying:
            return open_side(
                f"no policy selects {name} for {direction}: its namespace profile allows"
            )
        labels = tuple(p.label for _, ps in applying for p in ps)
        matches: list[RuleMatch] = []
        lines: list[str] = []
        for position, (tier, policies) in enumerate(applying):
            decided: Action | None = None
            for policy in policies:
                for rule in policy.rules(direction):
                    if rule.matches(src, dst, port=port, protocol=protocol):
                        matches.append(policy.match(rule, tier, direction))
                        if rule.action is not Action.LOG:
                            decided = rule.action
                            break
                if decided is not None:
                    break
            if decided is Action.PASS:
                lines.append(f"tier {tier.name}: Pass hands the connection to the next tier")
                continue
            if decided is not None:
                return DirectionVerdict(
                    direction, name, True, labels, decided is Action.ALLOW, tuple(matches),
                    "\n".join(lines),
                )  # fmt: skip
            refs = ", ".join(p.label for p in policies)
            head = f"tier {tier.name}: {refs} apply to {name} but no rule matches {protocol} {port}"
            if tier.default_action is Action.PASS:
                lines.append(f"{head}: the tier's defaultAction Pass goes on to the next tier")
                continue
            lines.append(f"{head}: end of tier -> Deny")
            later = [
                f"tier {t.name} ({', '.join(p.label for p in ps)})"
                for t, ps in applying[position + 1 :]
            ]
            if later:
                lines.append(
                    f"  the end-of-tier trap: {'; '.join(later)} never consulted; a final Pass"
                    " rule, or defaultAction Pass on the tier, would hand over"
                )
            return DirectionVerdict(
                direction, name, True, labels, False, tuple(matches), "\n".join(lines)
            )
        lines.append(f"no tier decided: {name}'s namespace profile allows")
        return DirectionVerdict(
            direction, name, True, labels, True, tuple(matches), "\n".join(lines)
        )


def _first_action(
    policies: Sequence[CompiledPolicy],
    direction: Direction,
    src: Endpoint,
    dst: Endpoint,
    port: int,
    protocol: Protocol,
) -> Action | None:
    """The action of the first matching non-Log rule of the tier; None: no rule matched."""
    for policy in policies:
        for rule in policy.rules(direction):
            if rule.action is not Action.LOG and rule.matches(
                src, dst, port=port, protocol=protocol
            ):
                return rule.action
    return None
