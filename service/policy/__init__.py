"""The policy engine: pure functions from policies and pods to verdicts with explanations.

No I/O and no framework imports (enforced by import-linter): everything here is
given its inputs as values and returns values.
"""
