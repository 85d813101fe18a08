"""``python -m train`` commands, one module per group (see ``train.cli``)."""
