"""Reading Kubernetes manifests from files and folders into a ClusterState.

STUB: owned by the manifests helper. Contract:

@dataclass(frozen=True) class LoadResult:
    state: ClusterState
    skipped: Mapping[str, int]      # kind -> how many objects of it were skipped
    files: tuple[str, ...]

def load_manifests(paths: Sequence[Path | str]) -> LoadResult
    raises InvalidInput naming file, document, line, field and what was expected.
"""
