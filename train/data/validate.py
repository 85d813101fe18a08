"""Check a dataset before training: class balance, generator counts, near-duplicates across
splits, and the format/size shortcut.

The shortcut check asks whether real and fake images can be told apart *without looking at the
pixels*: by file format, JPEG quality (from the quantization tables), width, height, aspect ratio
or file size, each alone (AUC of the best single threshold, or of the per-format fake rate), and by
a logistic regression on format, quality, width, height and aspect together (cross-validated
AUC). A detector trained on such a set learns the shortcut instead of generation traces; the
cure is identical processing for both classes (same format, quality, size distribution).
AUC >= 0.75 is reported as a warning. File size at equal format, quality and dimensions also
reflects how much fine detail an image has (which can be a real generation trace): a file-size
warning alone deserves a look, not panic.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from fakescope_cli.errors import DatasetError, ImageInputError
from fakescope_cli.evidence.container import read_container
from fakescope_cli.evidence.jpeg_tables import estimate_quality
from fakescope_cli.imageio import decode_image, read_image_file, sniff_format
from train.data.records import LABELS, SPLITS, ImageRecord
from train.data.shortcut import cross_validated_auc, separability

SHORTCUT_AUC = 0.75
DUPLICATE_DISTANCE = 4  # pHash Hamming distance (of 64 bits) that counts as the same picture
MIN_PER_CLASS = 5  # fewer images of a class than this: no shortcut check
BALANCE_RATIO = 0.5  # minority / majority class below this: warning
FEATURES = ("format", "jpeg_quality", "width", "height", "aspect", "file_size")


@dataclass(frozen=True)
class FileFacts:
    """What the shortcut check and the duplicate search read from one file."""

    format: str
    jpeg_quality: int | None
    width: int
    height: int
    file_size: int
    phash: int


@dataclass(frozen=True)
class DuplicatePair:
    path_a: str
    split_a: str
    label_a: str
    path_b: str
    split_b: str
    label_b: str
    distance: int


@dataclass
class ValidationReport:
    images: int
    counts: dict[str, dict[str, int]]  # split -> label -> images
    generators: dict[str, dict[str, int]]  # generator -> split -> images
    formats: dict[str, dict[str, int]]  # label -> format -> images
    separability: dict[str, float | None]  # feature -> AUC (0.5 none ... 1.0 perfect), None: not measurable
    combined_auc: float | None
    duplicates: list[DuplicatePair] = field(default_factory=list)  # near-duplicates in different splits
    label_conflicts: list[DuplicatePair] = field(default_factory=list)  # near-duplicates, different labels
    warnings: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["shortcut_threshold"] = SHORTCUT_AUC
        return data


def file_facts(record: ImageRecord) -> FileFacts:
    """Facts of one file; DatasetError naming it when it cannot be read or decoded."""
    import imagehash

    try:
        data = read_image_file(record.path)
        decoded = decode_image(record.path, data)
    except ImageInputError as exc:
        raise DatasetError(str(exc)) from None
    info = read_container(data)
    fmt = (info.format or sniff_format(data[:16]) or decoded.format).upper()
    if fmt == "MPO":
        fmt = "JPEG"
    quality = estimate_quality(info.quant_tables)[0] if fmt == "JPEG" and info.quant_tables else None
    width, height = decoded.stored_size
    return FileFacts(fmt, quality, width, height, len(data), int(str(imagehash.phash(decoded.rgb)), 16))


def validate_dataset(records: Sequence[ImageRecord]) -> ValidationReport:
    """Read every image once and report balance, duplicates and shortcuts."""
    if not records:
        raise DatasetError("no images to validate")
    facts = [file_facts(record) for record in records]
    report = ValidationReport(
        images=len(records),
        counts=_counts(records),
        generators=_generator_counts(records),
        formats=_format_counts(records, facts),
        separability={},
        combined_auc=None,
    )
    _balance_warnings(report)
    _shortcut_check(records, facts, report)
    _duplicate_check(records, facts, report)
    return report


def _counts(records: Sequence[ImageRecord]) -> dict[str, dict[str, int]]:
    table = {split: dict.fromkeys(LABELS, 0) for split in SPLITS}
    for record in records:
        table[record.split][record.label] += 1
    table["all"] = {label: sum(table[s][label] for s in SPLITS) for label in LABELS}
    return table


def _generator_counts(records: Sequence[ImageRecord]) -> dict[str, dict[str, int]]:
    table: dict[str, dict[str, int]] = defaultdict(lambda: dict.fromkeys(SPLITS, 0))
    for record in records:
        if record.label == "fake":
            table[record.generator or "(unspecified)"][record.split] += 1
    return {name: dict(table[name]) for name in sorted(table)}


def _format_counts(records: Sequence[ImageRecord], facts: Sequence[FileFacts]) -> dict[str, dict[str, int]]:
    table: dict[str, Counter[str]] = {label: Counter() for label in LABELS}
    for record, fact in zip(records, facts, strict=True):
        table[record.label][fact.format] += 1
    return {label: dict(sorted(counter.items())) for label, counter in table.items()}


def _balance_warnings(report: ValidationReport) -> None:
    overall = report.counts["all"]
    low, high = min(overall.values()), max(overall.values())
    if high and low / high < BALANCE_RATIO:
        report.warnings.append(
            f"class imbalance: {overall['real']} real vs {overall['fake']} fake images "
            f"(minority/majority {low / high:.2f} < {BALANCE_RATIO})"
        )
    for split in SPLITS:
        row = report.counts[split]
        missing = [label for label in LABELS if row[label] == 0]
        if sum(row.values()) and missing:
            report.warnings.append(f"split {split} has no {missing[0]} images")
    for generator, row in report.generators.items():
        if sum(row.values()) and not row["train"]:
            report.warnings.append(f"generator {generator} has no training images")


def _shortcut_check(
    records: Sequence[ImageRecord], facts: Sequence[FileFacts], report: ValidationReport
) -> None:
    fake = np.array([r.label == "fake" for r in records])
    if min(int(fake.sum()), int((~fake).sum())) < MIN_PER_CLASS:
        report.separability = dict.fromkeys(FEATURES)
        report.warnings.append(f"too few images of one class (under {MIN_PER_CLASS}) for the shortcut check")
        return
    formats = [f.format for f in facts]
    rate = {fmt: float(np.mean(fake[[g == fmt for g in formats]])) for fmt in set(formats)}
    columns = {
        "width": np.array([f.width for f in facts], dtype=np.float64),
        "height": np.array([f.height for f in facts], dtype=np.float64),
        "aspect": np.array([f.width / f.height for f in facts]),
        "file_size": np.array([f.file_size for f in facts], dtype=np.float64),
    }
    scores: dict[str, float | None] = {"format": separability(np.array([rate[g] for g in formats]), fake)}
    jpeg = np.array([f.jpeg_quality is not None for f in facts])
    if min(int((fake & jpeg).sum()), int((~fake & jpeg).sum())) >= MIN_PER_CLASS:
        quality = np.array([f.jpeg_quality or 0 for f in facts], dtype=np.float64)
        scores["jpeg_quality"] = separability(quality[jpeg], fake[jpeg])  # among JPEGs only
    else:
        scores["jpeg_quality"] = None
    for name, values in columns.items():
        scores[name] = separability(values, fake)
    report.separability = {name: _round(scores[name]) for name in FEATURES}
    x = np.column_stack(
        [np.array([g == fmt for g in formats], dtype=np.float64) for fmt in sorted(set(formats))]
        + [np.array([f.jpeg_quality or 0 for f in facts], dtype=np.float64)]
        + [np.log(columns[name]) for name in ("width", "height", "aspect")]
    )
    report.combined_auc = _round(cross_validated_auc(x, fake))
    for name in FEATURES:
        value = report.separability[name]
        if value is not None and value >= SHORTCUT_AUC:
            report.warnings.append(
                f"shortcut: {name.replace('_', ' ')} alone separates real from fake (AUC {value:.2f}); "
                "process both classes identically" + _hint(name, report)
            )
    if report.combined_auc is not None and report.combined_auc >= SHORTCUT_AUC:
        report.warnings.append(
            f"shortcut: a classifier on format, JPEG quality, width and height alone "
            f"separates real from fake (cross-validated AUC {report.combined_auc:.2f})"
        )


def _hint(feature: str, report: ValidationReport) -> str:
    if feature == "format":
        return (
            " (formats: "
            + "; ".join(
                f"{label} " + ", ".join(f"{fmt} {n}" for fmt, n in report.formats[label].items())
                for label in LABELS
            )
            + ")"
        )
    if feature == "file_size":
        return (
            " (with format, quality and size matched, this is content detail per pixel or chroma "
            "subsampling: check the encoder settings)"
        )
    return ""


def _round(value: float | None) -> float | None:
    return None if value is None or math.isnan(value) else round(value, 3)


def _duplicate_check(
    records: Sequence[ImageRecord], facts: Sequence[FileFacts], report: ValidationReport
) -> None:
    hashes = np.array([f.phash for f in facts], dtype=np.uint64)
    for i, j, distance in near_pairs(hashes, DUPLICATE_DISTANCE):
        a, b = records[i], records[j]
        pair = DuplicatePair(str(a.path), a.split, a.label, str(b.path), b.split, b.label, distance)
        if a.split != b.split:
            report.duplicates.append(pair)
        if a.label != b.label:
            report.label_conflicts.append(pair)
    if report.duplicates:
        first = report.duplicates[0]
        report.warnings.append(
            f"{len(report.duplicates)} near-duplicate pair(s) across splits (pHash distance <= "
            f"{DUPLICATE_DISTANCE}), e.g. {first.path_a} ({first.split_a}) and "
            f"{first.path_b} ({first.split_b})"
        )
    if report.label_conflicts:
        first = report.label_conflicts[0]
        report.warnings.append(
            f"{len(report.label_conflicts)} near-duplicate pair(s) with different labels, e.g. "
            f"{first.path_a} ({first.label_a}) and {first.path_b} ({first.label_b})"
        )


def near_pairs(hashes: np.ndarray, max_distance: int, block: int = 1024) -> list[tuple[int, int, int]]:
    """(i, j, distance) for i < j with Hamming distance of the 64-bit hashes <= ``max_distance``."""
    pairs: list[tuple[int, int, int]] = []
    for start in range(0, len(hashes), block):
        rows = hashes[start : start + block]
        distances = np.bitwise_count(rows[:, None] ^ hashes[None, :])
        for r, j in zip(*np.nonzero(distances <= max_distance), strict=True):
            i = start + int(r)
            if i < int(j):
                pairs.append((i, int(j), int(distances[r, j])))
    return pairs
