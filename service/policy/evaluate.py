"""The per-connection evaluator: exact semantics, one cell at a time, with explanations.

STUB: owned by the engine-core helper. Contract:

Endpoint = Pod | IPAddress   (an IP address is an endpoint outside the cluster)

class Evaluator:
    def __init__(self, state: ClusterState) -> None      # indexes policies by namespace once
    def explain(self, src: Endpoint, dst: Endpoint, *, port: int, protocol: Protocol) -> Explanation
    def is_allowed(self, src: Endpoint, dst: Endpoint, *, port: int, protocol: Protocol) -> bool
    def connections(self, src: Endpoint, dst: Endpoint) -> ConnectionSet   # over all ports
"""
