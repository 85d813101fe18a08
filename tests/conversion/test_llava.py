"""LLaVA-1.5 (llava-hf layout): our export against transformers on a tiny random checkpoint.

llama.cpp as vendored in llama-cpp-python 0.3.36 builds the LLaVA vision graph with the class
token *after* the patches, while its inputs still assume it comes first (llama.cpp issue #25814,
fix proposed in PR #25844). `make` builds llama-cpp-python with that one line fixed
(patches/llama-cpp-python-0.3.36-llava-cls-first.patch). The tests compare against transformers
as is, and, as a control, against transformers with the defect simulated (class token last):
the engine must match the first tightly and be far from the second, which also shows that the
patched build is the one in use.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from conversion.synthetic_llava import CLIP_MEAN, TinyLlavaShape, build_tiny_llava
from fakescope_cli.gguf_header import read_header
from fakescope_cli.imageio import load_image
from fakescope_cli.scoring import label_probabilities
from tests.conftest import write_test_image

torch = pytest.importorskip("torch")

SHAPE = TinyLlavaShape()
LOGIT_TOLERANCE = 5e-2  # measured 9.2e-3 to 1.2e-2 at 32x32; 3.2e-2 at 64x64, which adds resampling
P_TOLERANCE = 3e-3


@pytest.fixture(scope="module")
def llava_checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_llava(tmp_path_factory.mktemp("llava-hf") / "tiny-llava", SHAPE)


@pytest.fixture(scope="module")
def llava_engine(llava_checkpoint: Path, tmp_path_factory: pytest.TempPathFactory):
    from conversion.export import export_checkpoint
    from fakescope_cli.engine.llama_engine import LlamaEngine
    from fakescope_cli.models import ModelFiles

    result = export_checkpoint(llava_checkpoint, tmp_path_factory.mktemp("llava-gguf"), name="l", quant="f32")
    with LlamaEngine(ModelFiles(result.text, result.mmproj, "test")) as engine:
        yield engine


class LlavaReference:
    """transformers' LlavaForConditionalGeneration, with the image placed as libmtmd places it."""

    def __init__(self, checkpoint: Path):
        from transformers import AutoProcessor, LlavaForConditionalGeneration

        self.processor = AutoProcessor.from_pretrained(checkpoint)
        self.model = LlavaForConditionalGeneration.from_pretrained(checkpoint).eval()
        self.tokenizer = self.processor.tokenizer
        self.image_token = self.model.config.image_token_index

    def pixels(self, image: Image.Image):
        return self.processor.image_processor(image, return_tensors="pt")["pixel_values"]

    def prompt_ids(self, before: str, after: str) -> list[int]:
        """Text before and after the image tokenized separately, as libmtmd (and LLaVA's own
        code) does: the text after the image starts a new SentencePiece word."""
        n_image = (SHAPE.image_size // SHAPE.patch) ** 2
        head = self.tokenizer(before)["input_ids"]
        tail = self.tokenizer(after, add_special_tokens=False)["input_ids"]
        return head + [self.image_token] * n_image + tail

    @torch.no_grad()
    def image_features(self, pixels, cls_last: bool):
        tower = self.model.model.vision_tower
        emb = tower.embeddings
        patches = emb.patch_embedding(pixels).flatten(2).transpose(1, 2)
        cls = emb.class_embedding.reshape(1, 1, -1)
        seq = torch.cat([patches, cls], 1) if cls_last else torch.cat([cls, patches], 1)
        hidden = tower.pre_layrnorm(seq + emb.position_embedding.weight[None])
        for layer in tower.encoder.layers[: SHAPE.vision_layers - 1]:  # vision_feature_layer = -2
            out = layer(hidden, None)
            hidden = out[0] if isinstance(out, tuple) else out
        return self.model.model.multi_modal_projector(hidden[:, 1:])

    @torch.no_grad()
    def logits(self, ids: list[int], pixels, cls_last: bool) -> np.ndarray:
        tensor = torch.tensor([ids])
        embeds = self.model.model.get_input_embeddings()(tensor)
        features = self.image_features(pixels, cls_last)
        embeds[tensor == self.image_token] = features.reshape(-1, features.shape[-1])
        out = self.model(inputs_embeds=embeds, attention_mask=torch.ones_like(tensor))
        return out.logits[0].float().numpy()

    def p_fake(self, ids, pixels, variants, cls_last: bool) -> tuple[float, np.ndarray]:
        base = self.logits(ids, pixels, cls_last)
        n = len(ids)
        labels = {}
        for label, sequences in variants.items():
            labels[label] = []
            for seq in sequences:
                rows = self.logits(ids + list(seq[:-1]), pixels, cls_last) if len(seq) > 1 else base
                labels[label].append([float(rows[n - 1 + k][seq[k]]) for k in range(len(seq))])
        return label_probabilities(labels)["fake"], base[n - 1]


@pytest.fixture(scope="module")
def reference(llava_checkpoint: Path) -> LlavaReference:
    return LlavaReference(llava_checkpoint)


def _split_prompt(engine) -> tuple[str, str]:
    prompt = engine.native_prompt(engine.profile.judge_prompt)
    before, after = prompt.split(engine.native.marker)
    return before, after


def test_mmproj_keys_libmtmd_needs(llava_engine) -> None:
    header = read_header(llava_engine.files.mmproj)
    meta = header.metadata
    assert meta["clip.projector_type"] == "mlp"
    assert meta["clip.vision.feature_layer"] == [SHAPE.vision_layers - 1]
    assert meta["clip.vision.block_count"] == SHAPE.vision_layers - 1
    assert "clip.use_gelu" not in meta  # quick-GELU, CLIP's activation
    names = {t.name for t in header.tensors}
    assert {"mm.0.weight", "mm.2.bias", "v.class_embd", "v.pre_ln.weight", "v.position_embd.weight"} <= names
    assert not any(name.startswith("v.post_ln") for name in names)
    assert not any(name.startswith(f"v.blk.{SHAPE.vision_layers - 1}.") for name in names)
    text = read_header(llava_engine.files.text).metadata
    assert text["tokenizer.ggml.model"] == "llama"
    assert text["tokenizer.ggml.add_space_prefix"] is True


def test_prompt_and_label_tokens_match_transformers(llava_engine, reference: LlavaReference) -> None:
    before, after = _split_prompt(llava_engine)
    native = llava_engine.native
    tok = reference.tokenizer
    assert native.llama.tokenize(before.encode(), add_bos=True, special=True) == tok(before)["input_ids"]
    assert (
        native.llama.tokenize(after.encode(), add_bos=False, special=True)
        == tok(after, add_special_tokens=False)["input_ids"]
    )
    from fakescope_cli.engine.labels import surface_forms

    for word in (llava_engine.profile.label_fake, llava_engine.profile.label_real):
        for form in surface_forms(word):  # compared as text: SentencePiece detokenizing drops a lead space
            ours = native.llama.tokenize(form.encode(), add_bos=False, special=False)
            assert ours == tok(form, add_special_tokens=False)["input_ids"], repr(form)


def _compare(engine, reference: LlavaReference, path: Path, pixels) -> dict[str, float]:
    image = load_image(path)
    before, after = _split_prompt(engine)
    ids = reference.prompt_ids(before, after)
    ours_logits = engine.native.evaluate(
        engine.native_prompt(engine.profile.judge_prompt),
        image.rgb,
        image.width,
        image.height,
        image.pixel_id,
    )
    ours_p = engine.score(image).p_fake
    out: dict[str, float] = {"ours_p": ours_p, "ours_top": float(np.argmax(ours_logits))}
    for name, cls_last in (("transformers", False), ("defect", True)):
        p, logits = reference.p_fake(ids, pixels, engine.label_tokens, cls_last)
        out[f"{name}_dlogit"] = float(np.max(np.abs(ours_logits - logits)))
        out[f"{name}_dp"] = abs(ours_p - p)
        out[f"{name}_top"] = float(np.argmax(logits))
        out[f"{name}_p"] = p
    return out


@pytest.mark.parametrize(("size", "seed"), [((32, 32), 3), ((32, 32), 4), ((64, 64), 5)])
def test_logits_match_transformers(llava_engine, reference, tmp_path: Path, size, seed) -> None:
    path = write_test_image(tmp_path / "img.png", size=size, seed=seed)
    pixels = reference.pixels(Image.open(path).convert("RGB"))  # square: resize only, no crop or pad
    result = _compare(llava_engine, reference, path, pixels)
    print(f"\n[llava {size}] { ({k: round(v, 5) for k, v in result.items()}) }")
    assert result["ours_top"] == result["transformers_top"]
    assert result["transformers_dlogit"] < LOGIT_TOLERANCE
    assert result["transformers_dp"] < P_TOLERANCE
    assert abs(result["transformers_p"] - 0.5) > 0.01  # not a coin flip
    # Control: the unpatched llama.cpp's class-token order would be far off (an unpatched build fails here).
    assert result["defect_dlogit"] > 10 * result["transformers_dlogit"]


def _fit_and_pad(image: Image.Image, tile: int) -> Image.Image:
    """libmtmd's LLaVA preprocessing: fit inside the square tile (bicubic), pad with the mean colour."""
    scale = min(tile / image.width, tile / image.height)
    width = min(int(np.ceil(image.width * scale)), tile)
    height = min(int(np.ceil(image.height * scale)), tile)
    canvas = Image.new("RGB", (tile, tile), tuple(int(255 * m) for m in CLIP_MEAN))
    canvas.paste(
        image.resize((width, height), Image.Resampling.BICUBIC), ((tile - width) // 2, (tile - height) // 2)
    )
    return canvas


def test_non_square_images_are_padded_not_cropped(llava_engine, reference, tmp_path: Path) -> None:
    """CLIPImageProcessor centre-crops; libmtmd pads to a square with the mean colour (as LLaVA-1.5
    was trained). Measured: padding our way reproduces libmtmd's input, cropping does not."""
    path = write_test_image(tmp_path / "wide.png", size=(64, 40), seed=6)
    original = Image.open(path).convert("RGB")
    padded = _compare(
        llava_engine, reference, path, reference.pixels(_fit_and_pad(original, SHAPE.image_size))
    )
    cropped = _compare(llava_engine, reference, path, reference.pixels(original))
    measured = (padded["transformers_dlogit"], cropped["transformers_dlogit"])
    print(f"\n[llava 64x40] max |dlogit| padded {measured[0]:.4f}, centre-cropped {measured[1]:.4f}")
    assert padded["transformers_dlogit"] < LOGIT_TOLERANCE
    assert cropped["transformers_dlogit"] > 5 * padded["transformers_dlogit"]


def test_fakevlm_profile_scores_with_its_answer_prefix(
    llava_checkpoint: Path, tmp_path: Path, capsys
) -> None:
    from conversion.cli import main as conversion_main
    from fakescope_cli.engine.llama_engine import LlamaEngine
    from fakescope_cli.models import ModelFiles

    code = conversion_main(
        ["export", str(llava_checkpoint), "--out", str(tmp_path), "--name", "fv", "--profile", "fakevlm"]
    )
    assert code == 0
    assert "issue #25814" in capsys.readouterr().err  # the llama.cpp fix it needs is stated at export
    with LlamaEngine(ModelFiles(tmp_path / "fv.gguf", tmp_path / "fv.mmproj.gguf", "test")) as engine:
        assert engine.profile.name == "fakevlm"
        prompt = engine.native_prompt(engine.profile.judge_prompt)
        assert prompt.endswith("Does the image looks real/fake? ASSISTANT: This is a")
        assert prompt.startswith("USER: ")
        score = engine.score(load_image(write_test_image(tmp_path / "a.png", size=(32, 32), seed=1)))
    assert 0.0 < score.p_fake < 1.0


def test_sentencepiece_style_tokenization_matches_on_varied_text(
    llava_engine, reference: LlavaReference
) -> None:
    """Scores of minus the merge rank make llama.cpp's SentencePiece merging reproduce the BPE
    merges transformers applies: checked on varied text, including bytes outside the vocabulary."""
    import random

    from conversion.synthetic import _WORDS

    rng = random.Random(3)
    pieces = [*_WORDS, "Fake", "REAL", ",", ".", "?", "  ", "\n", "é", "日本", "🙂", "x1", "42"]
    texts = [
        "".join(rng.choice([" ", ""]) + rng.choice(pieces) for _ in range(rng.randint(1, 15)))
        for _ in range(200)
    ]
    llama = llava_engine.native.llama
    for text in texts:
        ours = llama.tokenize(text.encode(), add_bos=False, special=False)
        assert ours == reference.tokenizer(text, add_special_tokens=False)["input_ids"], repr(text)


# -- storage types (against transformers) ------------------------------------------------------
QUANT_SHAPE = TinyLlavaShape(text_hidden=256, text_ffn=512, init_range=0.05)  # see test_quant_fidelity
QUANT_TOLERANCE = {"f16": 1e-3, "q8_0": 0.02}


@pytest.fixture(scope="module")
def quant_setup(tmp_path_factory: pytest.TempPathFactory):
    checkpoint = build_tiny_llava(tmp_path_factory.mktemp("llava-quant") / "tiny-llava-quant", QUANT_SHAPE)
    folder = tmp_path_factory.mktemp("llava-quant-images")
    images = [write_test_image(folder / f"{seed}.png", size=(32, 32), seed=seed) for seed in (3, 4, 5)]
    return checkpoint, LlavaReference(checkpoint), images


@pytest.mark.parametrize("quant", ["f16", "q8_0", "q4_k_m"])
def test_p_fake_after_quantization(quant_setup, tmp_path: Path, quant: str) -> None:
    from conversion.export import export_checkpoint
    from fakescope_cli.engine.llama_engine import LlamaEngine
    from fakescope_cli.models import ModelFiles

    checkpoint, reference, images = quant_setup
    result = export_checkpoint(checkpoint, tmp_path, name=f"l-{quant}", quant=quant)
    with LlamaEngine(ModelFiles(result.text, result.mmproj, "test")) as engine:
        before, after = _split_prompt(engine)
        ids = reference.prompt_ids(before, after)
        ours = [engine.score(load_image(path)).p_fake for path in images]
        theirs = [
            reference.p_fake(ids, reference.pixels(Image.open(p).convert("RGB")), engine.label_tokens, False)[
                0
            ]
            for p in images
        ]
    deltas = np.abs(np.array(ours) - np.array(theirs))
    print(f"\n[llava {quant}] |p(fake) - transformers| max {deltas.max():.2e} ({theirs})")
    assert all(abs(t - 0.5) > 0.01 for t in theirs)
    if quant == "q4_k_m":
        assert read_header(result.text).tensor_types().get("Q4_K", 0) > 0
        assert deltas.max() < 0.1
    else:
        assert deltas.max() < QUANT_TOLERANCE[quant]
