"""The human side of FakeChain (ACoTI): per-image trace annotations and a few demonstrations.

File format (JSON)::

    {"images": {"fake/sd15/0001.png": {"traces": {"texture": "waxy skin on the cheeks"}}},
     "demonstrations": [{"label": "fake", "rationale": "The fingers merge ... so the image is fake."}]}

Image keys are paths relative to the annotation file's folder (or absolute); each must name an
image of the dataset, and trace keys must be trace categories, so a typo is an error, not a
silently ignored annotation.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fakescope_cli.errors import ConfigError
from train.data.records import LABELS, TRACE_CATEGORIES, ImageRecord

MAX_TEXT = 2000


@dataclass(frozen=True)
class Demonstration:
    """A human-written rationale that shows the teacher the wording wanted."""

    label: str
    rationale: str


@dataclass
class Annotations:
    traces: dict[Path, dict[str, str]] = field(default_factory=dict)  # image -> category -> text
    demonstrations: list[Demonstration] = field(default_factory=list)

    def for_image(self, path: Path) -> dict[str, str]:
        return self.traces.get(path.resolve(), {})


def load_annotations(path: Path, records: Sequence[ImageRecord]) -> Annotations:
    """Read and check an annotation file against the dataset's images (ConfigError naming the key)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read annotations ({exc})") from None
    except json.JSONDecodeError as exc:
        raise ConfigError(f"{path}: not valid JSON (line {exc.lineno}: {exc.msg})") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a JSON object with 'images' and 'demonstrations'")
    unknown = sorted(set(data) - {"images", "demonstrations"})
    if unknown:
        raise ConfigError(f"{path}: unknown key {unknown[0]!r}; known: 'images', 'demonstrations'")
    known = {record.path.resolve() for record in records}
    annotations = Annotations()
    images = data.get("images", {})
    if not isinstance(images, dict):
        raise ConfigError(f"{path}: 'images' must be an object keyed by image path")
    for key, entry in images.items():
        image = Path(key).expanduser()
        image = (image if image.is_absolute() else path.parent / image).resolve()
        if image not in known:
            raise ConfigError(f"{path}: images[{key!r}] is not an image of the dataset")
        annotations.traces[image] = _traces(entry, f"{path}: images[{key!r}]")
    demos = data.get("demonstrations", [])
    if not isinstance(demos, list):
        raise ConfigError(f"{path}: 'demonstrations' must be a list")
    for index, demo in enumerate(demos):
        annotations.demonstrations.append(_demonstration(demo, f"{path}: demonstrations[{index}]"))
    return annotations


def _traces(entry: Any, where: str) -> dict[str, str]:
    if not isinstance(entry, dict) or set(entry) - {"traces"}:
        raise ConfigError(f'{where}: expected {{"traces": {{category: text}}}}')
    traces = entry.get("traces", {})
    if not isinstance(traces, dict):
        raise ConfigError(f"{where}.traces must be an object of category: text")
    result: dict[str, str] = {}
    for category, text in traces.items():
        if category not in TRACE_CATEGORIES:
            raise ConfigError(
                f"{where}.traces: unknown trace category {category!r}; known: {', '.join(TRACE_CATEGORIES)}"
            )
        if not isinstance(text, str) or not text.strip():
            raise ConfigError(f"{where}.traces[{category!r}] must be a non-empty text")
        result[category] = text.strip()[:MAX_TEXT]
    return result


def _demonstration(demo: Any, where: str) -> Demonstration:
    if not isinstance(demo, dict) or set(demo) != {"label", "rationale"}:
        raise ConfigError(f'{where}: expected {{"label": "real|fake", "rationale": "..."}}')
    label, rationale = demo["label"], demo["rationale"]
    if label not in LABELS:
        raise ConfigError(f"{where}.label {label!r} is not real or fake")
    if not isinstance(rationale, str) or not rationale.strip():
        raise ConfigError(f"{where}.rationale must be a non-empty text")
    return Demonstration(label, rationale.strip()[:MAX_TEXT])
