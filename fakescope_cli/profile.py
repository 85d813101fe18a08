"""Model profile: the question, label words and prompt format a model was trained with.

The profile travels inside the text GGUF under ``fakescope.profile.*`` keys, written by
``conversion``. A GGUF without them gets :data:`DEFAULT_PROFILE` and a warning.
"""

from __future__ import annotations

import math
import tomllib
from collections.abc import Mapping
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

from fakescope_cli.errors import ConfigError
from fakescope_cli.view import AGGREGATE_MEAN_LOGIT, AGGREGATES, MAX_CROPS, VIEW_CROPS, VIEW_WHOLE, VIEWS

# 2 added the view keys; a version-1 profile is read as the whole-image view.
PROFILE_FORMAT_VERSION = 2
KNOWN_VERSIONS = (1, 2)

KEY_PREFIX = "fakescope.profile."
KEY_VERSION = KEY_PREFIX + "version"
KEY_NAME = KEY_PREFIX + "name"
KEY_JUDGE_PROMPT = KEY_PREFIX + "judge_prompt"
KEY_EXPLAIN_PROMPT = KEY_PREFIX + "explain_prompt"
KEY_LABEL_FAKE = KEY_PREFIX + "label_fake"
KEY_LABEL_REAL = KEY_PREFIX + "label_real"
KEY_ANSWER_PREFIX = KEY_PREFIX + "answer_prefix"
KEY_IMAGE_PLACEHOLDER = KEY_PREFIX + "image_placeholder"
KEY_CHAT_TEMPLATE = KEY_PREFIX + "chat_template"
KEY_VIEW = KEY_PREFIX + "view"
KEY_CROP_SIZE = KEY_PREFIX + "crop_size"
KEY_CROPS = KEY_PREFIX + "crops"
KEY_AGGREGATE = KEY_PREFIX + "aggregate"
KEY_LOGIT_SCALE = KEY_PREFIX + "logit_scale"
KEY_LOGIT_OFFSET = KEY_PREFIX + "logit_offset"
GGUF_CHAT_TEMPLATE = "tokenizer.chat_template"

# Used when neither the profile nor the tokenizer carries a chat template.
FALLBACK_CHAT_TEMPLATE = (
    "{% for message in messages %}"
    "{{ message['role'] | capitalize }}:"
    "{% for part in message['content'] %}"
    "{% if part['type'] == 'image' %}<image>{% else %}{{ part['text'] }}{% endif %}"
    "{% endfor %}\n"
    "{% endfor %}"
    "{% if add_generation_prompt %}Assistant:{% endif %}"
)


@dataclass(frozen=True)
class ModelProfile:
    """How to ask a model the authenticity question and read its answer."""

    name: str = "default"
    version: int = PROFILE_FORMAT_VERSION
    judge_prompt: str = "Is this image real or fake? Answer with one word: real or fake."
    explain_prompt: str = (
        "Is this image real or fake? Explain your judgment by describing the visual trace evidence you see."
    )
    label_fake: str = "fake"
    label_real: str = "real"
    answer_prefix: str = ""
    image_placeholder: str = "<image>"
    chat_template: str | None = None  # None: the tokenizer's template, else FALLBACK_CHAT_TEMPLATE
    view: str = VIEW_WHOLE  # "whole": the image as the model's processor takes it; "crops": native crops
    crop_size: int = 0  # crops view: side of each native crop in pixels
    crops: int = 1  # crops view: how many crops a scan judges
    aggregate: str = AGGREGATE_MEAN_LOGIT  # crops view: how crop scores become the image's p(fake)
    # crops view: p(fake) = sigmoid(logit_scale * aggregated logit + logit_offset), a calibration
    # fitted on validation images (1 and 0: the plain token-based estimate)
    logit_scale: float = 1.0
    logit_offset: float = 0.0
    from_model: bool = False

    @property
    def is_crops(self) -> bool:
        return self.view == VIEW_CROPS

    def calibrated(self, logit: float) -> float:
        """The logit after the profile's calibration (crops view)."""
        return self.logit_scale * logit + self.logit_offset

    @property
    def resolved_chat_template(self) -> str:
        return self.chat_template or FALLBACK_CHAT_TEMPLATE

    def to_metadata(self) -> dict[str, str | int]:
        """The GGUF key/value pairs that carry this profile."""
        data: dict[str, str | int] = {
            KEY_VERSION: self.version,
            KEY_NAME: self.name,
            KEY_JUDGE_PROMPT: self.judge_prompt,
            KEY_EXPLAIN_PROMPT: self.explain_prompt,
            KEY_LABEL_FAKE: self.label_fake,
            KEY_LABEL_REAL: self.label_real,
            KEY_ANSWER_PREFIX: self.answer_prefix,
            KEY_IMAGE_PLACEHOLDER: self.image_placeholder,
            KEY_VIEW: self.view,
        }
        if self.is_crops:
            data[KEY_CROP_SIZE] = self.crop_size
            data[KEY_CROPS] = self.crops
            data[KEY_AGGREGATE] = self.aggregate
            if (self.logit_scale, self.logit_offset) != (1.0, 0.0):
                data[KEY_LOGIT_SCALE] = repr(self.logit_scale)
                data[KEY_LOGIT_OFFSET] = repr(self.logit_offset)
        if self.chat_template is not None:
            data[KEY_CHAT_TEMPLATE] = self.chat_template
        return data

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


