"""The Calico half of the synthetic clusters: tiered policies as a Calico cluster has them.

:func:`calico_policies` adds, to a cluster built by :mod:`bench.synthetic`,
``count`` Calico policies cycling through a seeded order of kinds spread over
three tiers, plus the Tier objects and network sets they use:

- tier ``security`` (order 100): GlobalNetworkPolicies isolating prod from dev
  namespaces with Deny then Pass, DNS egress allowed for everyone, a
  quarantined CIDR denied, Log rules, partners admitted through a
  GlobalNetworkSet that overlaps the pod CIDR (so pods match it by IP);
- tier ``platform`` (order 200): namespaced Calico NetworkPolicies with Allow,
  Deny and Pass, selectors using every operator, service accounts,
  notSelector and notPorts; some end without a Pass (the end-of-tier trap);
- tier ``default``: Calico NetworkPolicies ordered before (500), beside (1000)
  and after (none) the Kubernetes ones, with nets/notNets and protocols;
- now and then an AdminNetworkPolicy (kube-admin tier), the one
  BaselineAdminNetworkPolicy (kube-baseline), and staged policies, which are
  never enforced.
"""

from __future__ import annotations

import ipaddress
import random
from collections.abc import Callable, Sequence
from typing import Protocol as TypingProtocol

from service.policy.calico.model import (
    ADMIN_TIER,
    BASELINE_TIER,
    DEFAULT_TIER,
    CalicoEntry,
    CalicoPolicy,
    CalicoRule,
    EntityRule,
    NamedPort,
    NetworkSet,
    PolicyKind,
    PortRange,
    ServiceAccountMatch,
    StagedAction,
    Tier,
    calico_entry,
)
from service.policy.calico.selector import Selector
from service.policy.calico.selector_parse import parse_selector
from service.policy.calico.translate import port_protocol
from service.policy.model import Direction, Labels, Protocol
from service.policy.verdict import Action

__all__ = ["CALICO_TIERS", "calico_policies"]

INGRESS, EGRESS = Direction.INGRESS, Direction.EGRESS
TCP, UDP = port_protocol(Protocol.TCP), port_protocol(Protocol.UDP)
CALICO_TIERS = (Tier("security", 100.0, Action.DENY), Tier("platform", 200.0, Action.DENY))
PARTNERS = NetworkSet(
    "partners",
    None,
    Labels({"role": "partner"}),
    (ipaddress.ip_network("10.64.2.0/25"), ipaddress.ip_network("198.51.100.0/24")),
)
QUARANTINED = ipaddress.ip_network("10.64.3.0/24")
POD_CIDR = ipaddress.ip_network("10.64.0.0/16")
SYSTEM_POOL = ipaddress.ip_network("10.64.0.0/20")


class Cluster(TypingProtocol):
    """What the Calico kinds need from the Kubernetes generator."""

    rng: random.Random

    def apps(self, namespace: str) -> Sequence[str]: ...

    def other_namespace(self) -> str: ...


def sel(text: str) -> Selector:
    return parse_selector(text)


PASS = CalicoRule(Action.PASS)
_Kind = Callable[[Cluster, str, int], CalicoPolicy]


def _app(g: Cluster, ns: str) -> str:
    found = g.apps(ns)
    if found and g.rng.random() < 0.85:
        return g.rng.choice(found)
    return "gone-" + g.rng.choice(("cart", "ledger"))


def _security_env(g: Cluster, ns: str, i: int) -> CalicoPolicy:
    deny = CalicoRule(Action.DENY, source=EntityRule(namespace_selector=sel("env == 'dev'")))
    return CalicoPolicy(
        PolicyKind.GLOBAL_NETWORK_POLICY, f"security.prod-from-dev-{i}", None, "security",
        order=float(10 + i % 7), namespace_selector=sel("env == 'prod'"),
        selector=sel(f"role in {{'api', 'db', '{g.rng.choice(('web', 'cache'))}'}}"),
        types=frozenset({INGRESS}), ingress=(deny, PASS),
    )  # fmt: skip


