"""Training path (FakeChain -> FakeInstruct -> instruction tuning); see the training issue.

Imports torch/transformers; never imported by the CLI.
"""
