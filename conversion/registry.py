"""Architecture registry: Hugging Face architecture name -> converter module, imported lazily."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

from fakescope_cli.errors import ConversionError

if TYPE_CHECKING:
    from conversion.base import ArchitectureExporter

# Each module defines EXPORTER, a subclass of conversion.base.ArchitectureExporter.
_MODULES: dict[str, str] = {
    "Idefics3ForConditionalGeneration": "conversion.idefics3",
    "SmolVLMForConditionalGeneration": "conversion.idefics3",
    "LlavaForConditionalGeneration": "conversion.llava",
    "Qwen2_5_VLForConditionalGeneration": "conversion.qwen25vl",
}


def supported_architectures() -> list[str]:
    return sorted(_MODULES)


def exporter_for(architecture: str) -> type[ArchitectureExporter]:
    """The exporter class for ``architecture``; unknown names list what is supported."""
    module_name = _MODULES.get(architecture)
    if module_name is None:
        raise ConversionError(
            f"unsupported architecture {architecture!r}; supported: {', '.join(supported_architectures())}"
        )
    module = importlib.import_module(module_name)
    exporter: type[ArchitectureExporter] = module.EXPORTER
    return exporter
