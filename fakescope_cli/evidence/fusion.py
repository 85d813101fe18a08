"""Fusion: one verdict from strong provenance evidence and the model's p(fake).

The rule, in order:
1. Strong findings that point to AI (a generator's own metadata, IPTC DigitalSourceType
   trainedAlgorithmicMedia, C2PA actions declaring an AI source under a valid signature) and none
   pointing to a camera: ``ai-generated``.
2. A strong camera finding (a validly signed C2PA capture with no recorded edits) and none
   pointing to AI: ``camera-original``.
3. Strong findings on both sides: ``inconclusive`` (the provenance contradicts itself).
4. Otherwise the model decides, with an inconclusive band around the threshold t:
   p >= t + b gives ``likely-ai``, p < t - b gives ``likely-real``, in between ``inconclusive``.
   The band b (default 0.1) narrows near 0 and 1 so that both verdicts stay reachable.
5. No model score and no strong finding: ``inconclusive``, saying that the model score is missing.

Moderate and weak findings (EXIF, editors, signal traces) never decide: they are context for
the reader. When the model disagrees with strong provenance, the reason says so.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from fakescope_cli.evidence.items import POINTS_AI, POINTS_CAMERA, POINTS_EDITED, STRONG, EvidenceItem

AI_GENERATED = "ai-generated"
LIKELY_AI = "likely-ai"
INCONCLUSIVE = "inconclusive"
LIKELY_REAL = "likely-real"
CAMERA_ORIGINAL = "camera-original"
VERDICTS = (AI_GENERATED, LIKELY_AI, INCONCLUSIVE, LIKELY_REAL, CAMERA_ORIGINAL)
FLAGGED = (AI_GENERATED, LIKELY_AI)
DEFAULT_BAND = 0.1


@dataclass(frozen=True)
class FusedVerdict:
    verdict: str
    reason: str
    decided_by: list[str]  # evidence ids, or "model"
    p_fake: float | None

    @property
    def flagged(self) -> bool:
        return self.verdict in FLAGGED

    def to_dict(self) -> dict[str, Any]:
        return {"verdict": self.verdict, "reason": self.reason, "decided_by": self.decided_by}


def band_edges(threshold: float, band: float) -> tuple[float, float]:
    """(lower, upper) edges of the inconclusive band around ``threshold``."""
    half = max(0.0, min(band, threshold / 2, (1 - threshold) / 2))
    return threshold - half, threshold + half


def fuse(
    items: list[EvidenceItem], p_fake: float | None, threshold: float = 0.5, band: float = DEFAULT_BAND
) -> FusedVerdict:
    """The verdict; a broken C2PA signature is said in the reason whatever decided it."""
    fused = _fuse(items, p_fake, threshold, band)
    broken = next((i for i in items if i.id == "c2pa.manifest" and i.points_to == POINTS_EDITED), None)
    if broken is not None:
        words = broken.summary.split(": ", 1)[-1]
        return replace(fused, reason=f"{fused.reason}; the Content Credentials do not validate ({words})")
    return fused


def _fuse(items: list[EvidenceItem], p_fake: float | None, threshold: float, band: float) -> FusedVerdict:
    ai = [i for i in items if i.strength == STRONG and i.points_to == POINTS_AI]
    camera = [i for i in items if i.strength == STRONG and i.points_to == POINTS_CAMERA]
    lower, upper = band_edges(threshold, band)
    if ai and camera:
        return FusedVerdict(
            INCONCLUSIVE,
            f"provenance contradicts itself: {ai[0].summary}; but {camera[0].summary}",
            _ids(ai + camera),
            p_fake,
        )
    if ai:
        note = ""
        if p_fake is not None and p_fake < lower:
            note = f" (the model alone says likely real, p(fake) {p_fake:.3f})"
        return FusedVerdict(AI_GENERATED, f"{ai[0].summary}{note}", _ids(ai), p_fake)
    if camera:
        note = ""
        if p_fake is not None and p_fake >= upper:
            note = f" (the model alone says likely AI, p(fake) {p_fake:.3f})"
        return FusedVerdict(CAMERA_ORIGINAL, f"{camera[0].summary}{note}", _ids(camera), p_fake)
    if p_fake is None:
        return FusedVerdict(
            INCONCLUSIVE,
            "no model score (no model was run), and no decisive provenance in the file",
            [],
            None,
        )
    if p_fake >= upper:
        return FusedVerdict(LIKELY_AI, f"model p(fake) {p_fake:.3f} >= {upper:.2f}", ["model"], p_fake)
    if p_fake < lower:
        return FusedVerdict(LIKELY_REAL, f"model p(fake) {p_fake:.3f} < {lower:.2f}", ["model"], p_fake)
    return FusedVerdict(
        INCONCLUSIVE,
        f"model p(fake) {p_fake:.3f} is within the inconclusive band [{lower:.2f}, {upper:.2f})",
        ["model"],
        p_fake,
    )


def _ids(items: list[EvidenceItem]) -> list[str]:
    return list(dict.fromkeys(item.id for item in items))
