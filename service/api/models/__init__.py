"""Pydantic models of the API: request bodies and query parameters (validated), and the
response shapes that are not already the read side's TypedDicts (documented)."""
