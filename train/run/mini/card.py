"""MODEL_CARD.md for a FakeScope-mini run, written only from what the run recorded.

Every number in the card is read from a file the run wrote (stage records, the evaluation JSON,
the benchmark JSON, the photo pool's sources.json, the data manifest); a figure the run did not
produce is printed as "not measured", never filled in.
"""

from __future__ import annotations

import csv
import json
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fakescope_cli.errors import ConfigError
from fakescope_cli.report.render_md import md
from fakescope_cli.textsafe import printable

NOT_MEASURED = "not measured"


@dataclass(frozen=True)
class CardInputs:
    """What the card is written from: the run folder's records, read and checked."""

    name: str
    caveat: str
    limits: str
    stages: dict[str, dict[str, Any]]  # stage name -> its record (seconds, outputs, settings)
    sources: list[dict[str, Any]]  # photo pool: one entry per photograph
    manifest: list[dict[str, str]]  # the processed data set: path, label, generator, source, split
    evaluation: dict[str, Any] | None
    bench: dict[str, Any] | None


def _json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, json.JSONDecodeError) as exc:
        raise ConfigError(f"{path}: unreadable ({exc})") from exc


def read_inputs(work: Path, pool: Path, name: str, caveat: str, limits: str) -> CardInputs:
    stages = {}
    for path in sorted((work / "stages").glob("*.json")):
        record = _json(path)
        if isinstance(record, dict):
            stages[path.stem] = record
    sources = _json(pool / "sources.json") or []
    if isinstance(sources, dict):
        sources = sources.get("photos", [])
    manifest_path = work / "data" / "manifest.csv"
    manifest = list(csv.DictReader(manifest_path.open(newline=""))) if manifest_path.is_file() else []
    return CardInputs(
        name, caveat, limits, stages, sources, manifest, _json(work / "eval.json"), _json(work / "bench.json")
    )


def _fmt(value: Any, digits: int = 4) -> str:
    if value is None:
        return NOT_MEASURED
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(md(cell) for cell in row) + " |" for row in rows]
    return lines + [""]


def _sources_section(sources: list[dict[str, Any]]) -> list[str]:
    per: dict[tuple[str, str, str], int] = Counter()
    for photo in sources:
        key = (str(photo.get("package", "?")), str(photo.get("version", "?")), str(photo.get("licence", "?")))
        per[key] += 1
    rows = [[pkg, ver, str(n), lic] for (pkg, ver, lic), n in sorted(per.items())]
    lines = ["## Training data", "", f"Real photographs: {len(sources)} source images.", ""]
    return lines + _table(["source", "version", "photos", "licence"], rows)


def _data_section(manifest: list[dict[str, str]], holdout: str | None) -> list[str]:
    counts: Counter[tuple[str, str]] = Counter()
    for row in manifest:
        kind = "real" if row.get("label") == "real" else (row.get("generator") or "fake")
        counts[(kind, row.get("split", ""))] += 1
    kinds = sorted({k for k, _ in counts}, key=lambda k: (k != "real", k))
    rows = []
    for kind in kinds:
        label = f"{kind} (held out of training)" if kind == holdout else kind
        rows.append([label, *(str(counts[(kind, s)]) for s in ("train", "val", "test"))])
    lines = ["Images after identical processing (crop, JPEG re-encoding), per class or generator family:", ""]
    return lines + _table(["class / family", "train", "val", "test"], rows)


def _hygiene_section(stages: dict[str, dict[str, Any]]) -> list[str]:
    record = stages.get("validate")
    if not record:
        return [f"Shortcut check: {NOT_MEASURED}.", ""]
    separability = record.get("separability", {})
    rows = [[name.replace("_", " "), _fmt(value, 2)] for name, value in separability.items()]
    rows.append(
        [
            "format, quality, width, height, aspect together (cross-validated)",
            _fmt(record.get("combined_auc"), 2),
        ]
    )
    return [
        "Shortcut check (`train/data/validate.py`): how well each file property alone tells real from "
        f"generated, as ROC-AUC (0.5: not at all; the run stops at {_fmt(record.get('threshold'), 2)} "
        "for everything but file size, which also follows the content):",
        "",
    ] + _table(["property", "AUC"], rows)


def _generators_section(stages: dict[str, dict[str, Any]]) -> list[str]:
    record = stages.get("generators", {})
    families = record.get("families", {})
    if not families:
        return []
    rows = [
        [name, _fmt(info.get("steps")), _fmt(info.get("seconds"), 0), str(info.get("device", "?"))]
        for name, info in sorted(families.items())
    ]
    return ["Generator families, trained by `train/generators/` on the training photographs:", ""] + _table(
        ["family", "steps", "seconds", "device"], rows
    )


def _metrics_rows(evaluation: dict[str, Any]) -> list[list[str]]:
    backends = evaluation.get("backends", {})
    names = sorted(backends)
    rows = []

    def add(label: str, pick: Any) -> None:
        for key in ("roc_auc", "accuracy", "ece"):
            values = [pick(backends[n]) for n in names]
            rows.append([label, key, *(_fmt(v.get(key) if v else None) for v in values)])

    add("all test images", lambda b: b.get("overall"))
    held = set(evaluation.get("held_out_generators", []))
    for generator in sorted({g for n in names for g in backends[n].get("per_generator", {})}):
        tag = "held out" if generator in held else "seen"
        add(f"{generator} ({tag})", lambda b, g=generator: b.get("per_generator", {}).get(g))
    if held:
        add("all held-out families", lambda b: b.get("held_out"))
    return rows


