"""The FakeScope-mini run end to end at toy scale on CPU, through `python -m train mini-run`: a
photo pool from a Debian package built here -> crops -> three generator families trained a few
steps -> generated images -> identical processing -> shortcut check -> FakeChain -> FakeInstruct
-> tuning of the tiny random model -> export -> evaluation -> speed -> model card. It checks the
plumbing and the records, not detection: every model here is a toy."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from tests.train.data.photos.conftest import photo_cache, photo_deb, photo_pool  # noqa: F401
from train.cli import main

pytest.importorskip("peft")


def _plan(tmp_path: Path, pool: Path, checkpoint: Path) -> Path:
    card = tmp_path / "card.toml"
    card.write_text('caveat = "toy run: nothing here is a detector"\nlimits = "Toy limits."\n')
    plan = tmp_path / "plan.toml"
    plan.write_text(
        f'[photos]\npool = "{pool}"\nsize = 32\nper_photo = 6\ngenerator_per_photo = 4\n'
        '[generators]\nfamilies = ["gan-tconv", "ae-resynth", "gan-pixelshuffle"]\n'
        'holdout = "gan-pixelshuffle"\ncount = 6\nsteps = 3\nbatch_size = 4\nwidth = 8\n'
        f'[run]\ndevice = "cpu"\n[model]\ninit = "{checkpoint}"\n'
        f'[export]\nquant = "f16"\ncard = "{card}"\n[eval]\nexplain = 2\nbench_images = 3\n'
        "[sft]\nmax_steps = 4\nbatch_size = 4\nlearning_rate = 0.003\nlogging_steps = 2\nsave_steps = 4\n"
        "max_length = 4096\n"
    )
    return plan


def test_the_run_end_to_end(tmp_path: Path, photo_pool: Path, tiny_checkpoint: Path, capsys) -> None:  # noqa: F811
    plan, work = _plan(tmp_path, photo_pool, tiny_checkpoint), tmp_path / "work"
    assert main(["mini-run", "--plan", str(plan), "--work", str(work)]) == 0
    err = capsys.readouterr().err
    assert "$ python -m train synth-train --family gan-tconv" in err

    crops = json.loads((work / "stages" / "crops.json").read_text())
    rows = list(csv.DictReader((work / "crops" / "real" / "manifest.csv").open()))
    train_photos = {r["photo_id"] for r in rows if r["split"] == "train"}
    assert 0 < len(train_photos) < crops["photos"]
    # the generators saw only crops of training photographs
    generator_crops = {p.name.rsplit("-", 1)[0] for p in (work / "crops" / "generator-train").glob("*.png")}
    assert generator_crops == {p.replace("/", "__") for p in train_photos}

    data = list(csv.DictReader((work / "data" / "manifest.csv").open()))
    # a re-synthesised image sits in its source photograph's split: no test content in training
    photo_split = {r["photo_id"].replace("/", "__"): r["split"] for r in rows}
    sources = json.loads((work / "generated" / "ae-resynth" / "generation.json").read_text())["sources"]
    resynth = [r for r in data if r["generator"] == "ae-resynth"]
    for row in resynth:
        index = int(row["source"].rsplit("-", 1)[1].removesuffix(".png"))
        assert row["split"] == photo_split[sources[index].rsplit("-", 1)[0]]
    assert len(resynth) == 6 and {r["split"] for r in resynth} == {"train", "val", "test"}
    # 6 sources from 4 photos: every photograph has its share, whatever its name
    source_photos = {name.rsplit("-", 1)[0] for name in sources}
    assert len(sources) == 6 and source_photos == set(photo_split)
    held_out = [r for r in data if r["generator"] == "gan-pixelshuffle"]
    assert len(held_out) == 6 and {r["split"] for r in held_out} == {"test"}
    assert all(r["path"].endswith(".jpg") for r in data)

    validate = json.loads((work / "stages" / "validate.json").read_text())
    assert validate["separability"]["format"] is not None and validate["separability"]["format"] < 0.75

    evaluation = json.loads((work / "eval.json").read_text())
    assert evaluation["held_out_generators"] == ["gan-pixelshuffle"]
    assert set(evaluation["backends"]) == {"hf", "gguf"}
    bench = json.loads((work / "bench.json").read_text())
    assert bench["images"] == 3 and bench["images_per_s"] > 0 and bench["peak_rss_mb"] > 10

    card = (work / "models" / "MODEL_CARD.md").read_text()
    assert "**toy run: nothing here is a detector**" in card
    assert "gan-pixelshuffle (held out of training)" in card
    hf_auc = evaluation["backends"]["hf"]["overall"]["roc_auc"]
    assert f"{hf_auc:.4f}" in card
    export = json.loads((work / "stages" / "export.json").read_text())
    assert all(f["sha256"] in card for f in export["files"])

    # a second run finds every stage recorded and does nothing
    assert main(["mini-run", "--plan", str(plan), "--work", str(work)]) == 0
    assert "ran: nothing" in capsys.readouterr().out

    # the GPU machine hands back small parts; the rest of the run goes on elsewhere from them
    assert main(["mini-pack", "--work", str(work), "--out", str(tmp_path / "out"), "--part-mb", "0.25"]) == 0
    parts = sorted((tmp_path / "out").iterdir())
    assert len(parts) > 2 and all(p.stat().st_size <= 0.25 * 2**20 for p in parts)
    elsewhere = tmp_path / "elsewhere"
    assert main(["mini-unpack", str(tmp_path / "out"), "--work", str(elsewhere)]) == 0
    assert not (elsewhere / "sft" / "merged").exists() and not list(elsewhere.glob("generated/*/*.png"))
    capsys.readouterr()
    args = ["mini-run", "--plan", str(plan), "--work", str(elsewhere), "--from", "export", "--redo"]
    assert main(args) == 0
    assert "merge-adapter" in capsys.readouterr().err
    again = json.loads((elsewhere / "eval.json").read_text())
    assert again["images"] == evaluation["images"]
    for ours, theirs in zip(again["per_image"], evaluation["per_image"], strict=True):
        assert abs(ours["p_fake_gguf"] - theirs["p_fake_gguf"]) < 1e-4
    assert "gan-pixelshuffle (held out of training)" in (elsewhere / "models" / "MODEL_CARD.md").read_text()
