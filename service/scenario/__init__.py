"""Scenarios: the format users write, validation, and matrix planning."""
