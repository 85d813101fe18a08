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
