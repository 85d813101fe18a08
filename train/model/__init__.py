"""The model: starting checkpoints, the vision stage, instruction tuning, adapters."""
