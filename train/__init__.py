"""The training path: datasets, FakeChain, FakeInstruct, instruction tuning, evaluation.

The data modules need no torch; `sft`, `hf_model` and `evaluate`'s PyTorch scorer import torch and
transformers. The CLI never imports this package.
"""
