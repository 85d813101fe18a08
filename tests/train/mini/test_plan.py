"""The run plan: checked before anything runs, errors naming the key."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from fakescope_cli.errors import ConfigError
from train.mini.pipeline import STAGES, select_stages
from train.mini.plan import init_checkpoint, load_plan


def _plan(tmp_path: Path, text: str) -> Path:
    pool = tmp_path / "pool"
    pool.mkdir(exist_ok=True)
    (pool / "sources.json").write_text(json.dumps([]))
    path = tmp_path / "plan.toml"
    path.write_text('[photos]\npool = "pool"\n' + text)
    return path


def test_defaults_and_relative_paths(tmp_path: Path) -> None:
    plan = load_plan(_plan(tmp_path, '[sft]\nmax_steps = 5\n'))
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
