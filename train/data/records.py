"""The records that flow through the training path: dataset entries, FakeChain reasoning records,
FakeInstruct conversations. Plain dataclasses with JSON round-trips; no torch here."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

LABELS = ("real", "fake")
SPLITS = ("train", "val", "test")
# Trace categories in the FakeBench / FakeScope style (FakeChain wording and fine-grained questions).
TRACE_CATEGORIES = (
    "texture",
    "edges_boundaries",
    "lighting_shadow",
    "perspective_geometry",
    "anatomy",
    "text_rendering",
    "symmetry_repetition",
    "colour",
    "noise_compression",
)
# The four FakeInstruct families.
FAMILIES = ("absolute", "holistic", "fine_grained", "discussion")


@dataclass(frozen=True)
class ImageRecord:
    """One image of a dataset: where it is, its label, and (for fakes) the generator family."""

    path: Path
    label: str  # "real" or "fake"
    split: str  # "train", "val" or "test"
    generator: str | None = None  # None for real images
    source: str | None = None  # where the image came from (licence, package, ...)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["path"] = str(self.path)
        return data

    @staticmethod
    def from_dict(data: dict[str, Any]) -> ImageRecord:
        return ImageRecord(
            Path(data["path"]), data["label"], data["split"], data.get("generator"), data.get("source")
        )


@dataclass(frozen=True)
class TraceClaim:
    """One piece of trace evidence in a reasoning record, and who stated it."""

    category: str  # one of TRACE_CATEGORIES
    text: str
    origin: str  # "measured" (evidence engine), "human" (annotation) or "teacher" (teacher model)


@dataclass
class ChainRecord:
    """A FakeChain record: observed trace evidence leading to the verdict for one image."""

    image: ImageRecord
    traces: list[TraceClaim]
    rationale: str
    measurements: dict[str, Any] = field(default_factory=dict)  # evidence-engine values it rests on

    def to_dict(self) -> dict[str, Any]:
        return {
            "image": self.image.to_dict(),
            "traces": [asdict(t) for t in self.traces],
            "rationale": self.rationale,
            "measurements": self.measurements,
        }

    @staticmethod
    def from_dict(data: dict[str, Any]) -> ChainRecord:
        return ChainRecord(
            ImageRecord.from_dict(data["image"]),
            [TraceClaim(**t) for t in data["traces"]],
            data["rationale"],
            data.get("measurements", {}),
        )
