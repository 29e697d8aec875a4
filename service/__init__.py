"""netpol-drift: a chaos-style regression service for Kubernetes network policy on Calico."""

__version__ = "0.1.0"
