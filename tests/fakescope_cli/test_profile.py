from pathlib import Path

import pytest

from fakescope_cli.errors import ConfigError
from fakescope_cli.profile import (
    DEFAULT_PROFILE,
    FALLBACK_CHAT_TEMPLATE,
    KEY_LABEL_FAKE,
    KEY_VERSION,
    load_profile_toml,
    profile_from_metadata,
)


def test_model_without_profile_gets_default_and_a_warning() -> None:
    profile, warnings = profile_from_metadata({"tokenizer.chat_template": "{{ x }}"})
    assert profile.judge_prompt == DEFAULT_PROFILE.judge_prompt
    assert profile.chat_template == "{{ x }}"
    assert not profile.from_model
    assert any("default profile" in w for w in warnings)


def test_profile_keys_round_trip_through_metadata() -> None:
    written = {k: str(v) for k, v in DEFAULT_PROFILE.to_metadata().items()}
    written[KEY_LABEL_FAKE] = "synthetic"
    profile, warnings = profile_from_metadata(written)
    assert profile.label_fake == "synthetic"
    assert profile.from_model
    # No template anywhere: the plain fallback is used, and the user is told.
    assert profile.resolved_chat_template == FALLBACK_CHAT_TEMPLATE
    assert any("chat template" in w for w in warnings)


def test_unknown_profile_version_warns() -> None:
    _, warnings = profile_from_metadata({KEY_VERSION: "99", "tokenizer.chat_template": "t"})
    assert any("version" in w for w in warnings)


def test_profile_toml(tmp_path: Path) -> None:
    path = tmp_path / "p.toml"
    path.write_text(
        'name = "fakevlm"\nlabel_fake = "fake"\njudge_prompt = "Does the image look real/fake?"\n'
    )
    profile = load_profile_toml(path)
    assert profile.name == "fakevlm"
    assert profile.judge_prompt == "Does the image look real/fake?"
    path.write_text('label_fak = "x"\n')
    with pytest.raises(ConfigError, match="unknown profile keys"):
        load_profile_toml(path)


def test_view_keys_round_trip_through_metadata() -> None:
    from dataclasses import replace

    crops = replace(DEFAULT_PROFILE, view="crops", crop_size=128, crops=5, aggregate="max")
    written = {k: str(v) for k, v in crops.to_metadata().items()}
    profile, warnings = profile_from_metadata({**written, "tokenizer.chat_template": "t"})
    assert (profile.view, profile.crop_size, profile.crops, profile.aggregate) == ("crops", 128, 5, "max")
    assert profile.is_crops and not warnings


def test_version_1_profile_is_the_whole_view_without_warning() -> None:
    written = {k: str(v) for k, v in DEFAULT_PROFILE.to_metadata().items()}
    written[KEY_VERSION] = "1"
    del written["fakescope.profile.view"]
    profile, warnings = profile_from_metadata({**written, "tokenizer.chat_template": "t"})
    assert profile.view == "whole" and not profile.is_crops and not warnings


@pytest.mark.parametrize(
    "bad",
    [
        {"fakescope.profile.view": "tiles"},
        {"fakescope.profile.view": "crops", "fakescope.profile.crop_size": "big"},
        {"fakescope.profile.view": "crops", "fakescope.profile.crop_size": "2"},
        {
            "fakescope.profile.view": "crops",
            "fakescope.profile.crop_size": "128",
            "fakescope.profile.crops": "0",
        },
        {
            "fakescope.profile.view": "crops",
            "fakescope.profile.crop_size": "128",
            "fakescope.profile.aggregate": "median",
        },
    ],
)
def test_unusable_view_keys_fall_back_to_the_whole_image_with_a_warning(bad: dict[str, str]) -> None:
    written = {k: str(v) for k, v in DEFAULT_PROFILE.to_metadata().items()}
    profile, warnings = profile_from_metadata({**written, **bad, "tokenizer.chat_template": "t"})
    assert profile.view == "whole"
    assert any("judging the whole image" in w for w in warnings)


def test_view_in_profile_toml(tmp_path: Path) -> None:
    path = tmp_path / "p.toml"
    path.write_text('name = "mini"\nview = "crops"\ncrop_size = 128\ncrops = 5\n')
    profile = load_profile_toml(path)
    assert (profile.view, profile.crop_size, profile.crops, profile.aggregate) == (
        "crops",
        128,
        5,
        "mean-logit",
    )
    path.write_text('view = "crops"\ncrop_size = "128"\n')
    with pytest.raises(ConfigError, match="crop_size must be a whole number"):
        load_profile_toml(path)
    path.write_text('view = "crops"\ncrop_size = 4\n')
    with pytest.raises(ConfigError, match="outside 8..4096"):
        load_profile_toml(path)
    path.write_text("crop_size = 128\n")
    with pytest.raises(ConfigError, match='need view = "crops"'):
        load_profile_toml(path)


def test_calibration_keys_in_toml_and_metadata(tmp_path: Path) -> None:
    from fakescope_cli.profile import profile_from_metadata

    path = tmp_path / "p.toml"
    path.write_text('view = "crops"\ncrop_size = 128\ncrops = 5\nlogit_scale = 1.7\nlogit_offset = 2.25\n')
    profile = load_profile_toml(path)
    assert (profile.logit_scale, profile.logit_offset) == (1.7, 2.25)
    meta = {k: str(v) for k, v in profile.to_metadata().items()}
    meta["tokenizer.chat_template"] = "{{ x }}"
    back, warnings = profile_from_metadata(meta)
    assert not warnings and (back.logit_scale, back.logit_offset) == (1.7, 2.25)
    from dataclasses import replace

    plain = replace(profile, logit_scale=1.0, logit_offset=0.0)
    assert "fakescope.profile.logit_scale" not in plain.to_metadata()
    bad, said = profile_from_metadata({**meta, "fakescope.profile.logit_scale": "-3"})
    assert (bad.logit_scale, bad.logit_offset) == (1.0, 0.0) and "uncalibrated" in said[0]
    path.write_text('view = "whole"\nlogit_offset = 1.0\n')
    with pytest.raises(ConfigError, match='need view = "crops"'):
        load_profile_toml(path)
    path.write_text('view = "crops"\ncrop_size = 128\nlogit_scale = "x"\n')
    with pytest.raises(ConfigError, match="logit_scale must be a number"):
        load_profile_toml(path)
