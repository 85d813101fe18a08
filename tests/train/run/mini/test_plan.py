"""The run plan: checked before anything runs, errors naming the key."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from fakescope_cli.errors import ConfigError
from train.run.mini.pipeline import STAGES, select_stages
from train.run.mini.plan import init_checkpoint, load_plan


def _plan(tmp_path: Path, text: str) -> Path:
    pool = tmp_path / "pool"
    pool.mkdir(exist_ok=True)
    (pool / "sources.json").write_text(json.dumps([]))
    path = tmp_path / "plan.toml"
    path.write_text('[photos]\npool = "pool"\n' + text)
    return path


def test_defaults_and_relative_paths(tmp_path: Path) -> None:
    plan = load_plan(_plan(tmp_path, "[sft]\nmax_steps = 5\n"))
    assert plan.photos.pool == (tmp_path / "pool").resolve()
    assert plan.generators.holdout in plan.generators.families
    assert plan.sft == {"max_steps": 5}
    assert init_checkpoint(plan) is None


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[generatorz]\n", r"unknown section \[generatorz\] \(did you mean \[generators\]\?\)"),
        ("[generators]\nhold_out = 'x'\n", r"unknown key 'generators.hold_out' \(did you mean 'holdout'\?\)"),
        ("[generators]\nholdout = 'nope'\n", "generators.holdout 'nope' is not in generators.families"),
        ("[generators]\nfamilies = ['ddpm']\nholdout = 'ddpm'\n", "at least two"),
        ("[generators]\nsteps = 'many'\n", "'generators.steps' must be int"),
        ("[run]\ndevice = 'tpu'\n", "run.device"),
        ("[model]\ninit = 'missing-folder'\n", "model.init"),
        ("[export]\nprofile = 'nope.toml'\n", "export.profile"),
    ],
)
def test_mistakes_are_named(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        load_plan(_plan(tmp_path, text))


def test_a_pool_without_sources_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "plan.toml"
    path.write_text('[photos]\npool = "elsewhere"\n')
    with pytest.raises(ConfigError, match="sources.json"):
        load_plan(path)


def test_stage_selection() -> None:
    assert select_stages(None, None) == list(STAGES)
    assert select_stages("export", "eval") == ["export", "eval"]
    with pytest.raises(ConfigError, match="unknown stage 'exprt'"):
        select_stages("exprt", None)
    with pytest.raises(ConfigError, match="comes after"):
        select_stages("card", "crops")


def test_the_shipped_plan_and_card_load(tmp_path: Path) -> None:
    """train/run/mini/plan.toml (with its pool pointed at a stand-in) passes every check, its [sft]
    table holds only keys the tuning config knows, and its card is a valid card."""
    from dataclasses import fields

    from fakescope_cli.card import load_card_toml
    from train.model.config import TrainSection

    shipped = Path(__file__).parents[4] / "train" / "run" / "mini"
    text = (shipped / "plan.toml").read_text()
    assert 'pool = "../../../.carry/pool"' in text
    pool = tmp_path / "pool"
    pool.mkdir()
    (pool / "sources.json").write_text("[]")
    (tmp_path / "card.toml").write_text((shipped / "card.toml").read_text())
    path = tmp_path / "plan.toml"
    path.write_text(text.replace('"../../../.carry/pool"', '"pool"'))
    plan = load_plan(path)
    assert set(plan.sft) <= {f.name for f in fields(TrainSection)}
    assert plan.generators.holdout == "gan-pixelshuffle" and plan.export.quant == "iq4_nl"
    card = load_card_toml(shipped / "card.toml")
    assert card.caveat and "never Stable Diffusion" in card.caveat
    assert "never seen a text-to-image generator (Stable Diffusion" in (card.limits or "")


def test_the_plan_offers_the_converters_types() -> None:
    """The plan's and SFT config's type lists are the converter's (kept apart so that reading a
    plan does not import the converter)."""
    from conversion.export import MMPROJ_TYPES, QUANTS
    from train.model.config import EXPORT_TYPES, PROJECTOR_TYPES

    assert EXPORT_TYPES == QUANTS and PROJECTOR_TYPES == MMPROJ_TYPES
