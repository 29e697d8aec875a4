"""The vectorised truth table over pod equivalence classes.

STUB: owned by the truth-table helper. Contract:

@dataclass(frozen=True) class PortProbe: port: int | str; protocol: Protocol = TCP

class TruthTable:
    pods: tuple[Pod, ...]; probes: tuple[PortProbe, ...]
    pod_class: np.ndarray            # (P,) int32, pod index -> class index
    class_allowed: np.ndarray        # (K, C, C) bool: [probe, source class, destination class]
    class_valid: np.ndarray          # (K, C) bool: destination class can be probed on that probe
    def allowed(self, src: int, dst: int, probe: int) -> bool
    def pod_matrix(self, probe: int) -> np.ndarray   # (P, P) bool; loopback cells True

def compute_truth_table(state: ClusterState, probes: Sequence[PortProbe]) -> TruthTable
"""
