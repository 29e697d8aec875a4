"""From API-shaped dictionaries to engine values, validated as the API server would.

STUB: owned by the manifests helper. Contract:

def parse_network_policy(obj: Mapping[str, Any], *, source: SourceRef | None = None) -> NetworkPolicy
def parse_label_selector(obj: object, path: FieldPath) -> LabelSelector
    raise InvalidInput with one Problem per defect, each with the field path
    (e.g. spec.ingress[0].from[1].podSelector.matchExpressions[0].operator) and
    what was expected; file and line are added by service.manifests.
"""
