"""Run every analyser on one file; a failing analyser becomes a finding, never an exception."""

from __future__ import annotations

import io
import logging
import time
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
from PIL import Image

from fakescope_cli.errors import ImageInputError
from fakescope_cli.evidence import c2pa_check, ela, exif, generators, hashes, jpeg_tables, spectrum, xmp
from fakescope_cli.evidence.container import ContainerInfo, read_container
from fakescope_cli.evidence.items import MODERATE, EvidenceItem, EvidenceReport
from fakescope_cli.evidence.options import EvidenceOptions
from fakescope_cli.evidence.text import clean_text
from fakescope_cli.evidence.tiff_ifd import TiffFacts
from fakescope_cli.imageio import DecodedImage, decode_image, sniff_format

__all__ = ["EvidenceOptions", "gather_evidence"]  # EvidenceOptions lives in options.py

log = logging.getLogger(__name__)


class _Run:
    """Collects items and per-analyser timings; turns an analyser's crash into a finding."""

    def __init__(self, report: EvidenceReport) -> None:
        self.report = report

    @contextmanager
    def step(self, name: str) -> Iterator[None]:
        started = time.perf_counter()
        try:
            yield
        except Exception as exc:  # one analyser must never stop the others, or the scan
            log.debug("evidence step %s failed", name, exc_info=True)
            self.report.add(
                EvidenceItem(
                    f"{name}.failed",
                    "integrity",
                    f"{name} analysis failed ({type(exc).__name__})",
                    clean_text(str(exc), 300),
                    strength=MODERATE,
                    location="analyser",
                )
            )
        finally:
            self.report.timings[name] = self.report.timings.get(name, 0.0) + time.perf_counter() - started


def gather_evidence(
    path: Path,
    data: bytes,
    decoded: DecodedImage | ImageInputError | None = None,
    options: EvidenceOptions | None = None,
) -> EvidenceReport:
    """Evidence for one file's bytes. ``decoded`` is the decoded image when the caller already
    has it, or the error decoding raised; when None the pixels are decoded here."""
    with warnings.catch_warnings():
        # Pillow and exifread warn about odd files; such things are findings, never stray lines.
        warnings.simplefilter("ignore")
        return _gather(path, data, decoded, options or EvidenceOptions())


def _gather(
    path: Path, data: bytes, decoded: DecodedImage | ImageInputError | None, options: EvidenceOptions
) -> EvidenceReport:
    report = EvidenceReport(str(path))
    run = _Run(report)
    info = ContainerInfo()
    with run.step("container"):
        info = read_container(data)
    image_format = info.format or sniff_format(data[:16]) or ""
    for problem in info.problems[:5]:
        report.add(EvidenceItem("container.problem", "integrity", problem, location="file structure"))
    if decoded is None:
        with run.step("decode"):
            try:
                decoded = decode_image(path, data, options.max_pixels)
            except ImageInputError as exc:
                decoded = exc
        if decoded is None:  # the step caught something unexpected and recorded it
            decoded = ImageInputError(f"{path}: the decoder failed")
    if isinstance(decoded, ImageInputError):
        report.add(
            EvidenceItem(
                "pixels.unreadable",
                "integrity",
                f"pixels not analysed: {clean_text(_reason(decoded, path), 300)}",
                location="image data",
                strength=MODERATE,
                limits="Metadata findings above still come from the file's bytes.",
            )
        )
        decoded_ok = None
    else:
        decoded_ok = decoded
        image_format = info.format or decoded.format  # a phone's MPO is a JPEG to everything here
    with run.step("hash"):
        report.add(hashes.sha256_item(decoded_ok.sha256 if decoded_ok else _sha256(data)))
        if decoded_ok is not None:
            report.add(hashes.phash_item(decoded_ok.rgb))
    software: list[tuple[str, str]] = []
    texts = [(t.key, t.text, t.location) for t in info.texts]
    with run.step("exif"):
        _exif(data, info, decoded_ok, report, software, texts)
    with run.step("xmp"):
        for index, packet in enumerate(info.xmp[:4]):
            facts = xmp.parse_xmp(packet)
            location = "XMP packet" if len(info.xmp) == 1 else f"XMP packet {index + 1}"
            report.items.extend(xmp.xmp_findings(facts, location))
            software += [(tool, f"{location}, xmp:CreatorTool") for tool in facts.creator_tools]
            software += [(agent, f"{location}, xmpMM:History") for agent in facts.agents]
            texts += [(key, value, f"{location}, {key}") for key, value in facts.texts.items()]
            credit = facts.texts.get("Credit", "")
            if "made with google ai" in credit.lower():  # Google's label; other credits are free text
                software.append((credit, f"{location}, photoshop:Credit"))
    with run.step("stealth"):
        hidden = _stealth_parameters(data, info, decoded_ok)
        if hidden is not None:
            texts.append(("parameters", hidden[1], f"pixel low bits ({hidden[0]}, stealth pnginfo)"))
    with run.step("generator"):
        report.items.extend(generators.declaration_items(generators.find_declarations(texts, software)))
        _control_sequences(info, report)
    with run.step("c2pa"):
        _c2pa(data, info, image_format, options, report)
    if decoded_ok is not None and options.signals:
        _signals(data, info, decoded_ok, options, run)
    return report