DEFAULT_PROFILE = ModelProfile()


def profile_from_metadata(metadata: Mapping[str, str]) -> tuple[ModelProfile, list[str]]:
    """Build a profile from GGUF metadata (values as strings); returns it with warnings."""
    warnings: list[str] = []
    template = metadata.get(KEY_CHAT_TEMPLATE) or metadata.get(GGUF_CHAT_TEMPLATE)
    if KEY_VERSION not in metadata:
        warnings.append(
            "model has no fakescope.profile keys; using the default profile "
            f"(question {DEFAULT_PROFILE.judge_prompt!r}, labels "
            f"{DEFAULT_PROFILE.label_fake!r}/{DEFAULT_PROFILE.label_real!r})"
        )
        if not template:
            warnings.append("model has no chat template; using a plain 'User:/Assistant:' format")
        return replace(DEFAULT_PROFILE, chat_template=template), warnings

    try:
        version = int(metadata[KEY_VERSION])
    except ValueError:
        version = -1
    if version not in KNOWN_VERSIONS:
        warnings.append(
            f"profile format version {metadata[KEY_VERSION]!r} is not one of {list(KNOWN_VERSIONS)}; "
            "reading the keys this version knows"
        )

    def get(key: str, default: str) -> str:
        value = metadata.get(key)
        return default if value is None else value

    profile = ModelProfile(
        name=get(KEY_NAME, "unnamed"),
        version=version,
        judge_prompt=get(KEY_JUDGE_PROMPT, DEFAULT_PROFILE.judge_prompt),
        explain_prompt=get(KEY_EXPLAIN_PROMPT, DEFAULT_PROFILE.explain_prompt),
        label_fake=get(KEY_LABEL_FAKE, DEFAULT_PROFILE.label_fake),
        label_real=get(KEY_LABEL_REAL, DEFAULT_PROFILE.label_real),
        answer_prefix=get(KEY_ANSWER_PREFIX, ""),
        image_placeholder=get(KEY_IMAGE_PLACEHOLDER, DEFAULT_PROFILE.image_placeholder),
        chat_template=template,
        from_model=True,
    )
    profile, view_warnings = _read_view(profile, metadata)
    warnings += view_warnings
    if not profile.label_fake.strip() or not profile.label_real.strip():
        warnings.append("profile label words are empty; using 'fake'/'real'")
        profile = replace(profile, label_fake="fake", label_real="real")
    if not template:
        warnings.append("model has no chat template; using a plain 'User:/Assistant:' format")
    return profile, warnings


def _read_view(profile: ModelProfile, metadata: Mapping[str, str]) -> tuple[ModelProfile, list[str]]:
    """The view keys; anything unusable falls back to the whole-image view, with a warning."""
    view = metadata.get(KEY_VIEW, VIEW_WHOLE)
    if view == VIEW_WHOLE:
        return profile, []
    try:
        checked = check_view(
            view,
            metadata.get(KEY_CROP_SIZE, ""),
            metadata.get(KEY_CROPS, "1"),
            metadata.get(KEY_AGGREGATE, AGGREGATE_MEAN_LOGIT),
        )
    except ConfigError as exc:
        return profile, [f"{exc}; judging the whole image instead"]
    try:
        checked.update(
            check_calibration(metadata.get(KEY_LOGIT_SCALE, "1.0"), metadata.get(KEY_LOGIT_OFFSET, "0.0"))
        )
    except ConfigError as exc:
        return replace(profile, **checked), [f"{exc}; using the uncalibrated estimate"]
    return replace(profile, **checked), []


