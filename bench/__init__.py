"""Benchmarks, run by hand (``.venv/bin/python -m bench.NAME``), and their synthetic inputs.

Each benchmark prints its measured figure and its ratio to a baseline run in
the same process. They are not tests: nothing here runs in CI.
"""
