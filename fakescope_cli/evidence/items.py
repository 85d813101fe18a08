"""Typed evidence: one finding per item, grouped into a per-file report."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

EVIDENCE_SCHEMA = "fakescope.evidence/1"

# What a finding points to.
POINTS_AI = "ai-generated"
POINTS_CAMERA = "camera-original"
POINTS_EDITED = "edited"
POINTS_NEUTRAL = "neutral"

# How strongly. "strong" findings may decide a verdict on their own (see fusion.py);
# the others are context for a reader and never decide.
STRONG = "strong"
MODERATE = "moderate"
WEAK = "weak"
NONE = "none"

# Categories, in the order reports list them.
CATEGORIES = ("provenance", "generator", "metadata", "signal", "hash", "integrity")


@dataclass(frozen=True)
class EvidenceItem:
    """One finding: what was found, the measured value, what it points to, where in the file."""

    id: str
    category: str
    summary: str
    value: Any = None
    unit: str | None = None
    points_to: str = POINTS_NEUTRAL
    strength: str = NONE
    location: str | None = None
    limits: str | None = None

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "id": self.id,
            "category": self.category,
            "summary": self.summary,
            "value": self.value,
            "points_to": self.points_to,
            "strength": self.strength,
        }
        if self.unit is not None:
            data["unit"] = self.unit
        if self.location is not None:
            data["location"] = self.location
        if self.limits is not None:
            data["limits"] = self.limits
        return data


@dataclass
class EvidenceReport:
    """Everything the evidence engine found in one file, with the time each analyser took."""

    path: str
    items: list[EvidenceItem] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)
    figures: dict[str, bytes] = field(default_factory=dict)  # PNG maps (ELA, spectrum) when asked for

    def add(self, item: EvidenceItem) -> None:
        self.items.append(item)

    def find(self, item_id: str) -> EvidenceItem | None:
        return next((item for item in self.items if item.id == item_id), None)

    def to_dict(self) -> dict[str, Any]:
        """Findings only: timings vary run to run and stay out, so reports of one file are identical."""
        return {"schema": EVIDENCE_SCHEMA, "items": [item.to_dict() for item in self.items]}
