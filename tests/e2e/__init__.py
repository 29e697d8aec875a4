"""End-to-end tests on a real Calico cluster, opt-in: `pytest -m e2e` with a kubeconfig."""
