"""The evidence engine: provenance, metadata and signal traces for one image file."""

from fakescope_cli.evidence.engine import EvidenceOptions, gather_evidence
from fakescope_cli.evidence.fusion import FusedVerdict, fuse
from fakescope_cli.evidence.items import EvidenceItem, EvidenceReport

__all__ = ["EvidenceItem", "EvidenceOptions", "EvidenceReport", "FusedVerdict", "fuse", "gather_evidence"]
