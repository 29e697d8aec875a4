"""Tests of the ``netpol-drift`` commands, run through the real command line."""
