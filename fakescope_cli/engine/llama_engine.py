"""The llama.cpp implementation of :class:`fakescope_cli.engine.base.ForensicModel`."""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence

import numpy as np

from fakescope_cli.engine.labels import variant_token_sequences
from fakescope_cli.engine.native import LoadOptions, NativeModel
from fakescope_cli.engine.prompt import render_image_prompt
from fakescope_cli.errors import InferenceError, ModelFileError
from fakescope_cli.imageio import LoadedImage
from fakescope_cli.models import ModelFiles
from fakescope_cli.profile import ModelProfile, profile_from_metadata
from fakescope_cli.results import AuthenticityScore, DecodingSettings, LabelEvidence
from fakescope_cli.scoring import label_probabilities, label_score

log = logging.getLogger(__name__)

_TOKEN_LIKE = re.compile(r"<\|?[^<>\s]{1,48}\|?>")


class LlamaEngine:
    """A FakeScope-style model pair run by llama.cpp and libmtmd; load once, reuse per image."""

    def __init__(self, files: ModelFiles, options: LoadOptions | None = None):
        self.files = files
        self.native = NativeModel(files.text, files.mmproj, options or LoadOptions())
        try:
            profile, self.warnings = profile_from_metadata(self.native.metadata)
            self.profile: ModelProfile = profile
            self.label_tokens = {
                "fake": variant_token_sequences(profile.label_fake, self.native.tokenize),
                "real": variant_token_sequences(profile.label_real, self.native.tokenize),
            }
            shared = set(self.label_tokens["fake"]) & set(self.label_tokens["real"])
            if shared or not self.label_tokens["fake"] or not self.label_tokens["real"]:
                raise ModelFileError(
                    f"profile labels {profile.label_fake!r}/{profile.label_real!r} cannot be told apart "
                    "by this tokenizer"
                )
        except BaseException:
            self.native.close()
            raise
        for warning in self.warnings:
            log.warning("%s", warning)

    def close(self) -> None:
        self.native.close()

    def __enter__(self) -> LlamaEngine:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # -- prompts -------------------------------------------------------------------------
    def _reserved_in(self, question: str) -> list[str]:
        """Control-token spellings in user text (they would be parsed as special tokens)."""
        found = []
        for match in _TOKEN_LIKE.findall(question):
            if len(self.native.tokenize(match, special=True)) == 1 and len(self.native.tokenize(match)) > 1:
                found.append(match)
        return found

    def native_prompt(self, question: str) -> str:
        """The full prompt text (with libmtmd's media marker) for ``question``."""
        return render_image_prompt(self.profile, question, self.native.marker, self._reserved_in(question))

    def _evaluate(self, image: LoadedImage, question: str) -> np.ndarray:
        prompt = self.native_prompt(question)
        return self.native.evaluate(prompt, image.rgb, image.width, image.height, image.pixel_id)

    # -- scoring -------------------------------------------------------------------------
    def _label_evidence(
        self, word: str, sequences: Sequence[tuple[int, ...]], logits: np.ndarray
    ) -> tuple[LabelEvidence, list[list[float]]]:
        """The label's evidence record, and each variant's sub-token logits for the formula."""
        variants: list[dict[str, object]] = []
        scored: list[list[float]] = []
        for tokens in sequences:
            sub_logits = [float(logits[tokens[0]])]
            if len(tokens) > 1:
                rows = self.native.teacher_forced_logits(tokens[:-1])
                sub_logits += [float(rows[k - 1][tokens[k]]) for k in range(1, len(tokens))]
            variants.append(
                {"text": self.native.detokenize(tokens), "tokens": list(tokens), "logits": sub_logits}
            )
            scored.append(sub_logits)
        return LabelEvidence(word, label_score(scored), variants), scored

    def score(self, image: LoadedImage) -> AuthenticityScore:
        logits = self._evaluate(image, self.profile.judge_prompt)
        if not np.all(np.isfinite(logits)):
            raise InferenceError("the model produced non-finite logits for this image")
        fake, fake_logits = self._label_evidence(self.profile.label_fake, self.label_tokens["fake"], logits)
        real, real_logits = self._label_evidence(self.profile.label_real, self.label_tokens["real"], logits)
        try:
            probs = label_probabilities({"fake": fake_logits, "real": real_logits})
        except ValueError as exc:
            raise InferenceError(f"no usable label scores ({exc})") from None
        if not all(np.isfinite(list(probs.values()))):
            raise InferenceError("the label scores are not finite numbers")
        top = self.native.detokenize([int(np.argmax(logits))])
        return AuthenticityScore(probs["fake"], probs["real"], fake, real, top)

    # -- generation ----------------------------------------------------------------------
    def _generate(self, logits: np.ndarray, settings: DecodingSettings) -> str:
        rng = np.random.default_rng(settings.seed)
        out: list[int] = []
        for _ in range(settings.max_tokens):
            if settings.greedy:
                token = int(np.argmax(logits))
            else:
                scaled = logits.astype(np.float64) / settings.temperature
                scaled -= scaled.max()
                probs = np.exp(scaled)
                token = int(rng.choice(len(probs), p=probs / probs.sum()))
            if self.native.is_end_of_generation(token) or self.native.n_past + 1 >= self.native.n_ctx:
                break
            out.append(token)
            logits = self.native.append_token(token)
        return self.native.detokenize(out).strip()

    def explain(self, image: LoadedImage, settings: DecodingSettings) -> tuple[AuthenticityScore, str]:
        score = self.score(image)
        text = self._generate(self._evaluate(image, self.profile.explain_prompt), settings)
        return score, text

    def ask(self, image: LoadedImage, question: str, settings: DecodingSettings) -> str:
        return self._generate(self._evaluate(image, question), settings)