def check_calibration(scale: object, offset: object) -> dict[str, float]:
    """The calibration, validated: finite numbers, a positive scale (it must keep the ranking)."""
    try:
        a, b = float(str(scale)), float(str(offset))
    except ValueError:
        raise ConfigError(
            f"profile logit_scale {scale!r} / logit_offset {offset!r} are not numbers"
        ) from None
    if not (math.isfinite(a) and math.isfinite(b)) or not 0.01 <= a <= 100 or abs(b) > 100:
        raise ConfigError(f"profile calibration {a} / {b} is outside 0.01..100 / -100..100")
    return {"logit_scale": a, "logit_offset": b}


def check_view(view: object, crop_size: object, crops: object, aggregate: object) -> dict[str, Any]:
    """The view settings, validated; raises :class:`ConfigError` naming the bad one."""
    if view not in VIEWS:
        raise ConfigError(f"profile view {view!r} is not one of {', '.join(VIEWS)}")
    try:
        size, count = int(str(crop_size)), int(str(crops))
    except ValueError:
        raise ConfigError(
            f"profile crop_size {crop_size!r} / crops {crops!r} are not whole numbers"
        ) from None
    if view == VIEW_CROPS and not 8 <= size <= 4096:
        raise ConfigError(f"profile crop_size {size} is outside 8..4096 pixels")
    if view == VIEW_CROPS and not 1 <= count <= MAX_CROPS:
        raise ConfigError(f"profile crops {count} is outside 1..{MAX_CROPS}")
    if aggregate not in AGGREGATES:
        raise ConfigError(f"profile aggregate {aggregate!r} is not one of {', '.join(AGGREGATES)}")
    return {"view": view, "crop_size": size, "crops": count, "aggregate": aggregate}


PROFILE_TOML_FIELDS = (
    "name",
    "judge_prompt",
    "explain_prompt",
    "label_fake",
    "label_real",
    "answer_prefix",
    "image_placeholder",
    "chat_template",
    "view",
    "crop_size",
    "crops",
    "aggregate",
    "logit_scale",
    "logit_offset",
)
_INT_FIELDS = ("crop_size", "crops")
_FLOAT_FIELDS = ("logit_scale", "logit_offset")


def load_profile_toml(path: Path) -> ModelProfile:
    """Read a profile file (TOML, the fields of :class:`ModelProfile`) for the converter."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read profile ({exc})") from exc
    unknown = sorted(set(data) - set(PROFILE_TOML_FIELDS))
    if unknown:
        raise ConfigError(f"{path}: unknown profile keys {unknown}; known: {list(PROFILE_TOML_FIELDS)}")
    for key, value in data.items():
        if key in _FLOAT_FIELDS:
            if not isinstance(value, int | float) or isinstance(value, bool):
                raise ConfigError(f"{path}: {key} must be a number")
            continue
        wanted = int if key in _INT_FIELDS else str
        if not isinstance(value, wanted) or isinstance(value, bool):
            raise ConfigError(f"{path}: {key} must be {'a whole number' if wanted is int else 'a string'}")
    view = data.get("view", VIEW_WHOLE)
    if view != VIEW_WHOLE or any(k in data for k in ("crop_size", "crops", "aggregate")):
        try:
            data.update(
                check_view(
                    view,
                    data.get("crop_size", 0),
                    data.get("crops", 1),
                    data.get("aggregate", AGGREGATE_MEAN_LOGIT),
                )
            )
        except ConfigError as exc:
            raise ConfigError(f"{path}: {exc}") from None
        if view == VIEW_WHOLE:
            raise ConfigError(f'{path}: crop_size, crops and aggregate need view = "crops"')
    if any(k in data for k in _FLOAT_FIELDS):
        if view != VIEW_CROPS:
            raise ConfigError(f'{path}: logit_scale and logit_offset need view = "crops"')
        try:
            data.update(check_calibration(data.get("logit_scale", 1.0), data.get("logit_offset", 0.0)))
        except ConfigError as exc:
            raise ConfigError(f"{path}: {exc}") from None
    return replace(DEFAULT_PROFILE, **data)