def _security_dns(g: Cluster, ns: str, i: int) -> CalicoPolicy:
    dns = EntityRule(
        selector=sel("k8s-app == 'kube-dns'"),
        namespace_selector=sel("projectcalico.org/name == 'kube-system'"),
        ports=(PortRange(53, 53),),
    )
    return CalicoPolicy(
        PolicyKind.GLOBAL_NETWORK_POLICY, f"security.dns-{i}", None, "security", order=20.0,
        selector=sel("has(app)"), types=frozenset({EGRESS}),
        egress=(CalicoRule(Action.ALLOW, UDP, destination=dns), PASS),
    )  # fmt: skip


def _security_quarantine(g: Cluster, ns: str, i: int) -> CalicoPolicy:
    deny = CalicoRule(Action.DENY, destination=EntityRule(nets=(QUARANTINED,)))
    log = CalicoRule(Action.LOG, destination=EntityRule(selector=sel("role == 'db'")))
    return CalicoPolicy(
        PolicyKind.GLOBAL_NETWORK_POLICY, f"security.quarantine-{i}", None, "security",
        order=30.0, selector=sel("tier in {'frontend', 'backend'}"), types=frozenset({EGRESS}),
        egress=(log, deny, PASS),
    )  # fmt: skip


def _security_partners(g: Cluster, ns: str, i: int) -> CalicoPolicy:
    partners = EntityRule(selector=sel("role == 'partner'"), namespace_selector=sel("global()"))
    return CalicoPolicy(
        PolicyKind.GLOBAL_NETWORK_POLICY, f"security.partners-{i}", None, "security", order=40.0,
        selector=sel(f"app == '{_app(g, ns)}' || role ends with 'way'"),
        types=frozenset({INGRESS}),
        ingress=(CalicoRule(Action.ALLOW, TCP, source=partners,
                            destination=EntityRule(ports=(PortRange(443, 443), NamedPort("http")))),
                 PASS),
    )  # fmt: skip


def _platform_allow(g: Cluster, ns: str, i: int) -> CalicoPolicy:
    web = EntityRule(selector=sel("role starts with 'we' || version == 'v2'"))
    ports = EntityRule(ports=(PortRange(80, 80), NamedPort("http"), PortRange(8000, 8999)))
    rules = [CalicoRule(Action.ALLOW, TCP, source=web, destination=ports)]
    if g.rng.random() < 0.7:
        rules.append(PASS)  # without it: the end-of-tier trap
    return CalicoPolicy(
        PolicyKind.NETWORK_POLICY, f"platform.allow-web-{i}", ns, "platform",
        order=float(g.rng.choice((1, 5, 5, 9))), selector=sel(f"app == '{_app(g, ns)}'"),
        types=frozenset({INGRESS}), ingress=tuple(rules),
    )  # fmt: skip


def _platform_deny(g: Cluster, ns: str, i: int) -> CalicoPolicy:
    others = EntityRule(not_selector=sel(f"app == '{_app(g, ns)}'"))
    accounts = EntityRule(service_accounts=ServiceAccountMatch(("default",)))
    return CalicoPolicy(
        PolicyKind.NETWORK_POLICY, f"platform.cache-{i}", ns, "platform", order=3.0,
        selector=sel("role == 'cache' || tier contains 'dat'"), types=frozenset({INGRESS}),
        ingress=(CalicoRule(Action.DENY, UDP, source=others),
                 CalicoRule(Action.ALLOW, source=accounts), PASS),
    )  # fmt: skip


def _platform_egress(g: Cluster, ns: str, i: int) -> CalicoPolicy:
    team = g.rng.choice(("payments", "search", "web", "data"))
    out = EntityRule(namespace_selector=sel(f"team == '{team}' || !has(env)"),
                     not_ports=(PortRange(9000, 9999),))  # fmt: skip
    return CalicoPolicy(
        PolicyKind.NETWORK_POLICY, f"platform.egress-{i}", ns, "platform", order=7.0,
        selector=sel(f"app != '{_app(g, ns)}' && has(role)"), types=frozenset({EGRESS}),
        egress=(CalicoRule(Action.ALLOW, TCP, destination=out), PASS),
    )  # fmt: skip


