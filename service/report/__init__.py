"""service.report: being written."""
