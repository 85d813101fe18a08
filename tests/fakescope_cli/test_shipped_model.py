"""The detector this checkout ships (models/fakescope-mini/): it is found as the bundled default,
its files match the manifest, its card travels with every result, and on the bundled samples it
ranks the AI-upscaled images above the photographs they were made from."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from fakescope_cli import paths
from fakescope_cli.models import locate_model, validate_pair

ROOT = Path(__file__).resolve().parents[2]
SHIPPED = ROOT / "models" / paths.BUNDLED_MODEL
SAMPLES = ROOT / "samples"
UPSCALED = {"coffee-upscaled-realesrgan.jpg": "coffee.png", "chelsea-upscaled-waifu2x.jpg": "chelsea.png"}


@pytest.fixture(scope="module")
def scanned() -> dict[str, dict]:
    env = {k: v for k, v in __import__("os").environ.items()}
    env["FAKESCOPE_SOURCE_ROOT"] = str(ROOT)  # the real checkout: its bundled model answers
    command = [sys.executable, "-m", "fakescope_cli", "scan", str(SAMPLES), "--jsonl", "--no-cache"]
    done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=600)
    assert done.returncode in (0, 1), done.stderr
    return {Path(r["path"]).name: r for r in map(json.loads, done.stdout.splitlines())}


def test_the_shipped_model_is_the_bundled_default_and_matches_its_manifest(monkeypatch) -> None:
    monkeypatch.setenv("FAKESCOPE_SOURCE_ROOT", str(ROOT))
    files = locate_model()
    assert files.found_by.startswith("bundled model") and files.text.parent == SHIPPED
    validated = validate_pair(files)
    assert validated.text.metadata["fakescope.profile.view"] == "crops"
    assert "never Stable Diffusion" in str(validated.text.metadata.get("fakescope.card.caveat"))
    total = sum(p.stat().st_size for p in SHIPPED.glob("*.gguf"))
    assert total <= 120 * 2**20


def test_the_samples_are_scored_with_the_caveat(scanned: dict[str, dict]) -> None:
    assert set(scanned) >= {"rocket.jpg", *UPSCALED, *UPSCALED.values()}
    for record in scanned.values():
        assert record["error"] is None and 0.0 <= record["p_fake"] <= 1.0
        assert len(record["view"]["crops"]) >= 1


@pytest.mark.parametrize("upscaled", sorted(UPSCALED))
def test_an_upscaled_sample_scores_above_its_photograph(scanned: dict[str, dict], upscaled: str) -> None:
    assert scanned[upscaled]["p_fake"] > scanned[UPSCALED[upscaled]]["p_fake"]
