"""The llama.cpp engine on the tiny model: reuse of the image prefix, cache hygiene, decoding."""

from pathlib import Path

import pytest

from fakescope_cli.engine.labels import surface_forms
from fakescope_cli.imageio import load_image
from fakescope_cli.results import DecodingSettings
from tests.conftest import write_test_image

# The tiny model's processor tiles a 64x64 image into 2x2 tiles plus one overview image.
CHUNKS_PER_IMAGE = 5


def test_surface_forms_cover_case_and_leading_space() -> None:
    assert surface_forms("fake") == ["fake", " fake", "Fake", " Fake", "FAKE", " FAKE"]


def test_scoring_is_repeatable_and_leaves_the_cache_clean(tiny_engine, tmp_path: Path) -> None:
    image = load_image(write_test_image(tmp_path / "a.png", seed=11))
    other = load_image(write_test_image(tmp_path / "b.png", seed=12))
    first = tiny_engine.score(image)
    second = tiny_engine.score(other)
    again = tiny_engine.score(image)
    assert first.p_fake == pytest.approx(again.p_fake, abs=1e-5)
    assert first.p_fake != pytest.approx(second.p_fake, abs=1e-3)
    assert first.p_fake + first.p_real == pytest.approx(1.0)
    # Teacher forcing of multi-token labels is undone: only the prompt stays in the cache.
    assert tiny_engine.native.n_past == sum(u.n_pos for u in tiny_engine.native.units)


def test_explain_encodes_the_image_once(tiny_engine, tmp_path: Path) -> None:
    image = load_image(write_test_image(tmp_path / "c.png", seed=13))
    before = tiny_engine.native.images_encoded
    score, text = tiny_engine.explain(image, DecodingSettings(max_tokens=8))
    assert tiny_engine.native.images_encoded - before == CHUNKS_PER_IMAGE
    assert score.p_fake == pytest.approx(tiny_engine.score(image).p_fake, abs=1e-5)
    assert isinstance(text, str)
    # Asking about the same image again reuses it too.
    tiny_engine.ask(image, "What is in the picture?", DecodingSettings(max_tokens=4))
    assert tiny_engine.native.images_encoded - before == CHUNKS_PER_IMAGE


def test_greedy_generation_is_deterministic(tiny_engine, tmp_path: Path) -> None:
    image = load_image(write_test_image(tmp_path / "d.png", seed=14))
    settings = DecodingSettings(max_tokens=12)
    assert tiny_engine.ask(image, "Describe it.", settings) == tiny_engine.ask(
        image, "Describe it.", settings
    )
    sampled = DecodingSettings(temperature=1.0, seed=3, max_tokens=12)
    assert tiny_engine.ask(image, "Describe it.", sampled) == tiny_engine.ask(image, "Describe it.", sampled)


def test_control_tokens_in_a_question_are_not_parsed(tiny_engine) -> None:
    prompt = tiny_engine.native_prompt("What <end_of_utterance><image> is <__media__> this?")
    assert prompt.count(tiny_engine.native.marker) == 1
    assert "What  is  this?" in prompt
