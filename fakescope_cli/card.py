"""Model card: a one-line caveat and a paragraph of limits that travel inside the text GGUF.

The converter writes them under ``fakescope.card.*`` from a card TOML (``--card``). The CLI
shows the caveat once with every output made with the model, and ``model info`` shows both. Read
back, they are untrusted text like any other metadata: the caveat is folded onto one line and
both are capped; kept exact (as JSON shows them), they are escaped where they are displayed, like
file names. A model without these keys has
no card: nothing is shown and nothing is invented.
"""

from __future__ import annotations

import json
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from fakescope_cli.errors import ConfigError
from fakescope_cli.textsafe import has_control

KEY_CAVEAT = "fakescope.card.caveat"
KEY_LIMITS = "fakescope.card.limits"
CAVEAT_MAX = 200  # characters; one line in a terminal, a table footer, a report
LIMITS_MAX = 4000
CARD_FILE = "fakescope-card.toml"  # beside a checkpoint: the converter's default card
CARD_TOML_FIELDS = ("caveat", "limits")

# What the random-weight models built by conversion/synthetic*.py say about themselves.
TEST_MODEL_CAVEAT = "random weights: a test model, not a detector"
TEST_MODEL_LIMITS = (
    "Built with random weights for tests and benchmarks. It has learned nothing about images: "
    "its p(fake) is noise and its rationales are random text."
)


@dataclass(frozen=True)
class ModelCard:
    """What a model's authors say about its limits; ``caveat`` is the one line every output carries."""

    caveat: str | None = None
    limits: str | None = None

    def to_metadata(self) -> dict[str, str]:
        """The GGUF key/value pairs that carry this card."""
        data = {}
        if self.caveat:
            data[KEY_CAVEAT] = self.caveat
        if self.limits:
            data[KEY_LIMITS] = self.limits
        return data


def _cap(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def card_from_metadata(metadata: Mapping[str, object]) -> ModelCard | None:
    """The card in GGUF metadata (exact text, escaped by whatever displays it); None when the model
    has none."""
    caveat, limits = metadata.get(KEY_CAVEAT), metadata.get(KEY_LIMITS)
    caveat = " ".join(caveat.split()) if isinstance(caveat, str) else ""
    limits = limits.strip() if isinstance(limits, str) else ""
    if not caveat and not limits:
        return None
    return ModelCard(_cap(caveat, CAVEAT_MAX) or None, _cap(limits, LIMITS_MAX) or None)


def load_card_toml(path: Path) -> ModelCard:
    """Read a card file for the converter: ``caveat`` (one line, required) and ``limits``."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read the model card ({exc})") from exc
    unknown = sorted(set(data) - set(CARD_TOML_FIELDS))
    if unknown:
        raise ConfigError(f"{path}: unknown model card keys {unknown}; known: {list(CARD_TOML_FIELDS)}")
    caveat, limits = data.get("caveat"), data.get("limits", "")
    if not isinstance(caveat, str) or not caveat.strip():
        raise ConfigError(f"{path}: the model card needs a 'caveat' (one line of text)")
    if not isinstance(limits, str):
        raise ConfigError(f"{path}: 'limits' must be a string")
    caveat, limits = caveat.strip(), limits.strip()
    if has_control(caveat):
        raise ConfigError(f"{path}: 'caveat' must be one line without control characters")
    if len(caveat) > CAVEAT_MAX:
        raise ConfigError(f"{path}: 'caveat' has {len(caveat)} characters; at most {CAVEAT_MAX}")
    if has_control(limits, allow_newlines=True):
        raise ConfigError(f"{path}: 'limits' must be plain text without control characters")
    if len(limits) > LIMITS_MAX:
        raise ConfigError(f"{path}: 'limits' has {len(limits)} characters; at most {LIMITS_MAX}")
    return ModelCard(caveat, limits or None)


def write_synthetic_card(checkpoint_dir: Path) -> Path:
    """Put the random-weight card beside a synthetic checkpoint (the converter picks it up)."""
    path = checkpoint_dir / CARD_FILE
    path.write_text(f"caveat = {json.dumps(TEST_MODEL_CAVEAT)}\nlimits = {json.dumps(TEST_MODEL_LIMITS)}\n")
    return path
