"""The whole training path on CPU, through `python -m train`'s own entry point: a few dozen images
made here -> validate -> FakeChain -> FakeInstruct -> tuning of the tiny random model -> GGUF ->
evaluation of the checkpoint and the GGUF side by side. Loss must go down and every stage's output
must be well-formed. (It measures plumbing, not detection: the model is tiny and random at start.)"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.train.conftest import fake_like, write_folder
from train.cli import main

pytest.importorskip("peft")


def test_pipeline_end_to_end(tmp_path: Path, image_sets, tiny_checkpoint: Path, capsys) -> None:
    data = write_folder(tmp_path / "data", image_sets, "PNG", "PNG", ("tconv-a", "tconv-b"), splits=True)
    held_out = data / "fake" / "unseen" / "test"
    held_out.mkdir(parents=True)
    for index in range(3):
        fake_like(40 + index).save(held_out / f"u{index}.png")

    assert main(["validate", str(data), "--json"]) == 0
    validation = json.loads(capsys.readouterr().out)
    assert validation["counts"] and not [w for w in validation["warnings"] if "shortcut" in w.lower()]

    chain = tmp_path / "chain.jsonl"
    assert main(["fakechain", str(data), "--out", str(chain)]) == 0
    records = [json.loads(line) for line in chain.read_text().splitlines()]
    assert len(records) == 27 and all(r["rationale"] is not None for r in records)

    instruct = tmp_path / "instruct.json"
    assert main(["fakeinstruct", str(chain), "--out", str(instruct)]) == 0
    items = json.loads(instruct.read_text())
    assert {item["family"] for item in items} == {"absolute", "holistic", "fine_grained", "discussion"}

    config = tmp_path / "sft.toml"
    config.write_text(
        f'[model]\ncheckpoint = "{tiny_checkpoint}"\n[data]\ntrain = "instruct.json"\nmax_items = 48\n'
        '[train]\noutput_dir = "run"\nmax_steps = 16\nbatch_size = 4\nlearning_rate = 0.003\n'
        "logging_steps = 2\nsave_steps = 8\nmax_length = 4096\n"
        '[export]\nout_dir = "models"\nname = "smoke"\nouttype = "f32"\n'
    )
    capsys.readouterr()
    assert main(["sft", "--config", str(config)]) == 0
    lines = capsys.readouterr().out.splitlines()
    first, last = (
        float(v) for v in next(line for line in lines if line.startswith("loss:"))[6:].split(" -> ")
    )
    assert last < first
    gguf = tmp_path / "models" / "smoke.gguf"
    assert gguf.is_file() and (tmp_path / "models" / "smoke.mmproj.gguf").is_file()

    report = tmp_path / "eval.json"
    args = [
        "eval",
        str(data),
        "--checkpoint",
        str(tmp_path / "run" / "merged"),
        "--gguf",
        str(gguf),
        "--explain",
        "2",
        "--out",
        str(report),
    ]
    assert main(args) == 0
    table = capsys.readouterr().out
    assert "hf" in table and "gguf" in table and "unseen (held out)" in table
    body = json.loads(report.read_text())
    assert body["held_out_generators"] == ["unseen"]
    assert set(body["backends"]) == {"hf", "gguf"}
    assert len(body["explanations"]["samples"]) == 2
    for image in body["per_image"]:
        assert abs(image["p_fake_hf"] - image["p_fake_gguf"]) < 3e-3
