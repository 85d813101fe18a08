"""`python -m train eval`: closed-ended metrics from token-based p(fake) on the Hugging Face
checkpoint and on its GGUF export through the CLI's own engine, side by side; per-generator
figures, with the families never seen in training (leave-one-generator-out) reported apart; and an
open-ended check of explanations against the evidence engine's measurements."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from fakescope_cli.evidence.engine import EvidenceOptions, gather_evidence
from fakescope_cli.imageio import as_loaded, decode_image, read_image_file
from fakescope_cli.profile import ModelProfile
from fakescope_cli.view import aggregate, crop_boxes, cut
from train.data.records import ImageRecord
from train.run.metrics import DetectionMetrics, detection_metrics

Scorer = Callable[[ImageRecord], float]


@dataclass
class BackendReport:
    name: str
    scores: list[float]
    overall: DetectionMetrics
    per_generator: dict[str, DetectionMetrics]
    held_out: DetectionMetrics | None  # fakes of families absent from the training split, vs all reals
    seen: DetectionMetrics | None = None  # fakes of the families trained on, vs all reals


@dataclass
class EvalReport:
    records: list[ImageRecord]
    backends: list[BackendReport]
    seen_generators: list[str]
    held_out_generators: list[str]
    explanations: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "images": len(self.records),
            "seen_generators": self.seen_generators,
            "held_out_generators": self.held_out_generators,
            "backends": {
                b.name: {
                    "overall": b.overall.to_dict(),
                    "per_generator": {g: m.to_dict() for g, m in b.per_generator.items()},
                    "held_out": b.held_out.to_dict() if b.held_out else None,
                    "seen": b.seen.to_dict() if b.seen else None,
                }
                for b in self.backends
            },
            "per_image": [
                {**r.to_dict(), **{f"p_fake_{b.name}": b.scores[i] for b in self.backends}}
                for i, r in enumerate(self.records)
            ],
            "explanations": self.explanations,
        }


def _label(record: ImageRecord) -> int:
    return 1 if record.label == "fake" else 0


def backend_report(
    name: str, records: Sequence[ImageRecord], scores: list[float], held_out: set[str]
) -> BackendReport:
    labels = [_label(r) for r in records]
    reals = [i for i, r in enumerate(records) if r.label == "real"]
    per_generator = {}
    for generator in sorted({r.generator for r in records if r.label == "fake" and r.generator}):
        chosen = reals + [i for i, r in enumerate(records) if r.generator == generator]
        per_generator[generator] = detection_metrics([labels[i] for i in chosen], [scores[i] for i in chosen])

    def against_reals(fakes: list[int]) -> DetectionMetrics | None:
        chosen = reals + fakes
        return detection_metrics([labels[i] for i in chosen], [scores[i] for i in chosen]) if fakes else None

    held = [i for i, r in enumerate(records) if r.label == "fake" and r.generator in held_out]
    seen = [i for i, r in enumerate(records) if r.label == "fake" and r.generator not in held_out]
    overall = detection_metrics(labels, scores)
    return BackendReport(name, scores, overall, per_generator, against_reals(held), against_reals(seen))


def evaluate(
    records: Sequence[ImageRecord],
    scorers: dict[str, Scorer],
    train_generators: set[str],
) -> EvalReport:
    """Score every record with each backend; families absent from ``train_generators`` are held out."""
    test = list(records)
    fakes = {r.generator for r in test if r.label == "fake" and r.generator}
    held_out = fakes - train_generators
    backends = [
        backend_report(name, test, [scorer(r) for r in test], held_out) for name, scorer in scorers.items()
    ]
    return EvalReport(test, backends, sorted(fakes & train_generators), sorted(held_out))


def hf_scorer(checkpoint: Path, profile: ModelProfile) -> Scorer:
    """p(fake) from the PyTorch checkpoint, through the same view as ``fakescope scan``: the whole
    image, or the profile's native crops at the CLI's positions, aggregated the CLI's way."""
    from train.model.hf_model import TokenScorer, load_model

    processor, model = load_model(checkpoint)
    scorer = TokenScorer(processor, model.eval(), profile)

    def score(record: ImageRecord) -> float:
        # Decoded as the CLI decodes (EXIF orientation, alpha over white), so both backends see one image.
        rgb = decode_image(record.path, read_image_file(record.path)).rgb
        if not profile.is_crops:
            return scorer.p_fake(rgb)
        logits = [scorer.logit(crop) for crop in view_crops(rgb, profile)]
        return aggregate(logits, profile.aggregate, profile.logit_scale, profile.logit_offset)

    return score


