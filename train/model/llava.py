"""LLaVA conversation JSON: read FakeClue / FakeVLM-style files, write FakeInstruct output.

Accepted input: a JSON list of ``{"image": str, "conversations": [{"from": "human"|"gpt",
"value": str}, ...]}`` items (turns alternate, human first), with optional ``id``, ``label``,
``family``, ``generator``, ``split``; other keys (FakeClue's ``cate`` ...) are ignored. A label
that is not the word real or fake (some sets use integers, with conventions that differ) is kept
as ``source_label`` and ``label`` becomes None rather than guessed.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from fakescope_cli.errors import DatasetError
from train.data.records import FAMILIES, LABELS, SPLITS
from train.io import atomic_write_text

IMAGE_TOKEN = "<image>"
ROLES = ("human", "gpt")


def read_llava_json(path: Path) -> list[dict[str, Any]]:
    """Items of a LLaVA-format JSON file, checked and normalised (DatasetError naming the item)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise DatasetError(f"{path}: cannot read ({exc})") from None
    except json.JSONDecodeError as exc:
        raise DatasetError(f"{path}: not valid JSON (line {exc.lineno}: {exc.msg})") from None
    if not isinstance(data, list):
        raise DatasetError(f"{path}: expected a JSON list of conversation items")
    return [_normalise(item, f"{path}: item {index}", path.stem, index) for index, item in enumerate(data)]


def _normalise(item: Any, where: str, stem: str, index: int) -> dict[str, Any]:
    if not isinstance(item, dict):
        raise DatasetError(f"{where}: expected an object")
    image = item.get("image")
    if not isinstance(image, str) or not image.strip():
        raise DatasetError(f"{where}: missing image path")
    turns = item.get("conversations")
    if not isinstance(turns, list) or len(turns) < 2 or len(turns) % 2:
        raise DatasetError(f"{where}: conversations must be a list of human/gpt turn pairs")
    conversations = []
    for number, turn in enumerate(turns):
        expected = ROLES[number % 2]
        if not isinstance(turn, dict) or turn.get("from") != expected:
            raise DatasetError(f"{where}: conversations[{number}].from must be {expected!r}")
        if not isinstance(turn.get("value"), str):
            raise DatasetError(f"{where}: conversations[{number}].value must be text")
        conversations.append({"from": expected, "value": turn["value"]})
    if IMAGE_TOKEN not in conversations[0]["value"]:
        conversations[0]["value"] = f"{IMAGE_TOKEN}\n{conversations[0]['value']}"
    raw_label = item.get("label")
    label = raw_label.strip().lower() if isinstance(raw_label, str) else None
    result: dict[str, Any] = {
        "id": str(item.get("id") or f"{stem}-{index}"),
        "image": image,
        "conversations": conversations,
        "family": item["family"] if item.get("family") in FAMILIES else "holistic",
        "label": label if label in LABELS else None,
        "generator": item.get("generator") if isinstance(item.get("generator"), str) else None,
        "split": item["split"] if item.get("split") in SPLITS else "train",
        "source": stem,
    }
    if raw_label is not None and result["label"] is None:
        result["source_label"] = raw_label
    return result


def write_llava_json(items: list[dict[str, Any]], path: Path) -> None:
    atomic_write_text(path, json.dumps(items, ensure_ascii=False, indent=1) + "\n")