def _stealth_parameters(
    data: bytes, info: ContainerInfo, decoded: DecodedImage | None
) -> tuple[str, str] | None:
    """Parameters a front end hid in the pixels' low bits (lossless PNG/WebP only survive it)."""
    from fakescope_cli.evidence.stealth import read_stealth_text

    if decoded is None or info.format not in ("PNG", "WEBP"):
        return None
    try:
        with Image.open(io.BytesIO(data), formats=[info.format]) as image:
            # the pixels as stored: alpha kept (also a palette's transparency), never rotated by
            # EXIF orientation (the writer hid the bits before any viewer turned the picture)
            if "A" in image.getbands() or "transparency" in image.info:
                return read_stealth_text(image.convert("RGBA"))
            if image.getexif().get(0x0112, 1) != 1:
                return read_stealth_text(image.convert("RGB"))
    except (OSError, ValueError):
        return None
    return read_stealth_text(decoded.rgb)  # stored as shown: no second decode


def _control_sequences(info: ContainerInfo, report: EvidenceReport) -> None:
    """Terminal control sequences in a text field or XMP packet: put there to act on whoever reads
    the metadata in a terminal (our output escapes them)."""
    from fakescope_cli.evidence.metadata_dump import has_control_sequence

    places = [t.location for t in info.texts if has_control_sequence(t.raw or t.text)]
    places += [f"XMP packet {n + 1}" for n, p in enumerate(info.xmp[:4]) if has_control_sequence(p)]
    if places:
        report.add(
            EvidenceItem(
                "metadata.control_sequences",
                "integrity",
                "metadata holds terminal control sequences",
                places[:10],
                location="; ".join(dict.fromkeys(places[:10])),
                limits="Such bytes can retitle or recolour a terminal, or hide text, when the metadata "
                "is printed by a tool that does not escape it. They say nothing about how the image "
                "was made; they say someone wrote them on purpose.",
            )
        )


def _reason(error: ImageInputError, path: Path) -> str:
    text = str(error)
    prefix = f"{path}: "
    return text[len(prefix) :] if text.startswith(prefix) else text


def _sha256(data: bytes) -> str:
    import hashlib

    return hashlib.sha256(data).hexdigest()


def _exif(
    data: bytes,
    info: ContainerInfo,
    decoded: DecodedImage | None,
    report: EvidenceReport,
    software: list[tuple[str, str]],
    texts: list[tuple[str, str, str]],
) -> None:
    tags: dict[str, object] = {}
    facts = TiffFacts()
    if info.exif_block is not None:
        try:
            tags, facts = exif.read_exif_tags(info.exif_block)
        except ValueError as exc:
            report.add(
                EvidenceItem(
                    "exif.unreadable",
                    "integrity",
                    "EXIF unreadable (malformed block)",
                    clean_text(str(exc), 300),
                    location="EXIF",
                    limits="The rest of the evidence still ran.",
                )
            )
            return
    if not tags:
        if info.has_exif:
            report.add(
                EvidenceItem(
                    "exif.unreadable",
                    "integrity",
                    "EXIF block present but empty or unreadable",
                    location="EXIF",
                )
            )
        else:
            report.add(
                EvidenceItem(
                    "exif.absent",
                    "metadata",
                    "no EXIF metadata",
                    False,
                    location="whole file",
                    limits="Generators rarely write EXIF, but social networks and messengers strip it "
                    "from real photos too: absence proves nothing.",
                )
            )
        return
    report.items.extend(exif.exif_findings(tags, facts, decoded.stored_size if decoded else None))
    for ifd, tag, size in facts.oversized:
        report.add(
            EvidenceItem(
                "exif.oversized_field",
                "integrity",
                f"EXIF field 0x{tag:04X} in {ifd} is {size:,} bytes long: read cut to its first "
                f"{exif.MAX_FIELD // 1024} KiB",
                size,
                unit="bytes",
                location=f"EXIF {ifd}",
                limits="Cameras write short fields; a huge one was written by software, perhaps to "
                "hide data or to break tools. The other EXIF fields were read as usual.",
            )
        )
    fields = exif.exif_text_fields(tags, facts)
    for label in ("Software", "Make", "Model"):
        if label in fields:
            software.append((fields[label], f"EXIF {label}"))
            # ComfyUI's WebP/JPEG savers put their graphs here: Make "prompt:{...}", Model "workflow:{...}"
            key, sep, graph = fields[label].partition(":")
            if sep and key in ("prompt", "workflow") and graph.lstrip().startswith("{"):
                texts.append((key, graph, f"EXIF {label} (ComfyUI {key})"))
    for label in ("UserComment", "ImageDescription"):
        if label in fields:
            texts.append((label, fields[label], f"EXIF {label}"))


