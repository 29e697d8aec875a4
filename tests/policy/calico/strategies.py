"""Hypothesis strategies for random Calico objects over the tiny vocabularies of
tests/policy/strategies.py, so random selectors, nets, network sets and actions
keep hitting the same pods: tiers with Deny or Pass ends, namespaced and global
policies with every action, entity rules mixing selectors, notSelectors,
namespace selectors (all(), global()), nets, ports, service accounts; network
sets overlapping the pod IPs. Every object drawn is one Calico would accept.
"""

from __future__ import annotations

from dataclasses import replace
from functools import cache

from hypothesis import strategies as st

from service.policy.calico.model import (
    DEFAULT_TIER,
    CalicoEntry,
    CalicoPolicy,
    CalicoRule,
    EntityRule,
    NamedPort,
    NetworkSet,
    PolicyKind,
    PortRange,
    ProtocolMatch,
    ServiceAccountMatch,
    Tier,
    calico_entry,
)
from service.policy.calico.selector import (
    All,
    And,
    Compare,
    Global,
    Has,
    Membership,
    Node,
    Not,
    Op,
    Or,
    Selector,
)
from service.policy.model import ClusterState, Direction, Labels
from service.policy.verdict import Action
from tests.policy.strategies import (
    CIDRS,
    LABEL_KEYS,
    LABEL_VALUES,
    NAMESPACES,
    PORT_NAMES,
    PORT_NUMBERS,
    cluster_states,
)

__all__ = ["calico_states", "selector_leaves", "selectors"]

TIER_NAMES = ("t1", "t2", DEFAULT_TIER)
PROTOCOLS = {"TCP": 6, "UDP": 17, "SCTP": 132, "ICMP": 1}
_KEYS = st.sampled_from(
    [
        *LABEL_KEYS,
        "pcns.team",
        "pcns.app",
        "projectcalico.org/namespace",
        "pcsa.projectcalico.org/name",
    ]
)
_VALUES = st.sampled_from([*LABEL_VALUES, *NAMESPACES, "api", "default"])


def selector_leaves(
    keys: st.SearchStrategy[str], values: st.SearchStrategy[str], *, max_values: int
) -> st.SearchStrategy[Node]:
    """all(), has(k), every comparison and ``in``/``not in`` sets of up to ``max_values``."""
    return st.one_of(
        st.just(All()),
        st.builds(Has, keys),
        st.builds(Compare, keys, st.sampled_from(list(Op)), values),
        st.builds(
            lambda k, vs, inv: Membership(k, tuple(sorted(set(vs))), inv),
            keys,
            st.lists(values, max_size=max_values),
            st.booleans(),
        ),
    )


@cache
def _leaves() -> st.SearchStrategy[Node]:
    return selector_leaves(_KEYS, _VALUES, max_values=2)


@cache
def selectors() -> st.SearchStrategy[Selector]:
    nodes: st.SearchStrategy[Node] = st.recursive(
        _leaves(),
        lambda inner: st.one_of(
            st.builds(Not, inner),
            st.builds(lambda ops: And(tuple(ops)), st.lists(inner, min_size=2, max_size=2)),
            st.builds(lambda ops: Or(tuple(ops)), st.lists(inner, min_size=2, max_size=2)),
        ),
        max_leaves=3,
    )
    return nodes.map(Selector.of)


_NAMESPACE_SELECTORS = st.one_of(selectors(), st.just(Selector.of(Global())))
_NETS = st.lists(st.sampled_from(CIDRS), max_size=2).map(tuple)
_PORTS = st.lists(
    st.one_of(
        st.sampled_from(PORT_NUMBERS).map(lambda p: PortRange(p, p)),
        st.sampled_from([PortRange(1, 80), PortRange(81, 8080), PortRange(440, 450)]),
        st.sampled_from(PORT_NAMES).map(NamedPort),
    ),
    max_size=2,
).map(tuple)


