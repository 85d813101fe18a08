"""Qwen2.5-VL: our export against transformers on a tiny random checkpoint.

Images whose sides are multiples of 28 (patch 14 x merge 2) are used as they are by both
libmtmd and transformers' processor, so the comparison isolates the model: windowed and full
attention blocks (two windows and more in the larger images), 2-D vision rotary, the merger,
and M-RoPE positions in the text model. Another size is resized by both, and the difference is
measured.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from conversion.synthetic_qwen import TinyQwenShape, build_tiny_qwen25vl
from fakescope_cli.gguf_header import read_header
from fakescope_cli.imageio import load_image
from fakescope_cli.scoring import label_probabilities
from tests.conftest import write_test_image

torch = pytest.importorskip("torch")

LOGIT_TOLERANCE = 2.5e-2  # measured 2.6e-3 to 8.4e-3
P_TOLERANCE = 3e-3


@pytest.fixture(scope="module")
def qwen_checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_qwen25vl(tmp_path_factory.mktemp("qwen-hf") / "tiny-qwen", TinyQwenShape())


@pytest.fixture(scope="module")
def qwen_engine(qwen_checkpoint: Path, tmp_path_factory: pytest.TempPathFactory):
    from conversion.export import export_checkpoint
    from fakescope_cli.engine.llama_engine import LlamaEngine
    from fakescope_cli.models import ModelFiles

    result = export_checkpoint(qwen_checkpoint, tmp_path_factory.mktemp("qwen-gguf"), name="q", quant="f32")
    with LlamaEngine(ModelFiles(result.text, result.mmproj, "test")) as engine:
        yield engine


class QwenReference:
    def __init__(self, checkpoint: Path):
        from transformers import AutoImageProcessor, AutoTokenizer, Qwen2_5_VLForConditionalGeneration

        self.tokenizer = AutoTokenizer.from_pretrained(checkpoint)
        self.image_processor = AutoImageProcessor.from_pretrained(checkpoint)
        self.model = Qwen2_5_VLForConditionalGeneration.from_pretrained(checkpoint).eval()

    def inputs(self, before: str, after: str, image: Image.Image) -> dict[str, object]:
        config = self.model.config
        pixels = self.image_processor(images=[image], return_tensors="pt")
        n_image = int(pixels["image_grid_thw"].prod()) // 4
        ids = (
            self.tokenizer(before)["input_ids"]
            + [config.vision_start_token_id]
            + [config.image_token_id] * n_image
            + [config.vision_end_token_id]
            + self.tokenizer(after)["input_ids"]
        )
        return {
            "ids": ids,
            "pixel_values": pixels["pixel_values"],
            "image_grid_thw": pixels["image_grid_thw"],
        }

    @torch.no_grad()
    def logits(self, inputs: dict[str, object], extra: tuple[int, ...] = ()) -> np.ndarray:
        ids = torch.tensor([list(inputs["ids"]) + list(extra)])  # type: ignore[call-overload]
        out = self.model(
            input_ids=ids,
            pixel_values=inputs["pixel_values"],
            image_grid_thw=inputs["image_grid_thw"],
            mm_token_type_ids=(ids == self.model.config.image_token_id).int(),
            attention_mask=torch.ones_like(ids),
        )
        return out.logits[0].float().numpy()

    def p_fake(self, inputs, variants) -> tuple[float, np.ndarray]:
        base = self.logits(inputs)
        n = len(inputs["ids"])
        labels = {}
        for label, sequences in variants.items():
            labels[label] = []
            for seq in sequences:
                rows = self.logits(inputs, seq[:-1]) if len(seq) > 1 else base
                labels[label].append([float(rows[n - 1 + k][seq[k]]) for k in range(len(seq))])
        return label_probabilities(labels)["fake"], base[n - 1]


@pytest.fixture(scope="module")
def reference(qwen_checkpoint: Path) -> QwenReference:
    return QwenReference(qwen_checkpoint)


def _compare(engine, reference: QwenReference, path: Path, theirs_image: Image.Image | None = None):
    """(max |dlogit|, |dp(fake)|, same top-1, transformers' p(fake)); transformers gets
    ``theirs_image`` when given (to reproduce libmtmd's preprocessing), else the file."""
    prompt = engine.native_prompt(engine.profile.judge_prompt)
    before, after = prompt.split(engine.native.marker)
    image = load_image(path)
    ours = engine.native.evaluate(prompt, image.rgb, image.width, image.height, image.pixel_id)
    ours_p = engine.score(image).p_fake
    theirs_image = theirs_image or Image.open(path).convert("RGB")
    theirs_p, theirs = reference.p_fake(reference.inputs(before, after, theirs_image), engine.label_tokens)
    same_top = int(np.argmax(ours)) == int(np.argmax(theirs))
    return float(np.max(np.abs(ours - theirs))), abs(ours_p - theirs_p), same_top, theirs_p


def _libmtmd_resize(image: Image.Image, factor: int = 28) -> Image.Image:
    """libmtmd's Qwen preprocessing for sizes inside its token limits: the same target size as
    transformers (each side rounded to a multiple of 28), but the image is fitted inside it with
    its aspect ratio kept (bicubic) and padded with black, where transformers stretches it."""
    width = max(factor, round(image.width / factor) * factor)
    height = max(factor, round(image.height / factor) * factor)
    scale = min(width / image.width, height / image.height)
    fit_w = min(int(np.ceil(image.width * scale)), width)
    fit_h = min(int(np.ceil(image.height * scale)), height)
    canvas = Image.new("RGB", (width, height), (0, 0, 0))
    canvas.paste(
        image.resize((fit_w, fit_h), Image.Resampling.BICUBIC), ((width - fit_w) // 2, (height - fit_h) // 2)
    )
    return canvas


def test_gguf_keys(qwen_engine) -> None:
    text = read_header(qwen_engine.files.text).metadata
    assert text["general.architecture"] == "qwen2vl"
    assert text["qwen2vl.rope.dimension_sections"] == [2, 3, 3, 0]
    assert text["tokenizer.ggml.pre"] == "qwen2"
    assert text["fakescope.profile.image_placeholder"] == "<|vision_start|><|image_pad|><|vision_end|>"
    proj = read_header(qwen_engine.files.mmproj)
    assert proj.metadata["clip.projector_type"] == "qwen2.5vl_merger"
    assert proj.metadata["clip.vision.n_wa_pattern"] == 2
    names = {t.name for t in proj.tensors}
    assert {"v.patch_embd.weight", "v.patch_embd.weight.1", "v.blk.0.attn_k.bias", "mm.2.weight"} <= names


def test_prompt_tokens_match_transformers(qwen_engine, reference: QwenReference) -> None:
    prompt = qwen_engine.native_prompt(qwen_engine.profile.judge_prompt)
    before, after = prompt.split(qwen_engine.native.marker)
    llama = qwen_engine.native.llama
    assert (
        llama.tokenize(before.encode(), add_bos=True, special=True)
        == reference.tokenizer(before)["input_ids"]
    )
    assert (
        llama.tokenize(after.encode(), add_bos=False, special=True) == reference.tokenizer(after)["input_ids"]
    )


@pytest.mark.parametrize(("size", "seed"), [((112, 112), 3), ((168, 112), 6), ((224, 168), 5)])
def test_logits_match_transformers(qwen_engine, reference, tmp_path: Path, size, seed) -> None:
    path = write_test_image(tmp_path / "img.png", size=size, seed=seed)
    dlogit, dp, same_top, theirs_p = _compare(qwen_engine, reference, path)
    print(f"\n[qwen2.5-vl {size}] max |dlogit| {dlogit:.4f}, |dp(fake)| {dp:.2e}")
    assert same_top
    assert dlogit < LOGIT_TOLERANCE
    assert dp < P_TOLERANCE
    assert abs(theirs_p - 0.5) > 0.01


def test_resized_image_is_padded_not_stretched(qwen_engine, reference, tmp_path: Path) -> None:
    """A 150x100 image: both sides resize to 140x112; libmtmd keeps the aspect ratio and pads
    (black bars), transformers stretches. Measured: padding our way reproduces libmtmd's input,
    the stretched image does not."""
    path = write_test_image(tmp_path / "odd.png", size=(150, 100), seed=9)
    padded = _compare(qwen_engine, reference, path, _libmtmd_resize(Image.open(path).convert("RGB")))
    stretched = _compare(qwen_engine, reference, path)
    print(
        f"\n[qwen2.5-vl 150x100] max |dlogit| padded {padded[0]:.4f} (|dp| {padded[1]:.1e}), "
        f"stretched as transformers does {stretched[0]:.4f} (|dp| {stretched[1]:.1e})"
    )
    assert padded[0] < LOGIT_TOLERANCE
    assert stretched[0] > 10 * padded[0]


# -- storage types ---------------------------------------------------------------------------
# A 256-wide text model (K-quants apply) drawn with std 0.05, as in test_quant_fidelity: a
# random model drawn wider is chaotic and amplifies rounding far beyond a trained one.
QUANT_SHAPE = TinyQwenShape(text_hidden=256, text_ffn=512, mrope_section=(8, 12, 12), init_range=0.05)
QUANT_TOLERANCE = {"f16": 1e-3, "q8_0": 0.02}


@pytest.fixture(scope="module")
def quant_setup(tmp_path_factory: pytest.TempPathFactory):
    checkpoint = build_tiny_qwen25vl(tmp_path_factory.mktemp("qwen-quant") / "tiny-qwen-quant", QUANT_SHAPE)
    folder = tmp_path_factory.mktemp("qwen-quant-images")
    images = [
        write_test_image(folder / f"{seed}.png", size=size, seed=seed)
        for size, seed in (((112, 112), 3), ((168, 112), 6), ((224, 168), 5))
    ]
    return checkpoint, QwenReference(checkpoint), images


@pytest.mark.parametrize("quant", ["f16", "q8_0", "q4_k_m"])
def test_p_fake_after_quantization(quant_setup, tmp_path: Path, quant: str) -> None:
    from conversion.export import export_checkpoint
    from fakescope_cli.engine.llama_engine import LlamaEngine
    from fakescope_cli.models import ModelFiles

    checkpoint, reference, images = quant_setup
    result = export_checkpoint(checkpoint, tmp_path, name=f"q-{quant}", quant=quant)
    with LlamaEngine(ModelFiles(result.text, result.mmproj, "test")) as engine:
        prompt = engine.native_prompt(engine.profile.judge_prompt)
        before, after = prompt.split(engine.native.marker)
        ours = [engine.score(load_image(path)).p_fake for path in images]
        theirs = [
            reference.p_fake(
                reference.inputs(before, after, Image.open(p).convert("RGB")), engine.label_tokens
            )[0]
            for p in images
        ]
    deltas = np.abs(np.array(ours) - np.array(theirs))
    print(f"\n[qwen2.5-vl {quant}] |p(fake) - transformers| max {deltas.max():.2e} (transformers {theirs})")
    assert all(abs(t - 0.5) > 0.01 for t in theirs)
    if quant == "q4_k_m":
        assert read_header(result.text).tensor_types().get("Q4_K", 0) > 0
        assert deltas.max() < 0.1  # measured, printed; a gross failure still fails
    else:
        assert deltas.max() < QUANT_TOLERANCE[quant]
