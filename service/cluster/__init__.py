"""Clusters: the one interface for simulated and real runs, and its implementations."""
