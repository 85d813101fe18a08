"""Teacher logits from a vision stage, on the tiny random checkpoint: mechanics, not detection."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from fakescope_cli.errors import DatasetError
from fakescope_cli.profile import DEFAULT_PROFILE
from tests.train.run.mini.test_tower_rescale import _stage
from train.run.mini.tower_targets import main, teacher_logits


def _items(folder: Path, sizes: list[int]) -> Path:
    rng = np.random.default_rng(0)
    items = []
    for i, size in enumerate(sizes):
        path = folder / f"crop{i}.png"
        Image.fromarray(rng.integers(0, 256, (size, size, 3), dtype=np.uint8)).save(path)
        answer = "fake" if i % 2 else "real"
        turns = [
            {"from": "human", "value": f"<image>\n{DEFAULT_PROFILE.judge_prompt}"},
            {"from": "gpt", "value": answer},
        ]
        if i == 0:  # an explanation item: not a judgment, no teacher logit
            turns[1]["value"] = "The noise residual is flat. Verdict: real."
        items.append({"id": str(i), "image": path.name, "conversations": turns})
    out = folder / "instruct.json"
    out.write_text(json.dumps(items))
    return out


def test_each_judgment_crop_gets_the_mean_logit_of_its_tiles(tiny_checkpoint: Path, tmp_path: Path) -> None:
    import torch

    from train.model.vision.stage import Normaliser, TileClassifier, _vision_tower, load_stage_weights

    stage = _stage(tiny_checkpoint, tmp_path)
    conversations = _items(tmp_path, [64] * 5)
    out = tmp_path / "teacher.json"
    main(
        [str(conversations), "--checkpoint", str(tiny_checkpoint), "--vision", str(stage), "--out", str(out)]
    )
    record = json.loads(out.read_text())
    assert sorted(Path(p).name for p in record["logits"]) == [f"crop{i}.png" for i in range(1, 5)]
    assert record["crops"] == 4 and record["fake"] == 2 and 0 <= record["roc_auc"] <= 1

    vision, hidden, tile, norm = _vision_tower(tiny_checkpoint)  # one crop by hand: 2 x 2 tiles of 32 px
    model = TileClassifier(vision, hidden)
    load_stage_weights(model, stage)
    model.eval()
    pixels = np.asarray(Image.open(tmp_path / "crop3.png").convert("RGB"))
    tiles = [pixels[y : y + tile, x : x + tile] for y in (0, tile) for x in (0, tile)]
    with torch.no_grad():
        expected = float(model(Normaliser(*norm)(np.stack(tiles))).mean())
    assert record["logits"][str(tmp_path / "crop3.png")] == pytest.approx(expected, abs=1e-3)


def test_crops_of_another_size_are_refused_by_name(tiny_checkpoint: Path, tmp_path: Path) -> None:
    stage = _stage(tiny_checkpoint, tmp_path)
    conversations = _items(tmp_path, [64, 64, 64, 96])
    with pytest.raises(DatasetError, match="crop3.png"):
        teacher_logits(conversations, tiny_checkpoint, stage)