@st.composite
def entities(draw: st.DrawFn, ports: bool) -> EntityRule:
    optional = st.none() | selectors()
    return EntityRule(
        nets=draw(_NETS) if draw(st.booleans()) else (),
        not_nets=draw(_NETS) if draw(st.integers(0, 3)) == 0 else (),
        selector=draw(optional),
        not_selector=draw(st.none() | selectors()) if draw(st.integers(0, 2)) == 0 else None,
        namespace_selector=draw(st.none() | _NAMESPACE_SELECTORS),
        ports=draw(_PORTS) if ports else (),
        not_ports=draw(_PORTS) if ports and draw(st.integers(0, 3)) == 0 else (),
        service_accounts=(ServiceAccountMatch(("api",)) if draw(st.integers(0, 5)) == 0 else None),
    )


@st.composite
def rules(draw: st.DrawFn) -> CalicoRule:
    name = draw(st.sampled_from([None, "TCP", "UDP", "SCTP", "ICMP"]))
    protocol = None if name is None else ProtocolMatch(PROTOCOLS[name], name)
    ports = name in ("TCP", "UDP", "SCTP")
    not_name = draw(st.sampled_from([None, None, "TCP", "UDP"]))
    return CalicoRule(
        action=draw(
            st.sampled_from([Action.ALLOW, Action.ALLOW, Action.DENY, Action.PASS, Action.LOG])
        ),
        protocol=protocol,
        not_protocol=None if not_name is None else ProtocolMatch(PROTOCOLS[not_name], not_name),
        source=draw(entities(ports=False)),
        destination=draw(entities(ports=ports)),
    )


_TYPES = st.frozensets(st.sampled_from(list(Direction)), min_size=1)


@st.composite
def policies(draw: st.DrawFn, index: int) -> CalicoPolicy:
    namespaced = draw(st.booleans())
    return CalicoPolicy(
        kind=PolicyKind.NETWORK_POLICY if namespaced else PolicyKind.GLOBAL_NETWORK_POLICY,
        name=f"calico-{index}",
        namespace=draw(st.sampled_from(NAMESPACES)) if namespaced else None,
        tier=draw(st.sampled_from(TIER_NAMES)),
        order=draw(st.sampled_from([None, 1.0, 2.0, 1000.0])),
        selector=draw(selectors()),
        namespace_selector=None if namespaced else draw(st.none() | selectors()),
        types=draw(_TYPES),
        ingress=tuple(draw(st.lists(rules(), max_size=3))),
        egress=tuple(draw(st.lists(rules(), max_size=3))),
    )


@st.composite
def network_sets(draw: st.DrawFn, index: int) -> NetworkSet:
    labels = draw(
        st.dictionaries(st.sampled_from(LABEL_KEYS), st.sampled_from(LABEL_VALUES), max_size=2)
    )
    nets = tuple(draw(st.lists(st.sampled_from(CIDRS), min_size=1, max_size=2)))
    namespace = draw(st.none() | st.sampled_from(NAMESPACES))
    return NetworkSet(f"set-{index}", namespace, Labels(labels), nets)


@st.composite
def calico_states(draw: st.DrawFn, *, max_pods: int = 6, kubernetes: bool = True) -> ClusterState:
    """A cluster of the base strategies' pods and Kubernetes policies plus Calico objects."""
    base = draw(cluster_states(max_pods=max_pods, max_policies=3 if kubernetes else 0))
    pods = tuple(
        replace(p, service_account="api") if draw(st.integers(0, 3)) == 0 else p for p in base.pods
    )
    tiers: list[CalicoEntry] = [
        calico_entry(Tier("t1", 10.0, draw(st.sampled_from([Action.DENY, Action.PASS])))),
        calico_entry(
            Tier(
                "t2",
                draw(st.sampled_from([None, 20.0])),
                draw(st.sampled_from([Action.DENY, Action.PASS])),
            )
        ),
    ]
    drawn = [calico_entry(draw(policies(i))) for i in range(draw(st.integers(1, 4)))]
    sets = [calico_entry(draw(network_sets(i))) for i in range(draw(st.integers(0, 2)))]
    return replace(base, pods=pods, policies=(*base.policies, *tiers, *drawn, *sets))
