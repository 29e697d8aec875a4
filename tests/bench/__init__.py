"""Tests of the benchmark inputs (bench/)."""
