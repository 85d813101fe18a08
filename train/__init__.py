"""The training path: datasets, FakeChain, FakeInstruct, instruction tuning, evaluation, and small
image generator families (`synth`) that make the generated class.

The data modules need no torch; `sft`, `hf_model` and `evaluate`'s PyTorch scorer import torch and
transformers; `synth` (all but its registry) imports torch. The CLI never imports this package.
"""
