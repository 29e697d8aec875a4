"""Properties of the evaluator over random cluster states (tests/policy/strategies.py).

Each property is a law of Kubernetes NetworkPolicy that holds whatever the
policies say, so together they catch mistakes no hand-written table thought of:
isolation is opt-in, rules only ever add, order is irrelevant, and the three
ways of asking (is_allowed, explain, connections) agree.
"""

from __future__ import annotations

from collections.abc import Iterator

from hypothesis import given, settings
from hypothesis import strategies as st

from service.policy.connections import ConnectionSet
from service.policy.evaluate import Endpoint, Evaluator
from service.policy.model import ClusterState, Direction, Pod, Protocol, Rule
from tests.policy.strategies import (
    cluster_states,
    endpoints,
    probe_ports,
    rules,
    with_rule_added,
)

EXAMPLES = settings(max_examples=120, deadline=None)


def pairs(state: ClusterState) -> Iterator[tuple[Endpoint, Endpoint]]:
    ends = endpoints(state)
    for src in ends:
        for dst in ends:
            yield src, dst


def some_probes(data: st.DataObject, state: ClusterState) -> list[tuple[Protocol, int]]:
    """A few (protocol, port) probes: explanations are dear, and ports rarely matter alone."""
    everything = [(proto, port) for proto in Protocol for port in probe_ports(state)]
    return data.draw(
        st.lists(st.sampled_from(everything), min_size=1, max_size=6, unique=True), label="probes"
    )


def selected_for_ingress(state: ClusterState, pod: Pod) -> bool:
    """The definition of ingress isolation, straight from the API docs."""
    return not pod.host_network and any(
        p.namespace == pod.namespace
        and Direction.INGRESS in p.policy_types
        and p.pod_selector.matches(pod.labels)
        for p in state.policies
    )


@EXAMPLES
@given(st.data(), cluster_states())
def test_pod_selected_by_no_ingress_policy_accepts_all_ingress(
    data: st.DataObject, state: ClusterState
) -> None:
    ev = Evaluator(state)
    probes = some_probes(data, state)
    for src, dst in pairs(state):
        if not isinstance(dst, Pod) or selected_for_ingress(state, dst):
            continue
        for protocol, port in probes:
            verdict = ev.explain(src, dst, port=port, protocol=protocol).ingress
            assert verdict.allowed
            assert not verdict.isolated


@EXAMPLES
@given(st.data(), cluster_states(max_policies=3).filter(lambda s: bool(s.policies)), rules())
def test_adding_a_rule_to_a_policy_never_removes_a_connection(
    data: st.DataObject, state: ClusterState, rule: Rule
) -> None:
    index = data.draw(st.integers(0, len(state.policies) - 1), label="policy index")
    direction = data.draw(st.sampled_from(list(Direction)), label="direction")
    before = Evaluator(state)
    after = Evaluator(with_rule_added(state, index=index, direction=direction, rule=rule))
    for src, dst in pairs(state):
        lost = before.connections(src, dst) - after.connections(src, dst)
        assert not lost, f"{src} -> {dst} lost {lost}"


@EXAMPLES
@given(cluster_states(policies=False))
def test_no_policies_means_full_connectivity(state: ClusterState) -> None:
    ev = Evaluator(state)
    for src, dst in pairs(state):
        assert ev.connections(src, dst) == ConnectionSet.all()
        assert ev.is_allowed(src, dst, port=80, protocol=Protocol.TCP)


@EXAMPLES
@given(st.data(), cluster_states())
def test_result_does_not_depend_on_the_order_of_policies(
    data: st.DataObject, state: ClusterState
) -> None:
    shuffled = data.draw(st.permutations(state.policies), label="policy order")
    a = Evaluator(state)
    b = Evaluator(ClusterState(state.namespaces, state.pods, tuple(shuffled)))
    probes = some_probes(data, state)
    for src, dst in pairs(state):
        assert a.connections(src, dst) == b.connections(src, dst)
        for protocol, port in probes:
            # Explanations too: same isolating policies, same matches, same words.
            assert a.explain(src, dst, port=port, protocol=protocol) == b.explain(
                src, dst, port=port, protocol=protocol
            )


@EXAMPLES
@given(st.data(), cluster_states())
def test_is_allowed_equals_explain_allowed(data: st.DataObject, state: ClusterState) -> None:
    ev = Evaluator(state)
    probes = some_probes(data, state)
    for src, dst in pairs(state):
        for protocol, port in probes:
            explained = ev.explain(src, dst, port=port, protocol=protocol)
            assert ev.is_allowed(src, dst, port=port, protocol=protocol) == explained.allowed
            # An allowed side names the rules that allowed it, or is not isolated.
            for side in (explained.egress, explained.ingress):
                assert side.allowed == (not side.isolated or bool(side.matches))


@EXAMPLES
@given(cluster_states())
def test_connections_contain_exactly_what_is_allowed(state: ClusterState) -> None:
    ev = Evaluator(state)
    for src, dst in pairs(state):
        allowed = ev.connections(src, dst)
        for protocol in Protocol:
            for port in probe_ports(state):
                assert allowed.contains(protocol, port) == ev.is_allowed(
                    src, dst, port=port, protocol=protocol
                ), f"{src} -> {dst} {protocol} {port}: connections say {allowed}"
