"""Runs: evaluation, metrics, and the FakeScope-mini run (plan, stages, card)."""
