"""Sets of (protocol, port) connections, printed as netpol-analyzer prints them.

STUB: owned by the engine-core helper. Contract:

class ConnectionSet (frozen, hashable):
    ConnectionSet.all() / ConnectionSet.none()
    ConnectionSet.of(protocol, lo, hi)           # ports lo..hi inclusive, 1..65535
    a | b, a & b, a - b, bool(a), a.is_all, a.contains(protocol, port)
    str(a): "All Connections" | "No Connections" | "TCP 1-79,81-65535,UDP 53"
            (protocols in alphabetical order, ranges merged, a single port printed alone)
"""
