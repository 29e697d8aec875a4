"""Tests of the pure policy engine (service.policy)."""