def _default_before(g: Cluster, ns: str, i: int) -> CalicoPolicy:
    team = EntityRule(namespace_selector=sel(f"team == '{g.rng.choice(('ml', 'data', 'web'))}'"))
    return CalicoPolicy(
        PolicyKind.NETWORK_POLICY, f"before-knp-{i}", ns, DEFAULT_TIER, order=500.0,
        selector=sel(f"app == '{_app(g, ns)}'"), types=frozenset({INGRESS}),
        ingress=(CalicoRule(Action.DENY, UDP),
                 CalicoRule(Action.ALLOW, TCP, source=team,
                            destination=EntityRule(ports=(NamedPort("http"),)))),
    )  # fmt: skip


def _default_after(g: Cluster, ns: str, i: int) -> CalicoPolicy:
    pods = EntityRule(nets=(POD_CIDR,), not_nets=(SYSTEM_POOL,), ports=(PortRange(443, 443),))
    order = g.rng.choice((None, 1000.0))
    return CalicoPolicy(
        PolicyKind.NETWORK_POLICY, f"after-knp-{i}", ns, DEFAULT_TIER, order=order,
        selector=sel("role in {'api', 'worker'}"), types=frozenset({EGRESS, INGRESS}),
        egress=(CalicoRule(Action.ALLOW, TCP, destination=pods),),
        ingress=(CalicoRule(Action.ALLOW, source=EntityRule(selector=sel("all()"))),),
    )  # fmt: skip


def _staged(g: Cluster, ns: str, i: int) -> CalicoPolicy:
    return CalicoPolicy(
        PolicyKind.STAGED_NETWORK_POLICY, f"staged-deny-{i}", ns, DEFAULT_TIER, order=1.0,
        types=frozenset({INGRESS}), staged_action=StagedAction.SET,
    )  # fmt: skip


def _admin(g: Cluster, ns: str, i: int) -> CalicoPolicy:
    from_dev = EntityRule(namespace_selector=sel("env == 'dev'"))
    return CalicoPolicy(
        PolicyKind.ADMIN_NETWORK_POLICY, f"admin-{i}", None, ADMIN_TIER, order=float(i % 1000),
        namespace_selector=sel(f"team == '{g.rng.choice(('payments', 'identity'))}'"),
        types=frozenset({INGRESS}),
        ingress=(CalicoRule(Action.DENY, TCP, source=from_dev,
                            destination=EntityRule(ports=(PortRange(5432, 5432),))),
                 CalicoRule(Action.PASS)),
    )  # fmt: skip


def _baseline(g: Cluster, ns: str, i: int) -> CalicoPolicy:
    other = EntityRule(namespace_selector=sel("env == 'staging'"))
    return CalicoPolicy(
        PolicyKind.BASELINE_ADMIN_NETWORK_POLICY, "default", None, BASELINE_TIER,
        namespace_selector=sel("all()"), types=frozenset({INGRESS}),
        ingress=(CalicoRule(Action.DENY, source=other),),
    )  # fmt: skip


_KINDS: tuple[_Kind, ...] = (
    _security_env, _security_dns, _security_quarantine, _security_partners, _platform_allow,
    _platform_allow, _platform_deny, _platform_egress, _platform_egress, _default_before,
    _default_before, _default_after, _default_after, _staged, _admin,
)  # fmt: skip


def calico_policies(g: Cluster, homes: Sequence[str], count: int) -> list[CalicoEntry]:
    """``count`` Calico policies over ``homes`` namespaces, plus the objects they rely on."""
    if count <= 0:
        return []
    kinds = list(_KINDS)
    g.rng.shuffle(kinds)
    kinds.insert(0, _baseline)  # the one BaselineAdminNetworkPolicy, first so it always exists
    out = [calico_entry(t) for t in CALICO_TIERS] + [calico_entry(PARTNERS)]
    for i in range(count):
        kind = kinds[i % len(kinds)] if i < len(kinds) else kinds[1 + i % (len(kinds) - 1)]
        out.append(calico_entry(kind(g, g.rng.choice(homes), i)))
    return out
