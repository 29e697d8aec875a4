"""Tests of the Kubernetes backend, driven through the real client against a fake API server."""
