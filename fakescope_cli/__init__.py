"""FakeScope: offline forensic scoring of images with a multimodal model run by llama.cpp."""

__version__ = "0.1.0"