def view_crops(rgb: Image.Image, profile: ModelProfile) -> list[Image.Image]:
    """The native crops a crops-view model judges in ``fakescope scan``, as images."""
    pixels = np.asarray(rgb.convert("RGB"))
    boxes = crop_boxes(rgb.width, rgb.height, profile.crop_size, profile.crops)
    return [Image.fromarray(cut(pixels, box, profile.crop_size)) for box in boxes]


def gguf_scorer(engine: Any) -> Scorer:
    def score(record: ImageRecord) -> float:
        decoded = decode_image(record.path, read_image_file(record.path))
        return float(engine.score(as_loaded(record.path, decoded)).p_fake)

    return score


# -- explanations ----------------------------------------------------------------------------------

# Words that claim a noise / compression / upsampling trace: the one family of claims the evidence
# engine can measure (noise-residual spectrum, double JPEG compression).
_NOISE_CLAIM = re.compile(
    r"\b(periodic|grid|checkerboard|upsampl\w*|noise pattern|compression artifacts?)\b", re.I
)
_NOISE_NEGATION = re.compile(r"\bno (periodic|grid|checkerboard|upsampl\w*|noise pattern|compression)", re.I)


def explanation_agreement(texts: dict[Path, str], options: EvidenceOptions | None = None) -> dict[str, Any]:
    """For each explanation that makes a measurable claim, whether the measurements agree.

    A claim of periodic / upsampling / compression traces agrees when the spectrum shows a
    periodic peak or the JPEG test sees double compression; a denial agrees when neither does.
    Explanations with no measurable claim are counted as unverifiable, not as agreement."""
    agree = disagree = unverifiable = 0
    samples = []
    for path, text in texts.items():
        data = read_image_file(path)
        report = gather_evidence(path, data, None, options or EvidenceOptions())
        measured = any(
            item.id in ("signal.spectrum", "jpeg.double_compression") and item.points_to != "neutral"
            for item in report.items
        )
        if _NOISE_NEGATION.search(text):
            claim: bool | None = False
        elif _NOISE_CLAIM.search(text):
            claim = True
        else:
            claim = None
        if claim is None:
            unverifiable += 1
            verdict = "unverifiable"
        elif claim == measured:
            agree += 1
            verdict = "agrees"
        else:
            disagree += 1
            verdict = "disagrees"
        samples.append({"path": str(path), "explanation": text, "measured_trace": measured, "check": verdict})
    checked = agree + disagree
    return {
        "agree": agree,
        "disagree": disagree,
        "unverifiable": unverifiable,
        "share_agreeing": agree / checked if checked else None,
        "samples": samples,
    }


def format_table(report: EvalReport) -> str:
    """The backends side by side: overall, per generator (seen / held out)."""
    names = [b.name for b in report.backends]

    def cell(metrics: DetectionMetrics | None, key: str) -> str:
        value = getattr(metrics, key) if metrics else None
        return "-" if value is None else f"{value:.4f}"

    rows = [("", "metric", *names)]
    for key in ("accuracy", "roc_auc", "average_precision", "ece"):
        rows.append(("all", key, *(cell(b.overall, key) for b in report.backends)))
    generators = sorted({g for b in report.backends for g in b.per_generator})
    for generator in generators:
        tag = "held out" if generator in report.held_out_generators else "seen"
        for key in ("roc_auc", "accuracy"):
            rows.append(
                (
                    f"{generator} ({tag})",
                    key,
                    *(cell(b.per_generator.get(generator), key) for b in report.backends),
                )
            )
    if report.seen_generators and report.held_out_generators:
        rows.append(("all seen families", "roc_auc", *(cell(b.seen, "roc_auc") for b in report.backends)))
    if report.held_out_generators:
        rows.append(
            ("all held-out families", "roc_auc", *(cell(b.held_out, "roc_auc") for b in report.backends))
        )
    if len(report.backends) == 2:
        a, b = report.backends
        if a.overall.roc_auc is not None and b.overall.roc_auc is not None:
            rows.append(("all", "AUC difference", f"{abs(a.overall.roc_auc - b.overall.roc_auc):.4f}", ""))
    widths = [max(len(str(row[i])) for row in rows) for i in range(len(rows[0]))]
    return "\n".join(
        "  ".join(str(v).ljust(w) for v, w in zip(row, widths, strict=False)).rstrip() for row in rows
    )
