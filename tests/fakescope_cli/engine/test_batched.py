"""Scoring in few decodes: prompts as embedding batches, label variants as sequences, the crops
of an image together; the same scores as chunk-by-chunk decoding, in a fraction of the calls."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from conversion.export import export_checkpoint
from conversion.synthetic import TinyShape, build_tiny_idefics3
from fakescope_cli.engine.batched import Node, continuation_tree, shared_prefix
from fakescope_cli.engine.embeddings import TokenEmbeddings, Unsupported
from fakescope_cli.engine.llama_engine import LlamaEngine
from fakescope_cli.engine.native import LoadOptions, Unit
from fakescope_cli.gguf_header import read_header
from fakescope_cli.imageio import load_image
from fakescope_cli.models import ModelFiles
from tests.conftest import write_test_image, write_textured_image

# f32 exports: what differs between the two paths is only the order of float sums in batches
# of other shapes (the random tiny model amplifies it). The tolerances are the parity tests'
# (llama.cpp against transformers); measured here: |dp| <= 5e-5, |dlogit| <= 7e-3.
P_TOLERANCE = 3e-3
LOGIT_TOLERANCE = 2.5e-2


@pytest.fixture(scope="module")
def chunked_engine(tiny_gguf):
    with LlamaEngine(ModelFiles(tiny_gguf[0], tiny_gguf[1], "test"), LoadOptions(batched=False)) as engine:
        yield engine


@pytest.fixture(scope="module")
def chunked_crops_engine(crops_gguf):
    with LlamaEngine(ModelFiles(crops_gguf[0], crops_gguf[1], "test"), LoadOptions(batched=False)) as engine:
        yield engine


def _close(ours, theirs) -> None:
    assert ours.p_fake == pytest.approx(theirs.p_fake, abs=P_TOLERANCE)
    for label in ("fake", "real"):
        a, b = getattr(ours, label), getattr(theirs, label)
        assert a.score == pytest.approx(b.score, abs=LOGIT_TOLERANCE)
        for va, vb in zip(a.variants, b.variants, strict=True):
            assert va["tokens"] == vb["tokens"]
            np.testing.assert_allclose(va["logits"], vb["logits"], atol=LOGIT_TOLERANCE)


def test_the_tiny_model_takes_the_batched_path(tiny_engine, chunked_engine) -> None:
    assert tiny_engine.batched is not None and chunked_engine.batched is None
    # Teacher forcing is exercised: some variants are several tokens long.
    assert tiny_engine.batched.continuations


@pytest.mark.parametrize(("size", "seed"), [((64, 64), 3), ((64, 48), 4), ((40, 64), 5)])
def test_whole_view_scores_match_chunk_by_chunk(
    tiny_engine, chunked_engine, tmp_path: Path, size, seed
) -> None:
    image = load_image(write_test_image(tmp_path / "img.png", size=size, seed=seed))
    before = tiny_engine.native.decodes
    ours = tiny_engine.score(image)
    assert tiny_engine.native.decodes - before == 1  # prompt and every label variant in one call
    before = chunked_engine.native.decodes
    theirs = chunked_engine.score(image)
    assert chunked_engine.native.decodes - before > 5
    _close(ours, theirs)
    assert ours.answer_top_token == theirs.answer_top_token


def test_crops_of_an_image_are_scored_in_one_decode(
    crops_engine, chunked_crops_engine, tmp_path: Path
) -> None:
    image = load_image(write_textured_image(tmp_path / "t.png", (200, 150), seed=2))
    before, graphs = crops_engine.native.decodes, crops_engine.native.vision.graphs
    ours = crops_engine.score(image)
    assert crops_engine.native.decodes - before == 1
    assert crops_engine.native.vision.graphs - graphs == 1  # every crop's tiles in one vision graph
    theirs = chunked_crops_engine.score(image)
    assert ours.p_fake == pytest.approx(theirs.p_fake, abs=P_TOLERANCE)
    assert ours.view is not None and theirs.view is not None
    for a, b in zip(ours.view.crops, theirs.view.crops, strict=True):
        assert (a.x, a.y) == (b.x, b.y)
        assert a.logit == pytest.approx(b.logit, abs=LOGIT_TOLERANCE)
    # Crops differ from each other, so a mix-up between sequences would show.
    assert np.ptp([c.logit for c in ours.view.crops]) > 20 * LOGIT_TOLERANCE


def test_groups_split_by_the_sequence_limit_give_the_same_scores(
    crops_gguf, crops_engine, tmp_path: Path
) -> None:
    image = load_image(write_textured_image(tmp_path / "t.png", (300, 200), seed=4))
    per_prompt = crops_engine.batched.seqs_per_prompt
    # Room for one crop per decode: three crops take three decodes.
    with LlamaEngine(
        ModelFiles(crops_gguf[0], crops_gguf[1], "test"), LoadOptions(n_seq_max=per_prompt)
    ) as narrow:
        before = narrow.native.decodes
        one_by_one = narrow.score(image)
        assert narrow.native.decodes - before == 3
    together = crops_engine.score(image)
    assert one_by_one.p_fake == pytest.approx(together.p_fake, abs=P_TOLERANCE)


def test_a_small_batch_splits_one_prompt_over_several_decodes(tiny_gguf, tiny_engine, tmp_path: Path) -> None:
    image = load_image(write_test_image(tmp_path / "s.png", seed=8))
    with LlamaEngine(ModelFiles(tiny_gguf[0], tiny_gguf[1], "test"), LoadOptions(n_batch=16)) as small:
        before = small.native.decodes
        split = small.score(image)
        assert small.native.decodes - before > 1
    _close(split, tiny_engine.score(image))


def test_heat_map_cells_match_single_crop_scores(crops_engine, chunked_crops_engine, tmp_path: Path) -> None:
    image = load_image(write_textured_image(tmp_path / "m.png", (160, 96), seed=6))
    ours = crops_engine.score_map(image)
    theirs = chunked_crops_engine.score_map(image)
    assert ours is not None and theirs is not None and len(ours.cells) == len(theirs.cells) > 3
    for a, b in zip(ours.cells, theirs.cells, strict=True):
        assert a.logit == pytest.approx(b.logit, abs=LOGIT_TOLERANCE)


def test_explain_after_batched_scoring_still_encodes_the_image_once(tiny_engine, tmp_path: Path) -> None:
    from fakescope_cli.results import DecodingSettings

    image = load_image(write_test_image(tmp_path / "e.png", seed=21))
    before = tiny_engine.native.images_encoded
    tiny_engine.explain(image, DecodingSettings(max_tokens=4))
    tiny_engine.ask(image, "What is in the picture?", DecodingSettings(max_tokens=4))
    assert tiny_engine.native.images_encoded - before == 5  # 2x2 tiles and the overview, once


def test_shared_prefix_stops_at_the_first_difference_and_never_takes_a_whole_prompt() -> None:
    text = [Unit("text", t, 1) for t in (1, 2, 3)]
    a = text + [Unit("image", ("a", 0), 4), Unit("text", 9, 1)]
    b = text + [Unit("image", ("b", 0), 4), Unit("text", 9, 1)]
    rows = np.zeros((1, 1))
    assert shared_prefix([(a, rows), (b, rows)]) == 3
    assert shared_prefix([(a, rows)]) == 0
    assert shared_prefix([(text, rows), (text, rows)]) == 2
    assert shared_prefix([([Unit("text", 5, 1)] + text, rows), (text, rows)]) == 0


# -- the token table, for each storage type ---------------------------------------------------
TABLE_SHAPE = TinyShape(text_hidden=256, text_ffn=512, text_heads=4, text_kv_heads=2, init_range=0.05)


@pytest.fixture(scope="module")
def table_checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_idefics3(tmp_path_factory.mktemp("table-hf") / "tiny-table", TABLE_SHAPE, seed=5)


@pytest.mark.parametrize("quant", ["f32", "f16", "bf16", "q8_0", "q4_k_m"])
def test_embedding_rows_are_what_llama_cpp_looks_up(
    table_checkpoint: Path, tmp_path: Path, quant: str
) -> None:
    """A token decoded by id and its dequantized row decoded as an embedding give the same logits
    bit for bit: the table is read exactly as llama.cpp reads it."""
    result = export_checkpoint(table_checkpoint, tmp_path, name=f"t-{quant}", quant=quant)
    table_type = next(t.type_name for t in read_header(result.text).tensors if t.name == "token_embd.weight")
    with LlamaEngine(ModelFiles(result.text, result.mmproj, "test")) as engine:
        native = engine.native
        assert native.embeddings is not None
        for token in (0, 7, 250, native.n_vocab - 1):
            native.clear()
            native._decode([token], 0, all_logits=False)
            by_id = native._logits(-1)
            native.clear()
            (by_row,) = native.decode_embeddings(native.embeddings.rows([token]), [0], [(0,)], [True])
            native.clear()
            np.testing.assert_array_equal(by_row, by_id, err_msg=f"{quant} ({table_type}) token {token}")
    if quant == "q4_k_m":
        assert table_type in ("Q4_K", "Q6_K", "Q5_K"), table_type  # a K-quant table is covered


def test_other_architectures_are_refused_with_a_reason(tiny_gguf, tmp_path: Path) -> None:
    from gguf import GGUFWriter

    assert TokenEmbeddings(tiny_gguf[0]).n_embd > 0
    for arch, tensors, reason in (
        ("gemma", {"token_embd.weight": np.ones((8, 32), np.float32)}, "'gemma'"),
        ("llama", {"output.weight": np.ones((8, 32), np.float32)}, "no two-dimensional"),
    ):
        out = tmp_path / f"{arch}-{reason[:4]}.gguf"
        writer = GGUFWriter(out, arch)
        for name, values in tensors.items():
            writer.add_tensor(name, values)
        writer.write_header_to_file()
        writer.write_kv_data_to_file()
        writer.write_tensors_to_file()
        writer.close()
        with pytest.raises(Unsupported, match=reason):
            TokenEmbeddings(out)


def test_chunk_by_chunk_on_request(tiny_gguf) -> None:
    options = replace(LoadOptions(), batched=False)
    with LlamaEngine(ModelFiles(tiny_gguf[0], tiny_gguf[1], "test"), options) as engine:
        assert engine.native.embeddings is None and engine.batched is None


def test_an_images_tiles_are_encoded_in_one_graph(tiny_engine, tmp_path: Path) -> None:
    """libmtmd (patched: patches/*-idefics3-batch.patch) encodes an Idefics3 prompt's tiles in one
    graph; each tile's encoding is the one it gets alone."""
    vision = tiny_engine.native.vision
    rgb = load_image(write_textured_image(tmp_path / "t.png", (64, 64), seed=7))
    prompt = tiny_engine.native_prompt(tiny_engine.profile.judge_prompt)
    with tiny_engine.native.prompt_chunks(prompt, rgb.rgb, rgb.width, rgb.height, "tiles-a") as plan:
        images = [(chunk, units[0]) for chunk, units in plan if units and units[0].kind == "image"]
        assert len(images) > 1  # a split image: its tiles and the global view
        graphs, encoded = vision.graphs, vision.images_encoded
        vision.encode_plans([plan])
        assert vision.graphs - graphs == 1
        assert vision.images_encoded - encoded == len(images)
        together = [vision.encode(chunk, unit) for chunk, unit in images]
        assert vision.graphs - graphs == 1  # kept: nothing encoded again
    with tiny_engine.native.prompt_chunks(prompt, rgb.rgb, rgb.width, rgb.height, "tiles-b") as plan:
        alone = [vision.encode(c, units[0]) for c, units in plan if units and units[0].kind == "image"]
    for a, b in zip(together, alone, strict=True):
        np.testing.assert_allclose(a, b, rtol=0, atol=1e-4)


@pytest.mark.parametrize(
    ("continuations", "tree"),
    [
        ([], []),
        ([(5,)], [Node((5,), (0,))]),
        (
            [(1, 2), (1, 3, 4), (9,)],
            [
                Node((1,), (0, 1)),
                Node((1, 2), (0,)),
                Node((1, 3), (1,)),
                Node((1, 3, 4), (1,)),
                Node((9,), (2,)),
            ],
        ),
        (
            [(7, 1), (8, 7, 1)],
            [
                Node((7,), (0,)),
                Node((7, 1), (0,)),
                Node((8,), (1,)),
                Node((8, 7), (1,)),
                Node((8, 7, 1), (1,)),
            ],
        ),
    ],
)
def test_continuations_share_the_cells_of_a_common_start(continuations, tree) -> None:
    assert continuation_tree(continuations) == tree


def test_the_tiny_models_label_variants_share_cells(tiny_engine) -> None:
    scorer = tiny_engine.batched
    assert len(scorer.tree) == scorer.cells(0) < sum(len(c) for c in scorer.continuations)
