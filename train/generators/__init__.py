"""Small image generator families trained on real photo crops, then sampled: the "fake" class
when no pretrained generator runs offline.

Families (``registry.FAMILIES``): ``ddpm``, ``gan-tconv``, ``gan-pixelshuffle``, ``ae-resynth``.
``train_family`` (``train.generators.trainer``) writes ``weights.safetensors`` + ``config.json``;
``generate`` (``train.generators.generate``) writes PNGs + ``generation.json``. This package file and
``registry`` import no torch, so the CLI stays fast; the rest import it.
"""
