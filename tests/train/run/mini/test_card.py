"""The model card says only what the run recorded: numbers copied from its files, "not measured"
where a figure is missing, and model text made inert."""

from __future__ import annotations

import json
from pathlib import Path

from train.run.mini.card import NOT_MEASURED, read_inputs, render_card


def _metrics(auc: float, n: int = 20) -> dict:
    return {
        "n": n,
        "n_fake": n // 2,
        "accuracy": 0.75,
        "roc_auc": auc,
        "average_precision": 0.8,
        "ece": 0.125,
    }


def _backend(overall: float, held_out: float) -> dict:
    return {
        "overall": _metrics(overall),
        "per_generator": {"gan-ps": _metrics(held_out)},
        "held_out": _metrics(held_out),
    }


def _sample(path: str, text: str, check: str) -> dict:
    return {"path": path, "explanation": text, "check": check}


def _work(tmp_path: Path) -> tuple[Path, Path]:
    work, pool = tmp_path / "work", tmp_path / "pool"
    (work / "stages").mkdir(parents=True)
    (work / "data").mkdir()
    pool.mkdir()
    (pool / "sources.json").write_text(
        json.dumps([{"package": "mate-backgrounds", "version": "1.26.0-1", "licence": "GPL-2+"}] * 3)
    )
    (work / "data" / "manifest.csv").write_text(
        "path,label,generator,source,split\n"
        "a.jpg,real,,p1,train\nb.jpg,fake,ddpm,,train\nc.jpg,fake,gan-ps,,test\nd.jpg,real,,p2,test\n"
    )
    init = {
        "parameters": {"vision": 1234, "text": 5678},
        "text_source": {"file": "SmolLM2-135M-Instruct.Q4_1.gguf", "sha256": "b179c952"},
        "vision": {"image_size": 64, "patch": 8, "width": 384, "layers": 6, "longest_edge": 128},
    }
    (work / "stages" / "init.json").write_text(json.dumps(init))
    (work / "stages" / "sft.json").write_text(
        json.dumps({"command": "python -m train sft --config sft.toml", "steps": 40, "loss_first": 3.5,
                    "loss_last": 0.25, "seconds": 61.0, "device": "cpu"})
    )  # fmt: skip
    evaluation = {
        "images": 20,
        "held_out_generators": ["gan-ps"],
        "backends": {
            "hf": _backend(0.9375, 0.8125),
            "gguf": _backend(0.9365, 0.8),
        },
        "explanations": {
            "agree": 1, "disagree": 0, "unverifiable": 1, "share_agreeing": 1.0,
            "samples": [
                _sample("/x/c.jpg", "A checkerboard\n# pattern <script>alert(1)</script>", "agrees"),
                _sample("/x/d.jpg", "Looks fine, see http://evil.example", "unverifiable"),
            ],
        },
    }  # fmt: skip
    (work / "eval.json").write_text(json.dumps(evaluation))
    return work, pool


def test_numbers_come_from_the_run_files(tmp_path: Path) -> None:
    work, pool = _work(tmp_path)
    card = render_card(
        read_inputs(work, pool, "fakescope-mini", "Trained on toy generators only.", "Limits."), "gan-ps"
    )
    assert "**Trained on toy generators only.**" in card
    assert "| mate-backgrounds | 1.26.0-1 | 3 | GPL-2+ |" in card
    assert "| gan-ps (held out of training) | 0 | 0 | 1 |" in card
    assert "| real | 1 | 0 | 1 |" in card
    assert "0.9375" in card and "0.9365" in card and "AUC difference between gguf and hf: 0.0010" in card
    assert "SmolLM2-135M-Instruct.Q4\\_1.gguf (SHA-256 b179c952)" in card and "64 px in 8 px patches" in card
    assert "| 1234 |" in card and f"| connector | {NOT_MEASURED} |" in card
    assert "40 steps on cpu, the call that finished them 61 s; loss 3.5000 -> 0.2500" in card
    assert f"CPU speed: {NOT_MEASURED}." in card  # no bench.json was written


def test_model_text_is_inert(tmp_path: Path) -> None:
    work, pool = _work(tmp_path)
    card = render_card(read_inputs(work, pool, "m", "c", "l"), None)
    assert "<script>" not in card and "&lt;script&gt;" in card
    assert "\n# pattern" not in card and "\\# pattern" in card


def test_missing_evaluation_is_not_measured(tmp_path: Path) -> None:
    work, pool = _work(tmp_path)
    (work / "eval.json").unlink()
    card = render_card(read_inputs(work, pool, "m", "c", "l"), None)
    assert f"Evaluation: {NOT_MEASURED}." in card and "## Explanations" not in card
