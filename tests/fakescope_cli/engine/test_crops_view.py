"""The crops view through real llama.cpp: native crops, per-crop parity with transformers, the
aggregate, the heat map, and the crop explain/ask look at.

The model has random weights (it detects nothing): these tests check where it looks and that the
numbers are the ones the formula gives, never what it detects."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from fakescope_cli.imageio import load_image
from fakescope_cli.results import DecodingSettings
from fakescope_cli.view import Box, aggregate, crop_boxes, cut, map_boxes
from tests.conftest import TINY_CROP, write_textured_image

P_TOLERANCE = 3e-3  # as in test_parity: f32 GGUF vs f32 PyTorch


def _crop_pil(path: Path, box: Box) -> Image.Image:
    pixels = np.asarray(Image.open(path).convert("RGB"))
    return Image.fromarray(cut(pixels, box, TINY_CROP))


def test_profile_says_crops(crops_engine) -> None:
    profile = crops_engine.profile
    assert (profile.view, profile.crop_size, profile.crops, profile.aggregate) == (
        "crops",
        64,
        3,
        "mean-logit",
    )


def test_score_is_the_aggregate_of_native_crops(crops_engine, tiny_engine, tmp_path: Path) -> None:
    path = write_textured_image(tmp_path / "big.png", (200, 150), seed=11)
    image = load_image(path)
    score = crops_engine.score(image)
    assert score.view is not None and not score.view.undersized
    boxes = crop_boxes(200, 150, TINY_CROP, 3)
    assert [(c.x, c.y, c.w, c.h) for c in score.view.crops] == [(b.x, b.y, b.w, b.h) for b in boxes]
    # Each crop is judged exactly as the same weights judge that crop given alone (whole view).
    for crop, box in zip(score.view.crops, boxes, strict=True):
        alone = tiny_engine.score(crops_engine.crop(image, box))
        assert abs(crop.p_fake - alone.p_fake) < 1e-5
    assert score.p_fake == pytest.approx(aggregate([c.logit for c in score.view.crops], "mean-logit"))
    assert score.p_fake + score.p_real == pytest.approx(1.0)
    # The crops differ, so the aggregate is not any single crop's score.
    assert len({round(c.p_fake, 4) for c in score.view.crops}) > 1


def test_per_crop_parity_with_transformers(crops_engine, tiny_checkpoint: Path, tmp_path: Path) -> None:
    from tests.fakescope_cli.engine.test_parity import HFReference

    reference = HFReference(tiny_checkpoint)
    path = write_textured_image(tmp_path / "scene.png", (180, 120), seed=12)
    score = crops_engine.score(load_image(path))
    assert score.view is not None
    for crop in score.view.crops:
        theirs, _ = reference.p_fake(
            _crop_pil(path, Box(crop.x, crop.y, crop.w, crop.h)),
            crops_engine.profile.judge_prompt,
            crops_engine.label_tokens,
        )
        assert abs(crop.p_fake - theirs) < P_TOLERANCE


def test_small_image_is_judged_at_its_own_size(crops_engine, tmp_path: Path) -> None:
    path = write_textured_image(tmp_path / "small.png", (40, 30), seed=13)
    score = crops_engine.score(load_image(path))
    assert score.view is not None and score.view.undersized
    assert [(c.x, c.y, c.w, c.h) for c in score.view.crops] == [(0, 0, 40, 30)]


def test_heat_map_grid(crops_engine, tmp_path: Path) -> None:
    path = write_textured_image(tmp_path / "wide.png", (200, 130), seed=14)
    seen: list[tuple[int, int]] = []
    heatmap = crops_engine.score_map(load_image(path), lambda done, total: seen.append((done, total)))
    cols, rows, boxes = map_boxes(200, 130, TINY_CROP)
    assert (heatmap.cols, heatmap.rows) == (cols, rows) == (4, 3)
    assert [(c.x, c.y) for c in heatmap.cells] == [(b.x, b.y) for b in boxes]
    assert seen[-1] == (12, 12) and len(seen) == 12


def test_whole_model_has_no_map_and_no_focus(tiny_engine, tmp_path: Path) -> None:
    image = load_image(write_textured_image(tmp_path / "a.png", (100, 80), seed=15))
    assert tiny_engine.score_map(image) is None
    assert tiny_engine.focus(image, tiny_engine.score(image)) is None
    assert tiny_engine.score(image).view is None


def test_ask_looks_at_the_named_region(crops_engine, tiny_engine, tmp_path: Path) -> None:
    image = load_image(write_textured_image(tmp_path / "q.png", (200, 150), seed=16))
    settings = DecodingSettings(max_tokens=6)
    box = crops_engine.focus(image, None, (120, 70))
    assert box == Box(120, 70, 64, 64)
    crop = crops_engine.crop(image, box)
    answer = crops_engine.ask(image, "Describe it.", settings, region=(120, 70))
    assert answer == tiny_engine.ask(crop, "Describe it.", settings)
    # Without a region: the crop that scored highest.
    score = crops_engine.score(image)
    top = score.top_crop
    assert top is not None and top.logit == max(c.logit for c in score.view.crops)
    assert crops_engine.focus(image, score) == Box(top.x, top.y, top.w, top.h)
    _, text = crops_engine.explain(image, settings)
    top_crop = crops_engine.crop(image, Box(top.x, top.y, top.w, top.h))
    assert text == tiny_engine._generate(
        tiny_engine._evaluate(top_crop, tiny_engine.profile.explain_prompt), settings
    )


def test_per_crop_parity_on_the_mini_layout(tmp_path: Path) -> None:
    """FakeScope-mini's view layout (128 px crops = the longest edge, 64 px tiles of 8 px patches,
    pixel shuffle 4: 2 x 2 native tiles + overview) with a narrow random tower: each crop's p(fake)
    through llama.cpp equals transformers' on the same cut crop."""
    from dataclasses import replace

    from conversion.export import export_checkpoint
    from conversion.synthetic import TinyShape, build_tiny_idefics3
    from fakescope_cli.engine.llama_engine import LlamaEngine
    from fakescope_cli.models import ModelFiles
    from fakescope_cli.profile import DEFAULT_PROFILE
    from tests.fakescope_cli.engine.test_parity import HFReference

    shape = TinyShape(tile=64, patch=8, longest_edge=128, scale_factor=4, vision_hidden=48, vision_heads=3)
    checkpoint = build_tiny_idefics3(tmp_path / "mini-layout", shape)
    profile = replace(DEFAULT_PROFILE, view="crops", crop_size=128, crops=3)
    exported = export_checkpoint(checkpoint, tmp_path / "gguf", outtype="f32", profile=profile)
    reference = HFReference(checkpoint)
    path = write_textured_image(tmp_path / "photo.png", (400, 300), seed=17)
    with LlamaEngine(ModelFiles(exported.text, exported.mmproj, "test")) as engine:
        score = engine.score(load_image(path))
        assert score.view is not None and len(score.view.crops) == 3
        for crop in score.view.crops:
            pixels = np.asarray(Image.open(path).convert("RGB"))
            theirs, _ = reference.p_fake(
                Image.fromarray(cut(pixels, Box(crop.x, crop.y, crop.w, crop.h), 128)),
                engine.profile.judge_prompt,
                engine.label_tokens,
            )
            assert abs(crop.p_fake - theirs) < P_TOLERANCE


