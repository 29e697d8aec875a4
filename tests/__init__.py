"""Tests of netpol-drift, mirroring the service packages."""
