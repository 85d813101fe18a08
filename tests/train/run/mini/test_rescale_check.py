"""The resolution diagnostic: real llama.cpp scores of each photograph at its own size and
downscaled, on the tiny random model (mechanics, not detection)."""

from __future__ import annotations

import io
import json
from pathlib import Path

from PIL import Image

from tests.conftest import write_test_image
from train.run.mini.rescale_check import main, rescaled_jpeg


def test_each_photograph_is_scored_at_each_size(tiny_gguf, tmp_path: Path, capsys) -> None:
    photos = tmp_path / "own-size"
    photos.mkdir()
    write_test_image(photos / "a.png", size=(300, 200), seed=1)
    write_test_image(photos / "b.jpg", size=(180, 240), seed=2, fmt="JPEG")
    (photos / "manifest.csv").write_text("path,label\n")  # not a photograph: left alone
    with Image.open(io.BytesIO(rescaled_jpeg(photos / "a.png", 3))) as third:
        assert third.format == "JPEG" and third.size == (100, 66)
    out = tmp_path / "check.json"
    main([str(photos), "--model", str(tiny_gguf[0]), "--out", str(out)])
    record = json.loads(out.read_text())
    assert [r["photo"] for r in record["rows"]] == ["a.png", "b.jpg"]
    for factor in ("x1", "x2", "x3"):
        scores = [r[f"p_fake_{factor}"] for r in record["rows"]]
        assert all(0.0 <= p <= 1.0 for p in scores)
        assert record["summary"][factor]["flagged_p_0.5"] == sum(p >= 0.5 for p in scores)
    assert "downscaled x2" in capsys.readouterr().out