def test_the_profiles_calibration_maps_every_logit(
    crops_engine, tiny_checkpoint: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """logit_scale / logit_offset travel in the GGUF and give p = sigmoid(a * mean logit + b), for
    the image and for each crop; the crop logits themselves are the model's, unchanged."""
    from dataclasses import replace

    from conversion.export import export_checkpoint
    from fakescope_cli.engine.llama_engine import LlamaEngine
    from fakescope_cli.models import ModelFiles
    from fakescope_cli.view import sigmoid

    profile = replace(crops_engine.profile, from_model=False, logit_scale=2.5, logit_offset=-1.25)
    out = export_checkpoint(
        tiny_checkpoint, tmp_path_factory.mktemp("calibrated"), name="cal", outtype="f32", profile=profile
    )
    path = write_textured_image(tmp_path_factory.mktemp("img") / "big.png", (200, 150), seed=11)
    image = load_image(path)
    plain = crops_engine.score(image)
    with LlamaEngine(ModelFiles(out.text, out.mmproj, "test")) as engine:
        assert (engine.profile.logit_scale, engine.profile.logit_offset) == (2.5, -1.25)
        calibrated = engine.score(image)
    assert calibrated.view is not None and plain.view is not None
    logits = [c.logit for c in plain.view.crops]
    assert [c.logit for c in calibrated.view.crops] == pytest.approx(logits, abs=1e-5)
    mean = sum(logits) / len(logits)
    assert calibrated.p_fake == pytest.approx(sigmoid(2.5 * mean - 1.25), abs=1e-5)
    assert calibrated.view.crops[0].p_fake == pytest.approx(sigmoid(2.5 * logits[0] - 1.25), abs=1e-5)
