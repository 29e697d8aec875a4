"""Renderers: truth tables, connlists, JSON and JUnit, returned as text (no I/O)."""
