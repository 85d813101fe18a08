"""Export Hugging Face vision-language checkpoints to GGUF (text model + mmproj) for llama.cpp.

Imports torch/transformers-side packages (gguf, safetensors, torch); never imported by the CLI.
"""

CONVERTER_VERSION = "0.2.0"
