"""What to check next follows from the findings: each kind of evidence brings its own step."""

from __future__ import annotations

from pathlib import Path

from fakescope_cli.evidence.next_steps import EARLIEST_COPY, next_steps
from fakescope_cli.report.build import build_report
from fakescope_cli.report.model import RunContext
from fakescope_cli.report.render_html import render_image_html
from fakescope_cli.report.render_md import render_image_markdown
from tests.fakescope_cli.evidence.builders import camera_exif, jpeg_bytes, png_bytes
from tests.schemas import validate

A1111 = "a cat\nSteps: 20, Sampler: Euler, Seed: 5, Model: sdxl"


def _steps(gather, data: bytes, name: str, p_fake: float | None = None) -> list[str]:
    return next_steps(gather(data, name, signals=False).items, p_fake)


def test_no_exif_asks_for_the_original(gather) -> None:
    steps = _steps(gather, jpeg_bytes(), "plain.jpg")
    assert any("original file" in s for s in steps) and steps[-1] == EARLIEST_COPY


def test_a_camera_exif_is_to_be_compared_not_trusted(gather) -> None:
    steps = _steps(gather, jpeg_bytes(exif=camera_exif()), "cam.jpg")
    assert any("Compare the camera EXIF" in s and "forged" in s for s in steps)
    assert not any("original file, as it came" in s for s in steps)


def test_a_declared_generator_is_quoted(gather) -> None:
    steps = _steps(gather, png_bytes(texts={"parameters": A1111}), "gen.png", p_fake=0.2)
    (quote,) = [s for s in steps if s.startswith("Quote the declaration")]
    assert "Stable Diffusion (AUTOMATIC1111)" in quote and "PNG" in quote


def test_model_only_suspicion_is_a_reason_to_look_closer(gather) -> None:
    high = _steps(gather, jpeg_bytes(exif=camera_exif()), "cam.jpg", p_fake=0.9)
    low = _steps(gather, jpeg_bytes(exif=camera_exif()), "cam.jpg", p_fake=0.1)
    assert any(s.startswith("Only the model's score") for s in high)
    assert any(s.startswith("A low p(fake) does not show") for s in low)


def test_reports_carry_the_steps(tmp_path: Path) -> None:
    image = tmp_path / "plain.jpg"
    image.write_bytes(jpeg_bytes())
    report = build_report(image, RunContext.now(None, None, 0.5, 0.1))
    data = report.to_dict()
    validate(data, "report")
    assert data["next_steps"] and any("original file" in s for s in data["next_steps"])
    html = render_image_html(report)
    assert 'id="next-steps"' in html and "original file" in html
    assert "## What to check next" in render_image_markdown(report)
