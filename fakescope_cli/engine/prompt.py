"""Render a chat prompt with the model's template and mark where the image goes."""

from __future__ import annotations

from functools import lru_cache

from jinja2 import TemplateError
from jinja2.sandbox import ImmutableSandboxedEnvironment

from fakescope_cli.errors import ModelFileError
from fakescope_cli.profile import ModelProfile


@lru_cache(maxsize=8)
def _compile(template: str):
    env = ImmutableSandboxedEnvironment(
        trim_blocks=True, lstrip_blocks=True, extensions=["jinja2.ext.loopcontrols"]
    )
    try:
        return env.from_string(template)
    except TemplateError as exc:
        raise ModelFileError(f"the model's chat template does not parse ({exc})") from exc


def clean_user_text(text: str, reserved: list[str]) -> str:
    """Remove image markers and control tokens a question could smuggle into the prompt."""
    for marker in reserved:
        if marker:
            text = text.replace(marker, "")
    return text


def render_image_prompt(profile: ModelProfile, question: str, media_marker: str, reserved: list[str]) -> str:
    """One user turn holding the image and ``question``, then the assistant's answer prefix."""
    question = clean_user_text(question, [media_marker, profile.image_placeholder, *reserved])
    messages = [{"role": "user", "content": [{"type": "image"}, {"type": "text", "text": question}]}]
    try:
        rendered = _compile(profile.resolved_chat_template).render(
            messages=messages, add_generation_prompt=True, bos_token="", eos_token=""
        )
    except TemplateError as exc:
        raise ModelFileError(f"the model's chat template failed to render ({exc})") from exc
    if rendered.count(profile.image_placeholder) != 1:
        raise ModelFileError(
            f"the chat template did not place exactly one image placeholder {profile.image_placeholder!r}"
        )
    return rendered.replace(profile.image_placeholder, media_marker) + profile.answer_prefix
