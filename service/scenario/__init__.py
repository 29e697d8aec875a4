"""service.scenario: being written."""
