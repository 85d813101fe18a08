"""The shipped catalogue: every entry is complete and points at things that exist here."""

from __future__ import annotations

from pathlib import Path

import pytest

from fakescope_cli.card import CAVEAT_MAX, LIMITS_MAX
from fakescope_cli.catalogue import load_catalogue
from fakescope_cli.errors import ConfigError
from fakescope_cli.hub import TOKENIZER_FILES, parse_hub_ref
from fakescope_cli.hub_pull import BITS_PER_WEIGHT
from fakescope_cli.textsafe import has_control


def test_every_entry_is_usable() -> None:
    from conversion.cli import bundled_profiles
    from conversion.registry import supported_architectures

    catalogue = load_catalogue()
    assert "fakevlm" in catalogue
    for entry in catalogue.values():
        parse_hub_ref(entry.source)  # a well-formed repository and revision
        assert entry.profile in bundled_profiles()
        assert entry.quant in BITS_PER_WEIGHT
        assert entry.architecture in supported_architectures()
        assert (
            entry.card.caveat and len(entry.card.caveat) <= CAVEAT_MAX and not has_control(entry.card.caveat)
        )
        assert entry.card.limits and len(entry.card.limits) <= LIMITS_MAX
        assert entry.installed_bytes < entry.download_bytes
        if entry.tokenizer_from:
            parse_hub_ref(f"hf:{entry.tokenizer_from.repo}@{entry.tokenizer_from.revision}")
            assert set(entry.tokenizer_from.files) <= set(TOKENIZER_FILES)  # never weights


def test_the_pull_knows_every_type_the_converter_writes() -> None:
    from conversion.export import QUANTS

    assert set(BITS_PER_WEIGHT) == set(QUANTS)


def test_fakevlm_takes_its_processor_from_the_pinned_base_model() -> None:
    entry = load_catalogue()["fakevlm"]
    assert (entry.repo, entry.profile) == ("lingcco/fakeVLM", "fakevlm")
    assert entry.tokenizer_from is not None
    assert (entry.tokenizer_from.repo, entry.tokenizer_from.revision) == (
        "llava-hf/llava-1.5-7b-hf",
        "a272c74",
    )


def test_a_broken_catalogue_is_one_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "models.toml"
    path.write_text('[x]\ntitle = "no repository"\n')
    with pytest.raises(ConfigError, match="entry 'x' is incomplete"):
        load_catalogue(path)
    path.write_text("not toml [")
    with pytest.raises(ConfigError, match="cannot read the model catalogue"):
        load_catalogue(path)
