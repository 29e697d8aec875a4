"""service.cluster: being written."""
