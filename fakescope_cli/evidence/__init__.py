"""The evidence engine: provenance, metadata and signal traces for one image file.

Names are imported on first use (the engine pulls in numpy and every analyser)."""

from __future__ import annotations

from typing import Any

__all__ = ["EvidenceItem", "EvidenceOptions", "EvidenceReport", "FusedVerdict", "fuse", "gather_evidence"]
_WHERE = {
    "EvidenceOptions": "fakescope_cli.evidence.options",
    "gather_evidence": "fakescope_cli.evidence.engine",
    "FusedVerdict": "fakescope_cli.evidence.fusion",
    "fuse": "fakescope_cli.evidence.fusion",
    "EvidenceItem": "fakescope_cli.evidence.items",
    "EvidenceReport": "fakescope_cli.evidence.items",
}


def __getattr__(name: str) -> Any:
    if name not in _WHERE:
        raise AttributeError(name)
    import importlib

    return getattr(importlib.import_module(_WHERE[name]), name)
