"""Typed results: authenticity score, per-image result, decoding settings, model record."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from fakescope_cli.evidence.fusion import FusedVerdict
    from fakescope_cli.evidence.items import EvidenceReport

RESULT_SCHEMA = "fakescope.result/3"


@dataclass(frozen=True)
class LabelEvidence:
    """How one label word was scored: its pooled score and each variant's tokens and logits."""

    word: str
    score: float
    variants: list[dict[str, Any]]


@dataclass(frozen=True)
class CropScore:
    """One native crop's box (pixels) and its p(fake); ``logit`` is s_fake - s_real."""

    x: int
    y: int
    w: int
    h: int
    p_fake: float
    logit: float

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class CropView:
    """How a crops-view model looked at the image: its crops and how they were combined.

    ``undersized``: the image is smaller than one crop, so it was judged at its own size (padded,
    never enlarged). ``labels_from`` is the crop whose label evidence the score carries."""

    crop_size: int
    aggregate: str
    crops: list[CropScore]
    undersized: bool = False
    labels_from: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {
            "mode": "crops",
            "crop_size": self.crop_size,
            "aggregate": self.aggregate,
            "undersized": self.undersized,
            "crops": [c.to_dict() for c in self.crops],
        }


@dataclass(frozen=True)
class HeatMap:
    """p(fake) over a grid of native crops (``scan --map``), cells in reading order."""

    cols: int
    rows: int
    crop_size: int
    cells: list[CropScore]

    def to_dict(self) -> dict[str, Any]:
        return {
            "cols": self.cols,
            "rows": self.rows,
            "crop_size": self.crop_size,
            "cells": [c.to_dict() for c in self.cells],
        }


@dataclass(frozen=True)
class AuthenticityScore:
    """p(fake) by token-based probability estimation, with what it was computed from.

    For a crops-view model ``view`` holds every crop's score and ``fake``/``real`` the label
    evidence of the crop that scored highest."""

    p_fake: float
    p_real: float
    fake: LabelEvidence
    real: LabelEvidence
    answer_top_token: str
    view: CropView | None = None

    def to_dict(self, detailed: bool = False) -> dict[str, Any]:
        data: dict[str, Any] = {"p_fake": self.p_fake, "p_real": self.p_real}
        if detailed:
            data["labels"] = {"fake": asdict(self.fake), "real": asdict(self.real)}
            data["answer_top_token"] = self.answer_top_token
            if self.view is not None:
                data["labels_from_crop"] = self.view.labels_from
        return data

    @property
    def top_crop(self) -> CropScore | None:
        if self.view is None or not self.view.crops:
            return None
        return max(self.view.crops, key=lambda c: c.logit)


@dataclass(frozen=True)
class DecodingSettings:
    """Everything that decides the model's output besides the files: recorded for reproduction."""

    temperature: float = 0.0
    seed: int = 0
    max_tokens: int = 256
    n_ctx: int = 4096
    gpu_layers: int = 0

    @property
    def greedy(self) -> bool:
        return self.temperature <= 0.0


@dataclass
class ImageResult:
    """The outcome for one input file; ``error`` is set when it could not be analysed.

    ``verdict`` is the fused verdict (evidence and model); ``model_verdict`` the model's alone at the
    plain threshold."""

    path: str
    verdict: str | None = None
    score: AuthenticityScore | None = None
    sha256: str | None = None
    width: int | None = None
    height: int | None = None
    format: str | None = None
    explanation: str | None = None
    answers: list[dict[str, str]] = field(default_factory=list)
    error: str | None = None
    seconds: float = 0.0
    model_verdict: str | None = None
    fused: FusedVerdict | None = None
    evidence: EvidenceReport | None = None
    cached: bool = False  # taken from the results cache, not analysed in this run
    heatmap: HeatMap | None = None  # scan --map: p(fake) over a grid of crops
    region: dict[str, int] | None = None  # explain / ask: the crop the model looked at

    @property
    def p_fake(self) -> float | None:
        return None if self.score is None else self.score.p_fake

    def to_dict(self, detailed: bool = False) -> dict[str, Any]:
        data: dict[str, Any] = {
            "path": self.path,
            "verdict": self.verdict,
            "p_fake": self.p_fake,
            "error": self.error,
            "sha256": self.sha256,
            "width": self.width,
            "height": self.height,
            "format": self.format,
            "seconds": round(self.seconds, 4),
            "model_verdict": self.model_verdict,
            "reason": self.fused.reason if self.fused else None,
            "decided_by": self.fused.decided_by if self.fused else [],
        }
        if self.score is not None:
            data["view"] = self.score.view.to_dict() if self.score.view else {"mode": "whole"}
        if self.heatmap is not None:
            data["map"] = self.heatmap.to_dict()
        if self.region is not None:
            data["region"] = self.region
        if self.evidence is not None:
            data["evidence"] = self.evidence.to_dict()
        if self.cached:
            data["cached"] = True
        if self.score is not None and detailed:
            data["score"] = self.score.to_dict(detailed=True)
        if self.explanation is not None:
            data["explanation"] = self.explanation
        if self.answers:
            data["answers"] = self.answers
        return data
