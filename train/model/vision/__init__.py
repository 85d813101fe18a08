"""The vision tower's first training stage: a real/fake classifier on native tiles (CPU-sized)."""