def _results_section(evaluation: dict[str, Any] | None, bench: dict[str, Any] | None) -> list[str]:
    lines = ["## Measured results", ""]
    if not evaluation:
        return lines + [f"Evaluation: {NOT_MEASURED}.", ""]
    backends = evaluation.get("backends", {})
    names = sorted(backends)
    lines += [f"Test split: {evaluation.get('images', '?')} images (`python -m train eval`).", ""]
    lines += _table(["images", "metric", *names], _metrics_rows(evaluation))
    aucs = [backends[n].get("overall", {}).get("roc_auc") for n in names]
    if len(aucs) == 2 and None not in aucs:
        lines += [f"AUC difference between {names[0]} and {names[1]}: {abs(aucs[0] - aucs[1]):.4f}.", ""]
    if bench:
        lines += [
            f"CPU speed of `fakescope scan` (score only, {bench.get('images', '?')} images, "
            f"{bench.get('threads', '?')} threads, {bench.get('machine', '?')}): "
            f"{_fmt(bench.get('images_per_s'), 2)} images/s, peak RSS {_fmt(bench.get('peak_rss_mb'), 0)} MB "
            f"({bench.get('includes', 'scan only')}).",
            "",
        ]
    else:
        lines += [f"CPU speed: {NOT_MEASURED}.", ""]
    return lines


def _explanations_section(evaluation: dict[str, Any] | None) -> list[str]:
    explanations = (evaluation or {}).get("explanations") or {}
    samples = explanations.get("samples") or []
    if not samples:
        return []
    share = explanations.get("share_agreeing")
    lines = [
        "## Explanations",
        "",
        f"{len(samples)} `fakescope explain` outputs on test images. Claims about periodic, upsampling or "
        "compression traces were checked against the evidence engine's measurements: "
        f"{explanations.get('agree', 0)} agree, {explanations.get('disagree', 0)} disagree, "
        f"{explanations.get('unverifiable', 0)} make no measurable claim "
        f"(share agreeing among checked: {_fmt(share, 2)}).",
        "",
    ]
    for sample in samples:
        text = printable(" ".join(str(sample.get("explanation", "")).split()))
        name = md(Path(str(sample.get("path", "?"))).name)
        lines.append(f"- {name} ({md(sample.get('check', '?'))}): {md(text)}")
    return lines + [""]


def _architecture(init: dict[str, Any]) -> str:
    source, vision = init.get("text_source"), init.get("vision")
    if not isinstance(source, dict):
        return f"Starting checkpoint: {md(init.get('checkpoint', NOT_MEASURED))}."
    text = (
        "Idefics3 (SmolVLM layout): a vision tower trained from scratch on this task, a pixel-shuffle "
        f"connector, and the language model of {md(source.get('file', '?'))} "
        f"(SHA-256 {md(source.get('sha256', '?'))}) as the starting text model"
    )
    if isinstance(vision, dict):
        text += (
            f"; vision tiles of {vision.get('image_size')} px in {vision.get('patch')} px patches, "
            f"width {vision.get('width')}, {vision.get('layers')} layers, images up to "
            f"{vision.get('longest_edge')} px cut into tiles plus a global view"
        )
    return text + "."


def render_card(inputs: CardInputs, holdout: str | None) -> str:
    stages = inputs.stages
    init = stages.get("init", {})
    sft = stages.get("sft", {})
    export = stages.get("export", {})
    lines = [
        f"# {md(inputs.name)}",
        "",
        f"**{md(inputs.caveat)}**",
        "",
        "## Limits",
        "",
        md(inputs.limits),
        "",
    ]
    lines += ["## Architecture", ""]
    params = init.get("parameters", {})
    lines += [_architecture(init), ""]
    lines += _table(
        ["part", "parameters"],
        [[part, _fmt(params.get(part))] for part in ("vision", "connector", "text")],
    )
    files = export.get("files", [])
    if files:
        lines += _table(
            ["file", "bytes", "SHA-256"], [[f["name"], str(f["bytes"]), f["sha256"]] for f in files]
        )
    lines += _sources_section(inputs.sources)
    lines += _data_section(inputs.manifest, holdout)
    lines += _hygiene_section(stages)
    lines += _generators_section(stages)
    lines += ["## Training", ""]
    lines += [
        f"Command: `{sft.get('command', NOT_MEASURED)}`; {_fmt(sft.get('steps'))} steps on "
        f"{sft.get('device', '?')}, the call that finished them {_fmt(sft.get('seconds'), 0)} s; "
        f"loss {_fmt(sft.get('loss_first'))} -> {_fmt(sft.get('loss_last'))}.",
        "",
    ]
    lines += _results_section(inputs.evaluation, inputs.bench)
    lines += _explanations_section(inputs.evaluation)
    return "\n".join(lines).rstrip() + "\n"
