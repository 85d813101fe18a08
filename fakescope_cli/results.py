"""Typed results: authenticity score, per-image result, decoding settings, model record."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from fakescope_cli.evidence.fusion import FusedVerdict
    from fakescope_cli.evidence.items import EvidenceReport

RESULT_SCHEMA = "fakescope.result/2"


@dataclass(frozen=True)
class LabelEvidence:
    """How one label word was scored: its pooled score and each variant's tokens and logits."""

    word: str
    score: float
    variants: list[dict[str, Any]]


@dataclass(frozen=True)
class AuthenticityScore:
    """p(fake) by token-based probability estimation, with what it was computed from."""

    p_fake: float
    p_real: float
    fake: LabelEvidence
    real: LabelEvidence
    answer_top_token: str

    def to_dict(self, detailed: bool = False) -> dict[str, Any]:
        data: dict[str, Any] = {"p_fake": self.p_fake, "p_real": self.p_real}
        if detailed:
            data["labels"] = {"fake": asdict(self.fake), "real": asdict(self.real)}
            data["answer_top_token"] = self.answer_top_token
        return data


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
