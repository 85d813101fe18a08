"""The llama.cpp implementation of :class:`fakescope_cli.engine.base.ForensicModel`."""

from __future__ import annotations

import contextlib
import hashlib
import itertools
import logging
import re
from collections.abc import Callable, Iterable, Iterator, Sequence

import numpy as np

from fakescope_cli.engine.batched import BatchedScorer, Embedded
from fakescope_cli.engine.labels import variant_token_sequences
from fakescope_cli.engine.native import LoadOptions, NativeModel
from fakescope_cli.engine.prompt import render_image_prompt
from fakescope_cli.engine.shape import check_vision_shape
from fakescope_cli.engine.vision import KEPT_IMAGES
from fakescope_cli.errors import InferenceError, ModelFileError
from fakescope_cli.imageio import LoadedImage
from fakescope_cli.models import ModelFiles
from fakescope_cli.profile import ModelProfile, profile_from_metadata
from fakescope_cli.results import (
    AuthenticityScore,
    CropScore,
    CropView,
    DecodingSettings,
    HeatMap,
    LabelEvidence,
)
from fakescope_cli.scoring import label_probabilities, label_score
from fakescope_cli.view import Box, aggregate, crop_boxes, cut, map_boxes, region_box, sigmoid

Progress = Callable[[int, int], None]
Forced = Callable[[tuple[int, ...]], "np.ndarray | Sequence[np.ndarray]"]  # a row after each token

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
            check_vision_shape(files.mmproj, profile, self.native.tokenize)
            shared = set(self.label_tokens["fake"]) & set(self.label_tokens["real"])
            if shared or not self.label_tokens["fake"] or not self.label_tokens["real"]:
                raise ModelFileError(
                    f"profile labels {profile.label_fake!r}/{profile.label_real!r} cannot be told apart "
                    "by this tokenizer"
                )
            self.batched = self._open_batched()
        except BaseException:
            self.native.close()
            raise
        for warning in self.warnings:
            log.warning("%s", warning)

    def _open_batched(self) -> BatchedScorer | None:
        """Scoring in few decodes (prompts as embeddings, label variants as sequences), or None
        where this model takes its prompts chunk by chunk."""
        if self.native.embeddings is None:
            return None
        prefixes = [seq[:-1] for seqs in self.label_tokens.values() for seq in seqs if len(seq) > 1]
        try:
            return BatchedScorer(self.native, prefixes)
        except InferenceError as exc:  # more label variants than sequences
            log.debug("scoring chunk by chunk: %s", exc)
            return None

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
        self, word: str, sequences: Sequence[tuple[int, ...]], logits: np.ndarray, forced: Forced
    ) -> tuple[LabelEvidence, list[list[float]]]:
        """The label's evidence record, and each variant's sub-token logits for the formula;
        ``forced(prefix)`` gives the logits after each token of a variant's prefix."""
        variants: list[dict[str, object]] = []
        scored: list[list[float]] = []
        for tokens in sequences:
            sub_logits = [float(logits[tokens[0]])]
            if len(tokens) > 1:
                rows = forced(tokens[:-1])
                sub_logits += [float(rows[k - 1][tokens[k]]) for k in range(1, len(tokens))]
            variants.append(
                {"text": self.native.detokenize(tokens), "tokens": list(tokens), "logits": sub_logits}
            )
            scored.append(sub_logits)
        return LabelEvidence(word, label_score(scored), variants), scored

    def _judged(self, logits: np.ndarray, forced: Forced) -> AuthenticityScore:
        """Token-based probability estimation from the answer position's logits."""
        if not np.all(np.isfinite(logits)):
            raise InferenceError("the model produced non-finite logits for this image")
        fake, fake_logits = self._label_evidence(
            self.profile.label_fake, self.label_tokens["fake"], logits, forced
        )
        real, real_logits = self._label_evidence(
            self.profile.label_real, self.label_tokens["real"], logits, forced
        )
        try:
            probs = label_probabilities({"fake": fake_logits, "real": real_logits})
        except ValueError as exc:
            raise InferenceError(f"no usable label scores ({exc})") from None
        if not all(np.isfinite(list(probs.values()))):
            raise InferenceError("the label scores are not finite numbers")
        top = self.native.detokenize([int(np.argmax(logits))])
        return AuthenticityScore(probs["fake"], probs["real"], fake, real, top)

    def _score_one(self, image: LoadedImage) -> AuthenticityScore:
        """One prompt chunk by chunk, each label variant teacher-forced on its own."""
        logits = self._evaluate(image, self.profile.judge_prompt)
        return self._judged(logits, self.native.teacher_forced_logits)

    def _embedded(self, images: Iterable[LoadedImage]) -> Iterator[Embedded]:
        """Each image's prompt as input rows; the images of a group (a crops view's crops) have
        their tiles encoded together, in as few vision graphs as libmtmd allows."""
        prompt = self.native_prompt(self.profile.judge_prompt)
        pending = iter(images)
        while group := list(itertools.islice(pending, KEPT_IMAGES)):
            with contextlib.ExitStack() as stack:
                plans = [
                    stack.enter_context(
                        self.native.prompt_chunks(prompt, i.rgb, i.width, i.height, i.pixel_id)
                    )
                    for i in group
                ]
                self.native.vision.encode_plans(plans)
                embedded = [self.native.embed(plan) for plan in plans]
            yield from embedded

    def score_images(self, images: Iterable[LoadedImage]) -> Iterator[AuthenticityScore]:
        """Each image's own score (token-based estimation), batched where the model allows."""
        if self.batched is None:
            yield from map(self._score_one, images)
            return
        for out in self.batched.score(self._embedded(images)):
            yield self._judged(out.last, out.forced.__getitem__)

    # -- the crops view ------------------------------------------------------------------
    def crop(self, image: LoadedImage, box: Box) -> LoadedImage:
        """The box's native pixels as an image of its own (padded to the crop size if smaller)."""
        size = self.profile.crop_size
        inside = np.frombuffer(image.region(box.x, box.y, box.w, box.h), dtype=np.uint8)
        rgb = cut(inside.reshape(box.h, box.w, 3), Box(0, 0, box.w, box.h), size).tobytes()
        digest = hashlib.sha256(rgb).hexdigest()
        return LoadedImage(image.path, rgb, size, size, image.format, digest)

    def score_boxes(
        self, image: LoadedImage, boxes: Sequence[Box], progress: Progress | None = None
    ) -> list[tuple[CropScore, AuthenticityScore]]:
        """Each box's crop scored on its own (token-based estimation per crop)."""
        out = []
        scores = self.score_images(self.crop(image, box) for box in boxes)
        for n, (box, one) in enumerate(zip(boxes, scores, strict=True)):
            logit = one.fake.score - one.real.score
            p_crop = sigmoid(self.profile.calibrated(logit))  # as the image's p(fake) is
            out.append((CropScore(box.x, box.y, box.w, box.h, p_crop, logit), one))
            if progress is not None:
                progress(n + 1, len(boxes))
        return out

    def score(self, image: LoadedImage) -> AuthenticityScore:
        """p(fake) of the whole image (``whole`` view) or of its native crops, aggregated."""
        profile = self.profile
        if not profile.is_crops:
            return next(self.score_images([image]))
        boxes = crop_boxes(image.width, image.height, profile.crop_size, profile.crops)
        scored = self.score_boxes(image, boxes)
        crops = [c for c, _ in scored]
        p_fake = aggregate(
            [c.logit for c in crops], profile.aggregate, profile.logit_scale, profile.logit_offset
        )
        top = max(range(len(crops)), key=lambda i: crops[i].logit)
        best = scored[top][1]
        undersized = image.width < profile.crop_size or image.height < profile.crop_size
        view = CropView(profile.crop_size, profile.aggregate, crops, undersized, top)
        return AuthenticityScore(p_fake, 1.0 - p_fake, best.fake, best.real, best.answer_top_token, view)

    def score_map(self, image: LoadedImage, progress: Progress | None = None) -> HeatMap | None:
        """p(fake) over a dense grid of native crops; None for a whole-image model."""
        if not self.profile.is_crops:
            return None
        cols, rows, boxes = map_boxes(image.width, image.height, self.profile.crop_size)
        cells = [c for c, _ in self.score_boxes(image, boxes, progress)]
        return HeatMap(cols, rows, self.profile.crop_size, cells)

    def focus(
        self, image: LoadedImage, score: AuthenticityScore | None, region: tuple[int, int] | None = None
    ) -> Box | None:
        """The crop ``explain`` and ``ask`` look at: the one named by ``region`` (its top-left
        corner), else the crop that scored highest; None for a whole-image model."""
        if not self.profile.is_crops:
            return None
        size = self.profile.crop_size
        if region is not None:
            return region_box(image.width, image.height, size, *region)
        top = score.top_crop if score is not None else None
        if top is None:
            return crop_boxes(image.width, image.height, size, 1)[0]
        return Box(top.x, top.y, top.w, top.h)

    def _seen(self, image: LoadedImage, box: Box | None) -> LoadedImage:
        return image if box is None else self.crop(image, box)

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

    def explain(
        self, image: LoadedImage, settings: DecodingSettings, region: tuple[int, int] | None = None
    ) -> tuple[AuthenticityScore, str]:
        """The score and the rationale, written about :meth:`focus`'s crop in the crops view."""
        score = self.score(image)
        seen = self._seen(image, self.focus(image, score, region))
        text = self._generate(self._evaluate(seen, self.profile.explain_prompt), settings)
        return score, text

    def ask(
        self,
        image: LoadedImage,
        question: str,
        settings: DecodingSettings,
        region: tuple[int, int] | None = None,
        score: AuthenticityScore | None = None,
    ) -> str:
        """A free-form answer; in the crops view about ``region``'s crop, or else the crop that
        scored highest (``score`` when known, else the image is scored first)."""
        if self.profile.is_crops and region is None and score is None:
            score = self.score(image)
        seen = self._seen(image, self.focus(image, score, region))
        return self._generate(self._evaluate(seen, question), settings)
