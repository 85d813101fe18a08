"""Model profile: the question, label words and prompt format a model was trained with.

The profile travels inside the text GGUF under ``fakescope.profile.*`` keys, written by
``conversion``. A GGUF without them gets :data:`DEFAULT_PROFILE` and a warning.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from dataclasses import asdict, dataclass, replace
from pathlib import Path

from fakescope_cli.errors import ConfigError

PROFILE_FORMAT_VERSION = 1

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
    from_model: bool = False

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
        }
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
    if version != PROFILE_FORMAT_VERSION:
        warnings.append(
            f"profile format version {metadata[KEY_VERSION]!r} is not {PROFILE_FORMAT_VERSION}; "
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
    if not profile.label_fake.strip() or not profile.label_real.strip():
        warnings.append("profile label words are empty; using 'fake'/'real'")
        profile = replace(profile, label_fake="fake", label_real="real")
    if not template:
        warnings.append("model has no chat template; using a plain 'User:/Assistant:' format")
    return profile, warnings


PROFILE_TOML_FIELDS = (
    "name",
    "judge_prompt",
    "explain_prompt",
    "label_fake",
    "label_real",
    "answer_prefix",
    "image_placeholder",
    "chat_template",
)


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
        if not isinstance(value, str):
            raise ConfigError(f"{path}: {key} must be a string")
    return replace(DEFAULT_PROFILE, **data)
