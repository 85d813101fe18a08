"""Our engine's p(fake) equals the same formula computed from transformers' logits.

Same checkpoint, same image, same prompt: transformers runs the PyTorch model with its own
image processor and tokenizer; our engine runs the GGUF export through llama.cpp and
libmtmd. Agreement shows the engine reads the answer position with the right
preprocessing, tokens and teacher forcing.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from fakescope_cli.imageio import load_image
from fakescope_cli.scoring import label_probabilities
from tests.conftest import write_test_image

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

# f32 GGUF vs f32 PyTorch. Measured on this tiny model: |dp| 5e-5 (flat image) to 1.5e-3
# (64x48, upscaled), max |dlogit| 5e-3 to 8e-3. The floor comes from ggml's CPU GELU (an fp16
# lookup table) in the vision tower; non-square images add the difference between libmtmd's
# and Pillow's Lanczos resamplers. A wrong answer position, token layout or normalisation moves
# p(fake) by 0.05 or more on this model (see the negative control below).
P_TOLERANCE = 3e-3
LOGIT_TOLERANCE = 2.5e-2


class HFReference:
    def __init__(self, checkpoint: Path):
        from transformers import AutoProcessor, Idefics3ForConditionalGeneration

        self.processor = AutoProcessor.from_pretrained(checkpoint)
        self.model = Idefics3ForConditionalGeneration.from_pretrained(checkpoint).eval()

    def inputs(self, image, question: str):
        messages = [{"role": "user", "content": [{"type": "image"}, {"type": "text", "text": question}]}]
        prompt = self.processor.apply_chat_template(messages, add_generation_prompt=True)
        return self.processor(text=prompt, images=[[image]], return_tensors="pt")

    @torch.no_grad()
    def logits_after(self, inputs, extra: tuple[int, ...] = ()) -> np.ndarray:
        ids = inputs["input_ids"]
        if extra:
            ids = torch.cat([ids, torch.tensor([extra])], dim=1)
        kwargs = {k: v for k, v in inputs.items() if k not in ("input_ids", "attention_mask")}
        out = self.model(input_ids=ids, attention_mask=torch.ones_like(ids), **kwargs)
        return out.logits[0].float().numpy()

    def p_fake(
        self, image, question: str, variants: dict[str, list[tuple[int, ...]]]
    ) -> tuple[float, np.ndarray]:
        inputs = self.inputs(image, question)
        base = self.logits_after(inputs)
        n = inputs["input_ids"].shape[1]
        labels = {}
        for label, sequences in variants.items():
            labels[label] = []
            for seq in sequences:
                rows = self.logits_after(inputs, seq[:-1]) if len(seq) > 1 else base
                labels[label].append([float(rows[n - 1 + k][seq[k]]) for k in range(len(seq))])
        return label_probabilities(labels)["fake"], base[n - 1]


@pytest.fixture(scope="module")
def reference(tiny_checkpoint: Path) -> HFReference:
    return HFReference(tiny_checkpoint)


def test_label_tokenization_matches_transformers(tiny_engine, reference: HFReference) -> None:
    tok = reference.processor.tokenizer
    for sequences in tiny_engine.label_tokens.values():
        for seq in sequences:
            text = tiny_engine.native.detokenize(seq)
            assert tuple(tok.encode(text, add_special_tokens=False)) == seq
    # The parity check must exercise teacher forcing: some variant is several tokens long.
    assert any(len(seq) > 1 for seqs in tiny_engine.label_tokens.values() for seq in seqs)


@pytest.mark.parametrize(("size", "seed"), [((64, 64), 3), ((64, 48), 4), ((40, 64), 5)])
def test_p_fake_matches_transformers(tiny_engine, reference: HFReference, tmp_path: Path, size, seed) -> None:
    path = write_test_image(tmp_path / "img.png", size=size, seed=seed)
    image = load_image(path)
    ours = tiny_engine.score(image)
    from PIL import Image

    theirs, their_logits = reference.p_fake(
        Image.open(path).convert("RGB"), tiny_engine.profile.judge_prompt, tiny_engine.label_tokens
    )
    our_logits = tiny_engine.native.evaluate(
        tiny_engine.native_prompt(tiny_engine.profile.judge_prompt),
        image.rgb,
        image.width,
        image.height,
        image.pixel_id,
    )
    assert int(np.argmax(our_logits)) == int(np.argmax(their_logits))
    assert np.max(np.abs(our_logits - their_logits)) < LOGIT_TOLERANCE
    assert abs(ours.p_fake - theirs) < P_TOLERANCE
    # Not a degenerate comparison: the tiny model's answer is not a coin flip.
    assert abs(theirs - 0.5) > 0.01


def test_tolerance_separates_a_different_image(tiny_engine, reference: HFReference, tmp_path: Path) -> None:
    """Negative control: p(fake) of another image is far outside the parity tolerance."""
    from PIL import Image

    ours = tiny_engine.score(load_image(write_test_image(tmp_path / "a.png", seed=3))).p_fake
    other = write_test_image(tmp_path / "b.png", seed=4)
    theirs, _ = reference.p_fake(
        Image.open(other).convert("RGB"), tiny_engine.profile.judge_prompt, tiny_engine.label_tokens
    )
    assert abs(ours - theirs) > 20 * P_TOLERANCE
