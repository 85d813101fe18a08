"""The interface every forensic model offers: score, explain, ask."""

from __future__ import annotations

from typing import Protocol

from fakescope_cli.imageio import LoadedImage
from fakescope_cli.profile import ModelProfile
from fakescope_cli.results import AuthenticityScore, DecodingSettings


class ForensicModel(Protocol):
    profile: ModelProfile
    warnings: list[str]

    def score(self, image: LoadedImage) -> AuthenticityScore:
        """p(fake) by token-based probability estimation; one prefill, no generated text."""
        ...

    def explain(self, image: LoadedImage, settings: DecodingSettings) -> tuple[AuthenticityScore, str]:
        """The score and the model's written rationale (image encoded once)."""
        ...

    def ask(self, image: LoadedImage, question: str, settings: DecodingSettings) -> str:
        """A free-form answer about the image."""
        ...

    def close(self) -> None: ...
