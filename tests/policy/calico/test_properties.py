"""Properties over generated clusters: one engine, whatever the path.

- The vectorised truth table equals the per-cell tiered evaluator, cell by
  cell, on random Calico clusters and on the synthetic mixed clusters of the
  benchmark (30-50% Calico policies over three tiers, admin policies, network
  sets overlapping pod IPs, staged policies).
- A Kubernetes NetworkPolicy and its translation into Calico's model give
  identical truth tables (and identical per-cell answers).
- ``connections`` agrees with ``is_allowed`` port by port.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bench.synthetic import generate_cluster
from service.policy.calico.model import CalicoEntry, PolicyKind, calico_entry
from service.policy.calico.translate import translate_network_policy
from service.policy.evaluate import Evaluator
from service.policy.model import ClusterState, Protocol
from service.policy.truthtable import PortProbe, TruthTable, compute_truth_table
from tests.policy.calico.strategies import calico_states
from tests.policy.strategies import EXTERNAL_IPS, PORT_NAMES, PORT_NUMBERS, cluster_states

PROBES = (
    PortProbe(80, Protocol.TCP),
    PortProbe(443, Protocol.TCP),
    PortProbe(53, Protocol.UDP),
    PortProbe(8080, Protocol.SCTP),
    *(PortProbe(name, Protocol.TCP) for name in PORT_NAMES),
)


def mismatches(state: ClusterState, table: TruthTable, probes: tuple[PortProbe, ...]) -> list[str]:
    evaluator = Evaluator(state)
    out = []
    for k, probe in enumerate(probes):
        matrix = table.pod_matrix(k)
        for j, dst in enumerate(state.pods):
            number = table.port_number(j, k)
            if number is None:
                continue
            for i, src in enumerate(state.pods):
                expected = i == j or evaluator.is_allowed(
                    src, dst, port=number, protocol=probe.protocol
                )
                if bool(matrix[i, j]) != expected:
                    out.append(f"{src.ref} -> {dst.ref} {probe}: table {matrix[i, j]}")
    return out


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(calico_states())
def test_vectorised_table_equals_the_per_cell_evaluator_on_random_calico_clusters(
    state: ClusterState,
) -> None:
    table = compute_truth_table(state, PROBES)
    assert mismatches(state, table, PROBES) == []


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_vectorised_table_equals_the_per_cell_evaluator_on_synthetic_mixed_clusters(
    seed: int,
) -> None:
    state = generate_cluster(pods=160, namespaces=9, policies=70, seed=seed, calico_fraction=0.4)
    assert any(isinstance(p, CalicoEntry) for p in state.policies)
    probes = (PortProbe(80), PortProbe("http"), PortProbe(53, Protocol.UDP), PortProbe(5432))
    assert mismatches(state, compute_truth_table(state, probes), probes) == []


def translated(state: ClusterState) -> ClusterState:
    """Every Kubernetes policy replaced by its translation, as a Calico NetworkPolicy."""
    return ClusterState(
        namespaces=state.namespaces,
        pods=state.pods,
        policies=tuple(
            calico_entry(translate_network_policy(p, kind=PolicyKind.NETWORK_POLICY))
            for p in state.policies
        ),
        services=state.services,
    )


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cluster_states(max_policies=4))
def test_a_kubernetes_policy_and_its_calico_translation_give_identical_truth_tables(
    state: ClusterState,
) -> None:
    calico = translated(state)
    kubernetes_table = compute_truth_table(state, PROBES)
    calico_table = compute_truth_table(calico, PROBES)
    for k in range(len(PROBES)):
        assert np.array_equal(kubernetes_table.pod_matrix(k), calico_table.pod_matrix(k))
    kubernetes, tiered = Evaluator(state), Evaluator(calico)
    for src in (*state.pods, *EXTERNAL_IPS):
        for dst in (*state.pods, *EXTERNAL_IPS):
            for port in PORT_NUMBERS:
                assert kubernetes.is_allowed(src, dst, port=port, protocol=Protocol.TCP) == (
                    tiered.is_allowed(src, dst, port=port, protocol=Protocol.TCP)
                )
            assert kubernetes.connections(src, dst) == tiered.connections(src, dst)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(calico_states(max_pods=4), st.sampled_from(list(Protocol)))
def test_connections_agree_with_is_allowed_port_by_port(
    state: ClusterState, protocol: Protocol
) -> None:
    evaluator = Evaluator(state)
    for src in (*state.pods, EXTERNAL_IPS[0]):
        for dst in (*state.pods, EXTERNAL_IPS[0]):
            connections = evaluator.connections(src, dst)
            for port in (*PORT_NUMBERS, 1, 450, 65535):
                assert connections.contains(protocol, port) == evaluator.is_allowed(
                    src, dst, port=port, protocol=protocol
                )
