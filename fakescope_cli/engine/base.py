"""The interface every forensic model offers: score, explain, ask."""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from fakescope_cli.imageio import LoadedImage
from fakescope_cli.profile import ModelProfile
from fakescope_cli.results import AuthenticityScore, DecodingSettings, HeatMap
from fakescope_cli.view import Box


class ForensicModel(Protocol):
    profile: ModelProfile
    warnings: list[str]

    def score(self, image: LoadedImage) -> AuthenticityScore:
        """p(fake) by token-based probability estimation; one prefill per image (or per crop in the
        crops view), no generated text."""
        ...

    def score_map(
        self, image: LoadedImage, progress: Callable[[int, int], None] | None = None
    ) -> HeatMap | None:
        """p(fake) over a dense grid of native crops; None when the model judges whole images."""
        ...

    def focus(
        self, image: LoadedImage, score: AuthenticityScore | None, region: tuple[int, int] | None = None
    ) -> Box | None:
        """The crop explain/ask look at (None: the whole image)."""
        ...

    def explain(
        self, image: LoadedImage, settings: DecodingSettings, region: tuple[int, int] | None = None
    ) -> tuple[AuthenticityScore, str]:
        """The score and the model's written rationale."""
        ...

    def ask(
        self,
        image: LoadedImage,
        question: str,
        settings: DecodingSettings,
        region: tuple[int, int] | None = None,
        score: AuthenticityScore | None = None,
    ) -> str:
        """A free-form answer about the image (or about :meth:`focus`'s crop)."""
        ...

    def close(self) -> None: ...
