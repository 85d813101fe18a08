"""The fusion rule as a table: strong provenance, model score, band, missing model."""

from __future__ import annotations

import pytest

from fakescope_cli.evidence.fusion import band_edges, fuse
from fakescope_cli.evidence.items import (
    MODERATE,
    POINTS_AI,
    POINTS_CAMERA,
    POINTS_EDITED,
    STRONG,
    WEAK,
    EvidenceItem,
)

AI = EvidenceItem(
    "generator.declared", "generator", "generator metadata: X", points_to=POINTS_AI, strength=STRONG
)
CAMERA = EvidenceItem(
    "c2pa.capture_source", "provenance", "signed capture", points_to=POINTS_CAMERA, strength=STRONG
)
WEAK_AI = EvidenceItem("signal.spectrum", "signal", "peak", points_to=POINTS_AI, strength=WEAK)
MODERATE_AI = EvidenceItem(
    "c2pa.ai_source", "provenance", "broken claim", points_to=POINTS_AI, strength=MODERATE
)
EDITED = EvidenceItem(
    "exif.software_editor", "metadata", "photoshop", points_to=POINTS_EDITED, strength=MODERATE
)


@pytest.mark.parametrize(
    ("items", "p_fake", "verdict", "decided_by"),
    [
        ([AI], None, "ai-generated", ["generator.declared"]),
        ([AI], 0.02, "ai-generated", ["generator.declared"]),
        ([CAMERA], None, "camera-original", ["c2pa.capture_source"]),
        ([CAMERA], 0.97, "camera-original", ["c2pa.capture_source"]),
        ([AI, CAMERA], 0.5, "inconclusive", ["generator.declared", "c2pa.capture_source"]),
        ([], None, "inconclusive", []),
        ([WEAK_AI, MODERATE_AI, EDITED], None, "inconclusive", []),
        ([WEAK_AI, MODERATE_AI], 0.10, "likely-real", ["model"]),
        ([], 0.90, "likely-ai", ["model"]),
        ([], 0.60, "likely-ai", ["model"]),
        ([], 0.59, "inconclusive", ["model"]),
        ([], 0.40, "inconclusive", ["model"]),
        ([], 0.39, "likely-real", ["model"]),
    ],
)
def test_rule_table(items, p_fake, verdict, decided_by) -> None:
    fused = fuse(items, p_fake, threshold=0.5, band=0.1)
    assert (fused.verdict, fused.decided_by) == (verdict, decided_by)
    assert fused.flagged == (verdict in ("ai-generated", "likely-ai"))


def test_reasons_name_the_evidence_and_disagreement() -> None:
    assert "generator metadata: X" in fuse([AI], 0.01).reason
    assert "model alone says likely real" in fuse([AI], 0.01).reason
    assert "model alone says likely AI" in fuse([CAMERA], 0.99).reason
    assert "no model score" in fuse([], None).reason


@pytest.mark.parametrize(
    ("threshold", "band", "edges"),
    [(0.5, 0.1, (0.4, 0.6)), (0.5, 0.0, (0.5, 0.5)), (0.95, 0.1, (0.925, 0.975)), (0.0, 0.1, (0.0, 0.0))],
)
def test_band_narrows_near_the_ends(threshold, band, edges) -> None:
    assert band_edges(threshold, band) == pytest.approx(edges)


def test_zero_band_is_the_plain_threshold() -> None:
    assert fuse([], 0.5, 0.5, band=0.0).verdict == "likely-ai"
    assert fuse([], 0.4999, 0.5, band=0.0).verdict == "likely-real"
