"""FakeChain: for each image, a reasoning record from observed trace evidence to the verdict.

Evidence comes from three origins (TraceClaim.origin):

* ``measured``: the evidence engine. Only ``noise_compression`` is measurable: a noise-residual
  spectrum peak at or over the hint level (12 dB) and a double-JPEG-compression hint become claims
  with the measured values; for a real image, a spectrum under the hint level becomes a claim that
  no periodic pattern is there. No measured support, no such claim. File metadata (EXIF, C2PA,
  generator tags) goes into ``measurements`` only: the model sees pixels, so its rationale may not
  rest on what only the file's metadata says.
* ``human``: the annotation file (trace categories per image, see train.instruct.annotations). Kept as is.
* ``teacher``: a local command (see train.instruct.teacher), shown the label, the measurements, the human
  traces and the human demonstrations (ACoTI: humans steer the wording, the teacher writes).

Supported-claim rule, applied to the teacher's claims: a claim in a measurable category
(``noise_compression``) is kept only when a measured claim agrees with the label (for a fake: a
spectrum peak or a double-compression hint; for a real: a spectrum under the hint level); a claim
in any other category is kept only when the human annotation of that image names that category.
One unsupported claim (or an unknown category, or a rationale whose verdict contradicts the
label, or a rationale that talks about a category no kept claim covers, found by the words in
MENTIONS) drops the whole record, counted as ``dropped_unsupported``: a teacher that saw the label
invents evidence, and invented evidence must not become training data.

The rationale lists the evidence and ends with the verdict in words (``Verdict: fake.``); the
teacher's own rationale is used when it gave one. A record with no evidence at all is kept with
no traces and an empty rationale (``judgment_only``): it still teaches the absolute judgment.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fakescope_cli.errors import DatasetError, ImageInputError
from fakescope_cli.evidence.engine import EvidenceOptions, gather_evidence
from fakescope_cli.evidence.items import EvidenceReport
from fakescope_cli.evidence.jpeg_tables import DOUBLE_JPEG_THRESHOLD
from fakescope_cli.evidence.spectrum import PEAK_THRESHOLD_DB
from fakescope_cli.imageio import decode_image, read_image_file
from train.data.records import TRACE_CATEGORIES, ChainRecord, ImageRecord, TraceClaim
from train.instruct.annotations import Annotations, load_annotations
from train.instruct.teacher import DEFAULT_TIMEOUT_S, run_teacher
from train.io import atomic_write_text

log = logging.getLogger(__name__)

MEASURABLE = frozenset({"noise_compression"})
VERDICT_PREFIX = "Verdict: "
CATEGORY_NAMES = {
    "texture": "texture",
    "edges_boundaries": "edges and boundaries",
    "lighting_shadow": "lighting and shadow",
    "perspective_geometry": "perspective and geometry",
    "anatomy": "anatomy (hands, faces)",
    "text_rendering": "text rendering",
    "symmetry_repetition": "symmetry and repetition",
    "colour": "colour",
    "noise_compression": "noise and compression",
}
_CONCLUSION = {
    "fake": "These traces point to an image made by a generator.",
    "real": "These traces are consistent with a camera photograph.",
}
_OPPOSITE = {"fake": "real", "real": "fake"}
# Words by which a rationale talks about a trace category (word starts, case-insensitive).
MENTIONS = {
    "texture": r"textur|waxy|plastic-?like|airbrush",
    "edges_boundaries": r"edges?\b|boundar|outline|halo",
    "lighting_shadow": r"shadow|lighting|illuminat|reflection",
    "perspective_geometry": r"perspective|vanishing point|geometr",
    "anatomy": r"fingers?\b|hands?\b|faces?\b|teeth|eyes?\b|limbs?\b|anatom",
    "text_rendering": r"text\b|letters?\b|lettering|writing|signage|font|glyph|illegible",
    "symmetry_repetition": r"symmetr|repeat|repetit|cloned",
    "colour": r"colou?r|saturat|\bhues?\b",
    "noise_compression": r"noise|periodic|grid|checkerboard|upsampl|compress|jpeg",
}


def join_names(names: Sequence[str]) -> str:
    """'a', 'a and b', 'a, b and c'."""
    return names[0] if len(names) == 1 else f"{', '.join(names[:-1])} and {names[-1]}"


def verdict_sentence(label: str, word: str | None = None) -> str:
    """The closing sentence of every rationale; ``word`` replaces the label (a profile's label word)."""
    return f"{VERDICT_PREFIX}{word or label}."


@dataclass(frozen=True)
class _Measured:
    claim: TraceClaim
    agrees: bool  # supports the label (see the module docstring)


def measurements(report: EvidenceReport) -> dict[str, Any]:
    """The evidence-engine values a record rests on (pixels and file facts)."""
    values: dict[str, Any] = {}
    spectrum = report.find("signal.spectrum")
    if spectrum is not None and isinstance(spectrum.value, dict):
        values["spectrum_peak_db"] = spectrum.value.get("peak_db")
    double = report.find("jpeg.double_compression")
    if double is not None:
        values["double_jpeg_score"] = double.value
    quant = report.find("jpeg.quantization")
    if quant is not None and isinstance(quant.value, dict):
        values["jpeg_quality"] = quant.value.get("quality")
    ela = report.find("signal.ela")
    if ela is not None and isinstance(ela.value, dict):
        values["ela_mean"] = ela.value.get("mean")
    camera = report.find("exif.camera")
    values["exif_camera"] = bool(camera)
    declared = report.find("generator.declared")
    if declared is not None and isinstance(declared.value, dict):
        values["generator_declared"] = declared.value.get("generator")
    values["c2pa"] = next(
        (item.id.split(".", 1)[1] for item in report.items if item.id.startswith("c2pa.")), None
    )
    return values


def measured_claims(values: dict[str, Any], label: str) -> list[_Measured]:
    """Claims the measurements support; none where nothing was measured."""
    claims: list[_Measured] = []
    peak = values.get("spectrum_peak_db")
    if isinstance(peak, int | float):
        if peak >= PEAK_THRESHOLD_DB:
            cause = (
                "the regular pattern that the upsampling layers of image generators leave"
                if label == "fake"
                else "in a photograph this usually comes from resizing or sharpening"
            )
            text = (
                f"The noise residual has a periodic peak {peak:.1f} dB above its surroundings "
                f"(hint level {PEAK_THRESHOLD_DB:.0f} dB): {cause}."
            )
            claims.append(_Measured(TraceClaim("noise_compression", text, "measured"), label == "fake"))
        elif label == "real":
            text = (
                f"The noise residual shows no periodic pattern (strongest peak {peak:.1f} dB, under the "
                f"{PEAK_THRESHOLD_DB:.0f} dB hint level), as expected of a camera photograph."
            )
            claims.append(_Measured(TraceClaim("noise_compression", text, "measured"), True))
    score = values.get("double_jpeg_score")
    if isinstance(score, int | float) and score >= DOUBLE_JPEG_THRESHOLD:
        text = (
            f"The DCT coefficient histograms show the periodic gaps of a second JPEG compression "
            f"(periodicity {score:.2f}, hint at {DOUBLE_JPEG_THRESHOLD}): the file was saved as JPEG "
            "at least twice."
        )
        claims.append(_Measured(TraceClaim("noise_compression", text, "measured"), label == "fake"))
    return claims


def compose_rationale(label: str, traces: Sequence[TraceClaim], teacher_rationale: str = "") -> str:
    """Evidence first, then the verdict in words; empty when there is no evidence."""
    if not traces:
        return ""
    body = teacher_rationale.strip()
    if body:
        body = re.sub(r"\s*Verdict:\s*\w+\.?\s*$", "", body)
    else:
        grouped: dict[str, list[str]] = {}
        for trace in traces:
            grouped.setdefault(trace.category, []).append(trace.text)
        body = " ".join(
            f"{CATEGORY_NAMES[c].capitalize()}: {' '.join(texts)}" for c, texts in grouped.items()
        )
        body += " " + _CONCLUSION[label]
    return f"{body} {verdict_sentence(label)}"


def unsupported_mentions(rationale: str, categories: set[str]) -> list[str]:
    """Trace categories the text talks about that are not among ``categories``."""
    return [
        category
        for category, pattern in MENTIONS.items()
        if category not in categories and re.search(rf"\b(?:{pattern})", rationale, re.IGNORECASE)
    ]


def _contradicts(rationale: str, label: str) -> bool:
    """True when the rationale's last sentence names the other verdict and not this one."""
    sentences = [s for s in re.split(r"(?<=[.!?])\s+", rationale.strip()) if s]
    last = sentences[-1].lower() if sentences else ""
    return bool(re.search(rf"\b{_OPPOSITE[label]}\b", last)) and not re.search(rf"\b{label}\b", last)


def _evidence(record: ImageRecord) -> EvidenceReport:
    try:
        data = read_image_file(record.path)
        decoded = decode_image(record.path, data)
    except ImageInputError as exc:
        raise DatasetError(str(exc)) from None
    return gather_evidence(record.path, data, decoded, EvidenceOptions())


def build_fakechain(
    records: Sequence[ImageRecord],
    annotations: Path | None = None,
    teacher: list[str] | None = None,
    teacher_timeout: float = DEFAULT_TIMEOUT_S,
    progress: Callable[[int, int], None] | None = None,
) -> tuple[list[ChainRecord], dict[str, int]]:
    """FakeChain records for ``records``, and counts: kept, judgment_only, dropped_unsupported,
    claims_measured / claims_human / claims_teacher (claims in the kept records)."""
    notes = load_annotations(annotations, records) if annotations else Annotations()
    if notes.demonstrations and not teacher:
        log.warning(
            "%d demonstration(s) given but no teacher: they steer only a teacher's wording",
            len(notes.demonstrations),
        )
    counts = {
        "kept": 0,
        "judgment_only": 0,
        "dropped_unsupported": 0,
        "claims_measured": 0,
        "claims_human": 0,
        "claims_teacher": 0,
    }
    chain: list[ChainRecord] = []
    for index, record in enumerate(records):
        built = _build_one(record, notes, teacher, teacher_timeout)
        if built is None:
            counts["dropped_unsupported"] += 1
        else:
            chain.append(built)
            counts["kept"] += 1
            counts["judgment_only"] += not built.traces
            for trace in built.traces:
                counts[f"claims_{trace.origin}"] += 1
        if progress is not None:
            progress(index + 1, len(records))
    return chain, counts


def _build_one(
    record: ImageRecord, notes: Annotations, teacher: list[str] | None, timeout: float
) -> ChainRecord | None:
    values = measurements(_evidence(record))
    measured = measured_claims(values, record.label)
    human = notes.for_image(record.path)
    traces = [m.claim for m in measured] + [TraceClaim(c, t, "human") for c, t in human.items()]
    rationale_text = ""
    if teacher:
        request = {
            "image": str(record.path),
            "label": record.label,
            "generator": record.generator,
            "measurements": values,
            "measured_traces": [{"category": m.claim.category, "text": m.claim.text} for m in measured],
            "human_traces": human,
            # The categories a claim (and the rationale) may use: measured in agreement, or annotated.
            "allowed_categories": sorted({*human, *(m.claim.category for m in measured if m.agrees)}),
            "demonstrations": [{"label": d.label, "rationale": d.rationale} for d in notes.demonstrations],
            "categories": list(TRACE_CATEGORIES),
        }
        reply = run_teacher(teacher, request, timeout)
        supported_measure = any(m.agrees for m in measured)
        for category, text in reply.traces:
            if category in MEASURABLE:
                supported = supported_measure
            else:
                supported = category in TRACE_CATEGORIES and category in human
            if not supported:
                log.info("%s: teacher claim in %r has no support; record dropped", record.path, category)
                return None
            traces.append(TraceClaim(category, text, "teacher"))
        if reply.rationale and _contradicts(reply.rationale, record.label):
            log.info("%s: teacher rationale contradicts the label; record dropped", record.path)
            return None
        loose = unsupported_mentions(reply.rationale, {t.category for t in traces})
        if loose:
            log.info("%s: teacher rationale talks about %s without support; dropped", record.path, loose)
            return None
        rationale_text = reply.rationale
    return ChainRecord(record, traces, compose_rationale(record.label, traces, rationale_text), values)


def write_chain_jsonl(chain: Sequence[ChainRecord], path: Path) -> None:
    """One ChainRecord.to_dict() per line, written under a temporary name and renamed."""
    atomic_write_text(path, "".join(json.dumps(r.to_dict(), ensure_ascii=False) + "\n" for r in chain))


def read_chain_jsonl(path: Path) -> list[ChainRecord]:
    """ChainRecords from a FakeChain JSONL file (DatasetError naming the line when malformed)."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise DatasetError(f"{path}: cannot read FakeChain file ({exc})") from None
    chain = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            record = ChainRecord.from_dict(json.loads(line))
        except (json.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
            raise DatasetError(
                f"{path}:{number}: not a FakeChain record ({type(exc).__name__}: {exc})"
            ) from None
        if record.image.label not in ("real", "fake"):
            raise DatasetError(f"{path}:{number}: label {record.image.label!r} is not real or fake")
        if any(t.category not in TRACE_CATEGORIES for t in record.traces):
            raise DatasetError(f"{path}:{number}: unknown trace category")
        chain.append(record)
    if not chain:
        raise DatasetError(f"{path}: no FakeChain records")
    return chain