def _c2pa(
    data: bytes, info: ContainerInfo, image_format: str, options: EvidenceOptions, report: EvidenceReport
) -> None:
    # Formats we walk ourselves are only handed to c2pa when a store was seen; others always are.
    if info.format in ("JPEG", "PNG", "WEBP") and not info.has_c2pa and not info.problems:
        report.add(c2pa_check.c2pa_absent())
        return
    try:
        store = c2pa_check.read_manifest_store(data, image_format, options.c2pa_trust_anchors)
    except ValueError as exc:
        if not info.has_c2pa and not c2pa_check.has_store_marker(data):
            # c2pa-rs fails on any damaged file; without a store in it that is not a C2PA finding
            # (the container problem is reported on its own).
            report.add(c2pa_check.c2pa_absent())
            return
        report.add(
            EvidenceItem(
                "c2pa.unreadable",
                "integrity",
                f"C2PA data present but unreadable ({exc})",
                location="C2PA manifest store (JUMBF)",
                strength=MODERATE,
            )
        )
        return
    trust_list = options.c2pa_trust_anchors is not None
    report.items.extend(c2pa_check.c2pa_findings(store, trust_list) if store else [c2pa_check.c2pa_absent()])


def _signals(
    data: bytes, info: ContainerInfo, decoded: DecodedImage, options: EvidenceOptions, run: _Run
) -> None:
    report = run.report
    is_jpeg = decoded.format in ("JPEG", "MPO")
    if is_jpeg and info.quant_tables:
        with run.step("jpeg"):
            report.add(jpeg_tables.quant_table_finding(info.quant_tables, info.jpeg_frames))
            if 0 in info.quant_tables:
                luma, table = _jpeg_luma(data), info.quant_tables[0]
                score = None if luma is None else jpeg_tables.double_quantization_score(luma, table)
                report.add(jpeg_tables.double_quantization_finding(score))
    with run.step("ela"):
        result = ela.error_levels(decoded.rgb, options.figures)
        report.add(ela.ela_finding(result))
        _keep_figure(report, "ela", result.figure)
    with run.step("spectrum"):
        gray = np.asarray(decoded.rgb.convert("L"))
        spec = spectrum.residual_spectrum(gray, jpeg_grid=is_jpeg, want_figure=options.figures)
        report.add(spectrum.spectrum_finding(spec))
        _keep_figure(report, "spectrum", spec.figure if spec else None)


def _keep_figure(report: EvidenceReport, name: str, figure: bytes | None) -> None:
    if figure is not None:
        report.figures[name] = figure


def _jpeg_luma(data: bytes) -> np.ndarray | None:
    """The decoded Y channel as stored (no colour conversion, no EXIF rotation), cut to the
    region the double-compression test reads; None when the image is too small for it."""
    with Image.open(io.BytesIO(data), formats=["JPEG"]) as image:
        box = jpeg_tables.double_quantization_box(*image.size)
        if box is None:
            return None
        image.draft("YCbCr", image.size)  # the decoder's own Y, not RGB converted back
        if image.mode == "L":
            return np.asarray(image.crop(box))
        ycbcr = image if image.mode == "YCbCr" else image.convert("YCbCr")  # CMYK files
        return np.asarray(ycbcr.crop(box).getchannel(0))  # one plane of one megapixel
