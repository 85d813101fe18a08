"""FakeScope-mini: the starting checkpoint (SmolLM2 text model + a small ViT trained from scratch) and
the stdlib-only tool that carries large files to the GPU machine in parts (``stage``)."""
