"""What the evidence engine is asked to do (kept apart from the engine, so that commands can name
it without importing numpy and the analysers: `fakescope --help` stays fast)."""

from __future__ import annotations

from dataclasses import dataclass

from fakescope_cli.imageio import DEFAULT_MAX_PIXELS


@dataclass(frozen=True)
class EvidenceOptions:
    signals: bool = True  # ELA, spectrum, double-compression (needs the pixels)
    figures: bool = False  # keep PNG maps of ELA and spectrum in the report
    c2pa_trust_anchors: str | None = None  # PEM text; None = no trust list
    max_pixels: int = DEFAULT_MAX_PIXELS
